# Type stub of the native module (python/src). Internal: the pure-Python
# modules check and encode every argument (strings as bytes, durations as float
# seconds) before calling these.
from typing import Dict, List, Optional, Tuple

__version__: str

class Result:
    @property
    def exit_code(self) -> int: ...
    @property
    def timeout(self) -> bool: ...
    @property
    def memory_limit_exceeded(self) -> bool: ...
    @property
    def stdin_write_failed(self) -> bool: ...
    @property
    def term_signal(self) -> int: ...
    @property
    def reason(self) -> str: ...
    @property
    def stdout(self) -> bytes: ...
    @property
    def stderr(self) -> bytes: ...
    @property
    def stdout_truncated(self) -> bool: ...
    @property
    def stderr_truncated(self) -> bool: ...
    @property
    def stdout_total_bytes(self) -> int: ...
    @property
    def stderr_total_bytes(self) -> int: ...
    @property
    def elapsed_seconds(self) -> float: ...
    @property
    def user_cpu_seconds(self) -> float: ...
    @property
    def system_cpu_seconds(self) -> float: ...
    @property
    def max_rss_kb(self) -> int: ...
    @property
    def containment(self) -> str: ...
    @property
    def watchdog_error(self) -> int: ...

class Pending:
    """The outcome of a native async operation; fileno() is readable when done."""

    def fileno(self) -> int: ...
    def done(self) -> bool: ...
    def cancel(self) -> None: ...
    def wait(self) -> None: ...
    def result(self) -> object: ...

class Interactive:
    def __init__(
        self,
        argv: List[bytes],
        read_buffer_size: int,
        env: Optional[Dict[bytes, bytes]],
        cwd: Optional[bytes],
        containment: Optional[str],
        min_containment: str,
    ) -> None: ...
    def write(self, data: bytes, timeout: float) -> bool: ...
    def read_line(self, timeout: float) -> Optional[bytes]: ...
    def close(self, nice_timeout: float) -> int: ...
    # Non-blocking steps for the asyncio face:
    def write_some(self, data: bytes, offset: int) -> int: ...
    def read_line_now(self, read_pipe: bool = ...) -> Tuple[Optional[bytes], bool]: ...
    def close_pipes(self) -> None: ...
    @property
    def stdin_fd(self) -> int: ...
    @property
    def stdout_fd(self) -> int: ...
    @property
    def pidfd(self) -> int: ...
    @property
    def containment(self) -> str: ...
    @property
    def pid(self) -> int: ...
    @property
    def is_running(self) -> bool: ...
    @property
    def exit_code(self) -> Optional[int]: ...

class LineStream:
    def next(self) -> Pending: ...
    def close(self) -> None: ...
    @property
    def pid(self) -> int: ...

def run(
    argv: List[bytes],
    timeout: float,
    max_output_size: int,
    tail: bool,
    env: Optional[Dict[bytes, bytes]],
    stdin_data: Optional[bytes],
    stdin_write_timeout: float,
    cwd: Optional[bytes],
    memory_limit_mb: Optional[int],
    memory_watchdog_interval: float,
    containment: Optional[str],
    min_containment: str,
) -> Result: ...
def start_run(
    argv: List[bytes],
    timeout: float,
    max_output_size: int,
    tail: bool,
    env: Optional[Dict[bytes, bytes]],
    stdin_data: Optional[bytes],
    stdin_write_timeout: float,
    cwd: Optional[bytes],
    memory_limit_mb: Optional[int],
    memory_watchdog_interval: float,
    containment: Optional[str],
    min_containment: str,
) -> Pending: ...
def open_line_stream(
    argv: List[bytes],
    timeout: float,
    max_line_size: int,
    stderr_max_output_size: int,
    env: Optional[Dict[bytes, bytes]],
    stdin_data: Optional[bytes],
    stdin_write_timeout: float,
    cwd: Optional[bytes],
    memory_limit_mb: Optional[int],
    memory_watchdog_interval: float,
    containment: Optional[str],
    min_containment: str,
) -> LineStream: ...
def start_podman_run(
    argv: List[bytes],
    image: str,
    timeout: float,
    max_output_size: int,
    tail: bool,
    env: Optional[Dict[bytes, bytes]],
    stdin_data: Optional[bytes],
    stdin_write_timeout: float,
    volumes: List[bytes],
    cwd: Optional[bytes],
    memory_limit_mb: Optional[int],
    entrypoint: Optional[bytes],
    podman_args: List[bytes],
    podman_path: bytes,
    containment: Optional[str],
    min_containment: str,
) -> Pending: ...
def open_podman_line_stream(
    argv: List[bytes],
    image: str,
    timeout: float,
    max_line_size: int,
    stderr_max_output_size: int,
    env: Optional[Dict[bytes, bytes]],
    stdin_data: Optional[bytes],
    stdin_write_timeout: float,
    volumes: List[bytes],
    cwd: Optional[bytes],
    memory_limit_mb: Optional[int],
    entrypoint: Optional[bytes],
    podman_args: List[bytes],
    podman_path: bytes,
    containment: Optional[str],
    min_containment: str,
) -> LineStream: ...
