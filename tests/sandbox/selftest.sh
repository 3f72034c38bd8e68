#!/bin/bash
# selftest.sh: bring a sandbox up in a temp dir, check that every server does
# what the tests rely on, tear it down and check nothing is left.
#   selftest.sh [--net 127.X.Y] [--full] [--keep]
# The sandbox has an --unsigned-zone and extra --policy-hosts; its resolver's
# trust anchor is broken and fixed once.
# --full adds: up twice in a row in one dir, a second sandbox on another net
# at the same time, NSD lag/stop/start, Unbound stop/start with a broken
# anchor, and down after a kill -9 of up.
# Exits non-zero on any failure; the last line is "selftest: N passed, M failed".
# shellcheck disable=SC2016 # bash -c scripts are single-quoted on purpose
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SB=$HERE/sandbox
NET=127.53.250 FULL=no KEEP=no UZONE=insecure.test
while (( $# )); do
  case $1 in
    --net) NET=$2; shift ;; --full) FULL=yes ;; --keep) KEEP=yes ;;
    *) echo "usage: $0 [--net 127.X.Y] [--full] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
[[ $(id -u) == 0 ]] || { echo "selftest: must run as root (lo addresses, daemons)" >&2; exit 2; }

PASS=0 FAIL=0
ok()  { PASS=$(( PASS + 1 )); printf 'ok   %s\n' "$1"; }
bad() { FAIL=$(( FAIL + 1 )); printf 'FAIL %s\n' "$1"; }
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi; }
now() { printf '%s' "${EPOCHREALTIME/[,]/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# poll WHAT SECONDS CMD...: bounded in time and tries; prints the seconds taken.
poll() {
  local secs=$2 t0 i; t0=$(now); shift 2
  for (( i = 0; i < secs * 10; i++ )); do
    "$@" >/dev/null 2>&1 && { since "$t0"; return 0; }
    sleep 0.1
  done
  return 1
}

TMP=$(mktemp -d /tmp/daneroll-sandbox-selftest.XXXXXX)
chmod 0755 "$TMP"   # bind, nsd and unbound must be able to enter it
DIR=$TMP/a
cleanup() {
  "$SB" down "$DIR" >/dev/null 2>&1; "$SB" down "$TMP/b" >/dev/null 2>&1; "$SB" down "$TMP/k" >/dev/null 2>&1
  [[ $KEEP == yes ]] || rm -rf "$TMP"
}
trap cleanup EXIT

# Live (non-zombie) processes of a sandbox dir; the tool's own tag is used.
live_pids() {
  grep -lzxF -e "DANEROLL_SANDBOX=$1" -e "MAIL_CONFIG=$1/postfix/etc" -e "MAIL_CONFIG=$1/postfix2/etc" \
    /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3
}
lo_addrs() { ip -o addr show dev lo | grep -c " $1\." ; }
down_clean() {   # DIR NET: down and check nothing is left
  local t0; t0=$(now)
  "$SB" down "$1" >/dev/null 2>&1 || return 1
  DOWN_TIME=$(since "$t0")
  [[ -z $(live_pids "$1") && $(lo_addrs "$2") == 0 ]]
}

# ---- up ------------------------------------------------------------------
# Through a pipe: if a daemon kept up's stdout open, `cat` would never end.
t0=$(now)
UP_ARGS=(--second-mx --acme-resolver --unsigned-zone "$UZONE" --policy-host mx2 --policy-host mx3 --policy-host "mx2.$UZONE")
if ! timeout 120 bash -o pipefail -c '"$1" up "$2" --net "$3" "${@:5}" 2>&1 | cat >"$4"' \
     _ "$SB" "$DIR" "$NET" "$TMP/up.log" "${UP_ARGS[@]}"; then
  bad "sandbox up | cat (returns, succeeds)"; cat "$TMP/up.log"; echo "selftest: $PASS passed, $FAIL failed"; exit 1
fi
UP_TIME=$(since "$t0"); ok "sandbox up | cat returns and succeeds ($UP_TIME s)"
# shellcheck source=/dev/null
. "$DIR/env.sh"
not() { ! "$@"; }
json_zone() { grep -q "\"zone\": \"$SANDBOX_ZONE\"" "$DIR/sandbox.json"; }
json_uzone() { [[ $SANDBOX_UNSIGNED_ZONE == "$UZONE" ]] && grep -q "\"unsigned_zone\": \"$UZONE\"" "$DIR/sandbox.json"; }
policy_hosts() { [[ $SANDBOX_POLICY_HOSTS == "mx1.$SANDBOX_ZONE mx1.$UZONE mx2.$SANDBOX_ZONE mx3.$SANDBOX_ZONE mx2.$UZONE" ]]; }
modes_600() { [[ $(stat -c %a "$@" | sort -u) == 600 ]]; }
check "env.sh and sandbox.json agree on the zone" json_zone
check "env.sh and sandbox.json name the unsigned zone" json_uzone
check "SANDBOX_POLICY_HOSTS: mx1 of each zone, then the --policy-hosts" policy_hosts
check "client TSIG key files are 0600" modes_600 "$SANDBOX_TSIG_FILE" "$SANDBOX_TSIG512_FILE" "$SANDBOX_TSIG_FORBIDDEN_FILE"

# ---- DNS -----------------------------------------------------------------
d() { local a=$1; shift; dig -p 53 "@$a" +tries=1 +time=2 "$@"; }
signed() { d "$1" +norec +dnssec +noall +answer "$2" "$3" | grep -E "RRSIG[[:space:]]+$2[[:space:]]" >/dev/null; }
# ad_at RESOLVER NAME TYPE: an answer of TYPE, with the AD flag.
ad_at() {
  local out; out=$(d "$1" +dnssec "$3" "$2")
  grep -Eq '^;; flags:[^;]* ad[ ;]' <<<"$out" && grep -Eq "^[^;].*[[:space:]]IN[[:space:]]+$3[[:space:]]" <<<"$out"
}
ad() { ad_at "$SANDBOX_RESOLVER_ADDR" "$@"; }
# no_ad NAME TYPE: NOERROR, an answer of TYPE, no AD flag (the unsigned zone).
no_ad() {
  local out; out=$(d "$SANDBOX_RESOLVER_ADDR" +dnssec "$2" "$1")
  grep -q 'status: NOERROR' <<<"$out" && ! grep -Eq '^;; flags:[^;]* ad[ ;]' <<<"$out" &&
    grep -Eq "^[^;].*[[:space:]]IN[[:space:]]+$2[[:space:]]" <<<"$out"
}
# unsigned ADDR NAME TYPE: authoritative answer of TYPE without any RRSIG.
unsigned() {
  local out; out=$(d "$1" +norec +dnssec "$3" "$2")
  grep -Eq '^;; flags:[^;]* aa[ ;]' <<<"$out" && grep -Eq "^[^;].*[[:space:]]IN[[:space:]]+$3[[:space:]]" <<<"$out" &&
    ! grep -Eq '[[:space:]]RRSIG[[:space:]]' <<<"$out"
}
same_serial() { [[ $(d "$1" +norec +short SOA "$2") == "$(d "$SANDBOX_PRIMARY_ADDR" +norec +short SOA "$2")" ]]; }
# a_is_mx HOST: the resolver's A RRset of HOST is exactly the MX addresses.
a_is_mx() {
  [[ $(d "$SANDBOX_RESOLVER_ADDR" +short A "$1" | sort | tr '\n' ' ') == "$(tr ' ' '\n' <<<"$SANDBOX_MX_ADDRS" | sort | tr '\n' ' ')" ]]
}
refuses() { d "$SANDBOX_RESOLVER_ADDR" example.com A | grep 'status: REFUSED' >/dev/null; }
for a in $SANDBOX_NS_ADDRS; do check "signed SOA on $a" signed "$a" SOA "$SANDBOX_ZONE"; done
check "resolver: SOA with AD" ad "$SANDBOX_ZONE" SOA
check "ACME resolver: SOA with AD" ad_at "$SANDBOX_ACME_RESOLVER_ADDR" "$SANDBOX_ZONE" SOA
check "resolver refuses names outside the sandbox" refuses
for a in $SANDBOX_NS_ADDRS; do
  check "unsigned zone: SOA without RRSIG on $a" unsigned "$a" "$UZONE" SOA
  check "unsigned zone: $a serves the primary's serial" same_serial "$a" "$UZONE"
done
check "resolver: unsigned zone SOA, NOERROR without AD" no_ad "$UZONE" SOA
check "resolver: unsigned zone MX, NOERROR without AD" no_ad "$UZONE" MX
for h in $SANDBOX_POLICY_HOSTS; do
  check "policy host $h: A = MX addresses" a_is_mx "$h"
  if [[ $h == *".$UZONE" ]]; then check "policy host $h: no AD" no_ad "$h" A
  else check "policy host $h: AD" ad "$h" A; fi
done

upd() {  # KEYFILE COMMAND...: prints nsupdate's error, returns its status
  local key=$1; shift
  printf '%s\n' "server $SANDBOX_PRIMARY_ADDR 53" "zone ${UPD_ZONE:-$SANDBOX_ZONE}" "$@" send | nsupdate -t 5 -k "$key" 2>&1
}
updz() { UPD_ZONE=$1 upd "${@:2}"; }   # ZONE KEYFILE COMMAND...
refused() { local out; out=$(upd "$@"); [[ $out == *REFUSED* ]]; }
refused_z() { UPD_ZONE=$1 refused "${@:2}"; }   # ZONE KEYFILE COMMAND...
TLSA_OWNER=_25._tcp.$SANDBOX_MX_HOST
HASH=$(openssl x509 -in "$SANDBOX_POSTFIX_ECDSA_PEM" -pubkey -noout | openssl pkey -pubin -outform DER |
       openssl dgst -sha256 -r | cut -d' ' -f1)

# Postfix, before any TLSA exists: STARTTLS offered, DANE not verified.
starttls() { timeout 10 bash -c 'exec 3<>"/dev/tcp/$1/25"; read -r -t 5 l <&3; printf "EHLO t.invalid\r\n" >&3
  while read -r -t 5 l <&3; do echo "$l"; [[ $l == "250 "* ]] && break; done; printf "QUIT\r\n" >&3' _ "$1" |
  grep '^250.STARTTLS' >/dev/null; }
for a in $SANDBOX_MX_ADDRS; do check "Postfix on $a offers STARTTLS" starttls "$a"; done
check "posttls-finger: not verified without a TLSA record" not "$SB" posttls "$DIR"

t0=$(now)
if upd "$SANDBOX_TSIG_FILE" "update add $TLSA_OWNER $SANDBOX_TTL IN TLSA 3 1 1 $HASH" >/dev/null; then
  ok "TLSA 3 1 1 added with $SANDBOX_TSIG_NAME ($SANDBOX_TSIG_ALG)"
else bad "TLSA 3 1 1 added with $SANDBOX_TSIG_NAME"; fi
both() { local a; for a in $SANDBOX_NS_ADDRS; do signed "$a" TLSA "$TLSA_OWNER" || return 1; done; }
if PROP=$(poll both 10 both); then ok "signed TLSA on every NS after ${PROP}s"; else bad "signed TLSA on every NS within 10 s"; fi
# The owner name is new: the resolver may hold a denial for the negative TTL.
if RES=$(poll ad $(( 2 * SANDBOX_NEG_TTL + 5 )) ad "$TLSA_OWNER" TLSA); then
  ok "resolver: TLSA with AD after ${RES}s (from the UPDATE: $(since "$t0")s)"
else bad "resolver: TLSA with AD"; fi

check "sha512 key may add a TLSA (port 465)" \
  upd "$SANDBOX_TSIG512_FILE" "update add _465._tcp.$SANDBOX_MX_HOST $SANDBOX_TTL IN TLSA 3 1 1 $HASH"
check "good key may add TXT at _acme-challenge.$SANDBOX_MX_HOST" \
  upd "$SANDBOX_TSIG_FILE" "update add _acme-challenge.$SANDBOX_MX_HOST $SANDBOX_TTL IN TXT token"
check "good key: A record REFUSED" refused "$SANDBOX_TSIG_FILE" "update add $SANDBOX_MX_HOST $SANDBOX_TTL IN A 127.0.0.9"
check "good key: TXT at the apex REFUSED" refused "$SANDBOX_TSIG_FILE" "update add $SANDBOX_ZONE $SANDBOX_TTL IN TXT x"
check "good key: TLSA outside *._tcp.MX REFUSED" \
  refused "$SANDBOX_TSIG_FILE" "update add _25._tcp.$SANDBOX_ZONE $SANDBOX_TTL IN TLSA 3 1 1 $HASH"
check "forbidden key: TLSA REFUSED" \
  refused "$SANDBOX_TSIG_FORBIDDEN_FILE" "update add $TLSA_OWNER $SANDBOX_TTL IN TLSA 3 1 1 $HASH"
check "good key may add a TLSA at --policy-host mx2" \
  upd "$SANDBOX_TSIG_FILE" "update add _25._tcp.mx2.$SANDBOX_ZONE $SANDBOX_TTL IN TLSA 3 1 1 $HASH"
check "sha512 key may add a TLSA at --policy-host mx3" \
  upd "$SANDBOX_TSIG512_FILE" "update add _25._tcp.mx3.$SANDBOX_ZONE $SANDBOX_TTL IN TLSA 3 1 1 $HASH"
check "good key: TLSA at a host that is no policy host REFUSED" \
  refused "$SANDBOX_TSIG_FILE" "update add _25._tcp.mx4.$SANDBOX_ZONE $SANDBOX_TTL IN TLSA 3 1 1 $HASH"

# The unsigned zone: the same policy, and the records travel unsigned.
UTLSA=_25._tcp.mx1.$UZONE
check "unsigned zone: good key may add a TLSA at mx1" \
  updz "$UZONE" "$SANDBOX_TSIG_FILE" "update add $UTLSA $SANDBOX_TTL IN TLSA 3 1 1 $HASH"
uboth() { local a; for a in $SANDBOX_NS_ADDRS; do unsigned "$a" "$UTLSA" TLSA || return 1; done; }
if UPROP=$(poll uboth 10 uboth); then ok "unsigned zone: TLSA (no RRSIG) on every NS after ${UPROP}s"; else bad "unsigned zone: TLSA on every NS within 10 s"; fi
if URES=$(poll no_ad $(( 2 * SANDBOX_NEG_TTL + 5 )) no_ad "$UTLSA" TLSA); then
  ok "resolver: unsigned-zone TLSA without AD after ${URES}s"
else bad "resolver: unsigned-zone TLSA without AD"; fi
check "unsigned zone: sha512 key may add a TLSA at --policy-host mx2.$UZONE" \
  updz "$UZONE" "$SANDBOX_TSIG512_FILE" "update add _25._tcp.mx2.$UZONE $SANDBOX_TTL IN TLSA 3 1 1 $HASH"
check "unsigned zone: good key may add TXT at _acme-challenge.$UZONE" \
  updz "$UZONE" "$SANDBOX_TSIG_FILE" "update add _acme-challenge.$UZONE $SANDBOX_TTL IN TXT token"
check "unsigned zone: good key: A record REFUSED" \
  refused_z "$UZONE" "$SANDBOX_TSIG_FILE" "update add mx1.$UZONE $SANDBOX_TTL IN A 127.0.0.9"
check "unsigned zone: forbidden key: TLSA REFUSED" \
  refused_z "$UZONE" "$SANDBOX_TSIG_FORBIDDEN_FILE" "update add $UTLSA $SANDBOX_TTL IN TLSA 3 1 1 $HASH"

# ---- DANE verdicts -------------------------------------------------------
check "posttls-finger: Verified TLS connection" "$SB" posttls "$DIR"
check "dane-check: every MX address verifies (ECDSA)" "$SB" dane-check "$DIR" --alg ecdsa
check "dane-check: RSA chain has no record, not verified" not "$SB" dane-check "$DIR" --alg rsa

# ---- broken trust anchor ----------------------------------------------------
rcode() { d "$SANDBOX_RESOLVER_ADDR" "${@:2}" | grep -o "status: $1" >/dev/null; }
# cd_data NAME TYPE: with +cd the resolver hands out the data, without AD.
cd_data() {
  local out; out=$(d "$SANDBOX_RESOLVER_ADDR" +dnssec +cd "$2" "$1")
  grep -q 'status: NOERROR' <<<"$out" && ! grep -Eq '^;; flags:[^;]* ad[ ;]' <<<"$out" &&
    grep -Eq "^[^;].*[[:space:]]IN[[:space:]]+$2[[:space:]]" <<<"$out"
}
status_broken() { "$SB" status "$DIR" | grep -E '^unbound .*trust anchor BROKEN' >/dev/null; }
ANCHOR=$(<"$SANDBOX_TRUST_ANCHOR")
anchor_kept() { [[ $(<"$SANDBOX_TRUST_ANCHOR") == "$ANCHOR" ]]; }
t0=$(now)
if "$SB" break-anchor "$DIR" >/dev/null 2>&1; then BREAK_TIME=$(since "$t0"); ok "break-anchor ($BREAK_TIME s)"
else bad "break-anchor"; fi
check "broken anchor: SOA is SERVFAIL" rcode SERVFAIL +dnssec SOA "$SANDBOX_ZONE"
check "broken anchor: TLSA is SERVFAIL" rcode SERVFAIL +dnssec TLSA "$TLSA_OWNER"
check "broken anchor: +cd gives the SOA, no AD" cd_data "$SANDBOX_ZONE" SOA
check "broken anchor: +cd gives the TLSA, no AD" cd_data "$TLSA_OWNER" TLSA
check "broken anchor: +cd gives NXDOMAIN for a missing name" rcode NXDOMAIN +dnssec +cd A "nothere.$SANDBOX_ZONE"
check "broken anchor: unsigned zone still answers, no AD" no_ad "$UZONE" SOA
check "broken anchor: ACME resolver untouched (AD)" ad_at "$SANDBOX_ACME_RESOLVER_ADDR" "$SANDBOX_ZONE" SOA
check "broken anchor: status shows it" status_broken
check "broken anchor: SANDBOX_TRUST_ANCHOR unchanged" anchor_kept
check "broken anchor: dane-check fails" not "$SB" dane-check "$DIR" --alg ecdsa
t0=$(now)
if "$SB" fix-anchor "$DIR" >/dev/null 2>&1; then FIX_TIME=$(since "$t0"); ok "fix-anchor ($FIX_TIME s)"
else bad "fix-anchor"; fi
check "fixed anchor: SOA with AD" ad "$SANDBOX_ZONE" SOA
check "fixed anchor: status no longer shows it" not status_broken
check "fixed anchor: dane-check verifies again" "$SB" dane-check "$DIR" --alg ecdsa

# ---- extended checks -------------------------------------------------------
if [[ $FULL == yes ]]; then
  serial() { d "$1" +norec +short SOA "$SANDBOX_ZONE" | awk 'NF == 7 { print $3 }'; }
  lagging() { local s; s=$(serial "$SANDBOX_SECONDARY_ADDR"); [[ -n $s && $s != $(serial "$SANDBOX_PRIMARY_ADDR") ]]; }
  check "lag nsd" "$SB" lag nsd "$DIR"
  upd "$SANDBOX_TSIG_FILE" "update add _26._tcp.$SANDBOX_MX_HOST $SANDBOX_TTL IN TLSA 3 1 1 $HASH" >/dev/null
  sleep 1
  check "lagging NSD still answers, with an older serial" lagging
  check "thaw nsd" "$SB" thaw nsd "$DIR"
  check "thawed NSD catches up" "$SB" wait-serial "$DIR" 15
  check "stop nsd" "$SB" stop nsd "$DIR"
  check "status reports nsd stopped" not "$SB" status "$DIR"
  check "start nsd: serves the current serial" "$SB" start nsd "$DIR"
  check "postfix-reload" "$SB" postfix-reload "$DIR"

  # A restarted Unbound keeps a broken anchor; start waits for the bogus state.
  check "break-anchor again" "$SB" break-anchor "$DIR"
  check "stop unbound" "$SB" stop unbound "$DIR"
  check "start unbound: ready as bogus" "$SB" start unbound "$DIR"
  check "restarted: SOA still SERVFAIL" rcode SERVFAIL +dnssec SOA "$SANDBOX_ZONE"
  check "fix-anchor again: AD" "$SB" fix-anchor "$DIR"
  check "unsigned zone: the restarted NSD serves the primary's serial" same_serial "$SANDBOX_SECONDARY_ADDR" "$UZONE"

  # A second sandbox on another net, at the same time.
  NET2=${NET%.*}.$(( ${NET##*.} - 1 ))
  check "second sandbox on $NET2 alongside (unsigned zone unsigned.invalid)" \
    "$SB" up "$TMP/b" --net "$NET2" --no-postfix --unsigned-zone unsigned.invalid
  b_insecure() { SANDBOX_RESOLVER_ADDR=$NET2.20 no_ad unsigned.invalid SOA; }
  check "second sandbox: unsigned.invalid answers without AD" b_insecure
  check "first sandbox unaffected" "$SB" status "$DIR"
  check "second sandbox down, clean" down_clean "$TMP/b" "$NET2"
  check "same net twice refused" not "$SB" up "$TMP/c" --net "$NET" --no-postfix

  # kill -9 of up at several moments, then down.
  for delay in 0.3 0.8 1.6; do
    "$SB" up "$TMP/k" --net "$NET2" --second-mx >/dev/null 2>&1 & pid=$!
    sleep "$delay"; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    check "down after kill -9 of up at ${delay}s leaves nothing" down_clean "$TMP/k" "$NET2"
  done

  # Down and up again in the same dir.
  check "down (first run)" down_clean "$DIR" "$NET"
  t0=$(now)
  check "up again in the same dir" "$SB" up "$DIR" --net "$NET" "${UP_ARGS[@]}"
  UP2_TIME=$(since "$t0")
  for a in $SANDBOX_NS_ADDRS; do check "second run: signed SOA on $a" signed "$a" SOA "$SANDBOX_ZONE"; done
fi

# ---- down ------------------------------------------------------------------
if down_clean "$DIR" "$NET"; then ok "down: no process, no lo address left ($DOWN_TIME s)"; else bad "down left something"; fi
check "down again is a no-op" "$SB" down "$DIR"

echo "timings: up ${UP_TIME}s${UP2_TIME:+ (again: ${UP2_TIME}s)}, down ${DOWN_TIME}s, UPDATE->all NS ${PROP:-?}s, resolver AD ${RES:-?}s"
echo "         unsigned zone: UPDATE->all NS ${UPROP:-?}s, resolver ${URES:-?}s; break-anchor ${BREAK_TIME:-?}s, fix-anchor ${FIX_TIME:-?}s"
echo "selftest: $PASS passed, $FAIL failed"
(( FAIL == 0 ))
