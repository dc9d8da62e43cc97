"""bounded_subprocess.interactive.Interactive (sync)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from bounded_subprocess.interactive import Interactive


def test_original_example_python_iu(capsys, leaks, system_python_first):
    from bounded_subprocess.interactive import Interactive

    proc = Interactive(["python3", "-iu"], read_buffer_size=4096)
    leaks.track_group(proc.pid)
    proc.write(b"print(1 + 2)\n", timeout_seconds=1)
    print(proc.read_line(timeout_seconds=1))  # b'3'
    proc.close(nice_timeout_seconds=1)
    assert capsys.readouterr().out == "b'3'\n"


def test_original_reference_example(leaks, system_python_first):
    proc = Interactive(["python3", "-u", "-c", "print(input())"], read_buffer_size=4096)
    leaks.track_group(proc.pid)
    assert proc.write(b"hello\n", timeout_seconds=1) is True
    line = proc.read_line(timeout_seconds=1)  # b'hello'
    rc = proc.close(nice_timeout_seconds=1)
    assert line == b"hello" and rc == 0


def test_cat_round_trips(leaks):
    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    for i in range(200):
        assert proc.write(b"line %d\n" % i, timeout_seconds=5)
        assert proc.read_line(timeout_seconds=5) == b"line %d" % i
    assert proc.close(nice_timeout_seconds=5) == 0
    assert proc.close(nice_timeout_seconds=5) == 0  # same code again


def test_read_line_timeout_keeps_partial_data(leaks):
    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    assert proc.write(b"par", 1)
    t0 = time.monotonic()
    assert proc.read_line(timeout_seconds=0.2) is None
    assert time.monotonic() - t0 < 3
    assert proc.write(b"tial\n", 1)
    assert proc.read_line(timeout_seconds=5) == b"partial"
    proc.close(1)


def test_read_buffer_size_keeps_newest_bytes(leaks):
    proc = Interactive(["cat"], read_buffer_size=8)
    leaks.track_group(proc.pid)
    assert proc.write(b"0123456789abcdef\n", 1)
    assert proc.read_line(5) == b"89abcdef"
    proc.close(1)


def test_eof_and_exit_code(misbehave, leaks):
    proc = Interactive([misbehave, "out-err", "a\nb\npartial", ""], 4096)
    leaks.track_group(proc.pid)
    assert proc.read_line(5) == b"a"
    assert proc.read_line(5) == b"b"
    assert proc.read_line(5) is None  # partial line at EOF dropped
    assert proc.close(5) == 0


def test_write_after_exit_is_false(misbehave, leaks):
    proc = Interactive([misbehave, "exit", "7"], 4096)
    leaks.track_group(proc.pid)
    assert proc.read_line(5) is None
    assert proc.write(b"x" * 1000000, timeout_seconds=2) is False
    assert proc.close(1) == 7


def test_write_timeout_when_child_never_reads(misbehave, leaks):
    proc = Interactive([misbehave, "sleep-forever"], 4096)
    leaks.track_group(proc.pid)
    t0 = time.monotonic()
    assert proc.write(b"x" * (4 << 20), timeout_seconds=0.3) is False
    assert time.monotonic() - t0 < 3
    assert proc.close(nice_timeout_seconds=0.2) == -9


def test_close_kills_group_with_grandchild(misbehave, leaks):
    proc = Interactive([misbehave, "fork-grandchild-sleep"], 4096)
    leaks.track_group(proc.pid)
    line = proc.read_line(5)
    while line is not None and not line.startswith(b"grandchild"):
        line = proc.read_line(5)
    assert line is not None
    leaks.track_pid(int(line.split()[1]))
    proc.close(1)


def test_garbage_collected_without_close_kills_child(leaks):
    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    del proc  # the leak check sees the group gone, the child reaped


def test_context_manager(leaks):
    with Interactive(["cat"], 4096) as proc:
        leaks.track_group(proc.pid)
        assert proc.write("str is encoded\n", 1)
        assert proc.read_line(5) == b"str is encoded"


def test_reader_and_writer_threads(leaks):
    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    got = []

    def reader():
        for _ in range(500):
            got.append(proc.read_line(10))

    t = threading.Thread(target=reader)
    t.start()
    for i in range(500):
        assert proc.write(b"%d\n" % i, 10)
    t.join(30)
    assert got == [b"%d" % i for i in range(500)]
    assert proc.close(5) == 0


def test_env_and_cwd(misbehave, tmp_path, leaks):
    proc = Interactive([misbehave, "print-env", "Q"], 4096, env={"Q": "z"})
    leaks.track_group(proc.pid)
    assert proc.read_line(5) == b"z"
    proc.close(1)
    proc = Interactive([misbehave, "print-cwd"], 4096, cwd=tmp_path)
    leaks.track_group(proc.pid)
    assert proc.read_line(5) == str(tmp_path).encode()
    proc.close(1)


def test_errors(tmp_path):
    with pytest.raises(ValueError):
        Interactive([], 4096)
    with pytest.raises(ValueError):
        Interactive(["cat"], read_buffer_size=0)
    with pytest.raises(FileNotFoundError):
        Interactive([str(tmp_path / "missing")], 4096)
    proc = Interactive(["cat"], 4096)
    with pytest.raises(ValueError):
        proc.read_line(-1)
    with pytest.raises(TypeError):
        proc.write(5, 1)
    proc.close(0)
