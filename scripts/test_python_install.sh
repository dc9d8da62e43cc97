#!/usr/bin/env bash
# The Python package as users get it, offline, with Debian's Python:
#   1. pip builds a wheel from this checkout (no build isolation: PyPI is not
#      reachable) and installs it into a fresh virtual environment
#      (--system-site-packages, for Debian's pytest and mypy);
#   2. the Python suite runs against that installed package, from a copy of
#      the tests outside the checkout, with no PYTHONPATH;
#   3. pip uninstall leaves the environment exactly as it was;
#   4. `pip install .` from the checkout works the same way (it reuses the
#      wheel's CMake build in build-python/), imports from another folder with
#      an empty environment, and uninstalls cleanly;
#   5. the source distribution holds every file the CMake build needs.
#
# Usage: scripts/test_python_install.sh BUILD_DIR
#   BUILD_DIR: a configured build of this checkout in which bs_misbehave (the
#   tests' helper program) is built. Extra pytest arguments: $PYTEST_ARGS.
# The last line of output is pytest's summary of step 2, prefixed "pytest: ".
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)
py=/usr/bin/python3
work=$(mktemp -d /tmp/bs-python-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
export PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
if [[ -z ${CMAKE_ARGS:-} ]] && command -v ccache >/dev/null; then
  export CMAKE_ARGS=-DCMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
misbehave=$build/tests/helper/bs_misbehave
[[ -x $misbehave ]] || { echo "python-install: $misbehave is not built"; exit 1; }

fail() { echo "python-install: FAILED: $*"; exit 1; }
snapshot() { (cd "$1" && find . -path ./bin -prune -o -print | LC_ALL=C sort); }

echo "--- python-install: pip wheel"
(cd "$root" && $py -m pip wheel --no-build-isolation --no-deps -w "$work/dist" . \
  >"$work/wheel.log" 2>&1) || { tail -n 40 "$work/wheel.log"; fail "pip wheel"; }
wheel=$(ls "$work"/dist/bounded_subprocess-*.whl)
echo "built $(basename "$wheel")"

echo "--- python-install: install into a fresh venv"
venv=$work/venv
$py -m venv --system-site-packages "$venv"
snapshot "$venv" >"$work/before.txt"
"$venv/bin/python" -m pip install --no-deps "$wheel" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log"; fail "pip install of the wheel"; }

echo "--- python-install: the suite against the installed package"
cp -r "$root/python/tests" "$work/tests"
set +e
(cd "$work" && env -u PYTHONPATH PYTHONDONTWRITEBYTECODE=1 BS_PY_INSTALLED=1 \
  BS_MISBEHAVE="$misbehave" BS_PY_MIN_TESTS=150 \
  "$venv/bin/python" -m pytest -q -p no:cacheprovider -m "not podman" ${PYTEST_ARGS:-} tests) \
  | tee "$work/pytest.log"
pytest_rc=${PIPESTATUS[0]}
set -e

echo "--- python-install: pip uninstall"
"$venv/bin/python" -m pip uninstall -y bounded_subprocess >/dev/null
snapshot "$venv" >"$work/after.txt"
diff "$work/before.txt" "$work/after.txt" || fail "pip uninstall left the files above"

echo "--- python-install: pip install . (from the checkout)"
venv2=$work/venv2
$py -m venv --system-site-packages "$venv2"
snapshot "$venv2" >"$work/before2.txt"
(cd "$root" && "$venv2/bin/python" -m pip install --no-build-isolation --no-deps . \
  >"$work/install2.log" 2>&1) || { tail -n 40 "$work/install2.log"; fail "pip install ."; }
(cd / && env -i "$venv2/bin/python" -c '
import bounded_subprocess, sys
from bounded_subprocess import run
assert bounded_subprocess.__file__.startswith(sys.prefix), bounded_subprocess.__file__
assert run(["/bin/echo", "ok"]).stdout == "ok\n"
print("imported", bounded_subprocess.__version__, "from", bounded_subprocess.__file__)
') || fail "import after pip install ."
"$venv2/bin/python" -m pip uninstall -y bounded_subprocess >/dev/null
snapshot "$venv2" >"$work/after2.txt"
diff "$work/before2.txt" "$work/after2.txt" || fail "pip uninstall left the files above"

echo "--- python-install: source distribution"
(cd "$root" && $py -m build --sdist --no-isolation --outdir "$work/sdist" >"$work/sdist.log" 2>&1) \
  || { tail -n 40 "$work/sdist.log"; fail "python3 -m build --sdist"; }
tar -tzf "$work"/sdist/*.tar.gz | sed 's|^[^/]*/||' | LC_ALL=C sort >"$work/sdist.txt"
(cd "$root" && git ls-files CMakeLists.txt cmake include src python/CMakeLists.txt python/src \
  python/bounded_subprocess setup.py pyproject.toml) | LC_ALL=C sort >"$work/needed.txt"
missing=$(LC_ALL=C comm -23 "$work/needed.txt" "$work/sdist.txt")
[[ -z $missing ]] || fail "the sdist lacks: $missing"

[[ $pytest_rc -eq 0 ]] || fail "the suite against the installed package (pytest exit $pytest_rc)"
echo "python-install: ok"
echo "pytest: $(tail -n 1 "$work/pytest.log")"
