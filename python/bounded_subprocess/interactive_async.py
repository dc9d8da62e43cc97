"""Interactive execution with coroutines."""

from __future__ import annotations

import asyncio
import math
from typing import Any, FrozenSet, List, Mapping, Optional, Sequence, Set

from . import _args, _native
from ._aio import LineWatch as _LineWatch
from ._aio import Turn as _Turn
from .interactive import Bytes, _native_args
from .util import (  # util's names are importable from every entry point module
    MAX_BYTES_PER_READ,
    SLEEP_BETWEEN_READS,
    SLEEP_BETWEEN_WRITES,
    can_read,
    can_write,
    set_nonblocking,
    write_nonblocking_async,
)


class Interactive:
    """Async counterpart of bounded_subprocess.interactive.Interactive.

    Same model: a long-lived child with line-oriented I/O; write, read_line
    and close are coroutines. read_buffer_size caps retained stdout the same
    way; lines longer than the buffer lose bytes from the front. The child is
    started by the constructor (no running loop needed).

    Unlike the original Python library's async write, which can leave bytes in a buffer, write
    returns True only once every byte is in the pipe: an echo through cat
    comes back.

    The event loop itself waits for the child's pipes and its exit (its
    readers and writers): no thread and no sleep is involved, so a line is
    returned as soon as it arrives. Calls of one kind are serialized (a write
    and a read may proceed together). Cancelling the awaiting task cancels
    the operation: a write stops (a prefix may have been written), a read
    stops (bytes already read stay buffered), a close kills the group at
    once; the child keeps running after a cancelled write or read. close
    ends a pending write (False) or read (None) at once. If the object is
    garbage-collected without close, the child's group is killed and the
    child reaped. Also an async context manager (close(0) on exit).
    """

    def __init__(
        self,
        args: List[str],
        read_buffer_size: int,
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
        containment: Optional[str] = None,
        min_containment: str = "process_group",
        network: Optional[str] = None,
        read_only: bool = False,
        scratch_mb: Optional[int] = None,
        volumes: Optional[List[str]] = None,
        pids_limit: Optional[int] = None,
        cpu_limit: Optional[float] = None,
        file_size_limit_mb: Optional[int] = None,
    ) -> None:
        self._proc = _native.Interactive(
            **_native_args(args, read_buffer_size, env, cwd, containment, min_containment,
                           network, read_only, scratch_mb, volumes, pids_limit, cpu_limit,
                           file_size_limit_mb))
        self._writes = _Turn()
        self._reads = _Turn()
        self._closes = _Turn()
        self._stdout = _LineWatch()  # stays registered between reads
        self._write_waiters: Set["asyncio.Future[Optional[int]]"] = set()

    @property
    def pid(self) -> int:
        """The child's pid (with containment "process_group", also its
        process group id; 0 when not known in this PID namespace)."""
        return self._proc.pid

    @property
    def containment(self) -> str:
        """How the child's descendants are contained (e.g. "pid_namespace")."""
        return self._proc.containment

    @property
    def limits_hit(self) -> Optional[FrozenSet[str]]:
        """The isolation limits the run ran into ("memory", "pids", "cpu",
        "file_size", "scratch"), as Result.limits_hit; None until close()
        has returned."""
        return self._proc.limits_hit

    async def _ready(self, readers: Sequence[int], writers: Sequence[int], deadline: float) -> Optional[int]:
        """Waits until one of the fds is ready (returns it), the deadline
        (loop time) passes or close begins (None). For the rare waits (a
        full pipe, close): registers and unregisters its fds each time."""
        loop = asyncio.get_running_loop()
        ready: "asyncio.Future[Optional[int]]" = loop.create_future()

        def fire(fd: Optional[int]) -> None:
            if not ready.done():
                ready.set_result(fd)

        for fd in readers:
            loop.add_reader(fd, fire, fd)
        for fd in writers:
            loop.add_writer(fd, fire, fd)
        timer = None if math.isinf(deadline) else loop.call_at(deadline, fire, None)
        self._write_waiters.add(ready)
        try:
            return await ready
        finally:
            self._write_waiters.discard(ready)
            if timer is not None:
                timer.cancel()
            for fd in readers:
                loop.remove_reader(fd)
            for fd in writers:
                loop.remove_writer(fd)

    async def write(self, stdin_data: Bytes, timeout_seconds: float) -> bool:
        """Write all of stdin_data within timeout_seconds; True once every
        byte is in the pipe, False if the child has gone (broken pipe, or it
        exits while the write waits), closed its stdin, the object was
        closed, or the time ran out."""
        data = stdin_data if type(stdin_data) is bytes else _args.encode_data(stdin_data)
        timeout = _args.interactive_seconds(timeout_seconds, "timeout_seconds")
        if not self._writes.enter_now():
            await self._writes.enter()
        try:
            proc = self._proc
            # No check of the child's exit first (the sync entry point makes one):
            # a write to a child that has exited fails on the broken pipe.
            offset = proc.write_some(data, 0)
            if offset == len(data) or offset < 0:
                return offset >= 0
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                stdin_fd, pidfd = proc.stdin_fd, proc.pidfd
                if stdin_fd < 0 or pidfd < 0:
                    return False
                if await self._ready([pidfd], [stdin_fd], deadline) != stdin_fd:
                    return False  # the child exited, the time is up, or close began
                offset = proc.write_some(data, offset)
                if offset == len(data) or offset < 0:
                    return offset >= 0
        finally:
            self._writes.leave()

    async def read_line(self, timeout_seconds: float) -> Optional[bytes]:
        """Read the next line of stdout (without the trailing newline), or
        return None on timeout / EOF."""
        timeout = _args.interactive_seconds(timeout_seconds, "timeout_seconds")
        if not self._reads.enter_now():
            await self._reads.enter()
        try:
            proc = self._proc
            # A line already read, else (unless only what is there is
            # wanted) wait first: an answer is rarely in the pipe yet, and a
            # read that fails costs a system call on every round trip.
            line, eof = proc.read_line_now(timeout == 0)
            if line is not None or eof or timeout == 0:
                if eof:
                    self._stdout.stop()
                return line
            fd = proc.stdout_fd
            if fd < 0:
                return None
            loop = asyncio.get_running_loop()
            got = await self._stdout.wait(loop, fd, loop.time() + timeout, proc.read_line_now)
            if got is None:
                return None  # the time is up, or close began
            line, eof = got
            if eof:
                self._stdout.stop()
            return line
        finally:
            self._reads.leave()

    async def close(self, nice_timeout_seconds: float) -> int:
        """Close the pipes, wait up to nice_timeout_seconds for a clean exit,
        then SIGKILL the child's group if it is still running. Returns the
        child's exit code, or -9 if we had to kill it."""
        timeout = _args.interactive_seconds(nice_timeout_seconds, "nice_timeout_seconds")
        await self._closes.enter()
        try:
            proc = self._proc
            if proc.exit_code is not None:
                return int(proc.exit_code)
            # Pending writes and reads end now (False / None), then let go
            # of the pipes, so that the pipes can be closed.
            for waiter in list(self._write_waiters):
                if not waiter.done():
                    waiter.set_result(None)
            self._stdout.wake()
            try:
                await self._writes.enter()
                try:
                    await self._reads.enter()
                    try:
                        self._stdout.stop()
                        proc.close_pipes()
                    finally:
                        self._reads.leave()
                finally:
                    self._writes.leave()
                if proc.is_running and timeout > 0:
                    deadline = asyncio.get_running_loop().time() + timeout
                    await self._ready([proc.pidfd], [], deadline)
            finally:
                # Reaps the child that exited; else kills its group (also
                # when the awaiting task is cancelled) and reaps.
                code = proc.close(0)
            return code
        finally:
            self._closes.leave()

    def __del__(self) -> None:
        # Before the native object closes the pipe: a closed fd left in the
        # loop's selector would break whoever gets its number next.
        watch = getattr(self, "_stdout", None)
        if watch is not None:
            watch.stop()

    async def __aenter__(self) -> "Interactive":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close(0)


__all__ = [
    "Interactive",
    "MAX_BYTES_PER_READ",
    "SLEEP_BETWEEN_READS",
    "SLEEP_BETWEEN_WRITES",
    "can_read",
    "can_write",
    "set_nonblocking",
    "write_nonblocking_async",
]
