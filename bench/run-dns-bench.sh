#!/usr/bin/env bash
# Benchmarks daneroll's DNS verification against real servers on loopback
# (see bench/README.md): builds bench/dns_verify_bench in build-bench, brings
# a sandbox up (BIND primary + NSD secondary + Unbound, --net 127.53.21) in a
# temporary directory, publishes N TLSA records, times
#   1. dns::observe_zone over all N names on every server (dns_verify_bench),
#   2. the naive way: one `dig +dnssec +norecurse` process per (server, name),
#   3. observe_zone over one name, repeated every 10 ms (dns_verify_bench),
#   4. observe_zone over N absent names (NXDOMAIN; see README: NSD's RRL),
# prints a table and tears the sandbox down, on failure and Ctrl-C too.
#
#   bench/run-dns-bench.sh [--names N] [--runs R] [--single S] [--interval-ms I]
#                          [--absent N] [--secondaries K] [--net 127.X.Y]
#                          [--dig-limit SECONDS] [--dig-sample M] [--no-dig]
#                          [--no-build] [-j J]
# Needs root (the sandbox adds loopback addresses) and the sandbox's packages.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOL=$ROOT/tests/sandbox/sandbox
BUILD=$ROOT/build-bench
BIN=$BUILD/bench/dns_verify_bench

NET=127.53.21
NAMES=1000
RUNS=7
SINGLE=200
INTERVAL_MS=10   # between single-name rounds: NSD's RRL allows 200 answers/s per name
ABSENT=          # absent names for 4 (default: --names); 0 skips it
SECONDARIES=1
DIG_LIMIT=60     # seconds: beyond this, only a sample of dig runs is timed
DIG_SAMPLE=400   # dig processes in the sample
DO_DIG=1
DO_BUILD=1
JOBS=2           # the box is shared: never more than -j2

die() { echo "run-dns-bench: $*" >&2; exit 1; }
num() { [[ $2 =~ ^[0-9]+$ ]] || die "$1 wants a number, not '$2'"; echo "$2"; }

while (( $# )); do
  case $1 in
    --names) NAMES=$(num "$1" "${2:-}"); shift 2 ;;
    --runs) RUNS=$(num "$1" "${2:-}"); shift 2 ;;
    --single) SINGLE=$(num "$1" "${2:-}"); shift 2 ;;
    --interval-ms) INTERVAL_MS=$(num "$1" "${2:-}"); shift 2 ;;
    --absent) ABSENT=$(num "$1" "${2:-}"); shift 2 ;;
    --secondaries) SECONDARIES=$(num "$1" "${2:-}"); shift 2 ;;
    --net) NET=${2:?--net needs 127.X.Y}; shift 2 ;;
    --dig-limit) DIG_LIMIT=$(num "$1" "${2:-}"); shift 2 ;;
    --dig-sample) DIG_SAMPLE=$(num "$1" "${2:-}"); shift 2 ;;
    --no-dig) DO_DIG=0; shift ;;
    --no-build) DO_BUILD=0; shift ;;
    -j) JOBS=$(num "$1" "${2:-}"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (--help)" ;;
  esac
done
(( NAMES >= 1 && NAMES <= 100000 )) || die "--names must be 1..100000"
ABSENT=${ABSENT:-$NAMES}
(( JOBS >= 1 && JOBS <= 2 )) || die "-j must be 1 or 2 on this shared box"
(( DIG_SAMPLE >= 2 )) || die "--dig-sample must be at least 2"
(( EUID == 0 )) || die "needs root (the sandbox adds addresses to lo)"
command -v dig >/dev/null || die "dig is missing (bind9-dnsutils)"

now_us() { local t=${EPOCHREALTIME/./}; echo "$((10#$t))"; }
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

# ---- build ---------------------------------------------------------------
if (( DO_BUILD )); then
  echo "== building dns_verify_bench in $BUILD (-j$JOBS)"
  # Release, but -O2: GCC 12 at -O3 reports a false -Wrestrict in
  # src/common/files.cpp (operator+ on std::string), and warnings are errors.
  mkdir -p "$BUILD"
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" \
    -DDANEROLL_BUILD_BENCH=ON -DDANEROLL_BUILD_TESTS=OFF >"$BUILD/bench-configure.log" 2>&1 ||
    { cat "$BUILD/bench-configure.log" >&2; die "cmake configure failed"; }
  nice cmake --build "$BUILD" -j"$JOBS" --target dns_verify_bench
fi
[[ -x $BIN ]] || die "$BIN is missing (build without --no-build first)"

# ---- sandbox -------------------------------------------------------------
WORK=$(mktemp -d /tmp/daneroll-bench.XXXXXX)
chmod 0755 "$WORK"   # named, nsd and unbound run as their own users
SB=$WORK/sb
SANDBOX_STARTED=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if (( SANDBOX_STARTED )); then
    "$TOOL" down "$SB" >"$WORK/down.log" 2>&1 || { echo "sandbox down failed:" >&2; cat "$WORK/down.log" >&2; }
  fi
  if (( rc == 0 )); then
    rm -rf "$WORK"
  else
    echo "run-dns-bench: failed (exit $rc); logs kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== sandbox up $SB --net $NET --secondaries $SECONDARIES --no-postfix"
SANDBOX_STARTED=1   # before `up`: a half-started sandbox is torn down too
t0=$(now_us)
"$TOOL" up "$SB" --net "$NET" --no-postfix --secondaries "$SECONDARIES" >"$WORK/up.log" 2>&1 ||
  { cat "$WORK/up.log" >&2; die "sandbox up failed"; }
UP_MS=$(ms $(( $(now_us) - t0 )))
# shellcheck disable=SC1091
. "$SB/env.sh"

# One UPDATE message (over TCP): with several large UPDATEs in one nsupdate
# session, BIND 9.18's inline signing left the signed zone at the first one
# (raw serial 5, signed serial 4, "receive_secure_serial: unchanged") until
# some later UPDATE; see README.md.
echo "== publishing $NAMES TLSA records (one nsupdate UPDATE)"
t0=$(now_us)
"$BIN" updates "$SB" --names "$NAMES" >"$WORK/updates.txt"
"$TOOL" nsupdate "$SB" good <"$WORK/updates.txt" >"$WORK/nsupdate.log" 2>&1 ||
  { cat "$WORK/nsupdate.log" >&2; die "nsupdate failed"; }
PUBLISH_MS=$(ms $(( $(now_us) - t0 )))
# wait-serial alone is not enough: right after the UPDATE the primary may
# still serve the old signed serial. dns_verify_bench waits (bounded) until
# every server serves every record under a valid signature.
"$TOOL" wait-serial "$SB" 60 >"$WORK/wait-serial.log" 2>&1 ||
  { cat "$WORK/wait-serial.log" >&2; die "the secondaries did not catch up"; }

# ---- 1 and 3: daneroll ----------------------------------------------------
echo "== dns_verify_bench run ($RUNS runs of $NAMES names, $SINGLE single-name runs, $ABSENT absent names)"
"$BIN" run "$SB" --names "$NAMES" --runs "$RUNS" --single "$SINGLE" --interval-ms "$INTERVAL_MS" \
  --absent "$ABSENT" --out "$WORK/results.env" | tee "$WORK/bench.txt"
# shellcheck disable=SC1091
. "$WORK/results.env"

# ---- 2: the naive way -----------------------------------------------------
# Names outer, servers inner, so any prefix of the loop covers every server.
naive_queries=0 naive_us=0 naive_complete=0 naive_signed=0
TOTAL_DIGS=$(( NAMES * $(wc -w <<<"$SANDBOX_NS_ADDRS") ))
dig_loop() {   # dig_loop FIRST LAST: names FIRST..LAST on every server
  local n a
  for (( n = $1; n <= $2; n++ )); do
    for a in $SANDBOX_NS_ADDRS; do
      dig +dnssec +norecurse -p 53 "@$a" TLSA "_$n._tcp.$SANDBOX_MX_HOST." >>"$WORK/dig.out"
    done
  done
}
if (( DO_DIG )); then
  : >"$WORK/dig.out"
  per_name=$(wc -w <<<"$SANDBOX_NS_ADDRS")
  sample_names=$(( DIG_SAMPLE / per_name )); (( sample_names <= NAMES )) || sample_names=$NAMES
  echo "== naive: dig per (server, name), sequential; first $(( sample_names * per_name )) of $TOTAL_DIGS"
  t0=$(now_us)
  dig_loop 1 "$sample_names"
  naive_us=$(( $(now_us) - t0 )) naive_queries=$(( sample_names * per_name ))
  projected_s=$(( naive_us * TOTAL_DIGS / naive_queries / 1000000 ))
  if (( sample_names < NAMES && projected_s <= DIG_LIMIT )); then
    echo "   projected ${projected_s} s for all: running the rest"
    t0=$(now_us)
    dig_loop $(( sample_names + 1 )) "$NAMES"
    naive_us=$(( naive_us + $(now_us) - t0 )) naive_queries=$TOTAL_DIGS
  fi
  (( naive_queries == TOTAL_DIGS )) && naive_complete=1
  naive_signed=$(grep -cE '[[:space:]]IN[[:space:]]+RRSIG[[:space:]]+TLSA[[:space:]]' "$WORK/dig.out" || true)
fi

# ---- table ----------------------------------------------------------------
f() { printf '%.2f' "$1"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo
echo "== daneroll DNS verification benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "   $(uname -n), $(nproc) cores ($cpu), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   sandbox: net $NET, $BENCH_SERVERS authoritative servers ($SANDBOX_NS_ADDRS), resolver $SANDBOX_RESOLVER_ADDR"
echo "   sandbox up ${UP_MS} ms; nsupdate of $NAMES records ${PUBLISH_MS} ms; $(grep -o 'checked after .*' "$WORK/bench.txt")"
echo
printf '| %-66s | %5s | %9s | %9s | %9s | %9s | %-14s |\n' "measurement (ms)" runs min median p95 max target
printf '|%s|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..68})" ------- ----------- ----------- ----------- ----------- ----------------
row() { printf '| %-66s | %5s | %9s | %9s | %9s | %9s | %-14s |\n' "$@"; }
met_all=$(awk -v m="$BENCH_ALL_MAX" 'BEGIN { print (m <= 1000 ? "<= 1000: met" : "<= 1000: MISSED") }')
row "1. $NAMES names x $BENCH_SERVERS servers: DNSKEY + observe_zone" "$BENCH_RUNS" \
  "$(f "$BENCH_ALL_MIN")" "$(f "$BENCH_ALL_MEDIAN")" "$(f "$BENCH_ALL_P95")" "$(f "$BENCH_ALL_MAX")" "$met_all"
row "   of which observe_zone" "$BENCH_RUNS" \
  "$(f "$BENCH_OBSERVE_MIN")" "$(f "$BENCH_OBSERVE_MEDIAN")" "$(f "$BENCH_OBSERVE_P95")" "$(f "$BENCH_OBSERVE_MAX")" ""
row "   observe_zone without DNSKEYs (RRSIGs not checked)" "$BENCH_RUNS" \
  "$(f "$BENCH_UNVERIFIED_MIN")" "$(f "$BENCH_UNVERIFIED_MEDIAN")" "$(f "$BENCH_UNVERIFIED_P95")" "$(f "$BENCH_UNVERIFIED_MAX")" ""
if (( DO_DIG && naive_queries > 0 )); then
  naive_total_us=$(( naive_us * TOTAL_DIGS / naive_queries ))
  if (( naive_complete )); then how="all $TOTAL_DIGS dig runs"; else how="extrapolated from $naive_queries of $TOTAL_DIGS"; fi
  row "2. naive: $TOTAL_DIGS x dig, sequential ($how)" 1 "" "$(ms "$naive_total_us")" "" "" ""
  row "   per dig process" "$naive_queries" "" "$(awk -v u="$naive_us" -v n="$naive_queries" 'BEGIN { printf "%.2f", u / n / 1000 }')" "" "" ""
  ratio=$(awk -v n="$naive_total_us" -v d="$BENCH_ALL_MEDIAN" 'BEGIN { printf "%.0f", n / 1000 / d }')
  row "   ratio naive / daneroll (medians)" "" "" "${ratio}x" "" "" ""
fi
if (( BENCH_SINGLE_RUNS > 0 )); then
  row "3. 1 name x $BENCH_SERVERS servers, every $BENCH_INTERVAL_MS ms: observe_zone (DNSKEYs kept)" "$BENCH_SINGLE_RUNS" \
    "$(f "$BENCH_SINGLE_MIN")" "$(f "$BENCH_SINGLE_MEDIAN")" "$(f "$BENCH_SINGLE_P95")" "$(f "$BENCH_SINGLE_MAX")" "a few ms"
  row "   the same with Resolver::dnskeys each time" "$BENCH_SINGLE_RUNS" \
    "$(f "$BENCH_SINGLE_KEYS_MIN")" "$(f "$BENCH_SINGLE_KEYS_MEDIAN")" "$(f "$BENCH_SINGLE_KEYS_P95")" "$(f "$BENCH_SINGLE_KEYS_MAX")" ""
fi
if (( BENCH_ABSENT_NAMES > 0 )); then
  row "4. $BENCH_ABSENT_NAMES absent names x $BENCH_SERVERS servers (NXDOMAIN): observe_zone" "$(( BENCH_ABSENT_PAIRS / BENCH_ABSENT_NAMES / BENCH_SERVERS ))" \
    "$(f "$BENCH_ABSENT_MIN")" "$(f "$BENCH_ABSENT_MEDIAN")" "$(f "$BENCH_ABSENT_P95")" "$(f "$BENCH_ABSENT_MAX")" ""
fi
echo
echo "runs that waited >= one query timeout (2 s, a lost or dropped datagram): $BENCH_SLOW_RUNS"
if (( BENCH_ABSENT_NAMES > 0 )); then
  echo "absent names: $BENCH_ABSENT_NXDOMAIN of $BENCH_ABSENT_PAIRS (server, name) answers were NXDOMAIN"
  echo "NSD ($SANDBOX_SECONDARY_ADDR) counters, whole run: $("$TOOL" nsd-control "$SB" stats_noreset 2>/dev/null | grep -E '^num\.(truncated|dropped|tcp)=' | tr '\n' ' ')"
fi
echo "CPU (user+sys) of dns_verify_bench per $NAMES-name run: $(printf '%.1f' "$BENCH_CPU_PER_RUN") ms verified, $(printf '%.1f' "$BENCH_CPU_PER_UNVERIFIED") ms without DNSKEYs (window $BENCH_WINDOW)"
if (( DO_DIG && naive_queries > 0 )); then
  echo "dig answers carrying RRSIG over TLSA: $naive_signed of $naive_queries (dig does not verify them)"
  (( naive_signed == naive_queries )) || die "some dig answers lacked the signed TLSA RRset"
fi
