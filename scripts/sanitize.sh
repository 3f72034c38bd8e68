#!/usr/bin/env bash
# Builds with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
# included) and runs the unit and oracle tests under them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh build-asan -DCMAKE_BUILD_TYPE=Debug -DDANEROLL_SANITIZE=ON
cd build-asan
# fast_unwind_on_malloc=0: leak stacks through libcrypto are readable.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --output-on-failure -L 'unit|oracle' -j "$(nproc)"
