#!/usr/bin/env bash
# Builds daneroll's libFuzzer targets with clang, ASan and UBSan in
# build-fuzz/ and runs each for SECONDS (default 60), one after another.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS]
#
# Exits non-zero if a target crashes, leaks, hangs or trips a sanitizer; the
# reproducer is then in build-fuzz/fuzz-work/<target>/artifacts/. The seed
# corpora in tests/fuzz/corpus/ are only read: new inputs go to
# build-fuzz/fuzz-work/<target>/corpus/, which later runs reuse.
#
# Environment: DANEROLL_FUZZ_BUILD_DIR (default <repo>/build-fuzz),
# DANEROLL_FUZZ_JOBS (build parallelism, default 2), DANEROLL_FUZZ_TARGETS
# (space-separated subset), DANEROLL_FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
    echo "usage: $0 [SECONDS]  (a positive number of seconds per target)" >&2
    exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${DANEROLL_FUZZ_BUILD_DIR:-$repo/build-fuzz}"
jobs="${DANEROLL_FUZZ_JOBS:-2}"
read -r -a targets <<<"${DANEROLL_FUZZ_TARGETS:-fuzz_config fuzz_tsig_key_file fuzz_tlsa_text}"
read -r -a extra_args <<<"${DANEROLL_FUZZ_ARGS:-}"

for tool in clang clang++ cmake; do
    if ! command -v "$tool" >/dev/null; then
        echo "$0: $tool not found; install it: apt-get install clang cmake" >&2
        exit 2
    fi
done

# A build directory made by another compiler cannot be switched to clang.
cache="$build/CMakeCache.txt"
if [[ -f "$cache" ]] && ! grep -q '^CMAKE_CXX_COMPILER:[A-Z]*=.*clang++' "$cache"; then
    echo "$0: $build was configured with another compiler; remove it or set" \
        "DANEROLL_FUZZ_BUILD_DIR" >&2
    exit 2
fi

generator=()
if command -v ninja >/dev/null; then
    generator=(-G Ninja)
fi
if [[ ! -f "$cache" ]]; then
    # Optimised with debug info: more executions per second, readable stacks.
    CC=clang CXX=clang++ cmake -S "$repo" -B "$build" "${generator[@]}" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DDANEROLL_BUILD_FUZZERS=ON -DDANEROLL_BUILD_TESTS=OFF -DDANEROLL_SANITIZE=ON
fi
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

# UBSan must stop at the first report so libFuzzer records it as a crash.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:fast_unwind_on_malloc=0}"

declare -A executions=()
declare -A status=()
failed=0
for target in "${targets[@]}"; do
    binary="$build/tests/fuzz/$target"
    work="$build/fuzz-work/$target"
    mkdir -p "$work/corpus" "$work/artifacts"
    args=(
        "-max_total_time=$seconds"
        -rss_limit_mb=2048
        -print_final_stats=1
        -timeout=10
        "-artifact_prefix=$work/artifacts/"
    )
    if [[ -f "$here/dict/$target.dict" ]]; then
        args+=("-dict=$here/dict/$target.dict")
    fi
    echo "=== $target: ${seconds}s"
    set +e
    # The first corpus directory receives new inputs; the seeds stay as is.
    "$binary" "${args[@]}" "${extra_args[@]}" "$work/corpus" "$here/corpus/$target" \
        >"$work/log" 2>&1
    rc=$?
    set -e
    tail -n 15 "$work/log"
    executions[$target]="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)"
    if [[ $rc -eq 0 ]]; then
        status[$target]="ok"
    else
        status[$target]="FAILED (exit $rc; log $work/log; reproducer in $work/artifacts/)"
        failed=1
    fi
done

echo
echo "=== summary (${seconds}s per target)"
for target in "${targets[@]}"; do
    printf '%-20s %12s executions  %s\n' "$target" "${executions[$target]:-?}" "${status[$target]}"
done
exit "$failed"
