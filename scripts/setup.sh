#!/usr/bin/env bash
# Installs what building and testing bounded_subprocess needs, from Debian's
# packages only (nothing is downloaded at build time). Installs only what is
# missing, so a second run costs a second. Needs root (or sudo) when
# something is missing.
set -euo pipefail

packages=(
  g++ clang cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev      # tests, benchmarks
  libasio-dev                                     # the async entry points
  nlohmann-json3-dev                              # the bounded-run command
  pybind11-dev python3-dev                        # the Python module
  python3-pip python3-setuptools python3-wheel    # pip install / pip wheel (offline)
  python3-venv python3-build                      # venvs and sdists in the install test
  python3-pytest python3-pytest-asyncio python3-pytest-timeout python3-mypy
  podman runc busybox-static                      # container entry points and their test image
  bubblewrap                                      # the isolation benchmark's peer (bwrap)
  slurm-wlm munge                                 # the Slurm test of bounded-run batch (a one-node cluster)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
echo "setup: done"
