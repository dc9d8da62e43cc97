"""util's helpers keep their meaning (the package's faces do not use them,
code written for the original may)."""

from __future__ import annotations

import asyncio
import fcntl
import os
import time

import pytest

from bounded_subprocess.util import (
    MAX_BYTES_PER_READ,
    SLEEP_BETWEEN_READS,
    SLEEP_BETWEEN_WRITES,
    can_read,
    can_write,
    read_to_eof_async,
    read_to_eof_sync,
    set_nonblocking,
    write_loop_sync,
    write_nonblocking_async,
    write_nonblocking_sync,
)


@pytest.fixture
def pipe():
    r, w = os.pipe()
    yield r, w
    for fd in (r, w):
        try:
            os.close(fd)
        except OSError:
            pass


def fill(fd: int) -> int:
    """Fills the pipe whose write end is fd; returns how much it took."""
    set_nonblocking(fd)
    n = 0
    while True:
        try:
            n += os.write(fd, b"x" * 65536)
        except BlockingIOError:
            return n


def test_constants():
    assert MAX_BYTES_PER_READ == 1024
    assert SLEEP_BETWEEN_READS == 0.1
    assert SLEEP_BETWEEN_WRITES == 0.01


def test_set_nonblocking_takes_a_file_or_an_fd(pipe):
    r, w = pipe
    with os.fdopen(os.dup(r), "rb", buffering=0) as f:
        assert os.get_blocking(f.fileno())
        set_nonblocking(f)
        assert os.get_blocking(f.fileno()) is False
    set_nonblocking(w)
    assert fcntl.fcntl(w, fcntl.F_GETFL) & os.O_NONBLOCK


def test_can_read_and_can_write(pipe):
    r, w = pipe
    assert not can_read(r)
    assert can_write(w)
    os.write(w, b"a")
    assert can_read(r)
    fill(w)
    assert not can_write(w)
    os.close(w)
    os.read(r, 1 << 20)
    assert can_read(r)  # EOF is readable: a read would not block


def test_write_loop_sync_retries_until_done():
    taken = bytearray()
    answers = iter([None, 3, None, 2, 100])

    def chunk(view: memoryview):
        n = next(answers)
        if n is None:
            return None
        n = min(n, len(view))
        taken.extend(view[:n])
        return n

    t0 = time.monotonic()
    assert write_loop_sync(chunk, b"hello world", time.time() + 30, sleep_interval=0.01)
    assert bytes(taken) == b"hello world"
    assert time.monotonic() - t0 >= 0.02  # slept between the two empty attempts


def test_write_loop_sync_gives_up_at_the_deadline_or_on_a_broken_pipe():
    calls = []

    def never(view: memoryview):
        calls.append(1)
        raise BlockingIOError

    assert not write_loop_sync(never, b"data", time.time() + 0.05, sleep_interval=0.01)
    assert len(calls) >= 2

    def broken(view: memoryview):
        raise BrokenPipeError

    assert not write_loop_sync(broken, b"data", time.time() + 30, sleep_interval=0.01)
    assert write_loop_sync(broken, b"", time.time() + 30, sleep_interval=0.01)  # nothing to write


def test_write_nonblocking_sync(pipe):
    r, w = pipe
    set_nonblocking(w)
    assert write_nonblocking_sync(fd=w, data=b"abc", timeout_seconds=1)
    assert os.read(r, 10) == b"abc"
    # Nobody reads: times out with False, after about the timeout.
    t0 = time.monotonic()
    assert not write_nonblocking_sync(fd=w, data=b"y" * (4 << 20), timeout_seconds=0.2)
    assert 0.15 <= time.monotonic() - t0 < 10
    # The reader has gone: False, no exception, no SIGPIPE.
    os.close(r)
    assert not write_nonblocking_sync(fd=w, data=b"z", timeout_seconds=1)


def test_write_nonblocking_sync_waits_for_a_slow_reader(pipe):
    import threading

    r, w = pipe
    set_nonblocking(w)
    data = os.urandom(1 << 20)
    got = bytearray()

    def reader():
        while len(got) < len(data):
            got.extend(os.read(r, 65536))

    t = threading.Thread(target=reader)
    t.start()
    assert write_nonblocking_sync(fd=w, data=data, timeout_seconds=30)
    t.join(30)
    assert bytes(got) == data


async def test_write_nonblocking_async(pipe):
    r, w = pipe
    set_nonblocking(w)
    set_nonblocking(r)
    data = os.urandom(1 << 20)
    got = bytearray()
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def on_readable():
        try:
            got.extend(os.read(r, 65536))
        except BlockingIOError:
            pass
        if len(got) >= len(data) and not done.done():
            done.set_result(None)

    loop.add_reader(r, on_readable)
    try:
        assert await write_nonblocking_async(fd=w, data=data, timeout_seconds=30)
        await asyncio.wait_for(done, 30)
    finally:
        loop.remove_reader(r)
    assert bytes(got) == data
    # Nobody reads: False after the timeout.
    fill(w)
    assert not await write_nonblocking_async(fd=w, data=b"x" * 100, timeout_seconds=0.1)
    os.close(r)
    assert not await write_nonblocking_async(fd=w, data=b"x", timeout_seconds=1)


def test_read_to_eof_sync_keeps_a_prefix_of_each_and_drains(pipe):
    r1, w1 = pipe
    r2, w2 = os.pipe()
    for fd in (r1, r2):
        set_nonblocking(fd)
    os.write(w1, b"a" * 5000)
    os.write(w2, b"short")
    os.close(w1)
    os.close(w2)
    assert read_to_eof_sync([r1, r2], timeout_seconds=5, max_len=100) == [b"a" * 100, b"short"]
    assert os.read(r1, 10) == b""  # drained to EOF
    os.close(r2)


def test_read_to_eof_sync_stops_at_the_timeout(pipe):
    r, w = pipe
    set_nonblocking(r)
    os.write(w, b"partial")
    t0 = time.monotonic()
    assert read_to_eof_sync([r], timeout_seconds=0.2, max_len=100) == [b"partial"]
    assert 0.15 <= time.monotonic() - t0 < 10


async def test_read_to_eof_async(pipe):
    r, w = pipe
    set_nonblocking(r)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, os.write, w, b"late data")
    loop.call_later(0.1, os.close, w)
    assert await read_to_eof_async([r], timeout_seconds=10, max_len=4) == [b"late"]
    r2, w2 = os.pipe()
    set_nonblocking(r2)
    try:
        t0 = time.monotonic()
        assert await read_to_eof_async([r2], timeout_seconds=0.2, max_len=4) == [b""]
        assert 0.15 <= time.monotonic() - t0 < 10
    finally:
        os.close(r2)
        os.close(w2)
