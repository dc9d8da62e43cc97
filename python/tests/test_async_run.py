"""The asyncio run: bounded_subprocess.bounded_subprocess_async.run."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from conftest import field_after, pattern

from bounded_subprocess.bounded_subprocess_async import run
from bounded_subprocess.util import Result


def test_quickstart_verbatim(capsys, quiet_login_shell):
    import asyncio
    from bounded_subprocess.bounded_subprocess_async import run

    async def main():
        result = await run(
            ["bash", "-lc", "echo ok; echo err 1>&2"],
            timeout_seconds=5,
        )
        print(result.exit_code, result.stdout.strip(), result.stderr.strip())

    asyncio.run(main())
    assert capsys.readouterr().out == "0 ok err\n"


async def test_result(misbehave, leaks):
    r = await run([misbehave, "print-ids"], timeout_seconds=5)
    leaks.track_group(field_after(r.stdout, "pgid"))
    assert isinstance(r, Result)
    assert r.exit_code == 0 and r.reason == "exited" and not r.timeout
    if r.containment == "process_group":
        assert field_after(r.stdout, "ppid") == os.getpid()
    else:  # its parent is the run's init
        assert field_after(r.stdout, "ppid") != os.getpid()


async def test_gather_runs_concurrently(misbehave):
    # 20 runs of 1 s finish in about 1 s, not 20 (bound generous for a
    # loaded machine; the default executor would run only a few at a time).
    t0 = time.monotonic()
    results = await asyncio.gather(
        *[run([misbehave, "exit-after-ms", "1000", str(i)], timeout_seconds=30) for i in range(20)]
    )
    assert time.monotonic() - t0 < 6
    assert [r.exit_code for r in results] == list(range(20))


async def test_loop_stays_responsive(misbehave):
    # While a run waits, the event loop keeps running other tasks.
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    t = asyncio.create_task(ticker())
    r = await run([misbehave, "exit-after-ms", "500", "0"])
    t.cancel()
    assert r.exit_code == 0 and ticks >= 5


async def test_timeout(misbehave, leaks):
    t0 = time.monotonic()
    r = await run([misbehave, "fork-storm", "2"], timeout_seconds=0.5)
    assert r.timeout and r.exit_code == -1 and r.reason == "timeout"
    assert time.monotonic() - t0 < 5
    words = r.stdout.split()
    for k, v in zip(words, words[1:]):
        if k == "child":
            leaks.track_pid(int(v))


async def test_output_bounds_and_decoding(misbehave):
    r = await run([misbehave, "flood-out", "50000"], max_output_size=64, tail=True)
    assert r.stdout_bytes == pattern(50000 - 64, 64) and r.stdout_truncated
    r = await run([misbehave, "binary-out"], max_output_size=4096)
    assert r.stdout == bytes(range(128)).decode() * 2


async def test_env_cwd_stdin(misbehave, tmp_path):
    r = await run([misbehave, "print-env", "A"], env={"A": "b"})
    assert r.stdout == "b\n"
    r = await run([misbehave, "print-cwd"], cwd=str(tmp_path))
    assert r.stdout.strip() == str(tmp_path)
    r = await run([misbehave, "echo-stdin"], stdin_data="x" * 100000, max_output_size=200000)
    assert r.stdout == "x" * 100000 and not r.stdin_write_failed


async def test_memory_limit(misbehave, leaks):
    r = await run([misbehave, "fork-alloc-mb", "200"], memory_limit_mb=50,
                  memory_watchdog_interval_seconds=0.1, timeout_seconds=20)
    assert r.memory_limit_exceeded and r.exit_code == -1 and r.reason == "memory_limit"
    leaks.track_pid(field_after(r.stdout, "child"))


async def test_grandchild_does_not_keep_run_alive(misbehave, leaks):
    t0 = time.monotonic()
    r = await run([misbehave, "fork-grandchild-sleep"], timeout_seconds=20)
    assert r.exit_code == 0 and time.monotonic() - t0 < 10
    leaks.track_pid(field_after(r.stdout, "grandchild"))


async def test_cancellation_kills_the_group(misbehave, leaks, tmp_path):
    pidfile = tmp_path / "pid"
    script = f'echo $$ > {pidfile}; exec {misbehave} fork-storm 2'
    task = asyncio.create_task(run(["sh", "-c", script], timeout_seconds=60))
    deadline = time.monotonic() + 10
    while not (pidfile.exists() and pidfile.read_text().endswith("\n")):
        assert time.monotonic() < deadline, "the child never started"
        await asyncio.sleep(0.01)
    leaks.track_group(int(pidfile.read_text()))
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - t0 < 5  # not the 60 s deadline
    # The group is checked by the leak check after the test.


async def test_cancellation_via_wait_for(misbehave):
    t0 = time.monotonic()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(run([misbehave, "sleep-forever"], timeout_seconds=60), 0.3)
    assert time.monotonic() - t0 < 5


async def test_errors(tmp_path):
    with pytest.raises(ValueError):
        await run([])
    with pytest.raises(ValueError):
        await run(["echo"], timeout_seconds=0)
    with pytest.raises(TypeError):
        await run("echo")
    with pytest.raises(FileNotFoundError) as info:
        await run([str(tmp_path / "missing")])
    assert info.value.filename == str(tmp_path / "missing")
    with pytest.raises(FileNotFoundError) as info:
        await run(["echo"], cwd=str(tmp_path / "nodir"))
    assert info.value.filename == str(tmp_path / "nodir")


async def test_starts_that_fail_after_the_call_raise_as_at_the_call(tmp_path, misbehave):
    # Runs that hold the warm sandboxes first, so that most of the failing
    # starts below have namespaces made for them, whose exec the call does
    # not wait for: their failure comes with the result, the same error.
    holders = [asyncio.ensure_future(run([misbehave, "sleep-forever"], timeout_seconds=1)) for _ in range(16)]
    missing, nodir = str(tmp_path / "missing"), str(tmp_path / "nodir")
    outcomes = await asyncio.gather(
        *[run([missing]) for _ in range(16)],
        *[run(["true"], cwd=nodir) for _ in range(16)],
        return_exceptions=True,
    )
    for i, outcome in enumerate(outcomes):
        assert isinstance(outcome, FileNotFoundError), (i, outcome)
        assert outcome.filename == (missing if i < 16 else nodir), (i, outcome)
    assert all(r.reason == "timeout" for r in await asyncio.gather(*holders))


async def test_many_runs_leave_no_fds(misbehave):
    # The leak check compares the fds after 100 runs with those before.
    results = await asyncio.gather(*[run([misbehave, "exit", "0"]) for _ in range(100)])
    assert all(r.exit_code == 0 for r in results)
