#!/usr/bin/env bash
# Sets everything up, builds bounded-run, and runs it on a misbehaving
# command: a child that forks a grandchild holding the pipes, floods stdout
# and would run forever. bounded-run returns after 1 s with 64 bytes kept and
# nothing left running.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build --target bounded-run
set -x
./build/cli/bounded-run --json --timeout 1 --max-output 64 -- \
  sh -c 'sleep 1000 & yes "flooding stdout"; echo never'
