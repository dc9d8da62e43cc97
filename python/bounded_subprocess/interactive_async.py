"""Interactive execution with coroutines."""

from __future__ import annotations

import asyncio
import math
import weakref
from typing import Any, List, Mapping, Optional, Sequence, Set

from . import _args, _native
from .interactive import Bytes, _native_args
from .util import (  # util's names are importable from every face module
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

    Unlike the seed's async write, which can leave bytes in a buffer, write
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
    ) -> None:
        self._proc = _native.Interactive(**_native_args(args, read_buffer_size, env, cwd))
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._close_lock = asyncio.Lock()
        self._waiters: Set["asyncio.Future[Optional[int]]"] = set()
        # stdout stays registered with the loop between reads, so that a
        # ping-pong costs no epoll_ctl; it is dropped when it fires with no
        # read waiting (the loop would spin on a readable pipe otherwise).
        self._stdout_loop: Optional[asyncio.AbstractEventLoop] = None
        self._read_waiter: "Optional[asyncio.Future[Optional[int]]]" = None

    @property
    def pid(self) -> int:
        """The child's pid, which is also its process group id."""
        return self._proc.pid

    async def _ready(self, readers: Sequence[int], writers: Sequence[int], deadline: float) -> Optional[int]:
        """Waits until one of the fds is ready (returns it), the deadline
        (loop time) passes or close begins (None)."""
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
        self._waiters.add(ready)
        try:
            return await ready
        finally:
            self._waiters.discard(ready)
            if timer is not None:
                timer.cancel()
            for fd in readers:
                loop.remove_reader(fd)
            for fd in writers:
                loop.remove_writer(fd)

    @staticmethod
    def _on_stdout(ref: "weakref.ReferenceType[Interactive]") -> None:
        self = ref()  # the loop must not keep the object (and its child) alive
        if self is None:
            return
        waiter = self._read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(self._proc.stdout_fd)
        else:
            self._unwatch_stdout()

    def _unwatch_stdout(self) -> None:
        if self._stdout_loop is not None:
            fd = self._proc.stdout_fd
            if fd >= 0 and not self._stdout_loop.is_closed():
                self._stdout_loop.remove_reader(fd)
            self._stdout_loop = None

    async def _stdout_ready(self, deadline: float) -> bool:
        """Waits until stdout is readable (True), or the deadline passes or
        close begins (False)."""
        loop = asyncio.get_running_loop()
        fd = self._proc.stdout_fd
        if fd < 0:
            return False
        if self._stdout_loop is not loop:
            self._unwatch_stdout()
            loop.add_reader(fd, Interactive._on_stdout, weakref.ref(self))
            self._stdout_loop = loop
        waiter: "asyncio.Future[Optional[int]]" = loop.create_future()
        timer = None if math.isinf(deadline) else loop.call_at(deadline, waiter.set_result, None)
        self._read_waiter = waiter
        self._waiters.add(waiter)
        try:
            return await waiter is not None
        finally:
            self._read_waiter = None
            self._waiters.discard(waiter)
            if timer is not None:
                timer.cancel()

    async def write(self, stdin_data: Bytes, timeout_seconds: float) -> bool:
        """Write all of stdin_data within timeout_seconds; True once every
        byte is in the pipe, False if the child has gone, closed its stdin,
        the object was closed, or the time ran out."""
        data = _args.encode_data(stdin_data)
        timeout = _args.interactive_seconds(timeout_seconds, "timeout_seconds")
        async with self._write_lock:
            proc = self._proc
            if not proc.is_running:
                return False
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

    async def read_line(self, timeout_seconds: float) -> Optional[bytes]:
        """Read the next line of stdout (without the trailing newline), or
        return None on timeout / EOF."""
        timeout = _args.interactive_seconds(timeout_seconds, "timeout_seconds")
        async with self._read_lock:
            proc = self._proc
            line, eof = proc.read_line_now()
            if line is not None or eof or timeout == 0:
                return line
            deadline = asyncio.get_running_loop().time() + timeout
            while True:
                if not await self._stdout_ready(deadline):
                    return None  # closed, the time is up, or close began
                line, eof = proc.read_line_now()
                if line is not None or eof:
                    return line

    async def close(self, nice_timeout_seconds: float) -> int:
        """Close the pipes, wait up to nice_timeout_seconds for a clean exit,
        then SIGKILL the child's group if it is still running. Returns the
        child's exit code, or -9 if we had to kill it."""
        timeout = _args.interactive_seconds(nice_timeout_seconds, "nice_timeout_seconds")
        async with self._close_lock:
            proc = self._proc
            if proc.exit_code is not None:
                return int(proc.exit_code)
            # Pending writes and reads end now (False / None), then let go
            # of the pipes, so that the pipes can be closed.
            for waiter in list(self._waiters):
                if not waiter.done():
                    waiter.set_result(None)
            try:
                async with self._write_lock, self._read_lock:
                    self._unwatch_stdout()
                    proc.close_pipes()
                if proc.is_running and timeout > 0:
                    deadline = asyncio.get_running_loop().time() + timeout
                    await self._ready([proc.pidfd], [], deadline)
            finally:
                # Reaps the child that exited; else kills its group (also
                # when the awaiting task is cancelled) and reaps.
                code = proc.close(0)
            return code

    def __del__(self) -> None:
        # Before the native object closes the pipe: a closed fd left in the
        # loop's selector would break whoever gets its number next.
        if getattr(self, "_stdout_loop", None) is not None:
            self._unwatch_stdout()

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
