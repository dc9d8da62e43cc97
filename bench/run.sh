#!/bin/sh
# The bench command: configures build-bench in Release, builds bs_bench and
# the Python module, runs bs_bench, then the Python package's figures
# (bench/python_bench.py, against the standard library in the same run).
# Arguments: --quick, and section names: bs_bench's (--help lists them) and
# "python"; none means every section.
# When podman is installed, the podman tests' image is built first (the
# podman_test_image CTest fixture; it re-imports only when its inputs
# changed), so that the podman section has something to run.
# Build output goes to stderr, so stdout holds only the `name: value` lines.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BS_BENCH_BUILD_DIR:-$root/build-bench}

quick="" cxx_args="" cxx=no python=no
for arg in "$@"; do
  case $arg in
    --quick) quick=--quick ;;
    python) python=yes ;;
    *) cxx_args="$cxx_args $arg" cxx=yes ;;
  esac
done
if [ $cxx = no ] && [ $python = no ]; then cxx=yes python=yes; fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBOUNDED_SUBPROCESS_DEVELOP=OFF \
  -DBOUNDED_SUBPROCESS_PYTHON=ON >&2
cmake --build "$build" --target bs_bench _native -j2 >&2
if command -v podman >/dev/null 2>&1 &&
   ctest --test-dir "$build" -N -R '^podman_test_image$' 2>/dev/null | grep -q 'Total Tests: 1'; then
  cmake --build "$build" --target bs_misbehave_static -j2 >&2
  ctest --test-dir "$build" -R '^podman_test_image$' --output-on-failure >&2 ||
    echo "run.sh: the podman test image could not be built; the podman section will say why" >&2
fi
# A missed goal (or a section that could not run) makes a section's exit
# status 1; every section runs, and the worst status is the script's.
status=0
if [ $cxx = yes ]; then
  # shellcheck disable=SC2086  # section names are words
  "$build/bench/bs_bench" $quick $cxx_args || status=$?
fi
if [ $python = yes ]; then
  PYTHONPATH="$build/python" /usr/bin/python3 "$root/bench/python_bench.py" $quick || status=$?
fi
exit $status
