"""asyncio glue for the native Pending objects (internal)."""

from __future__ import annotations

import asyncio
from typing import Any


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


async def await_pending(pending: Any) -> Any:
    """Awaits a native Pending and returns its result (or raises its error).

    If the awaiting task is cancelled, the native operation is cancelled too,
    and the cancellation proceeds only once the operation has completed (for a
    run: the group killed and the child reaped), so nothing outlives the task.
    """
    if not pending.done():
        try:
            await _wait_readable(pending.fileno())
        except asyncio.CancelledError:
            pending.cancel()
            if not pending.done():
                waiter = asyncio.ensure_future(_wait_readable(pending.fileno()))
                while not waiter.done():
                    try:
                        await asyncio.shield(waiter)
                    except asyncio.CancelledError:
                        pass
            raise
        except BaseException:  # GeneratorExit (coroutine dropped): cannot wait
            pending.cancel()
            raise
    return pending.result()
