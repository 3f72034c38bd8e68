# shellcheck shell=bash
# checks.sh: independent DANE verdicts on the sandbox MTA, for tests to
# compare with daneroll's own probe.

# posttls DIR [DEST] [ARGS...]: Postfix's posttls-finger, resolving through
# the sandbox resolver. It connects to ONE address (the first in DNS order,
# which the resolver rotates), so use dane-check to cover every address.
cmd_posttls() {
  sb_load "${1:?missing DIR}"
  local dest=${2:-$SB_ZONE} out rc=0
  shift $(( $# >= 2 ? 2 : 1 ))
  [[ -f /etc/resolv.conf ]] || sb_die "/etc/resolv.conf must exist (it is bind-mounted over)"
  # A private mount namespace in which /etc/resolv.conf names the sandbox
  # resolver; posttls-finger exits 0 even on failure, so read its verdict.
  # shellcheck disable=SC2016 # the inner script is single-quoted on purpose
  out=$(timeout 90 unshare --mount --propagation private -- bash -c \
    'mount --bind "$1" /etc/resolv.conf && shift && exec env MAIL_CONFIG="$1" posttls-finger "${@:2}"' \
    _ "$SB_DIR/client/resolv.conf" "$SB_DIR/client" \
    -t 10 -T 10 -l dane -c -L verbose,summary "$@" "$dest:25" 2>&1) || rc=$?
  printf '%s\n' "$out"
  if grep -q 'Verified TLS connection established' <<<"$out"; then return 0; fi
  sb_log "posttls: no verified TLS connection to $dest (posttls-finger rc=$rc)"
  return 1
}

# dane-check DIR [--alg ecdsa|rsa] [ADDR...]: for each MX address (default:
# all), STARTTLS with `openssl s_client` and verify against the TLSA RRset of
# _25._tcp.MX as the validating resolver serves it, which must carry AD.
# --alg restricts the signature algorithms offered, so the server presents
# its ECDSA or its RSA chain; each one must match on its own.
cmd_dane_check() {
  sb_load "${1:?missing DIR}"; shift
  local sigalgs=() addrs=() rr=() a out ok=0 fail=0 line ans
  while (( $# )); do
    case $1 in
      --alg) sigalgs=(-sigalgs "$(sb_sigalgs "${2:-}")"); shift ;;
      *) addrs+=("$1") ;;
    esac
    shift
  done
  (( ${#addrs[@]} )) || read -r -a addrs <<<"$SB_MX_ADDRS"
  ans=$(sb_dig "$(sb_addr_of unbound)" +dnssec +nosplit TLSA "_25._tcp.$SB_MX_HOST") ||
    sb_die "the resolver did not answer the TLSA query"
  grep -Eq '^;; flags:[^;]* ad[ ;]' <<<"$ans" || sb_die "TLSA _25._tcp.$SB_MX_HOST: no AD bit from the resolver"
  while read -r line; do rr+=(-dane_tlsa_rrdata "$line"); done < <(
    awk '!/^;/ && $4 == "TLSA" { $1 = $2 = $3 = $4 = ""; sub(/^ +/, ""); print }' <<<"$ans")
  (( ${#rr[@]} )) || sb_die "no TLSA record at _25._tcp.$SB_MX_HOST"
  for a in "${addrs[@]}"; do
    if out=$(timeout 20 openssl s_client -starttls smtp -connect "$a:25" -name sandbox.invalid \
          "${sigalgs[@]}" -dane_tlsa_domain "$SB_MX_HOST" "${rr[@]}" -verify_return_error -brief \
          </dev/null 2>&1) && grep -q '^Verification: OK' <<<"$out"; then
      echo "$a: verified ($(grep -m1 '^Signature type' <<<"$out"))"; ok=$(( ok + 1 ))
    else
      echo "$a: NOT verified: $(grep -m1 -E 'verify error|error|refused' <<<"$out")"; fail=$(( fail + 1 ))
    fi
  done
  (( fail == 0 && ok > 0 ))
}
