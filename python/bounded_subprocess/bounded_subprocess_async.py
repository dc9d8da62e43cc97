"""Asynchronous execution: ``run``, ``podman_run``, ``podman_run_stream_lines``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncGenerator, Dict, List, Mapping, Optional, Sequence, Union

from . import _args, _native
from ._aio import await_pending as _await_pending
from .util import (  # util's names are importable from every entry point module
    MAX_BYTES_PER_READ,
    SLEEP_BETWEEN_READS,
    SLEEP_BETWEEN_WRITES,
    Result,
    can_read,
    can_write,
    read_to_eof_async,
    set_nonblocking,
    write_nonblocking_async,
)

#: The module's logger, as in the original Python library. It says at DEBUG level when a run,
#: a container or a stream is cut short (cancelled, or closed early).
logger = logging.getLogger(__name__)


async def _await_result(pending: Any, what: str, args: Any) -> Result:
    try:
        return Result._from_native(await _await_pending(pending))
    except asyncio.CancelledError:
        logger.debug("%s of %r cancelled: its process group was killed and reaped", what, args)
        raise


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
    *,
    containment: Optional[str] = None,
    min_containment: str = "process_group",
    network: Optional[str] = None,
    read_only: bool = False,
    scratch_mb: Optional[int] = None,
    volumes: Optional[List[str]] = None,
    pids_limit: Optional[int] = None,
    cpu_limit: Optional[float] = None,
    file_size_limit_mb: Optional[int] = None,
) -> Result:
    """Async counterpart of bounded_subprocess.run, with an optional memory limit.

    Same bounds and results as the synchronous run. The run proceeds in the
    native library without holding the GIL and without a Python thread; the
    event loop only waits for a file descriptor to become readable, so any
    number of runs can be awaited at once (asyncio.gather).

    Cancellation: if the awaiting task is cancelled, the process group is
    killed at once, and the cancellation proceeds once the child has been
    reaped: nothing outlives the task.

    Raises TypeError/ValueError for bad arguments, OSError when the program
    cannot start.
    """
    kwargs = _args.run_kwargs(**locals())  # first: locals() is the parameters
    return await _await_result(_native.start_run(**kwargs), "run", args)


def _podman_kwargs(
    args: Any,
    image: Any,
    timeout_seconds: Any,
    env: Any,
    stdin_data: Any,
    stdin_write_timeout: Any,
    volumes: Any,
    cwd: Any,
    memory_limit_mb: Any,
    entrypoint: Any,
    podman_args: Any,
    podman_path: Any,
    containment: Any,
    min_containment: Any,
) -> Dict[str, Any]:
    """Checks the arguments podman_run and podman_run_stream_lines share;
    returns those of the native podman faces (each adds its own bounds)."""
    if not isinstance(image, str) or not image:
        raise ValueError("image must be a non-empty string")
    if isinstance(volumes, (str, bytes)) or not isinstance(volumes, Sequence):
        raise TypeError("volumes must be a list of strings")
    if podman_args is None:
        podman_args = []
    if isinstance(podman_args, (str, bytes)) or not isinstance(podman_args, Sequence):
        raise TypeError("podman_args must be a list of strings")
    return dict(
        **_args.containment_kwargs(containment, min_containment),
        image=image,
        env=_args.encode_env(env),
        stdin_data=_args.encode_stdin(stdin_data),
        stdin_write_timeout=_args.stdin_write_seconds(stdin_write_timeout),
        volumes=[_args.encode_str(v, "volumes[]") for v in volumes],
        cwd=_args.encode_cwd(cwd),
        cgroup_memory_limit_mb=_args.memory_limit(memory_limit_mb),
        entrypoint=None if entrypoint is None else _args.encode_str(entrypoint, "entrypoint"),
        podman_args=[_args.encode_str(a, "podman_args[]") for a in podman_args],
        podman_path=_args.encode_str(podman_path, "podman_path"),
        argv=_args.encode_args(args),
        timeout=_args.seconds(timeout_seconds, "timeout_seconds"),
    )


async def podman_run(
    args: List[str],
    *,
    image: str,
    timeout_seconds: float,
    max_output_size: int,
    tail: bool = False,
    env: Optional[Mapping[str, str]] = None,
    stdin_data: Optional[Union[str, bytes]] = None,
    stdin_write_timeout: Optional[float] = None,
    volumes: Sequence[str] = [],  # the original Python library's default; never mutated
    cwd: Optional[str] = None,
    memory_limit_mb: Optional[int] = None,
    entrypoint: Optional[str] = None,
    podman_args: Optional[Sequence[str]] = None,
    podman_path: str = "podman",
    containment: Optional[str] = None,
    min_containment: str = "process_group",
) -> Result:
    """Run a command inside a podman container, with the same bounds as `run`.

    We launch `podman run --rm -i --cidfile FILE` (FILE fresh, in a private
    temporary folder) and force-remove the container (`podman rm -f --time 0`)
    before returning, whether the command succeeded, timed out, was cancelled
    or errored. `volumes` flow through as -v flags, `env` as -e flags for the
    container, `cwd` as -w, `memory_limit_mb` as --memory/--memory-swap (an
    OOM kill then shows as exit code 137). `entrypoint=""` clears the image's
    ENTRYPOINT; None omits the flag. Beyond the original Python library: `podman_args`, further
    podman flags placed before the image (e.g. ["--network=none"]),
    `podman_path`, and `containment`/`min_containment` for the podman client
    and what it starts (by default a subreaper where the machine has one).

    Raises ValueError/TypeError for bad arguments and OSError when podman
    cannot be started. Cancelling the awaiting task kills the podman client
    and removes the container before the cancellation proceeds.
    """
    kwargs = _podman_kwargs(args, image, timeout_seconds, env, stdin_data, stdin_write_timeout,
                            volumes, cwd, memory_limit_mb, entrypoint, podman_args, podman_path,
                            containment, min_containment)
    pending = _native.start_run(
        max_output_size=_args.size(max_output_size, "max_output_size"),
        tail=bool(tail),
        **kwargs,
    )
    return await _await_result(pending, "podman_run", args)


async def _next_line(stream: Any) -> Optional[str]:
    """The next decoded line of a native LineStream, None at its end."""
    line = await _await_pending(stream.next())
    return None if line is None else line.decode("utf-8", errors="ignore")


async def _close_stream(stream: Any, args: Any, ended: bool) -> None:
    """Stops a native LineStream and awaits its cleanup: its end (None) is
    reported only once the group is killed, the child reaped and, for
    podman, the container removed. Called from the generators' finally, so
    it runs whatever ends the iteration (its end, break + aclose, an error,
    cancellation)."""
    if not ended:
        logger.debug("line stream of %r closed early: its process group was killed", args)
    stream.close()
    while await _await_pending(stream.next()) is not None:
        pass


async def podman_run_stream_lines(
    args: List[str],
    *,
    image: str,
    timeout_seconds: float,
    max_line_size: int,
    env: Optional[Mapping[str, str]] = None,
    stdin_data: Optional[Union[str, bytes]] = None,
    stdin_write_timeout: Optional[float] = None,
    volumes: Sequence[str] = [],  # the original Python library's default; never mutated
    cwd: Optional[str] = None,
    memory_limit_mb: Optional[int] = None,
    entrypoint: Optional[str] = None,
    stderr_max_output_size: int = 2048,
    podman_args: Optional[Sequence[str]] = None,
    podman_path: str = "podman",
    containment: Optional[str] = None,
    min_containment: str = "process_group",
) -> AsyncGenerator[str, None]:
    """Stream stdout lines from a command inside a podman container.

    Yields decoded str lines (UTF-8, errors="ignore") without trailing
    newlines, as they arrive, until EOF or the deadline.
    Pending line data is capped at max_line_size bytes; if a line grows past
    the cap before a newline arrives, older bytes are discarded. stderr is
    drained, keeping at most stderr_max_output_size bytes.

    The container is force-removed whatever ends the iteration; breaking out
    early removes it when the generator is closed: use contextlib.aclosing
    (or call aclose()) for a deterministic end. aclose() returns once the
    container is gone.

    As in the original Python library, this is an async generator function: the arguments are
    checked and podman is started at the first iteration, which raises
    ValueError/TypeError for bad input and OSError when podman cannot start.
    """
    kwargs = _podman_kwargs(args, image, timeout_seconds, env, stdin_data, stdin_write_timeout,
                            volumes, cwd, memory_limit_mb, entrypoint, podman_args, podman_path,
                            containment, min_containment)
    stream = _native.open_line_stream(
        max_line_size=_args.size(max_line_size, "max_line_size", allow_zero=False),
        max_output_size=_args.size(stderr_max_output_size, "stderr_max_output_size"),
        **kwargs,
    )
    ended = False
    try:
        while (line := await _next_line(stream)) is not None:
            yield line
        ended = True
    finally:
        await _close_stream(stream, args, ended)


async def run_stream_lines(
    args: List[str],
    *,
    timeout_seconds: float = 15,
    max_line_size: int = 64 * 1024,
    env: Optional[Mapping[str, str]] = None,
    stdin_data: Optional[Union[str, bytes]] = None,
    stdin_write_timeout: Optional[float] = None,
    cwd: Optional[str] = None,
    memory_limit_mb: Optional[int] = None,
    memory_watchdog_interval_seconds: float = 1.0,
    stderr_max_output_size: int = 2048,
    containment: Optional[str] = None,
    min_containment: str = "process_group",
    network: Optional[str] = None,
    read_only: bool = False,
    scratch_mb: Optional[int] = None,
    volumes: Optional[List[str]] = None,
    pids_limit: Optional[int] = None,
    cpu_limit: Optional[float] = None,
    file_size_limit_mb: Optional[int] = None,
) -> AsyncGenerator[str, None]:
    """The local twin of podman_run_stream_lines (not in the original Python library): stdout
    lines of a process on this host, as they arrive, with the bounds of run.
    Breaking out early and closing the generator (contextlib.aclosing) kills
    the process group. Like podman_run_stream_lines, an async generator
    function: the process starts at the first iteration."""
    kwargs = _args.run_kwargs(args, timeout_seconds, 0, False, env, stdin_data, stdin_write_timeout,
                              cwd, memory_limit_mb, memory_watchdog_interval_seconds,
                              containment, min_containment, network, read_only, scratch_mb,
                              volumes, pids_limit, cpu_limit, file_size_limit_mb)
    del kwargs["max_output_size"], kwargs["tail"]
    stream = _native.open_line_stream(
        max_line_size=_args.size(max_line_size, "max_line_size", allow_zero=False),
        max_output_size=_args.size(stderr_max_output_size, "stderr_max_output_size"),
        **kwargs,
    )
    ended = False
    try:
        while (line := await _next_line(stream)) is not None:
            yield line
        ended = True
    finally:
        await _close_stream(stream, args, ended)


__all__ = [
    "run",
    "podman_run",
    "podman_run_stream_lines",
    "run_stream_lines",
    "logger",
    "Result",
    "MAX_BYTES_PER_READ",
    "SLEEP_BETWEEN_READS",
    "SLEEP_BETWEEN_WRITES",
    "can_read",
    "can_write",
    "read_to_eof_async",
    "set_nonblocking",
    "write_nonblocking_async",
]
