"""Interactive execution: a long-lived child you talk to line by line."""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Union

from . import _args, _native
from .util import (  # util's names are importable from every entry point module
    MAX_BYTES_PER_READ,
    SLEEP_BETWEEN_READS,
    SLEEP_BETWEEN_WRITES,
    can_read,
    can_write,
    set_nonblocking,
    write_loop_sync,
    write_nonblocking_sync,
)

Bytes = Union[bytes, bytearray, memoryview, str]


def _native_args(
    args: Any, read_buffer_size: Any, env: Any, cwd: Any, containment: Any, min_containment: Any,
    *isolation: Any
) -> Dict[str, Any]:
    return dict(
        **_args.containment_kwargs(containment, min_containment),
        **_args.isolation_kwargs(*isolation),
        argv=_args.encode_args(args),
        max_line_size=_args.size(read_buffer_size, "read_buffer_size", allow_zero=False),
        env=_args.encode_env(env),
        cwd=_args.encode_cwd(cwd),
    )


class Interactive:
    """A long-lived subprocess you can write to and read lines from.

    The child runs in its own session, with stdin and stdout pipes (stderr is
    inherited). write honors a timeout; read_line returns one complete line
    at a time (without the trailing newline) or None on timeout / EOF.

    read_buffer_size caps how many bytes of the pending partial line we keep
    while waiting for a newline; a longer line loses bytes from the front.

    No method sleeps: a line is returned as soon as it arrives. The GIL is
    released while a method waits. One thread may write while another reads;
    close from another thread ends both at once (they return False / None).
    A signal whose handler raises (Ctrl-C: KeyboardInterrupt) interrupts a
    wait of the main thread: the call raises it and the child keeps running,
    still owned by the object. If the object is garbage-collected (or the
    interpreter exits) without close, the child's group is killed and the
    child reaped. Also a context manager (close(0) on exit).

    Raises TypeError/ValueError for bad arguments, OSError
    (FileNotFoundError, PermissionError, ...) when the program cannot start.
    Extras beyond the original Python library: env (replaces the environment), cwd,
    containment and min_containment (as for run), the isolation keywords of
    run (network, read_only, scratch_mb, volumes, pids_limit, cpu_limit,
    file_size_limit_mb), pid, and containment (the mechanism used).
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

    def write(self, stdin_data: Bytes, timeout_seconds: float) -> bool:
        """Write all of stdin_data to the child's stdin within timeout_seconds.

        Returns True once every byte is in the pipe; False if the child has
        exited, closed its stdin, the object was closed, or the time ran out.
        Never raises BrokenPipeError and never lets SIGPIPE reach the process.
        """
        data = _args.encode_data(stdin_data)
        return self._proc.write(data, _args.interactive_seconds(timeout_seconds, "timeout_seconds"))

    def read_line(self, timeout_seconds: float) -> Optional[bytes]:
        """Read the next line of stdout (without the trailing newline), or
        return None on timeout / EOF. Data read before a timeout stays
        buffered for the next call; a partial line at EOF is dropped."""
        return self._proc.read_line(_args.interactive_seconds(timeout_seconds, "timeout_seconds"))

    def close(self, nice_timeout_seconds: float) -> int:
        """Close the pipes, wait up to nice_timeout_seconds for a clean exit,
        then SIGKILL the child's group if it is still running. Returns the
        child's exit code (minus the signal number if a signal ended it), or
        -9 if we had to kill it. Calling it again returns the same code."""
        return self._proc.close(_args.interactive_seconds(nice_timeout_seconds, "nice_timeout_seconds"))

    def __enter__(self) -> "Interactive":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close(0)


__all__ = [
    "Interactive",
    "MAX_BYTES_PER_READ",
    "SLEEP_BETWEEN_READS",
    "SLEEP_BETWEEN_WRITES",
    "can_read",
    "can_write",
    "set_nonblocking",
    "write_loop_sync",
    "write_nonblocking_sync",
]
