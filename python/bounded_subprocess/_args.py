"""Argument checks shared by every face (internal).

Everything is checked and encoded here, so that bad input raises
TypeError/ValueError before anything is spawned, with the original Python library's parameter
names in the message, and so that every value fits the native type it is
converted to (pybind11 would otherwise raise a bare "incompatible function
arguments" TypeError).
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

# The original Python library's default for stdin_write_timeout=None.
DEFAULT_STDIN_WRITE_TIMEOUT = 15.0


# Sizes are std::size_t in C++; anything past this is no bound at all.
MAX_SIZE = sys.maxsize


def encode_str(value: Any, what: str) -> bytes:
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
    return [encode_str(a, "args[%d]" % i) for i, a in enumerate(args)]


def encode_env(env: Optional[Mapping[Any, Any]]) -> Optional[Dict[bytes, bytes]]:
    if env is None:
        return None
    if not isinstance(env, Mapping):
        raise TypeError(f"env must be a mapping of str to str, not {type(env).__name__}")
    out: Dict[bytes, bytes] = {}
    for k, v in env.items():
        kb = encode_str(k, "env name")
        if not kb or b"=" in kb:
            raise ValueError(f"illegal environment variable name: {k!r}")
        out[kb] = encode_str(v, f"env[{k!r}]")
    return out


def encode_cwd(cwd: Any) -> Optional[bytes]:
    return None if cwd is None else encode_str(cwd, "cwd")


def encode_stdin(stdin_data: Any) -> Optional[bytes]:
    if stdin_data is None:
        return None
    if isinstance(stdin_data, str):
        return stdin_data.encode("utf-8")
    if isinstance(stdin_data, (bytes, bytearray, memoryview)):
        return bytes(stdin_data)
    raise TypeError(f"stdin_data must be str or bytes, not {type(stdin_data).__name__}")


def _float(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be a number of seconds, not {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:  # an int past the largest double
        raise ValueError(f"{what} is too large: {value!r}") from None


def seconds(value: Any, what: str) -> float:
    """A run's bound: positive and finite (a huge one is clamped in C++)."""
    v = _float(value, what)
    if not (v > 0) or math.isinf(v):
        raise ValueError(f"{what} must be a positive, finite number of seconds, not {value!r}")
    return v


def interactive_seconds(value: Any, what: str) -> float:
    """Interactive timeouts may be 0 (only what is ready) or math.inf."""
    if type(value) is float and value >= 0:  # the hot paths; NaN fails >= 0
        return value
    if type(value) is int and 0 <= value < 1 << 53:
        return float(value)
    v = _float(value, what)
    if math.isnan(v) or v < 0:
        raise ValueError(f"{what} must be >= 0 seconds, not {value!r}")
    return v


def size(value: Any, what: str, *, allow_zero: bool = True) -> int:
    """A size in bytes (or MiB): an int in [0 or 1, MAX_SIZE]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{what} must be {'>= 0' if allow_zero else 'positive'}, not {value}")
    if value > MAX_SIZE:
        raise ValueError(f"{what} must be at most {MAX_SIZE}, not {value}")
    return int(value)


def encode_data(data: Any) -> bytes:
    """Interactive.write's data: bytes (or str, encoded as UTF-8)."""
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"stdin_data must be bytes (or str), not {type(data).__name__}")


def stdin_write_seconds(stdin_write_timeout: Any) -> float:
    """The original Python library's stdin_write_timeout: None means DEFAULT_STDIN_WRITE_TIMEOUT."""
    if stdin_write_timeout is None:
        stdin_write_timeout = DEFAULT_STDIN_WRITE_TIMEOUT
    return seconds(stdin_write_timeout, "stdin_write_timeout")


def memory_limit(memory_limit_mb: Any) -> Optional[int]:
    """The original Python library's memory_limit_mb: None (no limit) or a positive int."""
    if memory_limit_mb is None:
        return None
    return size(memory_limit_mb, "memory_limit_mb", allow_zero=False)


CONTAINMENTS = ("process_group", "subreaper", "pid_namespace", "cgroup")


def containment_kwargs(containment: Any, min_containment: Any) -> Dict[str, Any]:
    """The containment options every entry point takes (see docs/containment.md): a mechanism
    name or None (the strongest the machine allows), and a minimum."""
    for value, what in ((containment, "containment"), (min_containment, "min_containment")):
        if value is None and what == "containment":
            continue
        if not isinstance(value, str):
            raise TypeError(f"{what} must be a str, not {type(value).__name__}")
        if value not in CONTAINMENTS:
            raise ValueError(f"{what} must be one of {', '.join(map(repr, CONTAINMENTS))}, not {value!r}")
    return dict(containment=containment, min_containment=min_containment)


def isolation_kwargs(
    network: Any,
    read_only: Any,
    scratch_mb: Any,
    volumes: Any,
    pids_limit: Any,
    cpu_limit: Any,
    file_size_limit_mb: Any,
) -> Dict[str, Any]:
    """The isolation keywords of the host faces (see README): nothing when
    none is set, else the native ``isolation`` option. volumes are
    "HOST:INSIDE" or "HOST:INSIDE:ro" strings, as podman's -v."""
    iso: Dict[str, Any] = {}
    if network is not None:
        if network not in ("none", "host"):
            raise ValueError(f"network must be 'none' or 'host', not {network!r}")
        iso["network"] = network
    if read_only:
        iso["read_only"] = True
    for value, what in ((scratch_mb, "scratch_mb"), (pids_limit, "pids_limit"),
                        (file_size_limit_mb, "file_size_limit_mb")):
        if value is not None:
            iso[what] = size(value, what, allow_zero=False)
    if cpu_limit is not None:
        iso["cpu_limit"] = seconds(cpu_limit, "cpu_limit")
    if volumes:
        if isinstance(volumes, (str, bytes)):
            raise TypeError("volumes must be a list of 'HOST:INSIDE[:ro]' strings")
        parsed = []
        for v in volumes:
            if not isinstance(v, str):
                raise TypeError(f"volumes must hold str, not {type(v).__name__}")
            parts = v.split(":")
            ro = len(parts) == 3 and parts[2] in ("ro", "rw") and parts[2] == "ro"
            if len(parts) == 3 and parts[2] not in ("ro", "rw"):
                parts = []
            if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
                raise ValueError(f"volume must be 'HOST:INSIDE' or 'HOST:INSIDE:ro', not {v!r}")
            parsed.append((parts[0], parts[1], ro))
        iso["volumes"] = parsed
    if not iso or iso == {"network": "host"}:
        return {}
    return dict(isolation=iso)


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
    containment: Any,
    min_containment: Any,
    network: Any = None,
    read_only: Any = False,
    scratch_mb: Any = None,
    volumes: Any = None,
    pids_limit: Any = None,
    cpu_limit: Any = None,
    file_size_limit_mb: Any = None,
) -> Dict[str, Any]:
    """Checks the original Python library's arguments of run (sync and async, which take the same
    ones in another order, so each calls run_kwargs(**locals()) first thing);
    returns those of _native.run and _native.start_run."""
    return dict(
        **containment_kwargs(containment, min_containment),
        **isolation_kwargs(network, read_only, scratch_mb, volumes, pids_limit, cpu_limit,
                           file_size_limit_mb),
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


