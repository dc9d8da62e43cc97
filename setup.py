"""Builds the Python package `bounded_subprocess` for pip (metadata in
pyproject.toml): the pure-Python modules of python/bounded_subprocess, and the
native module `_native`, compiled by the project's own CMake build (only the
library and the module: no command, tests or benchmarks) with the library
linked in statically, so the installed module depends on nothing of the build
tree. Nothing is downloaded; build offline without isolation:

    python3 -m pip wheel --no-build-isolation --no-deps -w dist .
    python3 -m pip install --no-build-isolation .    # in a virtual environment

Environment: CMAKE_ARGS (extra CMake arguments, e.g.
-DCMAKE_CXX_COMPILER_LAUNCHER=ccache), CMAKE_BUILD_PARALLEL_LEVEL (jobs),
BOUNDED_SUBPROCESS_BUILD_TYPE (default Release).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


def project_version() -> str:
    """The version in the top-level CMakeLists.txt: one source of truth."""
    text = (ROOT / "CMakeLists.txt").read_text()
    match = re.search(r"project\(\s*bounded_subprocess\s+VERSION\s+([0-9.]+)", text)
    if not match:
        raise RuntimeError("no project(bounded_subprocess VERSION x.y.z) in CMakeLists.txt")
    return match.group(1)


class CMakeExtension(Extension):
    """An extension built by CMake: no sources for setuptools to compile."""

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name, sources=[])
        self.target = target


class CMakeBuild(build_ext):
    """Configures the project with CMake in build_temp, builds the module's
    target, and copies the module to where setuptools packs it."""

    def build_extension(self, ext: Extension) -> None:
        if not isinstance(ext, CMakeExtension):
            return super().build_extension(ext)
        build_dir = Path(self.build_temp).resolve() / "cmake"
        build_type = os.environ.get("BOUNDED_SUBPROCESS_BUILD_TYPE", "Debug" if self.debug else "Release")
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(build_dir),
            f"-DCMAKE_BUILD_TYPE={build_type}",
            # The interpreter doing the build (a venv's python works: CMake
            # finds its base installation's headers).
            f"-DPython_EXECUTABLE={sys.executable}",
            f"-DPYTHON_EXECUTABLE={sys.executable}",
            "-DBUILD_SHARED_LIBS=OFF",  # the library goes into the module
            "-DBUILD_TESTING=OFF",
            "-DBOUNDED_SUBPROCESS_CLI=OFF",
            "-DBOUNDED_SUBPROCESS_BENCH=OFF",
            "-DBOUNDED_SUBPROCESS_PODMAN_TESTS=OFF",
            "-DBOUNDED_SUBPROCESS_DEVELOP=OFF",
            "-DBOUNDED_SUBPROCESS_PYTHON=ON",
        ]
        if not (build_dir / "CMakeCache.txt").exists() and shutil.which("ninja"):
            configure += ["-G", "Ninja"]
        configure += shlex.split(os.environ.get("CMAKE_ARGS", ""))
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        self.announce(" ".join(configure), level=2)
        subprocess.run(configure, check=True)
        subprocess.run(
            ["cmake", "--build", str(build_dir), "--target", ext.target, "-j", jobs], check=True
        )
        suffix = self.get_ext_filename("x")[1:]  # ".cpython-311-x86_64-linux-gnu.so"
        built = build_dir / "python" / "bounded_subprocess" / f"_native{suffix}"
        if not built.exists():
            raise RuntimeError(f"CMake did not produce {built}")
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built, dest)


setup(
    version=project_version(),
    ext_modules=[CMakeExtension("bounded_subprocess._native", target="_native")],
    cmdclass={"build_ext": CMakeBuild},
    # Keep setuptools' build folders apart from the CMake build folders
    # (build/, build-*) developers use.
    options={"build": {"build_base": "build-python"}},
)
