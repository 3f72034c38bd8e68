#!/usr/bin/env bash
# Builds the Debian package (packaging/build-deb.sh, nocheck: the unit tests
# run in ctest anyway), installs it on THIS machine, runs it, checks what it
# installed, then purges it and checks that nothing of it is left.
#
#   1. refuses (fails) before touching anything if daneroll is here already:
#      a daneroll package in any dpkg state, or any of the package's paths
#      (a hand-installed /usr/bin/daneroll, an /etc/daneroll or
#      /var/lib/daneroll from another install...): purging would delete a
#      state directory that is not this test's;
#   2. dpkg-buildpackage -b with at most DANEROLL_PKG_JOBS (2) jobs;
#      lintian on the .deb if lintian is installed (errors and warnings fail);
#   3. apt-get install of the .deb (waits for the dpkg lock);
#   4. daneroll version; the modes (/var/lib/daneroll and /etc/daneroll/tsig
#      0700 root:root); no active configuration; units installed but not
#      enabled; both man pages found by man; the certbot hook;
#      `daneroll config check -c .../examples/current-next.toml` exits 3
#      naming the missing TSIG key file, and 0 once a key is there;
#   5. apt-get purge, also when a check failed; then every path of step 1 is
#      gone again and dpkg knows no daneroll.
#
# usage: deb-install.sh SOURCE_DIR OUT_DIR   (as root)
set -euo pipefail
src=$(cd "$1" && pwd) out=$(realpath -m "$2")
jobs=${DANEROLL_PKG_JOBS:-2}

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $* ($(date +%T))"; }
[ "$(id -u)" -eq 0 ] || fail "needs root: installs the package with apt-get and purges it"
for t in dpkg-buildpackage dh dpkg-deb dpkg-parsechangelog apt-get; do
  command -v "$t" >/dev/null ||
    fail "$t missing: scripts/install-deps.sh installs dpkg-dev and debhelper"
done

version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
upstream=${version%-*}
deb=$out/daneroll_${version}_$(dpkg --print-architecture).deb
key=/etc/daneroll/tsig/daneroll-mx1.key
example=/usr/share/doc/daneroll/examples/current-next.toml

# Everything the package installs or dpkg/systemd would create for it.
# /lib is /usr/lib on a merged-/usr system; both are checked.
package_paths=(
  /usr/bin/daneroll
  /etc/daneroll /var/lib/daneroll
  /usr/share/daneroll /usr/share/doc/daneroll
  /usr/share/man/man8/daneroll.8.gz /usr/share/man/man5/daneroll.toml.5.gz
  /lib/systemd/system/daneroll.service /lib/systemd/system/daneroll.timer
  /usr/lib/systemd/system/daneroll.service /usr/lib/systemd/system/daneroll.timer
  /etc/systemd/system/daneroll.service /etc/systemd/system/daneroll.timer
  /etc/systemd/system/daneroll.service.d /etc/systemd/system/timers.target.wants/daneroll.timer
)
dpkg_state() { dpkg-query -W -f='${db:Status-Abbrev}' daneroll 2>/dev/null || true; }
present_paths() {
  local p
  for p in "${package_paths[@]}"; do
    if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi
  done
  # Whatever else systemd or deb-systemd-helper keeps about the units.
  find /etc/systemd /var/lib/systemd -name '*daneroll*' 2>/dev/null || true
}

# --- 1. a machine without daneroll ------------------------------------------
step "checking that daneroll is not installed here"
state=$(dpkg_state)
case $state in
  ''|un*|pn*) ;;
  *) fail "a daneroll package is already known to dpkg here (status '${state% }'):" \
       "this test installs and purges its own build and refuses to replace it." \
       "Remove it (dpkg --purge daneroll) or run the test on a scratch machine." ;;
esac
found=$(present_paths)
[ -z "$found" ] || fail "these exist and do not come from this test:" $found "-" \
  "refusing to install a daneroll package over them (purging it would delete them)." \
  "Move them away or run the test on a scratch machine."

# --- 2. build ----------------------------------------------------------------
step "building daneroll $version (dpkg-buildpackage, nocheck, $jobs jobs)"
t0=$(date +%s)
rm -rf "$out"
mkdir -p "$out"
DEB_BUILD_OPTIONS="nocheck parallel=$jobs" \
  "$src/packaging/build-deb.sh" --out "$out" -- -us -uc -b -Pnocheck >"$out/build.log" 2>&1 ||
  { tail -40 "$out/build.log" >&2; fail "the package build failed (log: $out/build.log)"; }
t1=$(date +%s)
echo "built in $((t1 - t0)) s: $(basename "$deb") (log: $out/build.log)"
[ -f "$deb" ] || fail "no $deb after the build"
dpkg-deb -c "$deb" | awk '{print $1, $6}' | tee "$out/contents.txt"
grep -qx 'drwx------ ./var/lib/daneroll/' "$out/contents.txt" || fail "the .deb's /var/lib/daneroll is not 0700"
grep -qx 'drwx------ ./etc/daneroll/tsig/' "$out/contents.txt" || fail "the .deb's /etc/daneroll/tsig is not 0700"
! grep -q '^-.* ./etc/' "$out/contents.txt" || fail "the .deb ships a file in /etc (an active configuration?)"
if command -v lintian >/dev/null; then
  step "lintian"
  # initial-upload-closes-no-bugs: no ITP bug, the package is not for Debian's archive.
  lintian --fail-on error,warning --suppress-tags initial-upload-closes-no-bugs "$deb" ||
    fail "lintian reports errors or warnings (above)"
else
  echo "note: lintian not installed: the .deb is not linted"
fi

# --- 3. install, with a purge on every way out --------------------------------
cleanup() {
  rc=$?
  rm -f "$key"
  if [ -n "$(dpkg_state | grep -v '^[up]n' || true)" ]; then
    echo "== purging daneroll"
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=600 daneroll \
      >"$out/purge.log" 2>&1 ||
      { cat "$out/purge.log" >&2; echo "FAIL: apt-get purge daneroll failed" >&2; rc=1; }
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "installing $(basename "$deb")"
t2=$(date +%s)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  -o DPkg::Lock::Timeout=600 "$deb" >"$out/install.log" 2>&1 ||
  { cat "$out/install.log" >&2; fail "apt-get install failed"; }
[ "$(dpkg-query -W -f='${Status}' daneroll)" = "install ok installed" ] ||
  fail "daneroll is not 'install ok installed' after apt-get install"
echo "installed in $(($(date +%s) - t2)) s"

# --- 4. what is on the machine now -------------------------------------------
step "checking the installed package"
v=$(/usr/bin/daneroll version)
echo "$v"
[[ $v == "daneroll $upstream "* ]] || fail "daneroll version says '$v', expected daneroll $upstream"

mode() {  # PATH MODE [OWNER:GROUP]
  local m
  m=$(stat -c '%a %U:%G' "$1") || fail "$1 is missing"
  [ "$m" = "$2 ${3:-root:root}" ] || fail "$1 is '$m', expected '$2 ${3:-root:root}'"
  echo "ok: $1 $m"
}
mode /usr/bin/daneroll 755
mode /etc/daneroll 755
mode /etc/daneroll/tsig 700
mode /var/lib/daneroll 700
mode /lib/systemd/system/daneroll.service 644
mode /lib/systemd/system/daneroll.timer 644
mode /usr/share/daneroll/hooks/certbot-deploy 755
mode "$example" 644
[ ! -e /etc/daneroll/daneroll.toml ] || fail "the package installed an active /etc/daneroll/daneroll.toml"
# (ls -A of two directories would print their names even when empty)
[ -z "$(find /var/lib/daneroll /etc/daneroll/tsig -mindepth 1)" ] || fail "/var/lib/daneroll or /etc/daneroll/tsig is not empty"
grep -qx 'ExecStart=/usr/bin/daneroll run' /lib/systemd/system/daneroll.service ||
  fail "the installed daneroll.service does not run /usr/bin/daneroll"
for p in /etc/systemd/system/timers.target.wants/daneroll.timer \
         /etc/systemd/system/multi-user.target.wants/daneroll.service; do
  [ ! -e "$p" ] && [ ! -L "$p" ] || fail "$p exists: the package enabled a unit"
done
echo "ok: units installed, not enabled"
echo "systemd state of the units: $(find /etc/systemd /var/lib/systemd -name '*daneroll*' 2>/dev/null | tr '\n' ' ')"
sh -n /usr/share/daneroll/hooks/certbot-deploy
grep -q '^exec /usr/bin/daneroll hook certbot ' /usr/share/daneroll/hooks/certbot-deploy ||
  fail "the certbot hook does not run /usr/bin/daneroll hook certbot"
echo "ok: certbot hook"
if command -v man >/dev/null; then
  for page in "8 daneroll" "5 daneroll.toml"; do
    # shellcheck disable=SC2086
    p=$(man -w $page) || fail "man -w $page finds nothing"
    echo "ok: man $page -> $p"
  done
fi

# The example as shipped names a TSIG key file that does not exist.
set +e
msg=$(/usr/bin/daneroll config check -c "$example" 2>&1)
rc=$?
set -e
echo "daneroll config check -c $example: exit $rc: $msg"
[ "$rc" -eq 3 ] || fail "config check of the example exited $rc, expected 3 (invalid configuration)"
[[ $msg == *"$key"* ]] || fail "config check's message does not name the missing $key"
# With a key where the example expects it (0600 in the package's 0700 tsig/),
# the example validates: no network is needed for that.
(umask 077 && printf 'key "daneroll-mx1" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' \
  "$(head -c 32 /dev/urandom | base64)" >"$key")
set +e
msg=$(/usr/bin/daneroll config check -c "$example" 2>&1)
rc=$?
set -e
rm -f "$key"
echo "$msg" | head -3
[ "$rc" -eq 0 ] || fail "config check of the example with its TSIG key in place exited $rc: $msg"
echo "ok: config check with the key in $key"

# --- 5. purge, and nothing left ------------------------------------------------
step "purging"
trap - EXIT
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=600 daneroll \
  >"$out/purge.log" 2>&1 || { cat "$out/purge.log" >&2; fail "apt-get purge daneroll failed"; }
state=$(dpkg_state)
case $state in ''|un*|pn*) ;; *) fail "after the purge dpkg still knows daneroll ('$state')" ;; esac
left=$(present_paths)
[ -z "$left" ] || fail "left behind after the purge:" $left
echo "ok: purged; none of the package's paths is left"
echo "timings: build $((t1 - t0)) s, install+checks+purge $(($(date +%s) - t2)) s"
echo PASS
