# shellcheck shell=bash
# lib.sh: generic helpers of the sandbox tool (sourced, not run).
#
# Rules kept everywhere here:
#  * every wait is bounded both in time and in number of tries;
#  * nothing is ever left running in the background by this script itself:
#    daemons detach on their own and are started with stdin/stdout/stderr
#    redirected, so `sandbox up DIR | tail` returns (sandbox.md gotcha 12);
#  * a process is only signalled when it is proven to belong to this DIR;
#  * no `cmd | grep -q`: under pipefail, grep -q exiting early can kill cmd
#    with SIGPIPE and fail the pipeline at random; grep >/dev/null reads all.

sb_log()  { printf 'sandbox: %s\n' "$*" >&2; }
sb_die()  { printf 'sandbox: error: %s\n' "$*" >&2; exit 1; }
sb_now()  { printf '%s' "${EPOCHREALTIME/[,]/.}"; }   # seconds.micro
sb_elapsed() { awk -v a="$1" -v b="$(sb_now)" 'BEGIN { printf "%.2f", b - a }'; }

# Paths end up unquoted in named/NSD/Unbound/Postfix configs and JSON, so only
# allow characters that need no quoting in any of them.
sb_check_path() {
  [[ $1 =~ ^/[A-Za-z0-9._/+-]+$ ]] || sb_die "path '$1' must be absolute and use only [A-Za-z0-9._/+-]"
}

# --net takes the first three octets of a loopback /24. 127.0.0 is refused:
# 127.0.0.1 hosts the machine's own services and 127.0.0.11 is Docker's DNS.
sb_check_net() {
  local re='^127\.([0-9]{1,3})\.([0-9]{1,3})$'
  [[ $1 =~ $re ]] || sb_die "--net '$1' must look like 127.X.Y"
  (( BASH_REMATCH[1] <= 255 && BASH_REMATCH[2] <= 255 )) || sb_die "--net '$1': octet > 255"
  [[ $1 != 127.0.0 ]] || sb_die "--net 127.0.0 is reserved for the host; pick e.g. 127.53.2"
}

# render TEMPLATE OUT: replace every @NAME@ by the value of shell variable
# NAME. An unset NAME is an error, so a typo cannot yield a silent hole.
sb_render() {
  local text
  text=$(sb_render_text "$1") || exit 1
  printf '%s\n' "$text" >"$2"
}
# sb_render_text TEMPLATE: the same, printed (for snippets that go into
# another template's placeholder).
sb_render_text() {
  local tpl=$1 text ph name
  text=$(<"$tpl")
  # shellcheck disable=SC2013 # placeholders contain no blanks
  for ph in $(grep -o '@[A-Z][A-Z0-9_]*@' "$tpl" | sort -u); do
    name=${ph//@/}
    [[ -v $name ]] || sb_die "template $tpl: variable $name is not set"
    text=${text//"$ph"/"${!name}"}
  done
  printf '%s\n' "$text"
}

# sb_wait WHAT SECONDS CMD...: run CMD every 0.2 s until it succeeds, at most
# SECONDS (deadline) and SECONDS*5 tries (count). Returns 1 on time-out.
sb_wait() {
  local what=$1 secs=$2; shift 2
  local tries=$(( secs * 5 )) deadline=$(( SECONDS + secs ))
  while (( tries-- > 0 && SECONDS <= deadline )); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  sb_log "timed out after ${secs}s waiting for $what"
  return 1
}

# ---- loopback addresses ------------------------------------------------
# Each claimed address is recorded in DIR/run/lo-addrs *before* it is added,
# so `down` after a kill -9 of `up` still removes it. `ip addr add` fails
# if the address exists, which makes two sandboxes with one --net exclusive.
# An address that is on lo with nothing listening on it is a leftover of a
# sandbox whose directory is gone (a machine restarted under it, a deleted
# build tree): it is taken over, with a warning, instead of failing forever.
sb_lo_claim() {
  local addr=$1 rec=$SB_DIR/run/lo-addrs
  [[ -f $rec ]] && grep -qxF "$addr" "$rec" && return 0
  echo "$addr" >>"$rec"
  ip addr add "$addr/32" dev lo 2>/dev/null && return 0
  if ip -o addr show dev lo | grep -qF " $addr/32 " && [[ -z $(sb_listeners_on "$addr") ]]; then
    sb_log "warning: $addr was on lo with nothing listening on it (a stale sandbox); taking it over"
    return 0
  fi
  sed -i '$d' "$rec"   # the line just added: not ours to remove at down
  sb_die "$addr is already on lo and in use: another sandbox uses this --net (try another, or 'sandbox down' its DIR):"$'\n'"$(sb_listeners_on "$addr")"
}
# sb_listeners_on ADDR: the TCP/UDP sockets listening on exactly ADDR.
sb_listeners_on() {
  ss -Hlnptu 2>/dev/null | awk -v a="$1" '
    { n = split($5, x, ":"); if (substr($5, 1, length($5) - length(x[n]) - 1) == a) print }'
}
sb_lo_release_all() {
  local rec=$SB_DIR/run/lo-addrs addr
  [[ -f $rec ]] || return 0
  while read -r addr; do
    [[ -z $addr ]] || ip addr del "$addr/32" dev lo 2>/dev/null || true
  done <"$rec"
  rm -f "$rec"
}

# sb_port_free ADDR PORT: fail if something listens on ADDR:PORT or on the
# wildcard address for PORT (a wildcard listener would make our bind fail or
# steal traffic).
sb_port_free() {
  local addr=$1 port=$2 hits
  hits=$(ss -Hlnptu 2>/dev/null | awk -v a="$addr" -v p="$port" '
    { n = split($5, x, ":"); host = substr($5, 1, length($5) - length(x[n]) - 1)
      if (x[n] == p && (host == a || host == "0.0.0.0" || host == "*" || host == "[::]")) print }')
  [[ -z $hits ]] || sb_die "port $addr:$port is not free:"$'\n'"$hits"
}

# ---- processes ---------------------------------------------------------
# Every daemon we start carries DANEROLL_SANDBOX=DIR in its environment;
# Postfix scrubs its environment but keeps MAIL_CONFIG (= our config dir).
sb_tag() { printf 'DANEROLL_SANDBOX=%s' "$SB_DIR"; }
sb_owned() {   # PID: is it alive and ours?
  local pid=$1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  grep -qzxF -e "$(sb_tag)" -e "MAIL_CONFIG=$SB_DIR/postfix/etc" -e "MAIL_CONFIG=$SB_DIR/postfix2/etc" \
    "/proc/$pid/environ" 2>/dev/null
}
sb_read_pid() { [[ -r $1 ]] && tr -dc '0-9' <"$1"; }

# All live processes tagged with this DIR (catches daemons whose pid file was
# not written yet when `up` was killed).
sb_tagged_pids() { sb_grep_environ -e "$(sb_tag)" -e "MAIL_CONFIG=$SB_DIR/postfix/etc" -e "MAIL_CONFIG=$SB_DIR/postfix2/etc"; }
# sb_grep_environ GREP-ARGS: PIDs whose environment has one of the given
# variables (one grep over all of /proc; zombies have an empty environ).
sb_grep_environ() {
  local f
  while read -r f; do
    f=${f#/proc/}; f=${f%/environ}
    [[ $f != "$$" && $f != "$BASHPID" ]] && echo "$f"
  done < <(grep -lzxF "$@" /proc/[0-9]*/environ 2>/dev/null)
  return 0
}

# sb_kill_pids PID...: SIGCONT (a SIGSTOPped process ignores SIGTERM until
# continued), SIGTERM, wait up to 5 s, then SIGKILL.
sb_kill_pids() {
  local pids=() p i alive
  for p in "$@"; do sb_owned "$p" && pids+=("$p"); done
  (( ${#pids[@]} )) || return 0
  kill -CONT "${pids[@]}" 2>/dev/null || true
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for (( i = 0; i < 50; i++ )); do      # a zombie has no environ: sb_owned fails
    alive=0
    for p in "${pids[@]}"; do sb_owned "$p" && alive=1; done
    (( alive )) || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
}

# ---- DNS ---------------------------------------------------------------
sb_dig() { local a=$1; shift; dig -p 53 "@$a" +tries=1 +time=1 "$@"; }
# sb_serial ADDR [ZONE]: the SOA serial ADDR serves (default: the main zone).
sb_serial() { { sb_dig "$1" +norec +short SOA "${2:-$SB_ZONE}" || true; } | awk '!/^;/ && NF == 7 { print $3 }'; }
# Signed SOA served by an authoritative server.
sb_signed_soa() {
  sb_dig "$1" +norec +dnssec +noall +answer SOA "$SB_ZONE" | grep -E '[[:space:]]RRSIG[[:space:]]+SOA[[:space:]]' >/dev/null
}
# sb_unsigned_soa ADDR ZONE: an authoritative SOA answer without RRSIG.
sb_unsigned_soa() {
  local out
  out=$(sb_dig "$1" +norec +dnssec SOA "$2") || return 1
  grep -E '^;; flags:[^;]* aa[ ;]' <<<"$out" >/dev/null &&
    grep -E '^[^;].*[[:space:]]SOA[[:space:]]' <<<"$out" >/dev/null &&
    ! grep -E '[[:space:]]RRSIG[[:space:]]' <<<"$out" >/dev/null
}
# A validating resolver answers with the AD flag.
sb_ad() {
  sb_dig "$1" +dnssec SOA "$SB_ZONE" | grep -E '^;; flags:[^;]* ad[ ;]' >/dev/null
}
# sb_insecure ADDR ZONE: the resolver answers ZONE's SOA (NOERROR, data)
# without the AD flag.
sb_insecure() {
  local out
  out=$(sb_dig "$1" +dnssec SOA "$2") || return 1
  grep 'status: NOERROR' <<<"$out" >/dev/null && grep -E '^[^;].*[[:space:]]SOA[[:space:]]' <<<"$out" >/dev/null &&
    ! grep -E '^;; flags:[^;]* ad[ ;]' <<<"$out" >/dev/null
}
# sb_bogus ADDR: the resolver answers SERVFAIL for the main zone's SOA, but
# the SOA itself with +cd (checking disabled): the data is there, only the
# validation fails.
sb_bogus() {
  sb_dig "$1" +dnssec SOA "$SB_ZONE" | grep 'status: SERVFAIL' >/dev/null &&
    sb_dig "$1" +dnssec +cd SOA "$SB_ZONE" | grep -E '^[^;].*[[:space:]]SOA[[:space:]]' >/dev/null
}

# ---- SMTP --------------------------------------------------------------
# sb_smtp_ehlo ADDR PORT: print the EHLO reply if the server greets with 220.
# shellcheck disable=SC2016 # the script is single-quoted on purpose
sb_smtp_ehlo() {
  timeout 8 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    IFS= read -r -t 5 l <&3 && [[ $l == 220* ]] || exit 1
    printf "EHLO sandbox.invalid\r\n" >&3
    while IFS= read -r -t 5 l <&3; do l=${l%$'\''\r'\''}; echo "$l"; [[ $l == "250 "* ]] && break; done
    printf "QUIT\r\n" >&3' _ "$1" "$2" 2>/dev/null
}
