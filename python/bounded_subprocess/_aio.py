"""asyncio glue (internal): awaiting the native Pending objects, and the
pieces the async Interactive is built of (Turn, ReadWatch)."""

from __future__ import annotations

import asyncio
import collections
import math
from typing import Any, Callable, Deque, Optional, Tuple


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


class Turn:
    """Lets calls of one kind proceed one at a time, in order. Taking a free
    turn costs no await (``enter_now``), which matters on hot paths: an
    uncontended asyncio.Lock costs more than the I/O step it guards."""

    def __init__(self) -> None:
        self._busy = False
        self._queue: Deque["asyncio.Future[None]"] = collections.deque()

    def enter_now(self) -> bool:
        """Takes the turn if it is free; False if the caller must ``enter``."""
        if self._busy:
            return False
        self._busy = True
        return True

    async def enter(self) -> None:
        """Waits for the turn (FIFO)."""
        if self.enter_now():
            return
        handed: "asyncio.Future[None]" = asyncio.get_running_loop().create_future()
        self._queue.append(handed)
        try:
            await handed
        except asyncio.CancelledError:
            if handed.done() and not handed.cancelled():
                self.leave()  # it was handed to us as we were cancelled: pass it on
            raise

    def leave(self) -> None:
        """Hands the turn to the next waiter, or frees it."""
        while self._queue:
            handed = self._queue.popleft()
            if not handed.done():
                handed.set_result(None)
                return
        self._busy = False


class LineWatch:
    """Waits for a line from one descriptor: keeps it registered with the
    loop between waits (a ping-pong then costs no epoll_ctl), reads in the
    loop's callback itself (so the loop does not report the descriptor
    again before the waiting task runs), and keeps one timer for the waits'
    deadlines, re-armed only when it fires before the current deadline or is
    later than it (a timer per wait costs more than the wait). When the
    descriptor is ready with no wait pending it is dropped from the loop,
    which would otherwise spin on it.

    The loop refers to this object, not to its owner: call ``stop`` before
    the descriptor is closed.
    """

    def __init__(self) -> None:
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._fd = -1
        self._waiter: "Optional[asyncio.Future[Any]]" = None
        self._step: Optional[Callable[[], Tuple[Optional[bytes], bool]]] = None
        self._deadline = math.inf
        self._timer: Optional[asyncio.TimerHandle] = None

    async def wait(
        self,
        loop: asyncio.AbstractEventLoop,
        fd: int,
        deadline: float,
        step: Callable[[], Tuple[Optional[bytes], bool]],
    ) -> Optional[Tuple[Optional[bytes], bool]]:
        """Calls ``step`` (which reads what is there: (line or None, eof))
        each time fd is readable, until it gives a line or EOF, and returns
        that; None at ``deadline`` (loop time) or when ``wake`` is called.
        ``loop`` is the running loop (the caller has it: each
        asyncio.get_running_loop() costs a getpid system call)."""
        if self._loop is not loop or self._fd != fd:
            self.stop()
            loop.add_reader(fd, self._on_ready)
            self._loop, self._fd = loop, fd
        self._deadline = deadline
        if not math.isinf(deadline) and (self._timer is None or self._timer.when() > deadline):
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(deadline, self._on_timer)
        waiter: "asyncio.Future[Any]" = loop.create_future()
        self._waiter, self._step = waiter, step
        try:
            result: Optional[Tuple[Optional[bytes], bool]] = await waiter
            return result
        finally:
            self._waiter = self._step = None

    def wake(self) -> None:
        """Ends a pending wait with None."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def stop(self) -> None:
        """Drops the descriptor from the loop and the timer."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._loop is not None:
            if not self._loop.is_closed():
                self._loop.remove_reader(self._fd)
            self._loop, self._fd = None, -1

    def _on_ready(self) -> None:
        waiter, step = self._waiter, self._step
        if waiter is None or step is None:
            self.stop()
            return
        if waiter.done():
            return
        try:
            line, eof = step()
        except BaseException as e:  # delivered to the waiting task
            waiter.set_exception(e)
            return
        if line is not None or eof:
            waiter.set_result((line, eof))

    def _on_timer(self) -> None:
        self._timer = None
        waiter, loop = self._waiter, self._loop
        if waiter is None or waiter.done() or loop is None:
            return
        if loop.time() >= self._deadline:
            waiter.set_result(None)
        elif not math.isinf(self._deadline):  # armed for an earlier wait: on to this one's
            self._timer = loop.call_at(self._deadline, self._on_timer)
