# shellcheck shell=bash
# output.sh: the files `up` leaves for its callers: DIR/env.sh (shell
# exports), DIR/sandbox.json (the same facts) and DIR/client/ (MAIL_CONFIG and
# resolv.conf for posttls-finger and other clients). Values never need
# quoting: paths and names were checked by sb_check_path and cmd_up.

# shellcheck disable=SC2034 # SB_RESOLVER_ADDR feeds resolv.conf.in
sb_write_client_files() {
  install -d -m 0755 "$SB_DIR/client"
  sb_render "$SB_HOME/conf/client-main.cf.in" "$SB_DIR/client/main.cf"
  SB_RESOLVER_ADDR=$(sb_addr_of unbound)
  sb_render "$SB_HOME/conf/resolv.conf.in" "$SB_DIR/client/resolv.conf"
}

sb_secondaries() { local i; for (( i = 1; i <= SB_SECONDARIES; i++ )); do sb_nsd_name "$i"; done; }
sb_postfixes() { local s; for s in $SB_SERVERS; do [[ $s == postfix* ]] && echo "$s"; done; return 0; }
sb_words() { local x; read -r -d '' -a x <<<"$*" || true; echo "${x[*]}"; }   # join words with single spaces

sb_write_env() {
  local s S sec_addrs='' acme='' f=$SB_DIR/env.sh
  for s in $(sb_secondaries); do sec_addrs+=" $(sb_addr_of "$s")"; done
  [[ $SB_ACME == yes ]] && acme=$(sb_addr_of unbound-acme)
  {
    echo "# daneroll sandbox $SB_DIR, written by 'sandbox up'."
    echo "export SANDBOX_DIR=$SB_DIR SANDBOX_TOOL=$SB_HOME/sandbox SANDBOX_NET=$SB_NET"
    echo "export SANDBOX_ZONE=$SB_ZONE SANDBOX_TTL=$SB_TTL SANDBOX_NEG_TTL=$SB_NEG_TTL"
    echo "export SANDBOX_UNSIGNED_ZONE=$SB_UNSIGNED_ZONE SANDBOX_POLICY_HOSTS='$SB_POLICY_HOSTS'"
    echo "export SANDBOX_PRIMARY_NAME=ns1.$SB_ZONE SANDBOX_PRIMARY_ADDR=$SB_PRIMARY_ADDR SANDBOX_PRIMARY_PORT=53"
    echo "export SANDBOX_SECONDARY_ADDRS='${sec_addrs# }' SANDBOX_SECONDARY_ADDR=$(sb_words "$sec_addrs" | cut -d' ' -f1) SANDBOX_SECONDARY_PORT=53"
    echo "export SANDBOX_NS_ADDRS='$SB_PRIMARY_ADDR$sec_addrs'"
    echo "export SANDBOX_RESOLVER_ADDR=$(sb_addr_of unbound) SANDBOX_RESOLVER_PORT=53"
    echo "export SANDBOX_ACME_RESOLVER_ADDR=$acme SANDBOX_ACME_RESOLVER_PORT=${acme:+53}"
    echo "export SANDBOX_TSIG_NAME=daneroll-update SANDBOX_TSIG_ALG=hmac-sha256 SANDBOX_TSIG_FILE=$SB_DIR/keys/update-sha256.key"
    echo "export SANDBOX_TSIG512_NAME=daneroll-update-sha512 SANDBOX_TSIG512_ALG=hmac-sha512 SANDBOX_TSIG512_FILE=$SB_DIR/keys/update-sha512.key"
    echo "export SANDBOX_TSIG_FORBIDDEN_NAME=daneroll-forbidden SANDBOX_TSIG_FORBIDDEN_ALG=hmac-sha256 SANDBOX_TSIG_FORBIDDEN_FILE=$SB_DIR/keys/forbidden.key"
    echo "export SANDBOX_TRUST_ANCHOR=$SB_DIR/trust-anchor.ds"
    echo "export SANDBOX_MX_HOST=$SB_MX_HOST SANDBOX_MX_ADDRS='$SB_MX_ADDRS' SANDBOX_MX_PORT=25"
    echo "export SANDBOX_STARTTLS=$SB_STARTTLS SANDBOX_POSTFIX_INSTANCES='$(sb_words "$(sb_postfixes)")'"
    for s in $(sb_postfixes); do
      S=${s^^}
      echo "export SANDBOX_${S}_ADDR=$(sb_addr_of "$s") SANDBOX_${S}_CONFIG_DIR=$SB_DIR/$s/etc"
      echo "export SANDBOX_${S}_ECDSA_PEM=$SB_DIR/$s/tls/ecdsa-p256.pem SANDBOX_${S}_RSA_PEM=$SB_DIR/$s/tls/rsa2048.pem"
    done
    echo "export SANDBOX_MAIL_CONFIG=$SB_DIR/client SANDBOX_RESOLV_CONF=$SB_DIR/client/resolv.conf"
    echo "export SANDBOX_RNDC_KEY=$SB_DIR/keys/rndc.key SANDBOX_XFR_KEY=$SB_DIR/keys/xfr.key"
  } >"$f"
}

sb_json_server() { printf '{"server": "%s", "name": "%s", "addr": "%s", "port": %s}' "$1" "$2" "$3" "$4"; }
sb_json_key() { printf '{"name": "%s", "algorithm": "%s", "file": "%s/keys/%s.key"}' "$1" "$2" "$SB_DIR" "$3"; }

sb_write_json() {
  local s i sep secs='' pfs='' mx='' hosts='' uz=null
  i=2 sep=''
  for s in $(sb_secondaries); do
    secs+="$sep$(sb_json_server "$s" "ns$i.$SB_ZONE" "$(sb_addr_of "$s")" 53)"; sep=', '; i=$(( i + 1 ))
  done
  sep=''
  for s in $SB_MX_ADDRS; do mx+="$sep\"$s\""; sep=', '; done
  sep=''
  for s in $SB_POLICY_HOSTS; do hosts+="$sep\"$s\""; sep=', '; done
  [[ -z $SB_UNSIGNED_ZONE ]] || uz="\"$SB_UNSIGNED_ZONE\""
  sep=''
  for s in $(sb_postfixes); do
    pfs+="$sep{\"instance\": \"$s\", \"addr\": \"$(sb_addr_of "$s")\", \"port\": 25,"
    pfs+=" \"config_dir\": \"$SB_DIR/$s/etc\", \"maillog\": \"$SB_DIR/$s/maillog\", \"starttls\": $([[ $SB_STARTTLS == yes ]] && echo true || echo false),"
    pfs+=" \"pem\": {\"ecdsa-p256\": \"$SB_DIR/$s/tls/ecdsa-p256.pem\", \"rsa2048\": \"$SB_DIR/$s/tls/rsa2048.pem\"}}"
    sep=', '
  done
  cat >"$SB_DIR/sandbox.json" <<EOF
{
  "dir": "$SB_DIR",
  "tool": "$SB_HOME/sandbox",
  "net": "$SB_NET",
  "zone": "$SB_ZONE",
  "unsigned_zone": $uz,
  "ttl": $SB_TTL,
  "negative_ttl": $SB_NEG_TTL,
  "primary": $(sb_json_server named "ns1.$SB_ZONE" "$SB_PRIMARY_ADDR" 53),
  "secondaries": [$secs],
  "resolver": $(sb_json_server unbound "" "$(sb_addr_of unbound)" 53),
  "acme_resolver": $([[ $SB_ACME == yes ]] && sb_json_server unbound-acme "" "$(sb_addr_of unbound-acme)" 53 || echo null),
  "tsig": {
    "update": $(sb_json_key daneroll-update hmac-sha256 update-sha256),
    "update_sha512": $(sb_json_key daneroll-update-sha512 hmac-sha512 update-sha512),
    "forbidden": $(sb_json_key daneroll-forbidden hmac-sha256 forbidden)
  },
  "trust_anchor": "$SB_DIR/trust-anchor.ds",
  "mx": {"host": "$SB_MX_HOST", "addrs": [$mx], "port": 25},
  "policy_hosts": [$hosts],
  "postfix": [$pfs],
  "posttls": {"mail_config": "$SB_DIR/client", "resolv_conf": "$SB_DIR/client/resolv.conf"},
  "rndc": {"addr": "$SB_PRIMARY_ADDR", "port": 953, "key_file": "$SB_DIR/keys/rndc.key"}
}
EOF
}
