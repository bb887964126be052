#!/usr/bin/env bash
# Configures and builds honeycomb with CMake + Ninja (ccache when present).
#   scripts/build.sh [release|asan] [extra cmake args...]
# Build trees: build/ (release), build-asan/ (ASan+UBSan).
set -euo pipefail
cd "$(dirname "$0")/.."
flavor="${1:-release}"; shift || true
case "$flavor" in
  release) dir=build; args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  # -g1: line tables (what sanitizer reports print) without variable info;
  # halves the compile time of the Beast/coroutine-heavy files.
  asan)    dir=build-asan; args=(-DCMAKE_BUILD_TYPE=Debug -DHONEYCOMB_SANITIZE=ON "-DCMAKE_CXX_FLAGS_DEBUG=-g1" "-DCMAKE_C_FLAGS_DEBUG=-g1") ;;
  *) echo "usage: $0 [release|asan]" >&2; exit 2 ;;
esac
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
  # Paths relative to the checkout: a fresh clone elsewhere hits the cache too.
  export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
  # -g puts the build folder into the hash unless told not to; a clone
  # elsewhere (CI's, a review's) would miss every object. Its debug info
  # then names the first folder's sources: harmless for a cached object.
  export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
fi
cmake -S . -B "$dir" -G Ninja "${args[@]}" "${launcher[@]}" "$@" >/dev/null
jobs="${HONEYCOMB_BUILD_JOBS:-$(nproc)}"
cmake --build "$dir" -j "$jobs"
