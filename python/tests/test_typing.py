"""The package is typed (PEP 561: py.typed, annotations, a stub for the
native module): mypy sees its API from user code, and the package itself
passes mypy --strict. Needs Debian's python3-mypy (scripts/setup.sh)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import bounded_subprocess

PACKAGE_DIR = Path(bounded_subprocess.__file__).parent

USER_CODE = """
import asyncio
from contextlib import aclosing
from typing import List, Optional

from bounded_subprocess import Result, run
from bounded_subprocess.bounded_subprocess_async import podman_run_stream_lines
from bounded_subprocess.bounded_subprocess_async import run as async_run
from bounded_subprocess.interactive import Interactive
from bounded_subprocess.util import SLEEP_BETWEEN_READS, can_read

r: Result = run(["echo", "hi"], timeout_seconds=5, memory_limit_mb=100)
out: str = r.stdout
code: int = r.exit_code
delay: float = SLEEP_BETWEEN_READS
ready: bool = can_read(0)

proc = Interactive(["cat"], read_buffer_size=4096)
ok: bool = proc.write(b"x\\n", timeout_seconds=1)
line: Optional[bytes] = proc.read_line(timeout_seconds=1)
rc: int = proc.close(nice_timeout_seconds=1)

async def main() -> List[str]:
    res: Result = await async_run(["true"])
    lines: List[str] = []
    async with aclosing(podman_run_stream_lines(
            ["true"], image="img", timeout_seconds=5, max_line_size=10)) as it:
        async for text in it:
            lines.append(text)
    return lines
"""


def mypy(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    # An installed package is found as users' mypy finds it (PEP 561, from
    # the interpreter's site-packages); the build folder through MYPYPATH.
    if PACKAGE_DIR.parent.name not in ("site-packages", "dist-packages"):
        env["MYPYPATH"] = str(PACKAGE_DIR.parent)
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary",
         "--cache-dir", str(tmp_path / "mypy-cache"), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


def test_mypy_is_installed():
    r = subprocess.run([sys.executable, "-m", "mypy", "--version"], capture_output=True, text=True)
    assert r.returncode == 0, "mypy is missing: install python3-mypy (scripts/setup.sh)"


def test_py_typed_and_stub_ship_with_the_package():
    assert (PACKAGE_DIR / "py.typed").is_file()
    assert (PACKAGE_DIR / "_native.pyi").is_file()


def test_user_code_type_checks(tmp_path):
    (tmp_path / "user.py").write_text(USER_CODE)
    r = mypy(tmp_path, "user.py")
    assert r.returncode == 0, r.stdout + r.stderr


def test_mypy_sees_the_types(tmp_path):
    # A wrong use is an error: the API is typed, not Any.
    (tmp_path / "wrong.py").write_text(textwrap.dedent("""
        from bounded_subprocess import run
        from bounded_subprocess.interactive import Interactive
        n: int = run(["true"]).stdout
        Interactive(["cat"], read_buffer_size="big")
    """))
    r = mypy(tmp_path, "wrong.py")
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'Incompatible types in assignment (expression has type "str"' in r.stdout
    assert '"read_buffer_size"' in r.stdout or 'Argument "read_buffer_size"' in r.stdout, r.stdout


def test_package_passes_mypy_strict(tmp_path):
    r = mypy(tmp_path, "-p", "bounded_subprocess")
    assert r.returncode == 0, r.stdout + r.stderr
