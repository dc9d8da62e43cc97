#!/bin/sh
# The bench command: configures build-bench in Release, builds bs_bench and
# runs it. Arguments go to bs_bench (--quick, section names; --help lists them).
# When podman is installed, the podman tests' image is built first (the
# podman_test_image CTest fixture; it re-imports only when its inputs
# changed), so that the podman section has something to run.
# Build output goes to stderr, so stdout holds only the `name: value` lines.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BS_BENCH_BUILD_DIR:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBOUNDED_SUBPROCESS_DEVELOP=OFF \
  -DBOUNDED_SUBPROCESS_PYTHON=OFF >&2
cmake --build "$build" --target bs_bench -j2 >&2
if command -v podman >/dev/null 2>&1 &&
   ctest --test-dir "$build" -N -R '^podman_test_image$' 2>/dev/null | grep -q 'Total Tests: 1'; then
  cmake --build "$build" --target bs_misbehave_static -j2 >&2
  ctest --test-dir "$build" -R '^podman_test_image$' --output-on-failure >&2 ||
    echo "run.sh: the podman test image could not be built; the podman section will say why" >&2
fi
exec "$build/bench/bs_bench" "$@"
