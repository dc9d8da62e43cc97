"""Synchronous execution: ``run``."""

from __future__ import annotations

from typing import List, Mapping, Optional, Union

from . import _args, _native
from .util import (  # util's names are importable from every entry point module
    MAX_BYTES_PER_READ,
    SLEEP_BETWEEN_READS,
    SLEEP_BETWEEN_WRITES,
    Result,
    can_read,
    can_write,
    read_to_eof_sync,
    set_nonblocking,
    write_loop_sync,
    write_nonblocking_sync,
)


def run(
    args: List[str],
    timeout_seconds: float = 15,
    max_output_size: int = 2048,
    tail: bool = False,
    env: Optional[Mapping[str, str]] = None,
    stdin_data: Optional[Union[str, bytes]] = None,
    stdin_write_timeout: Optional[float] = None,
    cwd: Optional[str] = None,
    *,
    memory_limit_mb: Optional[int] = None,
    memory_watchdog_interval_seconds: float = 1.0,
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
    """Run a subprocess with a timeout and bounded output capture.

    The child runs in its own session; when it exits, or at the deadline, its
    whole process group is killed, so nothing it forked outlives the call.
    At most max_output_size bytes of stdout and of stderr are kept: the
    prefix, or the suffix when tail=True.

    timeout_seconds bounds the whole run, stdin phase included; on timeout,
    Result.timeout is True and Result.exit_code is -1. stdin_data (str,
    encoded as UTF-8, or bytes) is written while output is read; if it cannot
    all be written within stdin_write_timeout seconds (None means 15), stdin
    is closed and exit_code is -1. env, when given, replaces the environment.

    Beyond the original Python library (keyword-only): memory_limit_mb turns on the memory
    watchdog (summed peak RSS of every process of the run, sampled every
    memory_watchdog_interval_seconds). containment picks how every
    descendant is kept in the run ("process_group", "subreaper",
    "pid_namespace" or "cgroup"; None: the strongest the machine allows,
    but none weaker than min_containment); Result.containment says which
    was used.

    Isolation (keyword-only; any of them also sets no_new_privs, and needs
    containment "pid_namespace" or "cgroup"): network="none" (an empty
    network namespace with its own loopback), read_only (the host's files
    read-only), scratch_mb (a private tmpfs at /tmp and TMPDIR), volumes
    ("HOST:INSIDE[:ro]" bind mounts), pids_limit, cpu_limit (seconds of CPU
    of the whole run; reason "cpu_limit"), file_size_limit_mb. With any of
    them, memory_limit_mb is the kernel's limit of the run's cgroup too where
    the machine has a memory controller (Result.memory_enforcer says who
    enforced it); Result.limits_hit names the limits the run ran into. What
    the machine cannot give raises OSError, never a weaker run.

    Raises TypeError/ValueError for bad arguments (nothing is spawned), and
    OSError (FileNotFoundError, PermissionError, ...) when the program or the
    cwd cannot be used. The GIL is released while the run proceeds, so runs in
    several threads proceed at once. A signal whose handler raises (Ctrl-C:
    KeyboardInterrupt) during a run in the main thread abandons it: the run
    is killed and reaped, then the exception propagates.
    """
    kwargs = _args.run_kwargs(**locals())  # first: locals() is the parameters
    return Result._from_native(_native.run(**kwargs))


__all__ = [
    "run",
    "Result",
    "MAX_BYTES_PER_READ",
    "SLEEP_BETWEEN_READS",
    "SLEEP_BETWEEN_WRITES",
    "can_read",
    "can_write",
    "read_to_eof_sync",
    "set_nonblocking",
    "write_loop_sync",
    "write_nonblocking_sync",
]
