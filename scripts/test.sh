#!/usr/bin/env bash
# Sets everything up and runs every test: C++ (GoogleTest), the bounded-run
# command and its batch mode, Python (pytest), podman and Slurm, in
#   1. a release build with g++ (all tests; the Slurm test only here; the
#      Python suite runs against a wheel pip builds and installs into a fresh
#      venv, scripts/test_python_install.sh),
#   2. the developer build with ASan+UBSan and -Werror (all C++ and CLI tests),
#   3. a ThreadSanitizer build (the async and Interactive tests),
#   4. a clang build with -Werror (builds everything, runs the core tests).
# Ends with one line: "total: N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/setup.sh

jobs=${JOBS:-$(nproc)}
logdir=$root/build-logs
mkdir -p "$logdir"
passed=0 failed=0 skipped=0 status=0

# configure DIR CMAKE_ARGS... (builds every target, or only $TARGETS when set)
configure() {
  local dir=$1; shift
  cmake -S "$root" -B "$root/$dir" -G Ninja "$@" >"$logdir/$dir.configure.log" \
    || { cat "$logdir/$dir.configure.log"; exit 1; }
  local targets=()
  [[ -n ${TARGETS:-} ]] && targets=(--target $TARGETS)
  cmake --build "$root/$dir" -j "$jobs" "${targets[@]}" 2>&1 | tail -n 3
  [[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "build of $dir failed"; exit 1; }
}

# run_ctest NAME DIR CTEST_ARGS...
run_ctest() {
  local name=$1 dir=$2; shift 2
  echo "=== $name"
  local log=$logdir/$name.ctest.log
  ( cd "$root/$dir" && ctest --output-on-failure --timeout 600 "$@" ) 2>&1 | tee "$log" \
    | grep -E "tests passed|Failed|\*\*\*|Not Run|Skipped|Total Test time" || true
  local rc=${PIPESTATUS[0]}
  local line total nfail nskip
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -n 1 || true)
  if [[ -z $line ]]; then
    echo "$name: ctest printed no summary"; status=1; return
  fi
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
  nfail=$(sed -E 's/.* ([0-9]+) tests failed.*/\1/' <<<"$line")
  nskip=$(grep -cE "Test +#[0-9]+: .*Skipped" "$log" || true)
  passed=$((passed + total - nfail - nskip)); failed=$((failed + nfail)); skipped=$((skipped + nskip))
  [[ $rc -eq 0 && $nfail -eq 0 ]] || status=1
}

# run_pytest NAME COMMAND...: a command whose last line is "pytest: <pytest's summary>".
run_pytest() {
  local name=$1; shift
  echo "=== $name"
  local log=$logdir/$name.log
  "$@" 2>&1 | tee "$log" | grep -E "^(---|python-install|pytest:|FAILED|ERROR)" || true
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E "^pytest: " "$log" | tail -n 1 || true)
  if [[ -z $line ]]; then
    echo "$name: pytest printed no summary"; status=1; return
  fi
  count() { grep -oE "[0-9]+ $1" <<<"$line" | cut -d" " -f1 || echo 0; }
  passed=$((passed + $(count passed)))
  failed=$((failed + $(count failed) + $(count "errors?")))
  skipped=$((skipped + $(count skipped)))
  [[ $rc -eq 0 ]] || status=1
}

echo "=== build: release (g++)"
configure build -DCMAKE_BUILD_TYPE=Release
# The Python suite runs below, against the installed wheel, not the build.
run_ctest release build -j "$jobs" -E '^python_tests$'
run_pytest python-installed scripts/test_python_install.sh build

echo "=== build: developer, ASan+UBSan (g++)"
configure build-asan -DCMAKE_BUILD_TYPE=Debug -DBOUNDED_SUBPROCESS_DEVELOP=ON \
  -DBOUNDED_SUBPROCESS_PYTHON=OFF -DBOUNDED_SUBPROCESS_BENCH=OFF -DBOUNDED_SUBPROCESS_SLURM_TESTS=OFF
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_ctest asan build-asan -j "$jobs"

echo "=== build: developer, TSan (g++)"
configure build-tsan -DCMAKE_BUILD_TYPE=Debug -DBOUNDED_SUBPROCESS_DEVELOP=ON -DBOUNDED_SUBPROCESS_TSAN=ON \
  -DBOUNDED_SUBPROCESS_PYTHON=OFF -DBOUNDED_SUBPROCESS_BENCH=OFF -DBOUNDED_SUBPROCESS_PODMAN_TESTS=OFF \
  -DBOUNDED_SUBPROCESS_SLURM_TESTS=OFF
for face in async interactive; do
  TSAN_OPTIONS=halt_on_error=1 run_ctest "tsan-$face" "build-tsan/tests/$face" -j "$jobs"
done

# Asio 1.22 enables co_await for clang only with libc++, so the coroutine
# tests are g++-only: clang builds the library (every entry point), the command and
# the core, engine, Interactive and CLI suites.
echo "=== build: developer, clang 14"
TARGETS="bounded_subprocess bounded-run bs_misbehave bs_core_tests bs_engine_tests bs_interactive_tests bs_cli_tests" \
configure build-clang -DCMAKE_BUILD_TYPE=Debug -DBOUNDED_SUBPROCESS_DEVELOP=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DBOUNDED_SUBPROCESS_PYTHON=OFF -DBOUNDED_SUBPROCESS_PODMAN_TESTS=OFF -DBOUNDED_SUBPROCESS_SLURM_TESTS=OFF
run_ctest clang-core build-clang/tests/core -j "$jobs"
run_ctest clang-engine build-clang/tests/engine -j "$jobs"

echo "total: $passed passed, $failed failed, $skipped skipped"
exit $status
