#!/usr/bin/env bash
# `cmake --install` of the build tree into a scratch DESTDIR lays out
# exactly the files a package ships, with their modes:
#   the binary, both man pages, the units (their ExecStart= naming the
#   installed binary), the certbot hook, docs and every examples/*.toml,
#   CONFDIR 0755 holding only an empty tsig/ 0700 (no active config), and an
#   empty STATEDIR 0700.
# Every other file installed is an error, so a new install() rule needs a
# line here and in packaging/debian/daneroll.install and the RPM's %files.
# No root needed; fast, unlike packaging_deb_install.
#
# usage: check-install-layout.sh SOURCE_DIR BUILD_DIR WORK_DIR \
#          BINDIR MANDIR DOCDIR UNITDIR HOOKDIR CONFDIR STATEDIR
# (absolute paths, as configured: CMAKE_INSTALL_FULL_* and DANEROLL_*)
set -euo pipefail
src=$1 build=$2 work=$3
bindir=$4 mandir=$5 docdir=$6 unitdir=$7 hookdir=$8 confdir=$9 statedir=${10}

fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
root=$work/root
(umask 022 && DESTDIR=$root cmake --install "$build" >"$work/install.log") ||
  { cat "$work/install.log" >&2; fail "cmake --install failed"; }

# path mode, for every regular file
expected=$work/expected
{
  echo "$bindir/daneroll 755"
  echo "$mandir/man8/daneroll.8 644"
  echo "$mandir/man5/daneroll.toml.5 644"
  echo "$unitdir/daneroll.service 644"
  echo "$unitdir/daneroll.timer 644"
  echo "$hookdir/certbot-deploy 755"
  echo "$docdir/README.md 644"
  echo "$docdir/README.packaging.md 644"
  echo "$docdir/configuration.md 644"
  echo "$docdir/examples/cron/daneroll 644"
  for f in "$src"/examples/*.toml; do echo "$docdir/examples/$(basename "$f") 644"; done
} | sort >"$expected"
(cd "$root" && find . -type f -printf '/%P %m\n' | sort) >"$work/actual"
if ! diff -u "$expected" "$work/actual"; then
  fail "the installed files differ from the expected layout (- expected, + installed)"
fi

dir_mode() {  # DIR MODE
  [ -d "$root$1" ] || fail "$1 was not created"
  local m
  m=$(stat -c %a "$root$1")
  [ "$m" = "$2" ] || fail "$1 has mode $m, expected $2"
}
dir_mode "$confdir" 755
dir_mode "$confdir/tsig" 700
dir_mode "$statedir" 700
[ -z "$(ls -A "$root$confdir/tsig")" ] || fail "$confdir/tsig is not empty"
[ -z "$(ls -A "$root$statedir")" ] || fail "$statedir is not empty"
[ "$(ls -A "$root$confdir")" = tsig ] ||
  fail "$confdir holds more than tsig/ (no active configuration may be installed): $(ls -A "$root$confdir")"

# Installed copies: the man pages verbatim; the units, the hook and the
# cron example with /usr/bin/daneroll replaced by the installed binary.
cmp "$src/packaging/daneroll.8" "$root$mandir/man8/daneroll.8"
cmp "$src/packaging/daneroll.toml.5" "$root$mandir/man5/daneroll.toml.5"
same_but_bindir() {  # SOURCE INSTALLED
  sed "s|/usr/bin/daneroll|$bindir/daneroll|g" "$1" | cmp - "$2" ||
    fail "$2 is not $1 with the binary's path $bindir/daneroll"
}
same_but_bindir "$src/packaging/systemd/daneroll.service" "$root$unitdir/daneroll.service"
same_but_bindir "$src/packaging/systemd/daneroll.timer" "$root$unitdir/daneroll.timer"
same_but_bindir "$src/hooks/certbot-deploy" "$root$hookdir/certbot-deploy"
same_but_bindir "$src/examples/cron/daneroll" "$root$docdir/examples/cron/daneroll"
grep -qx "ExecStart=$bindir/daneroll run" "$root$unitdir/daneroll.service" ||
  fail "daneroll.service does not run $bindir/daneroll"
"$root$bindir/daneroll" version

echo "layout ($(wc -l <"$expected") files):"
(cd "$root" && find . -mindepth 1 \( -type f -o -path "./${confdir#/}*" -o -path "./${statedir#/}" \) \
  -printf '  %M /%P\n' | sort -k2)
echo PASS
