"""The synchronous run: bounded_subprocess.run and bounded_subprocess.bounded_subprocess.run."""

from __future__ import annotations

import errno
import os
import threading
import time

import pytest

from conftest import field_after, pattern

import bounded_subprocess
from bounded_subprocess import run
from bounded_subprocess.bounded_subprocess import run as run_module
from bounded_subprocess.util import Result


def test_quickstart_verbatim(capsys):
    from bounded_subprocess import run

    result = run(["echo", "hello"], timeout_seconds=5)
    print(result.exit_code)  # 0
    print(result.stdout.strip())  # 'hello'
    assert capsys.readouterr().out == "0\nhello\n"


def test_same_function_under_both_imports():
    assert run is run_module
    assert bounded_subprocess.Result is Result


def test_result_fields(misbehave, leaks):
    r = run([misbehave, "print-ids"], timeout_seconds=5)
    leaks.track_group(field_after(r.stdout, "pgid"))
    assert isinstance(r, Result)
    assert r.exit_code == 0 and r.timeout is False and r.reason == "exited"
    # Its own session and group.
    assert field_after(r.stdout, "pid") == field_after(r.stdout, "pgid")
    assert field_after(r.stdout, "sid") == field_after(r.stdout, "pid")
    if r.containment == "process_group":
        assert field_after(r.stdout, "ppid") == os.getpid()
    else:  # its parent is the run's init
        assert field_after(r.stdout, "ppid") != os.getpid()
    assert r.stdout_bytes == r.stdout.encode()
    assert r.stdout_total_bytes == len(r.stdout_bytes)
    assert not r.stdout_truncated and not r.stderr_truncated
    assert 0 < r.elapsed_seconds < 5
    assert r.max_rss_kb > 0


def test_exit_code_and_stderr(misbehave):
    r = run([misbehave, "out-err", "to out", "to err"])
    assert (r.exit_code, r.stdout, r.stderr) == (0, "to out", "to err")
    r = run([misbehave, "exit", "3"])
    assert r.exit_code == 3 and r.reason == "exited"


def test_signal_gives_negative_exit_code(misbehave):
    r = run([misbehave, "kill-self", "15"])
    assert r.exit_code == -15 and r.reason == "signaled" and r.term_signal == 15
    assert not r.timeout


def test_timeout_kills_group_near_deadline(misbehave, leaks):
    t0 = time.monotonic()
    r = run([misbehave, "fork-storm", "3"], timeout_seconds=0.5)
    wall = time.monotonic() - t0
    assert r.timeout is True and r.exit_code == -1 and r.reason == "timeout"
    assert 0.45 <= r.elapsed_seconds and wall < 5  # generous: catches a hang only
    children = [int(w) for k, w in zip(r.stdout.split(), r.stdout.split()[1:]) if k == "child"]
    assert len(children) == 3 and "forked 3" in r.stdout
    for pid in children:
        leaks.track_pid(pid)


def test_timeout_sleep_forever(misbehave):
    t0 = time.monotonic()
    r = run([misbehave, "sleep-forever"], timeout_seconds=0.3)
    assert r.timeout and r.exit_code == -1
    assert time.monotonic() - t0 < 5


def test_fractional_and_int_timeouts(misbehave):
    assert run([misbehave, "exit", "0"], timeout_seconds=1).exit_code == 0
    assert run([misbehave, "exit", "0"], timeout_seconds=0.75).exit_code == 0


@pytest.mark.parametrize("mode", ["fork-grandchild-sleep", "fork-grandchild-flood"])
def test_grandchild_does_not_keep_run_alive(misbehave, leaks, mode):
    t0 = time.monotonic()
    r = run([misbehave, mode], timeout_seconds=20, max_output_size=64)
    assert time.monotonic() - t0 < 10  # the original Python library would wait the whole 20 s
    assert r.exit_code == 0 and not r.timeout
    # "pgid N" comes first (printed before the fork); the grandchild is in
    # that group. (With flood, its bytes may precede the "grandchild" line.)
    assert r.stdout.startswith("pgid ")
    leaks.track_group(field_after(r.stdout, "pgid"))


def test_max_output_size_prefix(misbehave):
    r = run([misbehave, "flood-out", "100000"], max_output_size=100)
    assert r.stdout_bytes == pattern(0, 100)
    assert r.stdout_truncated and r.stdout_total_bytes == 100000
    assert r.exit_code == 0


def test_max_output_size_tail(misbehave):
    r = run([misbehave, "flood-out", "100000"], max_output_size=100, tail=True)
    assert r.stdout_bytes == pattern(100000 - 100, 100)
    assert r.stdout_truncated


def test_max_output_size_on_stderr_and_zero(misbehave):
    r = run([misbehave, "flood-both", "5000"], max_output_size=0)
    assert r.stdout == "" and r.stderr == ""
    assert r.stdout_total_bytes == 5000 and r.stderr_total_bytes == 5000
    r = run([misbehave, "flood-err", "5000"], max_output_size=10, tail=True)
    assert r.stderr_bytes == pattern(4990, 10)


def test_default_max_output_size_is_2048(misbehave):
    r = run([misbehave, "flood-out", "10000"])
    assert len(r.stdout_bytes) == 2048


def test_unbounded_output_is_drained_until_timeout(misbehave):
    r = run([misbehave, "flood-out", "forever"], timeout_seconds=0.5, max_output_size=10)
    assert r.timeout and r.stdout_bytes == pattern(0, 10)
    assert r.stdout_total_bytes > 10


def test_decoding_drops_invalid_utf8(misbehave):
    r = run([misbehave, "binary-out"], max_output_size=4096)
    assert r.stdout_bytes == bytes(range(256)) * 2
    assert r.stdout == bytes(range(128)).decode() * 2


def test_decoding_of_a_cut_multibyte_character():
    # "é" is two bytes; a bound of 3 cuts the second "é" in half.
    r = run(["printf", "\u00e9\u00e9"], max_output_size=3)
    assert r.stdout_bytes == "\u00e9\u00e9".encode()[:3]
    assert r.stdout == "\u00e9"


def test_env_replaces_environment(misbehave):
    r = run([misbehave, "print-env-count"], env={"FOO": "bar"})
    assert r.stdout.strip() == "1"
    r = run([misbehave, "print-env", "FOO"], env={"FOO": "bar"})
    assert r.stdout == "bar\n"
    os.environ["BS_PY_TEST_VAR"] = "inherited"
    try:
        assert run([misbehave, "print-env", "BS_PY_TEST_VAR"]).stdout == "inherited\n"
        r = run([misbehave, "print-env", "BS_PY_TEST_VAR"], env={"X": "1"})
        assert r.exit_code == 3  # unset
    finally:
        del os.environ["BS_PY_TEST_VAR"]


def test_env_without_path_still_finds_program():
    r = run(["sh", "-c", 'echo "$FOO ${HOME-unset}"'], env={"FOO": "x"})
    assert r.stdout == "x unset\n"


def test_cwd(misbehave, tmp_path):
    r = run([misbehave, "print-cwd"], cwd=str(tmp_path))
    assert r.stdout.strip() == str(tmp_path)
    r = run([misbehave, "print-cwd"], cwd=tmp_path)  # os.PathLike
    assert r.stdout.strip() == str(tmp_path)


def test_stdin_data_str_and_bytes(misbehave):
    assert run([misbehave, "read-stdin-count"], stdin_data="h\u00e9llo").stdout == "6\n"
    r = run([misbehave, "echo-stdin"], stdin_data=b"\x00\x01abc")
    assert r.stdout_bytes == b"\x00\x01abc" and not r.stdin_write_failed


def test_no_stdin_data_means_dev_null(misbehave):
    r = run([misbehave, "read-stdin-count"], timeout_seconds=5)
    assert r.stdout == "0\n" and not r.timeout


def test_large_stdin_while_child_floods_output(misbehave):
    # The child writes a lot before reading: stdin is written while output is
    # read, so this cannot deadlock.
    data = b"y" * (4 << 20)
    r = run(["sh", "-c", f"{misbehave} flood-out 1000000; {misbehave} read-stdin-count"],
            stdin_data=data, timeout_seconds=30, max_output_size=10, tail=True)
    assert not r.timeout and not r.stdin_write_failed
    assert r.stdout_bytes.endswith(b"%d\n" % len(data))


def test_stdin_write_failure_forces_minus_one(misbehave):
    r = run([misbehave, "exit", "0"], stdin_data=b"z" * (8 << 20), timeout_seconds=10)
    assert r.stdin_write_failed and r.exit_code == -1 and not r.timeout


def test_stdin_write_timeout(misbehave, leaks):
    # The child reads its stdin only once it is closed (or after 20 s), then
    # exits 0 by itself, long before the deadline: only the stdin bound can
    # leave the 8 MiB unwritten.
    t0 = time.monotonic()
    r = run([misbehave, "read-stdin-late", "20000"], stdin_data=b"z" * (8 << 20),
            stdin_write_timeout=0.3, timeout_seconds=60)
    assert r.stdin_write_failed and r.exit_code == -1
    assert r.timeout is False and r.reason == "exited"
    assert int(r.stdout) < 8 << 20, "the child read all of stdin"
    assert time.monotonic() - t0 < 8


def test_memory_limit(misbehave, leaks):
    t0 = time.monotonic()
    r = run([misbehave, "fork-alloc-mb", "200"], memory_limit_mb=50,
            memory_watchdog_interval_seconds=0.1, timeout_seconds=20)
    assert r.memory_limit_exceeded and r.exit_code == -1 and not r.timeout
    assert r.reason == "memory_limit"
    assert time.monotonic() - t0 < 15
    leaks.track_pid(field_after(r.stdout, "child"))


def test_memory_limit_not_reached(misbehave):
    r = run([misbehave, "exit", "0"], memory_limit_mb=500, memory_watchdog_interval_seconds=0.05)
    assert r.exit_code == 0 and not r.memory_limit_exceeded


def test_runs_in_threads_overlap(misbehave):
    # The GIL is released while a run waits: 8 runs of 1 s in 8 threads take
    # about 1 s, not 8 (bound generous for a loaded machine).
    results = []

    def one():
        results.append(run([misbehave, "exit-after-ms", "1000", "0"], timeout_seconds=30))

    threads = [threading.Thread(target=one) for _ in range(8)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert time.monotonic() - t0 < 5
    assert [r.exit_code for r in results] == [0] * 8


# --- errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(args=[]), ValueError),
        (dict(args="echo hi"), TypeError),
        (dict(args=["echo", 3]), TypeError),
        (dict(args=["echo", "a\0b"]), ValueError),
        (dict(args=["echo"], timeout_seconds=0), ValueError),
        (dict(args=["echo"], timeout_seconds=-1), ValueError),
        (dict(args=["echo"], timeout_seconds="5"), TypeError),
        (dict(args=["echo"], max_output_size=-1), ValueError),
        (dict(args=["echo"], max_output_size=1.5), TypeError),
        (dict(args=["echo"], env={"A": 1}), TypeError),
        (dict(args=["echo"], env={"A=B": "1"}), ValueError),
        (dict(args=["echo"], env=["A=1"]), TypeError),
        (dict(args=["echo"], stdin_data=5), TypeError),
        (dict(args=["echo"], stdin_data="x", stdin_write_timeout=0), ValueError),
        (dict(args=["echo"], memory_limit_mb=0), ValueError),
        (dict(args=["echo"], memory_watchdog_interval_seconds=0), ValueError),
        (dict(args=["echo"], cwd=""), ValueError),
    ],
)
def test_bad_input(kwargs, exc):
    with pytest.raises(exc):
        run(**kwargs)


def test_env_name_with_nul_is_named_whole_and_escaped():
    # A raw NUL in the message would cut it after "A".
    with pytest.raises(ValueError, match=r"'A\\x00B'.*NUL"):
        run(["echo"], env={"A\0B": "1"})


def test_missing_program_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        run([str(tmp_path / "no-such-program")])
    assert info.value.errno == errno.ENOENT
    assert info.value.filename == str(tmp_path / "no-such-program")
    with pytest.raises(FileNotFoundError):
        run(["bs-no-such-program-in-path"])


def test_not_executable_raises_permission_error(tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    os.chmod(script, 0o644)
    with pytest.raises(PermissionError) as info:
        run([str(script)])
    assert info.value.errno == errno.EACCES


def test_missing_cwd_raises_file_not_found(tmp_path):
    missing = tmp_path / "gone"
    with pytest.raises(FileNotFoundError) as info:
        run(["echo"], cwd=str(missing))
    assert info.value.filename == str(missing)


def test_failed_starts_leak_nothing(tmp_path):
    # The autouse leak check runs after this many failures.
    for _ in range(50):
        with pytest.raises(OSError):
            run([str(tmp_path / "nope")])
