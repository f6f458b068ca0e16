#!/usr/bin/env bash
# Shared set-up for ./run-demo and ./run-tests: make sure the Debian packages banyan needs
# are installed (installing them when run as root, otherwise printing the exact apt-get
# line and stopping), then configure and build into ./build. Sourced, not run.
set -euo pipefail

BANYAN_PACKAGES=(build-essential cmake pkg-config python3 python3-h5py python3-numpy openmpi-bin libopenmpi-dev libhdf5-dev hdf5-tools
                 libcunit1-dev libinih-dev libgsl-dev libxxhash-dev libck-dev zlib1g-dev
                 python3-matplotlib python3-pandas python3-xxhash fonts-dejavu-core chromium  # this line: banyan report, its tests
                 clang)  # libFuzzer for tests/fuzz

banyan_missing_packages() {
  local p missing=()
  for p in "${BANYAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  echo "${missing[@]:-}"
}

banyan_install_packages() {
  local missing
  missing=$(banyan_missing_packages)
  [[ -z "$missing" ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "banyan needs these Debian packages: $missing" >&2
    echo "install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y $missing" >&2
    exit 2
  fi
  echo "== installing $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null
}

# banyan_build [extra cmake args...]: configure and build into $BANYAN_BUILD (default ./build).
banyan_build() {
  local top build
  top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  build=${BANYAN_BUILD:-$top/build}
  banyan_install_packages
  echo "== configuring and building in $build"
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  cmake --build "$build" -j "$(nproc)" >/dev/null
  BANYAN_BIN="$build/banyan"
  BANYAN_BUILD_DIR="$build"
}

# Open MPI refuses to start as root unless told it is intended; these scripts are
# convenience wrappers, so they say so when run as root (a normal user needs nothing).
banyan_mpi_env() {
  if [[ $(id -u) -eq 0 ]]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
}
