"""bounded_subprocess.interactive_async.Interactive (coroutines)."""

from __future__ import annotations

import asyncio
import time

import pytest

from bounded_subprocess.interactive_async import Interactive


def test_original_example_verbatim(capsys, system_python_first):
    import asyncio
    from bounded_subprocess.interactive_async import Interactive

    async def main():
        proc = Interactive(["python3", "-iu"], read_buffer_size=4096)
        await proc.write(b"print(1 + 2)\n", timeout_seconds=1)
        print(await proc.read_line(timeout_seconds=1))  # b'3'
        await proc.close(nice_timeout_seconds=1)

    asyncio.run(main())
    assert capsys.readouterr().out == "b'3'\n"


async def test_cat_echo_comes_back(leaks):
    # The original Python library's async write leaves bytes in a buffer; ours puts them in the pipe.
    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    for i in range(100):
        assert await proc.write(b"ping %d\n" % i, timeout_seconds=5) is True
        assert await proc.read_line(timeout_seconds=5) == b"ping %d" % i
    assert await proc.close(nice_timeout_seconds=5) == 0
    assert await proc.close(nice_timeout_seconds=5) == 0


async def test_many_at_once(leaks):
    procs = [Interactive(["cat"], 4096) for _ in range(20)]
    for p in procs:
        leaks.track_group(p.pid)

    async def talk(p, i):
        assert await p.write(b"%d\n" % i, 5)
        return await p.read_line(5)

    lines = await asyncio.gather(*[talk(p, i) for i, p in enumerate(procs)])
    assert lines == [b"%d" % i for i in range(20)]
    codes = await asyncio.gather(*[p.close(5) for p in procs])
    assert codes == [0] * 20


async def test_read_timeout_and_cancellation(leaks):
    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    t0 = time.monotonic()
    assert await proc.read_line(0.2) is None
    assert time.monotonic() - t0 < 3
    # A cancelled read loses no data.
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(proc.read_line(60), 0.2)
    assert await proc.write(b"after\n", 1)
    assert await proc.read_line(5) == b"after"
    assert await proc.close(1) == 0


async def test_concurrent_reader_and_writer(leaks):
    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    reader = asyncio.create_task(proc.read_line(10))
    await asyncio.sleep(0.05)
    assert await proc.write(b"x\n", 5)
    assert await reader == b"x"
    await proc.close(1)


async def test_close_kills_child_that_ignores_eof(misbehave, leaks):
    proc = Interactive([misbehave, "ignore-sigterm-sleep"], 4096)
    leaks.track_group(proc.pid)
    assert await proc.read_line(5) == b"ready"
    t0 = time.monotonic()
    assert await proc.close(nice_timeout_seconds=0.2) == -9
    assert time.monotonic() - t0 < 3


async def test_dropped_without_close(leaks):
    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    del proc


async def test_async_context_manager_and_errors(tmp_path, leaks):
    async with Interactive(["cat"], 4096) as proc:
        leaks.track_group(proc.pid)
        assert await proc.write("s\n", 1)
        assert await proc.read_line(5) == b"s"
        with pytest.raises(ValueError):
            await proc.read_line(-1)
    with pytest.raises(FileNotFoundError):
        Interactive([str(tmp_path / "missing")], 4096)


async def test_dropped_after_reading_kills_and_frees_the_fd(leaks):
    # The loop keeps no reference to the object: dropping it after a read
    # kills the child at once, and the loop forgets its stdout descriptor
    # (a later registration of the same number must work).
    import gc
    import os

    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    assert await proc.write(b"a\n", 5) and await proc.read_line(5) == b"a"
    fd = proc._proc.stdout_fd
    del proc
    gc.collect()
    r, w = os.pipe()
    try:
        os.dup2(r, fd)
        loop = asyncio.get_running_loop()
        got = loop.create_future()
        loop.add_reader(fd, got.set_result, None)
        os.write(w, b"x")
        await asyncio.wait_for(got, 5)
        loop.remove_reader(fd)
    finally:
        os.close(fd)
        os.close(r)
        os.close(w)


async def test_close_ends_pending_read_and_write(misbehave, leaks):
    proc = Interactive([misbehave, "sleep-forever"], 4096)
    leaks.track_group(proc.pid)
    reader = asyncio.ensure_future(proc.read_line(60))
    writer = asyncio.ensure_future(proc.write(b"x" * (8 << 20), 60))
    await asyncio.sleep(0.2)
    t0 = time.monotonic()
    assert await proc.close(0) == -9
    assert await reader is None and await writer is False
    assert time.monotonic() - t0 < 10


async def test_write_to_exited_child_is_false(misbehave, leaks):
    proc = Interactive([misbehave, "exit", "3"], 4096)
    leaks.track_group(proc.pid)
    try:
        assert await proc.read_line(10) is None  # EOF
        # EOF can come a moment before the exit itself: wait for the exit.
        deadline = time.monotonic() + 30
        while proc._proc.is_running:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        assert await proc.write(b"x\n", 1) is False
    finally:
        assert await proc.close(5) == 3


async def test_calls_of_one_kind_take_turns(leaks):
    # Three reads at once get three lines in call order; a cancelled waiting
    # read gives its turn on; writes of data larger than the pipe do not
    # interleave.
    proc = Interactive(["cat"], 1 << 20)
    leaks.track_group(proc.pid)
    reads = [asyncio.ensure_future(proc.read_line(30)) for _ in range(4)]
    await asyncio.sleep(0)
    reads[1].cancel()
    big = [bytes([ord("a") + i]) * (300 << 10) + b"\n" for i in range(3)]
    writes = [asyncio.ensure_future(proc.write(data, 30)) for data in big]
    assert await asyncio.gather(*writes) == [True, True, True]
    got = [await reads[0], await reads[2], await reads[3]]
    assert got == [data[:-1] for data in big]
    with pytest.raises(asyncio.CancelledError):
        await reads[1]
    assert await proc.close(5) == 0


async def test_read_deadlines_after_long_ones(leaks):
    # The read timer is kept between reads: a short deadline after long
    # ones still ends on time, and an infinite one waits.
    import math

    proc = Interactive(["cat"], 4096)
    leaks.track_group(proc.pid)
    for _ in range(3):
        assert await proc.write(b"x\n", 5) and await proc.read_line(30) == b"x"
    t0 = time.monotonic()
    assert await proc.read_line(0.2) is None
    assert 0.15 <= time.monotonic() - t0 < 5
    later = asyncio.ensure_future(proc.read_line(math.inf))
    await asyncio.sleep(0.3)
    assert not later.done()
    assert await proc.write(b"y\n", 5)
    assert await asyncio.wait_for(later, 5) == b"y"
    assert await proc.close(5) == 0
