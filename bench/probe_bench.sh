#!/usr/bin/env bash
# probe_bench.sh: how long `daneroll probe` takes against real Postfix on
# loopback: one address end to end, and every address of the MX at once
# (the probe runs one thread per address, so it should cost about as much
# as the slowest address, not the sum).
#
#   bench/probe_bench.sh [--sandbox DIR] [--runs N] [--daneroll BIN] [--net 127.X.Y]
#
# Without --sandbox it brings up its own (root; tests/sandbox, --second-mx)
# in a temporary directory and takes it down at the end. The record probed
# against is the served leaf's own 3 1 1, so every probe verifies.
# Figures: "probe" is the library's own measure of smtp::probe() (TLS
# context set-up included), "process" the wall time of the whole command.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
sandbox_dir='' runs=50 bin='' net=127.53.72
while (( $# )); do
  case $1 in
    --sandbox) sandbox_dir=${2:?}; shift ;;
    --runs) runs=${2:?}; shift ;;
    --daneroll) bin=${2:?}; shift ;;
    --net) net=${2:?}; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "probe_bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "probe_bench: --runs takes a positive integer" >&2; exit 2; }
if [[ -z $bin ]]; then
  for b in "$root"/build-smtp/src/daneroll "$root"/build/src/daneroll; do
    [[ -x $b ]] && { bin=$b; break; }
  done
fi
[[ -x $bin ]] || { echo "probe_bench: no daneroll binary; build it or pass --daneroll" >&2; exit 2; }

tmp=''
cleanup() {
  if [[ -n $tmp ]]; then
    "$root/tests/sandbox/sandbox" down "$tmp/sb" >/dev/null 2>&1 || true
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
if [[ -z $sandbox_dir ]]; then
  tmp=$(mktemp -d /tmp/daneroll-probe-bench.XXXXXX)
  chmod 0755 "$tmp"   # the DNS daemons run as their own users
  "$root/tests/sandbox/sandbox" up "$tmp/sb" --net "$net" --second-mx >/dev/null
  sandbox_dir=$tmp/sb
fi

read -r host addrs < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1] + "/sandbox.json"))
print(j["mx"]["host"], " ".join(j["mx"]["addrs"]))' "$sandbox_dir")
read -r -a addr_list <<<"$addrs"
(( ${#addr_list[@]} >= 2 )) || { echo "probe_bench: the sandbox needs --second-mx" >&2; exit 2; }

# The record: the served leaf's own SPKI digest.
spki=$("$bin" probe "$host" --address "${addr_list[0]}" --record "3 1 1 $(printf '0%.0s' {1..64})" \
  --json --ehlo bench.invalid | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["leaf_spki_sha256"])') || true
[[ $spki =~ ^[0-9a-f]{64}$ ]] || { echo "probe_bench: could not read the served leaf's SPKI" >&2; exit 1; }
record="3 1 1 $spki"

out=$(mktemp /tmp/daneroll-probe-bench-out.XXXXXX)
trap 'rm -f "$out"; cleanup' EXIT

# bench LABEL ADDR...: $runs probes, one JSON line per run into $out.
bench() {
  local label=$1 i t0 t1 json a; shift
  local args=()
  for a in "$@"; do args+=(--address "$a"); done
  for (( i = 0; i < 3; i++ )); do   # warm-up: Postfix forks its smtpd processes
    "$bin" probe "$host" "${args[@]}" --record "$record" --ehlo bench.invalid >/dev/null
  done
  for (( i = 0; i < runs; i++ )); do
    t0=${EPOCHREALTIME/[,]/.}
    json=$("$bin" probe "$host" "${args[@]}" --record "$record" --ehlo bench.invalid --json) ||
      { echo "probe_bench: a probe did not verify:" >&2; echo "$json" >&2; exit 1; }
    t1=${EPOCHREALTIME/[,]/.}
    python3 -c 'import json,sys; j=json.loads(sys.argv[1]); j["label"]=sys.argv[2]; j["process_ms"]=(float(sys.argv[4])-float(sys.argv[3]))*1000; print(json.dumps(j))' \
      "$json" "$label" "$t0" "$t1" >>"$out"
  done
}

bench one "${addr_list[0]}"
bench all "${addr_list[@]}"
bench all-x2 "${addr_list[@]}" "${addr_list[@]}"

python3 - "$out" "$runs" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def q(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p * (len(v) - 1))))]
def line(name, v):
    print(f"  {name:<34} {min(v):8.2f} {statistics.median(v):8.2f} {q(v, .9):8.2f} {max(v):8.2f}")
print(f"daneroll probe on loopback Postfix, {sys.argv[2]} runs each (ms: min median p90 max)")
for label, what in (("one", "one address"), ("all", "all addresses (2) at once"),
                    ("all-x2", "4 probes at once (2 addresses twice)")):
    rs = [r for r in rows if r["label"] == label]
    print(f"{what}:")
    line("process wall time", [r["process_ms"] for r in rs])
    line("probe (library elapsed)", [r["elapsed_ms"] for r in rs])
    per = [a for r in rs for a in r["results"]]
    for step in ("connect", "banner", "ehlo", "starttls", "handshake", "tls_ehlo", "total"):
        line(f"per address: {step}", [a["timings_ms"][step] for a in per])
    if label != "one":
        line("sum of per-address totals", [sum(a["timings_ms"]["total"] for a in r["results"]) for r in rs])
EOF
