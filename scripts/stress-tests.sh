#!/usr/bin/env bash
# Runs the release test suite several times in a row on a machine kept busy,
# to catch tests that only pass on a quiet machine.
#
#   scripts/stress-tests.sh            # 5 runs
#   RUNS=10 scripts/stress-tests.sh
#
# 1. Configures and builds the release build in $BUILD_DIR (default build;
#    ccache when installed).
# 2. Starts one busy loop per core (`yes > /dev/null`, BURNERS of them,
#    default nproc), so that every core is taken by another process for the
#    whole time; they are ended by their pids when the script exits, fails
#    or is interrupted (Ctrl-C).
# 3. Runs all of CTest (`ctest -j JOBS`, default nproc) RUNS times in a row
#    (default 5), and prints for each run whether it passed, how long it
#    took and which tests failed. Each run's full output is kept in
#    build-logs/stress-run-N.log.
# Excludes nothing, unless EXCLUDE is set to a CTest regular expression
# (passed as `ctest -E "$EXCLUDE"`, and printed). Skipped tests (podman
# where podman cannot run) are counted and printed, never as passed.
# Exit status: 0 when every run passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

runs=${RUNS:-5}
build=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
burners=${BURNERS:-$(nproc)}
logdir=$root/build-logs
mkdir -p "$logdir"

burner_pids=()
stop_burners() {
  local pid
  for pid in "${burner_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${burner_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  burner_pids=()
}
trap stop_burners EXIT
trap 'echo "stress: interrupted"; exit 130' INT TERM

echo "=== build: release ($build)"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$root/$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
  >"$logdir/stress.configure.log" || { cat "$logdir/stress.configure.log"; exit 1; }
cmake --build "$root/$build" -j "$jobs" 2>&1 | tail -n 2
[[ ${PIPESTATUS[0]} -eq 0 ]] || { echo "stress: the build failed"; exit 1; }

for ((i = 0; i < burners; ++i)); do
  yes >/dev/null &
  burner_pids+=($!)
done
echo "=== $burners busy loop(s) running (pids ${burner_pids[*]}); load: $(cut -d' ' -f1-3 /proc/loadavg)"

ctest_args=(--output-on-failure --timeout 600 -j "$jobs")
if [[ -n ${EXCLUDE:-} ]]; then
  ctest_args+=(-E "$EXCLUDE")
  echo "=== excluding tests matching: $EXCLUDE"
fi

passed_runs=0
for ((run = 1; run <= runs; ++run)); do
  log=$logdir/stress-run-$run.log
  start=$(date +%s)
  rc=0
  (cd "$root/$build" && ctest "${ctest_args[@]}") >"$log" 2>&1 || rc=$?
  took=$(($(date +%s) - start))
  summary=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$log" | tail -n 1 || true)
  skipped=$(grep -cE "Test +#[0-9]+: .*Skipped" "$log" || true)
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  if [[ $rc -eq 0 && -n $summary ]]; then
    passed_runs=$((passed_runs + 1))
    echo "run $run/$runs: PASS  ${summary## } ($skipped skipped) in ${took}s, load $load"
  else
    echo "run $run/$runs: FAIL  ${summary:-no ctest summary (exit $rc)} in ${took}s, load $load"
    # CTest lists the failures after "The following tests FAILED:".
    sed -n '/The following tests FAILED:/,$p' "$log" | grep -E "^[[:space:]]+[0-9]+ - " | sed 's/^[[:space:]]*/    /' || true
    echo "    (full output: $log)"
  fi
done

stop_burners
echo "stress: $passed_runs of $runs runs passed"
[[ $passed_runs -eq $runs ]]
