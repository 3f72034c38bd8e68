#!/usr/bin/env bash
# Runs real daneroll ticks against the sandbox (BIND, NSD, Unbound, Postfix)
# inside an emulation of packaging/systemd/daneroll.service, since a test
# machine's PID 1 is not necessarily systemd:
#   - CapabilityBoundingSet= and NoNewPrivileges= from the unit, applied
#     with setpriv(1) before daneroll is executed, as systemd does;
#   - ProtectSystem=strict: in a private mount namespace every mount but
#     /proc, /sys and /dev is read-only, except the sandbox's counterparts
#     of the unit's ReadWritePaths= (the state dir, the Postfix certificate
#     directory, the Postfix queue) and the local CA's own files;
#   - UMask= from the unit.
# Not emulated: the seccomp filters (SystemCallFilter=,
# RestrictAddressFamilies=, MemoryDenyWriteExecute=), PrivateTmp=,
# ProtectHome=, PrivateDevices= (the build tree may live in /tmp or /root).
#
# A rollover of ECDSA and RSA must complete: init, ticks until stable (exit
# 4 = waiting, as SuccessExitStatus=4 says), rotate, ticks until both new
# certificates are deployed, reloaded into Postfix and DANE-verified by
# the sandbox's openssl check. Then a negative control: the same tick with
# CAP_SETGID dropped must fail in `postfix reload`, proving the emulation
# bites and that the capability is needed.
#
# usage: hardened-tick.sh DANEROLL_BIN UNIT_FILE WORK_DIR NET   (as root)
set -euo pipefail
bin=$(realpath "$1") unit=$2 W=$3 net=$4
src=$(cd "$(dirname "$0")/../.." && pwd)
sandbox=$src/tests/sandbox/sandbox

fail() { echo "FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (sandbox addresses, mount namespace)"
for t in unshare setpriv mount; do command -v $t >/dev/null || fail "$t missing (util-linux)"; done

# --- what the unit says ------------------------------------------------------
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
caps=$(unit_value CapabilityBoundingSet)
[ -n "$caps" ] || fail "$unit has no CapabilityBoundingSet="
bounding="-all"
for c in $caps; do
  c=${c#CAP_}
  bounding="$bounding,+${c,,}"
done
[ "$(unit_value NoNewPrivileges)" = yes ] || fail "$unit: NoNewPrivileges=yes expected"
[ "$(unit_value ProtectSystem)" = strict ] || fail "$unit: ProtectSystem=strict expected"
umask_value=$(unit_value UMask)
rw_paths=$(sed -n 's/^ReadWritePaths=//p' "$unit" | tr ' ' '\n' | sed 's/^-//')
grep -qx /var/spool/postfix <<<"$rw_paths" || fail "$unit: /var/spool/postfix is not writable"
grep -qx /etc/postfix/tls <<<"$rw_paths" || fail "$unit: /etc/postfix/tls is not writable"
echo "unit: bounding set $bounding, no_new_privs, ProtectSystem=strict, UMask=$umask_value"

# --- the sandbox and a config ------------------------------------------------
"$src/tests/sandbox/sandbox-fixture" up "$W/sb" --net "$net" >"$W.up.log" 2>&1 ||
  { cat "$W.up.log"; fail "sandbox up"; }
trap '"$sandbox" down "$W/sb" >/dev/null 2>&1 || true' EXIT
rm -rf "$W/ca" "$W/state" "$W/ticks"
mkdir -p "$W/ticks"
"$src/tests/sandbox/local-ca" init "$W/ca" "daneroll hardened-tick CA" >/dev/null
# shellcheck disable=SC1091
. "$W/sb/env.sh"
pf=$W/sb/postfix
conf=$W/daneroll.toml
cat >"$conf" <<CONF
[daneroll]
state_dir = "$W/state"
resolver = "$SANDBOX_RESOLVER_ADDR"

[tsig.update]
file = "$SANDBOX_TSIG_FILE"

[zone."$SANDBOX_ZONE"]
tsig_key = "update"

[service.mx1]
host = "$SANDBOX_MX_HOST"
ttl = $SANDBOX_TTL
algorithms = ["ecdsa-p256", "rsa2048"]
scheme = "current+next"
rotation_period = "30d"
renew_before = "10d"

[service.mx1.source]
type = "command"
command = ["$src/tests/sandbox/local-ca", "sign", "$W/ca", "{csr}", "{chain}", "90"]

[service.mx1.mta]
type = "postfix"
combined_file = "$pf/tls/{algorithm}.pem"
reload = ["/usr/sbin/postfix", "-c", "$SANDBOX_POSTFIX_CONFIG_DIR", "reload"]
CONF
chmod 0644 "$conf"
"$bin" config check -c "$conf" >/dev/null || fail "config check"
# The operator adopts; the hardened ticks do everything else.
"$bin" init --adopt-only -c "$conf" >/dev/null || fail "init"

# --- one tick as the unit runs it --------------------------------------------
# Sandbox counterparts of ReadWritePaths=: state_dir (StateDirectory=),
# /etc/postfix/tls, /var/spool/postfix; plus the CA's files, as a
# certificate command keeping its own state needs (see packaging/README.md).
rw_here=("$W/state" "$pf/tls" "$pf/spool" "$W/ca")
tick() {  # BOUNDING_SET OUTPUT_FILE
  # shellcheck disable=SC2016  # the inner script expands its own arguments
  unshare --mount --propagation private -- /bin/bash -c '
    set -e
    bounding=$1 umask_value=$2 bin=$3 conf=$4 probe=$5; shift 5
    for p in "$@"; do mount --bind "$p" "$p"; done
    while read -r _ _ _ _ mp _; do
      case $mp in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
      for p in "$@"; do [ "$mp" = "$p" ] && continue 2; done
      mount -o remount,bind,ro "$mp" 2>/dev/null || true
    done </proc/self/mountinfo
    if touch "$probe" 2>/dev/null; then
      echo "emulation broken: $probe is writable" >&2; exit 99
    fi
    umask "$umask_value"
    exec setpriv --no-new-privs --bounding-set "$bounding" --inh-caps=-all -- \
      "$bin" run -c "$conf"
  ' tick "$1" "$umask_value" "$bin" "$conf" "$W/not-writable" "${rw_here[@]}" >"$2" 2>&1
}
ticks_until_stable() {  # TAG
  local i rc
  for i in $(seq 1 60); do
    set +e
    tick "$bounding" "$W/ticks/$1.$i"
    rc=$?
    set -e
    echo "tick $1.$i: exit $rc"
    case $rc in
      0) return 0 ;;
      4) sleep 1 ;;  # waiting (2 x TTL): SuccessExitStatus=4
      *) cat "$W/ticks/$1.$i"; fail "tick $1.$i exited with $rc" ;;
    esac
  done
  fail "not stable after 60 ticks"
}

ticks_until_stable publish
"$bin" rotate mx1 -c "$conf" >/dev/null
ticks_until_stable rollover
for alg in ecdsa-p256 rsa2048; do
  # The lines of this key type's block in every tick's report.
  awk -v head="mx1/$alg " 'index($0, head) == 1 { on = 1; next } /^[^ ]/ { on = 0 } on' \
    "$W"/ticks/rollover.* | grep -q "did: deployed the new certificate" ||
    fail "$alg: no deploy under the hardened unit"
done
"$sandbox" dane-check "$W/sb" --alg ecdsa || fail "ECDSA chain not DANE-verified after the rollover"
"$sandbox" dane-check "$W/sb" --alg rsa || fail "RSA chain not DANE-verified after the rollover"

# --- negative control: without CAP_SETGID `postfix reload` fails -------------
"$bin" rotate mx1 -c "$conf" >/dev/null
for i in $(seq 1 60); do  # until the deploy is due (the next key's 2 x TTL)
  set +e
  tick "${bounding/,+setgid/}" "$W/ticks/no-setgid"
  rc=$?
  set -e
  echo "tick without CAP_SETGID: exit $rc"
  [ "$rc" -eq 4 ] || break
  sleep 1
done
if [ "$rc" -ne 1 ] || ! grep -q "setgid" "$W/ticks/no-setgid"; then
  cat "$W/ticks/no-setgid"
  fail "the tick without CAP_SETGID did not fail in postsuper's setgid()"
fi
echo "PASS: a complete rollover runs inside the unit's capability and file-system limits"
