"""Asynchronous execution: ``run``, ``podman_run``, ``podman_run_stream_lines``."""

from __future__ import annotations

import asyncio
from typing import List, Mapping, Optional, Union

from . import _native
from .util import Result, run_kwargs


async def _wait_readable(fd: int) -> None:
    """Waits until fd is readable, on the running loop, without a thread."""
    loop = asyncio.get_running_loop()
    fut = loop.create_future()

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(fd, ready)
    try:
        await fut
    finally:
        loop.remove_reader(fd)


async def _await_handle(handle) -> object:
    """Awaits a native handle; on cancellation, asks it to stop and waits for
    it to clean up before the cancellation proceeds."""
    try:
        await _wait_readable(handle.fileno())
    except asyncio.CancelledError:
        handle.cancel()
        # Wait for the group to be killed and the child reaped, whatever
        # further cancellations arrive meanwhile.
        waiter = asyncio.ensure_future(_wait_readable(handle.fileno()))
        while not waiter.done():
            try:
                await asyncio.shield(waiter)
            except asyncio.CancelledError:
                pass
        raise
    return handle.result()


async def run(
    args: List[str],
    timeout_seconds: float = 15,
    max_output_size: int = 2048,
    tail: bool = False,
    env: Optional[Mapping[str, str]] = None,
    stdin_data: Optional[Union[str, bytes]] = None,
    stdin_write_timeout: Optional[float] = None,
    memory_limit_mb: Optional[int] = None,
    memory_watchdog_interval_seconds: float = 1.0,
    cwd: Optional[str] = None,
) -> Result:
    """Async counterpart of bounded_subprocess.run, with an optional memory limit.

    Same bounds and results as the synchronous run. The run proceeds in the
    native library without holding the GIL and without a Python thread; the
    event loop only waits for a file descriptor to become readable, so any
    number of runs can be awaited at once (asyncio.gather).

    Cancellation: if the awaiting task is cancelled, the run is stopped (see
    RunHandle.cancel in the README for what this build supports) and the
    cancellation completes once the child has been reaped.

    Raises TypeError/ValueError for bad arguments, OSError when the program
    cannot start.
    """
    kwargs = run_kwargs(
        args,
        timeout_seconds,
        max_output_size,
        tail,
        env,
        stdin_data,
        stdin_write_timeout,
        cwd,
        memory_limit_mb,
        memory_watchdog_interval_seconds,
    )
    handle = _native.RunHandle(**kwargs)
    return Result._from_native(await _await_handle(handle))


__all__ = ["run", "Result"]
