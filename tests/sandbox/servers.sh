# shellcheck shell=bash
# servers.sh: what each sandbox server is: its address, ports, files, how it
# is configured, started, checked and stopped. Sourced by `sandbox`; uses the
# SB_* variables of DIR/run/state.sh.
#
# shellcheck disable=SC2034 # UB_*, PF_*, NSD_*, NAMED_* feed the templates (sb_render)
# shellcheck disable=SC2153 # SB_DIR and friends come from state.sh
# shellcheck disable=SC2046 # env $(sb_daemon_env X): the tags are split on purpose
# Server names: named, nsd nsd2 nsd3, unbound, unbound-acme, postfix postfix2.
# Address plan in the /24 of --net: .11 primary, .12-.14 secondaries,
# .20 resolver, .21 ACME resolver, .25/.26 MX (postfix/postfix2).

sb_addr_of() {
  case $1 in
    named) echo "$SB_NET.11" ;;
    nsd) echo "$SB_NET.12" ;;  nsd[23]) echo "$SB_NET.$(( 11 + ${1#nsd} ))" ;;
    unbound) echo "$SB_NET.20" ;;  unbound-acme) echo "$SB_NET.21" ;;
    postfix) echo "$SB_NET.25" ;;  postfix2) echo "$SB_NET.26" ;;
    *) sb_die "unknown server '$1'" ;;
  esac
}
sb_ports_of() { case $1 in named) echo "53 953" ;; postfix*) echo 25 ;; *) echo 53 ;; esac; }
sb_pidfile_of() {
  case $1 in
    named) echo "$SB_DIR/named/named.pid" ;;
    nsd*) echo "$SB_DIR/$1/nsd.pid" ;;
    unbound*) echo "$SB_DIR/$1/unbound.pid" ;;
    postfix*) echo "$SB_DIR/$1/spool/pid/master.pid" ;;
  esac
}
sb_log_of() {
  case $1 in
    named) echo "$SB_DIR/named/named.log $SB_DIR/named/named.out" ;;
    nsd*) echo "$SB_DIR/$1/nsd.log $SB_DIR/$1/nsd.out" ;;
    unbound*) echo "$SB_DIR/$1/unbound.log $SB_DIR/$1/unbound.out" ;;
    postfix*) echo "$SB_DIR/$1/maillog $SB_DIR/$1/postfix.out" ;;
  esac
}
sb_kind_of() { local k=${1//[0-9]/}; echo "${k%-acme}"; }   # named nsd unbound postfix
sb_is_server() { [[ $1 =~ ^(named|nsd[23]?|unbound(-acme)?|postfix2?)$ ]]; }

# PIDs of SERVER's live processes: its pid file's process (its main
# process), Postfix master's children, and everything tagged with DIR and
# SERVER.
sb_pids_of() {
  local s=$1 p
  {
    p=$(sb_read_pid "$(sb_pidfile_of "$s")") || true
    if [[ -n $p ]] && sb_owned "$p"; then
      echo "$p"
      # Postfix passes on MAIL_CONFIG only, not our server tag: add master's children.
      [[ $s == postfix* ]] && pgrep -P "$p"
    fi
    sb_grep_environ -e "DANEROLL_SANDBOX_SERVER=$SB_DIR:$s"
  } | sort -nu
}
# The environment a daemon is started with: the tags that `down` looks for.
sb_daemon_env() { echo "$(sb_tag)" "DANEROLL_SANDBOX_SERVER=$SB_DIR:$1"; }

# ---- keys --------------------------------------------------------------
# Client key files (DIR/keys, 0600, root) in tsig-keygen format, and one
# copy of all of them for named (keys.conf, root:bind 0640).
sb_make_keys() {
  local k=$SB_DIR/keys
  install -d -m 0700 "$k"
  (
    umask 077
    tsig-keygen -a hmac-sha256 daneroll-update >"$k/update-sha256.key"
    tsig-keygen -a hmac-sha512 daneroll-update-sha512 >"$k/update-sha512.key"
    tsig-keygen -a hmac-sha256 daneroll-forbidden >"$k/forbidden.key"
    tsig-keygen -a hmac-sha256 sandbox-xfr >"$k/xfr.key"
    tsig-keygen -a hmac-sha256 sandbox-rndc >"$k/rndc.key"
  )
  SB_XFR_SECRET=$(sed -n 's/.*secret "\(.*\)";.*/\1/p' "$k/xfr.key")
}

# ---- zones -------------------------------------------------------------
# The zones named serves: the signed main zone, then the --unsigned-zone.
sb_zones() { echo "$SB_ZONE${SB_UNSIGNED_ZONE:+ $SB_UNSIGNED_ZONE}"; }
# sb_hosts_in ZONE: the policy hosts (FQDNs, mx1 first) that belong to ZONE.
# The zones are disjoint (cmd_up checks it), so each host is in one of them.
sb_hosts_in() {
  local h
  for h in $SB_POLICY_HOSTS; do [[ $h == "$1" || $h == *".$1" ]] && echo "$h"; done
  return 0
}
# sb_label HOST ZONE: HOST relative to ZONE ("@" for the apex).
sb_label() { if [[ $1 == "$2" ]]; then echo @; else echo "${1%."$2"}"; fi; }

# sb_update_policy ZONE: the update-policy rules of ZONE, one grant a line.
# A DNS wildcard covers one or more labels, so "*._tcp.mx1.example.test"
# matches _25._tcp.mx1.example.test (any port) while "*._tcp.example.test"
# would not. Nothing grants the apex, A records, or anything to
# daneroll-forbidden (which named knows, so it is refused rather than
# rejected as an unknown key).
sb_update_policy() {
  local z=$1 h k
  for h in $(sb_hosts_in "$z"); do
    for k in daneroll-update daneroll-update-sha512; do
      echo "        grant $k wildcard *._tcp.$h TLSA;"
      echo "        grant $k name _acme-challenge.$h TXT;"
    done
  done
  for k in daneroll-update daneroll-update-sha512; do
    echo "        grant $k name _acme-challenge.$z TXT;"
  done
}

# sb_render_zone ZONE FILE: the zone file of ZONE. Every zone has the same
# NS, SOA and MX; the NS hosts and every policy host (mx1 and each
# --policy-host) get A records in it, the latter at the MX addresses, so a
# test may use any of them as an MX host name.
sb_render_zone() {
  local SB_ZONE=$1 i h a SB_ZONE_NS="@   IN NS ns1" SB_ZONE_HOSTS=''
  for (( i = 1; i <= SB_SECONDARIES; i++ )); do
    SB_ZONE_NS+=$'\n'"@   IN NS ns$(( i + 1 ))"
    SB_ZONE_HOSTS+="ns$(( i + 1 )) IN A $(sb_addr_of "$(sb_nsd_name "$i")")"$'\n'
  done
  for h in $(sb_hosts_in "$SB_ZONE"); do
    for a in $SB_MX_ADDRS; do SB_ZONE_HOSTS+="$(sb_label "$h" "$SB_ZONE") IN A $a"$'\n'; done
  done
  SB_ZONE_HOSTS=${SB_ZONE_HOSTS%$'\n'}
  sb_render "$SB_HOME/conf/zone.db.in" "$2"
  chown bind:bind "$2"
  named-checkzone -q "$SB_ZONE" "$2" || sb_die "named-checkzone failed on $2"
}

# ---- named -------------------------------------------------------------
sb_setup_named() {
  local d=$SB_DIR/named i NAMED_ALSO_NOTIFY='' NAMED_UPDATE_POLICY NAMED_UNSIGNED_ZONE z
  install -d -o bind -g bind -m 0755 "$d"
  cat "$SB_DIR"/keys/{update-sha256,update-sha512,forbidden,xfr,rndc}.key >"$d/keys.conf"
  chown root:bind "$d/keys.conf"; chmod 0640 "$d/keys.conf"
  NAMED_UPDATE_POLICY=$(sb_update_policy "$SB_ZONE")
  for (( i = 1; i <= SB_SECONDARIES; i++ )); do
    NAMED_ALSO_NOTIFY+="$(sb_addr_of "$(sb_nsd_name "$i")") key \"sandbox-xfr\"; "
  done
  NAMED_UNSIGNED_ZONE="// no --unsigned-zone"
  if [[ -n $SB_UNSIGNED_ZONE ]]; then
    local NAMED_UNSIGNED_UPDATE_POLICY
    NAMED_UNSIGNED_UPDATE_POLICY=$(sb_update_policy "$SB_UNSIGNED_ZONE")
    NAMED_UNSIGNED_ZONE=$(sb_render_text "$SB_HOME/conf/named-unsigned-zone.conf.in") || exit 1
  fi
  sb_render "$SB_HOME/conf/named.conf.in" "$d/named.conf"
  chmod 0644 "$d/named.conf"
  named-checkconf "$d/named.conf" || sb_die "named-checkconf failed on $d/named.conf"
  for z in $(sb_zones); do sb_render_zone "$z" "$d/$z.db"; done
}
sb_start_named() {
  # named detaches by itself. -n 1: one worker thread, the machine is shared.
  env $(sb_daemon_env named) named -c "$SB_DIR/named/named.conf" -u bind -n 1 \
    </dev/null >>"$SB_DIR/named/named.out" 2>&1
}
sb_ready_named() {
  sb_signed_soa "$SB_PRIMARY_ADDR" &&
    sb_dig "$SB_PRIMARY_ADDR" +norec +dnssec +noall +answer DNSKEY "$SB_ZONE" | grep 'RRSIG[[:space:]]*DNSKEY' >/dev/null &&
    { [[ -z $SB_UNSIGNED_ZONE ]] || sb_unsigned_soa "$SB_PRIMARY_ADDR" "$SB_UNSIGNED_ZONE"; }
}
# The trust anchor: DS (SHA-256) of the DNSKEY the primary serves.
sb_make_trust_anchor() {
  sb_dig "$SB_PRIMARY_ADDR" +norec +noall +answer DNSKEY "$SB_ZONE" |
    dnssec-dsfromkey -2 -f - "$SB_ZONE" >"$SB_DIR/trust-anchor.ds.tmp" &&
    [[ -s $SB_DIR/trust-anchor.ds.tmp ]] &&
    mv "$SB_DIR/trust-anchor.ds.tmp" "$SB_DIR/trust-anchor.ds" && chmod 0644 "$SB_DIR/trust-anchor.ds"
}

# ---- NSD ---------------------------------------------------------------
sb_nsd_name() { if (( $1 == 1 )); then echo nsd; else echo "nsd$1"; fi; }
sb_setup_nsd() {
  local NSD_DIR=$SB_DIR/$1 NSD_ADDR NSD_ZONE NSD_ZONES=''
  NSD_ADDR=$(sb_addr_of "$1")
  # One zone: section per zone, the same for the signed and the unsigned one.
  for NSD_ZONE in $(sb_zones); do
    NSD_ZONES+=$(sb_render_text "$SB_HOME/conf/nsd-zone.conf.in") || exit 1
    NSD_ZONES+=$'\n'
  done
  NSD_ZONES=${NSD_ZONES%$'\n'}
  install -d -o nsd -g nsd -m 0755 "$NSD_DIR" "$NSD_DIR/xfr"
  sb_render "$SB_HOME/conf/nsd.conf.in" "$NSD_DIR/nsd.conf"
  chown root:nsd "$NSD_DIR/nsd.conf"; chmod 0640 "$NSD_DIR/nsd.conf"
  nsd-checkconf "$NSD_DIR/nsd.conf" || sb_die "nsd-checkconf failed on $NSD_DIR/nsd.conf"
}
sb_start_nsd() {
  env $(sb_daemon_env "$1") nsd -c "$SB_DIR/$1/nsd.conf" </dev/null >>"$SB_DIR/$1/nsd.out" 2>&1
}
# Ready: serves the primary's serial of every zone, the main zone signed.
sb_ready_nsd() {
  local a p z
  a=$(sb_addr_of "$1")
  for z in $(sb_zones); do
    p=$(sb_serial "$SB_PRIMARY_ADDR" "$z")
    [[ -n $p && $(sb_serial "$a" "$z") == "$p" ]] || return 1
  done
  sb_signed_soa "$a"
}

# ---- Unbound -----------------------------------------------------------
# Each Unbound reads its own copy of the trust anchor, UB_DIR/trust-anchor.ds,
# so that break-anchor can make one resolver's copy wrong while
# DIR/trust-anchor.ds (SANDBOX_TRUST_ANCHOR) stays the zone's real DS.
sb_anchor_of() { echo "$SB_DIR/$1/trust-anchor.ds"; }
# sb_anchor_broken SERVER: its copy differs from the real DS (break-anchor).
sb_anchor_broken() {
  local f; f=$(sb_anchor_of "$1")
  [[ -f $f ]] && ! cmp -s "$f" "$SB_DIR/trust-anchor.ds"
}
sb_setup_unbound() {
  local UB_NAME=$1 UB_DIR=$SB_DIR/$1 UB_ADDR UB_STUB_ADDRS i UB_ANCHOR UB_UNSIGNED_ZONE
  local UB_LOG_QUERIES=no UB_MAX_TTL=86400 UB_MAX_NEG_TTL=3600 UB_AGGRESSIVE_NSEC=yes
  if [[ $1 == unbound-acme ]]; then   # Pebble's dns-01 resolver: no cache
    UB_LOG_QUERIES=yes UB_MAX_TTL=0 UB_MAX_NEG_TTL=0 UB_AGGRESSIVE_NSEC=no
  fi
  UB_ADDR=$(sb_addr_of "$1") UB_ANCHOR=$(sb_anchor_of "$1")
  UB_STUB_ADDRS="    stub-addr: $SB_PRIMARY_ADDR@53"
  for (( i = 1; i <= SB_SECONDARIES; i++ )); do
    UB_STUB_ADDRS+=$'\n'"    stub-addr: $(sb_addr_of "$(sb_nsd_name "$i")")@53"
  done
  UB_UNSIGNED_ZONE="# no --unsigned-zone"
  if [[ -n $SB_UNSIGNED_ZONE ]]; then
    UB_UNSIGNED_ZONE=$(sb_render_text "$SB_HOME/conf/unbound-unsigned-zone.conf.in") || exit 1
  fi
  install -d -o unbound -g unbound -m 0755 "$UB_DIR"
  install -m 0644 "$SB_DIR/trust-anchor.ds" "$UB_ANCHOR"
  sb_render "$SB_HOME/conf/unbound.conf.in" "$UB_DIR/unbound.conf"
  chmod 0644 "$UB_DIR/unbound.conf"
  unbound-checkconf "$UB_DIR/unbound.conf" >/dev/null || sb_die "unbound-checkconf failed on $UB_DIR/unbound.conf"
}
sb_start_unbound() {
  env $(sb_daemon_env "$1") unbound -c "$SB_DIR/$1/unbound.conf" </dev/null >>"$SB_DIR/$1/unbound.out" 2>&1
}
# Ready: the main zone validates (AD), or, after break-anchor, is bogus
# (SERVFAIL, data with +cd); the unsigned zone answers, without AD.
sb_ready_unbound() {
  local a; a=$(sb_addr_of "$1")
  if sb_anchor_broken "$1"; then sb_bogus "$a"; else sb_ad "$a"; fi &&
    { [[ -z $SB_UNSIGNED_ZONE ]] || sb_insecure "$a" "$SB_UNSIGNED_ZONE"; }
}

# ---- Postfix -----------------------------------------------------------
# Self-signed ECDSA P-256 and RSA-2048 certificates for the MX host, each as
# one PEM (key, then certificate) as smtpd_tls_chain_files wants it.
sb_make_certs() {
  local t=$1 a
  install -d -m 0700 "$t"
  (
    umask 077
    for a in ecdsa-p256 rsa2048; do
      if [[ $a == rsa2048 ]]; then
        openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$t/$a.key" 2>/dev/null
      else
        openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$t/$a.key"
      fi
      openssl req -new -x509 -key "$t/$a.key" -days 30 -subj "/CN=$SB_MX_HOST" \
        -addext "subjectAltName=DNS:$SB_MX_HOST" -out "$t/$a.crt" 2>/dev/null
      cat "$t/$a.key" "$t/$a.crt" >"$t/$a.pem"
      rm -f "$t/$a.key" "$t/$a.crt"
    done
  )
}
sb_setup_postfix() {
  local PF_NAME=$1 PF_DIR=$SB_DIR/$1 PF_ADDR PF_TLS_LEVEL=may
  PF_ADDR=$(sb_addr_of "$1")
  [[ $SB_STARTTLS == yes ]] || PF_TLS_LEVEL=none
  install -d -m 0755 "$PF_DIR" "$PF_DIR/etc" "$PF_DIR/spool" "$PF_DIR/data"
  chown postfix "$PF_DIR/data"
  sb_render "$SB_HOME/conf/postfix-main.cf.in" "$PF_DIR/etc/main.cf"
  cp "$SB_HOME/conf/postfix-master.cf" "$PF_DIR/etc/master.cf"
  # The second instance starts with the first one's keys, so one TLSA
  # record covers both addresses until a test gives it its own.
  if [[ $1 == postfix ]]; then sb_make_certs "$PF_DIR/tls"
  else install -d -m 0700 "$PF_DIR/tls"; cp -p "$SB_DIR"/postfix/tls/*.pem "$PF_DIR/tls/"; fi
}
sb_start_postfix() {
  # `postfix start` runs its checks (creating the queue directories) and then
  # `master -w`, which returns once master is up; no tty, no syslog, so any
  # error is only in maillog / postfix.out.
  env $(sb_daemon_env "$1") postfix -c "$SB_DIR/$1/etc" start </dev/null >>"$SB_DIR/$1/postfix.out" 2>&1
}
sb_ready_postfix() {
  local ehlo
  ehlo=$(sb_smtp_ehlo "$(sb_addr_of "$1")" 25) || return 1
  grep -q '^250[- ]' <<<"$ehlo" || return 1
  [[ $SB_STARTTLS == yes ]] || { ! grep -q '^250[- ]STARTTLS' <<<"$ehlo"; return; }
  grep -q '^250[- ]STARTTLS' <<<"$ehlo" || return 1
  # STARTTLS is offered even when a chain file is unreadable, but then every
  # handshake fails: complete one handshake per algorithm.
  sb_tls_handshake "$(sb_addr_of "$1")" ecdsa && sb_tls_handshake "$(sb_addr_of "$1")" rsa
}
# TLS signature algorithms that make the server present its ECDSA or RSA chain.
sb_sigalgs() {
  case $1 in
    ecdsa) echo ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384 ;;
    rsa) echo rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pkcs1_sha256 ;;
    *) sb_die "algorithm '$1': ecdsa or rsa" ;;
  esac
}
# sb_tls_handshake ADDR ecdsa|rsa: STARTTLS handshake, no verification.
sb_tls_handshake() {
  timeout 10 openssl s_client -starttls smtp -connect "$1:25" -name sandbox.invalid \
    -sigalgs "$(sb_sigalgs "$2")" -brief </dev/null 2>&1 | grep '^CONNECTION ESTABLISHED' >/dev/null
}
sb_reload_postfix() {
  postfix -c "$SB_DIR/$1/etc" reload </dev/null >>"$SB_DIR/$1/postfix.out" 2>&1 ||
    sb_die "postfix reload of $1 failed; see $SB_DIR/$1/maillog"
}
