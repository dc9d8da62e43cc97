#!/bin/sh
# The bench command: configures build-bench in Release, builds bs_bench and
# runs it. Arguments go to bs_bench (--quick, section names; --help lists them).
# Build output goes to stderr, so stdout holds only the `name: value` lines.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BS_BENCH_BUILD_DIR:-$root/build-bench}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DBOUNDED_SUBPROCESS_DEVELOP=OFF >&2
cmake --build "$build" --target bs_bench -j2 >&2
exec "$build/bench/bs_bench" "$@"
