#!/usr/bin/env bash
# Configures and builds daneroll: scripts/build.sh [BUILD_DIR] [CMAKE_ARGS...]
# Warnings are errors. The default build directory is ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
shift || true
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDANEROLL_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
