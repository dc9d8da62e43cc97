"""The native module stands on its own: the library is linked into it, so
the package works wherever pip puts it. With BS_PY_INSTALLED=1 (the suite
run by scripts/test.sh against a wheel installed in a virtual environment),
the package is pip's: its metadata and files are there."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

import bounded_subprocess
from bounded_subprocess import _native

from conftest import INSTALLED


def test_no_shared_library_of_ours_is_loaded():
    maps = Path("/proc/self/maps").read_text()
    assert "libbounded_subprocess" not in maps
    assert Path(_native.__file__).parent == Path(bounded_subprocess.__file__).parent


def test_native_module_needs_only_system_libraries():
    # DT_NEEDED entries: no library of the build tree, no RPATH into it.
    import subprocess

    out = subprocess.run(["readelf", "-d", _native.__file__], capture_output=True, text=True,
                         check=True).stdout
    needed = [line.split("[")[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]
    assert needed and all(n.startswith(("libstdc++", "libgcc_s", "libc.", "libm.", "ld-linux"))
                          for n in needed), needed
    assert "RPATH" not in out and "RUNPATH" not in out, out


@pytest.mark.skipif(not INSTALLED, reason="the build folder has no pip metadata")
def test_installed_by_pip():
    dist = importlib.metadata.distribution("bounded_subprocess")
    assert dist.version == bounded_subprocess.__version__
    files = {str(f) for f in dist.files or []}
    for name in ("__init__.py", "py.typed", "_native.pyi", Path(_native.__file__).name):
        assert f"bounded_subprocess/{name}" in files, sorted(files)
