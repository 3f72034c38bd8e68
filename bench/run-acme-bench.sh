#!/usr/bin/env bash
# Wall time of one http-01 issuance against a real Pebble on loopback:
# daneroll's ACME client (`daneroll acme issue`, its built-in listener)
# versus certbot (Debian's package, `certonly --standalone`), for the same
# two names, against the same Pebble, in the same run, alternating which
# goes first. Both accounts are registered before timing starts, so every
# timed run is one order: newOrder, two http-01 validations, finalize,
# download. certbot makes its key in the run (that is how it works);
# daneroll is given a key generated beforehand (that is the point of it).
#
#   bench/run-acme-bench.sh [--runs N] [--bin PATH] [--net 127.X.Y]
#
# Needs root (certbot's default dirs are avoided, but it binds the port as
# root like daneroll) and the packages pebble, certbot, openssl, curl.
# Traffic stays on 127.0.0.0/8: Pebble's -dnsserver is its own
# pebble-challtestsrv, which answers every name with the responder address.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
runs=5
bin=''
net=127.53.32
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    --bin) bin=$2; shift 2 ;;
    --net) net=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ $runs =~ ^[0-9]+$ && $runs -ge 1 && $runs -le 50 ]] || { echo "--runs 1..50" >&2; exit 2; }
command -v certbot >/dev/null || { echo "certbot is not installed (apt-get install certbot)" >&2; exit 1; }

if [[ -z $bin ]]; then
  cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DDANEROLL_BUILD_BENCH=ON \
    -DDANEROLL_BUILD_TESTS=OFF >/dev/null
  cmake --build "$root/build-bench" -j2 --target daneroll >/dev/null
  bin=$root/build-bench/src/daneroll
fi

pebble_addr=$net.1
responder=$net.2
work=$(mktemp -d /tmp/daneroll-acme-bench.XXXXXX)
chmod 0755 "$work"
finished=0
cleanup() {
  "$root/tests/sandbox/pebble-up" --down "$work/pebble" || true
  if ((finished)); then
    rm -rf "$work"
  else
    echo "run-acme-bench: failed; logs kept in $work" >&2
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$root/tests/sandbox/pebble-up" "$work/pebble" --addr "$pebble_addr" --fake-dns "$responder" \
  --http-port 5002
directory=https://$pebble_addr:14000/dir
ca=$work/pebble/ca.pem

# daneroll: a config whose service names the two names and the listener.
mkdir -p "$work/daneroll"
printf 'key "unused" { algorithm hmac-sha256; secret "dW51c2VkdW51c2VkdW51c2VkdW51c2VkdW51c2VkMTI="; };\n' \
  >"$work/daneroll/tsig.key"
chmod 0600 "$work/daneroll/tsig.key"
cat >"$work/daneroll/daneroll.toml" <<EOF
[daneroll]
state_dir = "$work/daneroll/state"
[acme]
directory = "$directory"
ca_bundle = "$ca"
agree_tos = true
[tsig.unused]
file = "$work/daneroll/tsig.key"
[zone."example.test"]
tsig_key = "unused"
[service.mx1]
host = "mx1.example.test"
names = ["mx1.example.test", "mail.example.test"]
[service.mx1.source]
type = "acme"
listen = "$responder:5002"
[service.mx1.mta]
type = "postfix"
combined_file = "$work/daneroll/{algorithm}.pem"
EOF
certbot_args=(--server "$directory" --config-dir "$work/certbot/config" --work-dir "$work/certbot/work"
  --logs-dir "$work/certbot/logs" --register-unsafely-without-email --agree-tos --non-interactive)
export REQUESTS_CA_BUNDLE=$ca

now() { printf '%s' "${EPOCHREALTIME/[,]/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

t=$(now); "$bin" acme register -c "$work/daneroll/daneroll.toml" >/dev/null; reg_d=$(since "$t")
t=$(now); certbot register "${certbot_args[@]}" >/dev/null 2>&1; reg_c=$(since "$t")

mkdir -m 0700 "$work/daneroll/keys"
issue_daneroll() {
  local i=$1 key=$work/daneroll/keys/next-$1.key
  "$bin" keygen --algorithm ecdsa-p256 --out "$key" >/dev/null   # not timed: pre-generated
  local t; t=$(now)
  "$bin" acme issue -c "$work/daneroll/daneroll.toml" --key "$key" --service mx1 \
    --out "$work/daneroll/chain-$i.pem" >/dev/null
  d_times+=("$(since "$t")")
  [[ $(openssl x509 -in "$work/daneroll/chain-$i.pem" -noout -pubkey) == \
     "$(openssl pkey -in "$key" -pubout)" ]] || { echo "daneroll: wrong key in chain $i" >&2; exit 1; }
}
issue_certbot() {
  local i=$1 t; t=$(now)
  certbot certonly --standalone --http-01-address "$responder" --http-01-port 5002 \
    "${certbot_args[@]}" -d mx1.example.test -d mail.example.test --cert-name "bench-$i" \
    >/dev/null 2>&1 || { echo "certbot failed; see $work/certbot/logs" >&2; exit 1; }
  c_times+=("$(since "$t")")
  [[ -s $work/certbot/config/live/bench-$i/fullchain.pem ]] || { echo "certbot: no chain $i" >&2; exit 1; }
}

d_times=() c_times=()
for ((i = 1; i <= runs; i++)); do
  if ((i % 2)); then issue_daneroll "$i"; issue_certbot "$i"; else issue_certbot "$i"; issue_daneroll "$i"; fi
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
md=$(median "${d_times[@]}")
mc=$(median "${c_times[@]}")
echo
pv=$(dpkg-query -W -f='${Version}' pebble)
cv=$(dpkg-query -W -f='${Version}' certbot)
echo "http-01 issuance of 2 names against Pebble $pv, daneroll vs certbot $cv, $runs runs each, alternating:"
printf '  %-10s %-10s %s\n' run daneroll certbot
for ((i = 0; i < runs; i++)); do
  printf '  %-10s %-10s %s\n' "$((i + 1))" "${d_times[$i]} s" "${c_times[$i]} s"
done
printf '  %-10s %-10s %s\n' median "$md s" "$mc s"
printf '  account registration (once): daneroll %s s, certbot %s s\n' "$reg_d" "$reg_c"
finished=1
awk -v d="$md" -v c="$mc" 'BEGIN { printf "  ratio daneroll/certbot (median): %.3f (target <= 0.5)\n", d / c; exit !(d / c <= 0.5) }'
