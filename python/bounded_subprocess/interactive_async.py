"""Interactive execution with coroutines."""

from __future__ import annotations

import asyncio
from typing import Any, List, Mapping, Optional

from . import _args, _native
from ._aio import await_pending as _await_pending
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

    The work happens in the native library's event-loop thread; asyncio only
    waits for a file descriptor. Calls of one kind are serialized (a write and
    a read may proceed together). Cancelling the awaiting task cancels the
    operation: a write stops (a prefix may have been written), a read stops
    (bytes already read stay buffered), a close kills the group at once;
    the child keeps running after a cancelled write or read. If the object
    is garbage-collected without close, the child's group is killed.
    Also an async context manager (close(0) on exit).
    """

    def __init__(
        self,
        args: List[str],
        read_buffer_size: int,
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> None:
        self._proc = _native.AsyncInteractive(**_native_args(args, read_buffer_size, env, cwd))
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._close_lock = asyncio.Lock()

    @property
    def pid(self) -> int:
        """The child's pid, which is also its process group id."""
        return self._proc.pid

    async def write(self, stdin_data: Bytes, timeout_seconds: float) -> bool:
        """Write all of stdin_data within timeout_seconds; True once every
        byte is in the pipe, False if the child has gone, closed its stdin,
        the object was closed, or the time ran out."""
        data = _args.encode_data(stdin_data)
        timeout = _args.interactive_seconds(timeout_seconds, "timeout_seconds")
        async with self._write_lock:
            written: bool = await _await_pending(self._proc.write(data, timeout))
        return written

    async def read_line(self, timeout_seconds: float) -> Optional[bytes]:
        """Read the next line of stdout (without the trailing newline), or
        return None on timeout / EOF."""
        timeout = _args.interactive_seconds(timeout_seconds, "timeout_seconds")
        async with self._read_lock:
            line: Optional[bytes] = await _await_pending(self._proc.read_line(timeout))
        return line

    async def close(self, nice_timeout_seconds: float) -> int:
        """Close the pipes, wait up to nice_timeout_seconds for a clean exit,
        then SIGKILL the child's group if it is still running. Returns the
        child's exit code, or -9 if we had to kill it."""
        timeout = _args.interactive_seconds(nice_timeout_seconds, "nice_timeout_seconds")
        async with self._close_lock:
            code: int = await _await_pending(self._proc.close(timeout))
        return code

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
