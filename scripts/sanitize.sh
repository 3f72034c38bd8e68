#!/usr/bin/env bash
# Builds with AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer
# included) and runs the unit and oracle tests under them. Only those test
# binaries are built: the integration tests run in the normal build.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDANEROLL_WERROR=ON -DDANEROLL_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$(nproc)" --target unit_tests oracle_tests
cd build-asan
# fast_unwind_on_malloc=0: leak stacks through libcrypto are readable.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The randomized decide() test runs 40 seeds in the normal build; under the
# sanitizers it is ~60 times slower, and a few seeds find memory errors as
# well as many would.
export DANEROLL_DECIDE_SEEDS=${DANEROLL_DECIDE_SEEDS:-3}
ctest --output-on-failure -L 'unit|oracle' -j "$(nproc)"
