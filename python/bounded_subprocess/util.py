"""The original Python library's ``util`` module: ``Result``, the constants and the small I/O
helpers it exports.

The helpers (``set_nonblocking``, ``can_read``, ``can_write``,
``write_loop_sync``, ``write_nonblocking_sync``/``_async`` and
``read_to_eof_sync``/``_async``) keep the meaning of the original Python library's helpers of
the same names, for code that imports them; the package's own faces do not
use them (the C++ library does that work, waiting on events). Except
``write_loop_sync``, whose contract is to sleep ``sleep_interval`` between
attempts, they wait on readiness (poll, or the asyncio loop's readers and
writers), never on a fixed sleep.
"""

from __future__ import annotations

import asyncio
import fcntl
import math
import os
import select
import time
from dataclasses import dataclass, field
from typing import Any, Callable, FrozenSet, List, Optional, Protocol, Sequence, Union

# The original Python library's constants. The library does not poll, so they tune nothing of
# ours; write_loop_sync's callers pass SLEEP_BETWEEN_WRITES as the original Python library does.
MAX_BYTES_PER_READ = 1024
SLEEP_BETWEEN_READS = 0.1
SLEEP_BETWEEN_WRITES = 0.01



class _HasFileno(Protocol):
    def fileno(self) -> int: ...


#: A file descriptor, or an object with a ``fileno()`` method.
FileLike = Union[int, _HasFileno]


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="ignore")


@dataclass
class Result:
    """The result of a bounded subprocess run.

    The original Python library's four fields come first, in its order, so that
    ``Result(timeout, exit_code, stdout, stderr)`` and positional patterns
    work as they do there. stdout and stderr each contain at most
    max_output_size bytes, decoded as UTF-8 with errors="ignore" (a
    multi-byte character cut by the bound, or invalid bytes, are dropped; the
    raw bytes are in stdout_bytes and stderr_bytes). timeout is True only
    when the wall-clock deadline elapsed. exit_code holds the child's exit
    status, minus the signal number when a signal ended it (-9 for SIGKILL),
    or -1 when the run aborted because of a timeout, a failed stdin write, or
    the memory watchdog.

    Beyond the original Python library, each with a default: why the run ended (reason:
    "exited", "signaled", "timeout", "memory_limit", "cancelled",
    "watchdog_failed", with the errno in watchdog_error, or
    "containment_broken": the run's init was killed from inside the run,
    every process of it that could be found was killed, and exit_code is
    the program's status if it could still be had, else -1), the signal,
    truncation flags and total sizes of each stream, how the run's
    descendants were contained (containment: "process_group", "subreaper",
    "pid_namespace" or "cgroup"), and, left out of ``==`` because they
    change from run to run, the elapsed wall time and the run's CPU times
    and peak RSS. Two results of the same deterministic program compare
    equal, as in the original Python library. With isolation: who enforced the memory limit
    (memory_enforcer: "none", "watchdog" or "kernel") and the isolation
    limits the run ran into, even when it went on (limits_hit, a subset of
    {"memory", "pids", "cpu", "file_size", "scratch"}); reason "cpu_limit"
    when the CPU limit ended it.
    """

    timeout: bool
    exit_code: int
    stdout: str
    stderr: str
    memory_limit_exceeded: bool = False
    stdin_write_failed: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    stdout_total_bytes: int = 0
    stderr_total_bytes: int = 0
    reason: str = "exited"
    term_signal: int = 0
    containment: str = "process_group"
    watchdog_error: int = 0
    stdout_bytes: bytes = field(default=b"", repr=False)
    stderr_bytes: bytes = field(default=b"", repr=False)
    elapsed_seconds: float = field(default=0.0, compare=False)
    user_cpu_seconds: float = field(default=0.0, compare=False)
    system_cpu_seconds: float = field(default=0.0, compare=False)
    max_rss_kb: int = field(default=0, compare=False)
    memory_enforcer: str = "none"
    limits_hit: FrozenSet[str] = frozenset()

    @classmethod
    def _from_native(cls, r: Any) -> "Result":
        out, err = r.stdout, r.stderr
        return cls(
            r.timeout,
            r.exit_code,
            _decode(out),
            _decode(err),
            memory_limit_exceeded=r.memory_limit_exceeded,
            stdin_write_failed=r.stdin_write_failed,
            stdout_truncated=r.stdout_truncated,
            stderr_truncated=r.stderr_truncated,
            stdout_total_bytes=r.stdout_total_bytes,
            stderr_total_bytes=r.stderr_total_bytes,
            reason=r.reason,
            term_signal=r.term_signal,
            containment=r.containment,
            watchdog_error=r.watchdog_error,
            stdout_bytes=out,
            stderr_bytes=err,
            elapsed_seconds=r.elapsed_seconds,
            user_cpu_seconds=r.user_cpu_seconds,
            system_cpu_seconds=r.system_cpu_seconds,
            max_rss_kb=r.max_rss_kb,
            memory_enforcer=r.memory_enforcer,
            limits_hit=frozenset(r.limits_hit),
        )


# ---------------------------------------------------------------------------
# The original Python library's helpers.


def _fileno(fd: FileLike) -> int:
    return fd if isinstance(fd, int) else fd.fileno()


def set_nonblocking(reader: FileLike) -> None:
    """Puts a file (an object with ``fileno()``, or a descriptor) in
    non-blocking mode (O_NONBLOCK)."""
    fd = _fileno(reader)
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)


def _ready(fd: FileLike, events: int, timeout_seconds: float) -> bool:
    poller = select.poll()
    poller.register(_fileno(fd), events)
    return bool(poller.poll(max(0, math.ceil(timeout_seconds * 1000))))


def can_read(fd: FileLike) -> bool:
    """True if a read of ``fd`` would not block now (data, EOF or an error
    is pending). Does not wait."""
    return _ready(fd, select.POLLIN, 0)


def can_write(fd: FileLike) -> bool:
    """True if a write to ``fd`` would not block now (room in the pipe, or
    an error such as a reader that has gone). Does not wait."""
    return _ready(fd, select.POLLOUT, 0)


def write_loop_sync(
    write_chunk: Callable[[memoryview], Optional[int]],
    data: bytes,
    deadline: float,
    *,
    sleep_interval: float,
) -> bool:
    """Writes all of ``data`` through ``write_chunk``, retrying until it is
    done or ``deadline`` (a ``time.time()`` value) has passed.

    ``write_chunk(view)`` writes a prefix of ``view`` and returns how many
    bytes it took; returning None or raising BlockingIOError means "nothing
    now, try again" (the loop then sleeps ``sleep_interval`` seconds). Returns
    True once every byte is written, False at the deadline or when
    ``write_chunk`` raises BrokenPipeError (or another OSError).
    """
    view = memoryview(data)
    written = 0
    while written < len(view):
        try:
            n = write_chunk(view[written:])
        except BlockingIOError:
            n = None
        except OSError:
            return False
        if n:
            written += n
            continue
        if time.time() >= deadline:
            return False
        time.sleep(sleep_interval)
    return True


def write_nonblocking_sync(*, fd: FileLike, data: bytes, timeout_seconds: float) -> bool:
    """Writes all of ``data`` to the non-blocking ``fd`` within
    ``timeout_seconds``, waiting for the pipe to take more (poll, no fixed
    sleep). Returns True once every byte is written; False on timeout, or when
    the reader has gone (broken pipe: no SIGPIPE, no exception)."""
    fileno = _fileno(fd)
    view = memoryview(data)
    deadline = time.monotonic() + timeout_seconds
    while view:
        try:
            view = view[os.write(fileno, view) :]
            continue
        except BlockingIOError:
            pass
        except OSError:
            return False
        left = deadline - time.monotonic()
        if left <= 0 or not _ready(fileno, select.POLLOUT, left):
            return False
    return True


async def write_nonblocking_async(*, fd: FileLike, data: bytes, timeout_seconds: float) -> bool:
    """The coroutine twin of write_nonblocking_sync: waits for the pipe with
    the running loop's writer callbacks, so other tasks run meanwhile."""
    loop = asyncio.get_running_loop()
    fileno = _fileno(fd)
    view = memoryview(data)
    deadline = loop.time() + timeout_seconds
    while view:
        try:
            view = view[os.write(fileno, view) :]
            continue
        except BlockingIOError:
            pass
        except OSError:
            return False
        left = deadline - loop.time()
        if left <= 0 or not await _wait_fd(loop, fileno, left, writer=True):
            return False
    return True


def _set_done(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


async def _wait_fd(loop: asyncio.AbstractEventLoop, fd: int, timeout: float, *, writer: bool) -> bool:
    """True once fd is ready, False after timeout seconds."""
    ready = loop.create_future()
    add, remove = (loop.add_writer, loop.remove_writer) if writer else (loop.add_reader, loop.remove_reader)
    add(fd, _set_done, ready)
    try:
        await asyncio.wait_for(ready, timeout)
        return True
    except asyncio.TimeoutError:
        return False
    finally:
        remove(fd)


class _Capture:
    """Reads one non-blocking file to EOF, keeping its first max_len bytes."""

    def __init__(self, f: FileLike, max_len: int) -> None:
        self.fd = _fileno(f)
        self.max_len = max_len
        self.kept = bytearray()
        self.eof = False

    def read_available(self) -> None:
        while not self.eof:
            try:
                chunk = os.read(self.fd, max(MAX_BYTES_PER_READ, 65536))
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self.eof = True
            elif len(self.kept) < self.max_len:
                self.kept += chunk[: self.max_len - len(self.kept)]


def read_to_eof_sync(files: Sequence[FileLike], *, timeout_seconds: float, max_len: int) -> List[bytes]:
    """Reads every file of ``files`` (non-blocking pipes) until each reaches
    EOF or ``timeout_seconds`` pass, keeping at most the first ``max_len``
    bytes of each and discarding the rest (the pipes are drained, so a writer
    never blocks on them). Returns the bytes kept, one entry per file."""
    captures = [_Capture(f, max_len) for f in files]
    deadline = time.monotonic() + timeout_seconds
    while True:
        for c in captures:
            c.read_available()
        open_ = [c for c in captures if not c.eof]
        left = deadline - time.monotonic()
        if not open_ or left <= 0:
            break
        poller = select.poll()
        for c in open_:
            poller.register(c.fd, select.POLLIN)
        poller.poll(math.ceil(left * 1000))
    return [bytes(c.kept) for c in captures]


async def read_to_eof_async(files: Sequence[FileLike], *, timeout_seconds: float, max_len: int) -> List[bytes]:
    """The coroutine twin of read_to_eof_sync, waiting with the running
    loop's reader callbacks."""
    loop = asyncio.get_running_loop()
    captures = [_Capture(f, max_len) for f in files]
    deadline = loop.time() + timeout_seconds
    while True:
        for c in captures:
            c.read_available()
        open_ = [c for c in captures if not c.eof]
        left = deadline - loop.time()
        if not open_ or left <= 0:
            break
        ready = loop.create_future()
        for c in open_:
            loop.add_reader(c.fd, _set_done, ready)
        try:
            await asyncio.wait_for(ready, left)
        except asyncio.TimeoutError:
            pass
        finally:
            for c in open_:
                loop.remove_reader(c.fd)
    return [bytes(c.kept) for c in captures]


__all__ = [
    "Result",
    "MAX_BYTES_PER_READ",
    "SLEEP_BETWEEN_READS",
    "SLEEP_BETWEEN_WRITES",
    "set_nonblocking",
    "can_read",
    "can_write",
    "write_loop_sync",
    "write_nonblocking_sync",
    "write_nonblocking_async",
    "read_to_eof_sync",
    "read_to_eof_async",
]
