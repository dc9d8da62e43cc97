"""The Result type and the argument checks shared by every face."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

# The seed's default for stdin_write_timeout=None.
DEFAULT_STDIN_WRITE_TIMEOUT = 15.0


def _decode(data: bytes) -> str:
    return data.decode("utf-8", errors="ignore")


@dataclass
class Result:
    """The result of a bounded subprocess run.

    stdout and stderr each contain at most max_output_size bytes, decoded as
    UTF-8 with errors="ignore" (so a multi-byte character cut by the bound, or
    invalid bytes, are dropped; the raw bytes are in stdout_bytes and
    stderr_bytes). timeout is True only when the wall-clock deadline elapsed.
    exit_code holds the child's exit status, minus the signal number when a
    signal ended it (-9 for SIGKILL), or -1 when the run aborted because of a
    timeout, a failed stdin write, or the memory watchdog.

    Beyond the seed: why the run ended (reason: "exited", "signaled",
    "timeout", "memory_limit" or "cancelled"), truncation flags and total
    sizes of each stream, the elapsed wall time and the direct child's
    resource usage.
    """

    exit_code: int
    stdout: str
    stderr: str
    timeout: bool = False
    memory_limit_exceeded: bool = False
    stdin_write_failed: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    stdout_total_bytes: int = 0
    stderr_total_bytes: int = 0
    reason: str = "exited"
    term_signal: int = 0
    elapsed_seconds: float = 0.0
    user_cpu_seconds: float = 0.0
    system_cpu_seconds: float = 0.0
    max_rss_kb: int = 0
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""
    containment: str = "process_group"

    @classmethod
    def _from_native(cls, r: Any) -> "Result":
        out, err = r.stdout, r.stderr
        return cls(
            exit_code=r.exit_code,
            stdout=_decode(out),
            stderr=_decode(err),
            timeout=r.timeout,
            memory_limit_exceeded=r.memory_limit_exceeded,
            stdin_write_failed=r.stdin_write_failed,
            stdout_truncated=r.stdout_truncated,
            stderr_truncated=r.stderr_truncated,
            stdout_total_bytes=r.stdout_total_bytes,
            stderr_total_bytes=r.stderr_total_bytes,
            reason=r.reason,
            term_signal=r.term_signal,
            elapsed_seconds=r.elapsed_seconds,
            user_cpu_seconds=r.user_cpu_seconds,
            system_cpu_seconds=r.system_cpu_seconds,
            max_rss_kb=r.max_rss_kb,
            stdout_bytes=out,
            stderr_bytes=err,
            containment=r.containment,
        )


# ---------------------------------------------------------------------------
# Argument checks. Everything is checked and encoded here, so that bad input
# raises TypeError/ValueError before anything is spawned, with the seed's
# parameter names in the message.


def _encode_str(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str) or hasattr(value, "__fspath__"):
        return os.fsencode(value)
    raise TypeError(f"{what} must be str, bytes or os.PathLike, not {type(value).__name__}")


def encode_args(args: Any) -> List[bytes]:
    if isinstance(args, (str, bytes)) or hasattr(args, "__fspath__"):
        raise TypeError("args must be a list of strings (argv), not a single string")
    if not isinstance(args, Sequence):
        raise TypeError(f"args must be a list of strings, not {type(args).__name__}")
    if len(args) == 0:
        raise ValueError("args must not be empty")
    return [_encode_str(a, "args[%d]" % i) for i, a in enumerate(args)]


def encode_env(env: Optional[Mapping[Any, Any]]) -> Optional[Dict[bytes, bytes]]:
    if env is None:
        return None
    if not isinstance(env, Mapping):
        raise TypeError(f"env must be a mapping of str to str, not {type(env).__name__}")
    out: Dict[bytes, bytes] = {}
    for k, v in env.items():
        kb = _encode_str(k, "env name")
        if not kb or b"=" in kb:
            raise ValueError(f"illegal environment variable name: {k!r}")
        out[kb] = _encode_str(v, f"env[{k!r}]")
    return out


def encode_cwd(cwd: Any) -> Optional[bytes]:
    return None if cwd is None else _encode_str(cwd, "cwd")


def encode_stdin(stdin_data: Any) -> Optional[bytes]:
    if stdin_data is None:
        return None
    if isinstance(stdin_data, str):
        return stdin_data.encode("utf-8")
    if isinstance(stdin_data, (bytes, bytearray, memoryview)):
        return bytes(stdin_data)
    raise TypeError(f"stdin_data must be str or bytes, not {type(stdin_data).__name__}")


def seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    v = float(value)
    if not (v > 0) or math.isinf(v):
        raise ValueError(f"{what} must be a positive, finite number of seconds, not {value!r}")
    return v


def size(value: Any, what: str, *, allow_zero: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{what} must be {'>= 0' if allow_zero else 'positive'}, not {value}")
    return value


def stdin_write_seconds(stdin_write_timeout: Any) -> float:
    """The seed's stdin_write_timeout: None means DEFAULT_STDIN_WRITE_TIMEOUT."""
    if stdin_write_timeout is None:
        stdin_write_timeout = DEFAULT_STDIN_WRITE_TIMEOUT
    return seconds(stdin_write_timeout, "stdin_write_timeout")


def memory_limit(memory_limit_mb: Any) -> Optional[int]:
    """The seed's memory_limit_mb: None (no limit) or a positive int."""
    if memory_limit_mb is None:
        return None
    return size(memory_limit_mb, "memory_limit_mb", allow_zero=False)


def run_kwargs(
    args: Any,
    timeout_seconds: Any,
    max_output_size: Any,
    tail: Any,
    env: Any,
    stdin_data: Any,
    stdin_write_timeout: Any,
    cwd: Any,
    memory_limit_mb: Any,
    memory_watchdog_interval_seconds: Any,
) -> Dict[str, Any]:
    """Checks the seed's arguments of run (sync and async, which take the same
    ones in another order, so each calls run_kwargs(**locals()) first thing);
    returns those of _native.run and _native.start_run."""
    return dict(
        argv=encode_args(args),
        timeout=seconds(timeout_seconds, "timeout_seconds"),
        max_output_size=size(max_output_size, "max_output_size"),
        tail=bool(tail),
        env=encode_env(env),
        stdin_data=encode_stdin(stdin_data),
        stdin_write_timeout=stdin_write_seconds(stdin_write_timeout),
        cwd=encode_cwd(cwd),
        memory_limit_mb=memory_limit(memory_limit_mb),
        memory_watchdog_interval=seconds(
            memory_watchdog_interval_seconds, "memory_watchdog_interval_seconds"
        ),
    )


__all__ = ["Result"]
