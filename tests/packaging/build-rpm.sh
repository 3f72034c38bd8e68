#!/usr/bin/env bash
# Builds the RPM from packaging/rpm/daneroll.spec where rpmbuild exists, and
# checks the package's files and modes; it installs nothing.
#   - the source tarball holds the files git knows (tracked, and untracked
#     but not ignored, as packaging/build-deb.sh copies them), under
#     daneroll-VERSION/;
#   - `rpmbuild -bb --without check` (the unit tests run in ctest anyway)
#     with at most DANEROLL_PKG_JOBS (2) compile jobs; rpmbuild itself fails
#     if `cmake --install` lays out a file %files does not list;
#   - on a system whose rpm has no Fedora macros (Debian's `rpm` package),
#     rpm-on-debian.macros stands in for them, and --nodeps skips the
#     BuildRequires (rpm's database does not know Debian's packages);
#   - without rpmbuild: says so and exits 77, which ctest reports as
#     skipped (SKIP_RETURN_CODE), never as passed.
# usage: build-rpm.sh SOURCE_DIR OUT_DIR
set -euo pipefail
src=$(cd "$1" && pwd) out=$(realpath -m "$2")
jobs=${DANEROLL_PKG_JOBS:-2}
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "FAIL: $*" >&2; exit 1; }
if ! command -v rpmbuild >/dev/null; then
  echo "SKIP: rpmbuild not available: the RPM is not built (Debian: apt-get install rpm)"
  exit 77
fi
spec=$src/packaging/rpm/daneroll.spec
version=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
[ -n "$version" ] || fail "no Version: in $spec"

rm -rf "$out"
mkdir -p "$out/SOURCES"
tarball=$out/SOURCES/daneroll-$version.tar.gz
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
     tar --null -T - --transform "s,^,daneroll-$version/," -czf "$tarball")
else
  (cd "$src" && tar --exclude='./build*' --exclude=./.git \
     --transform "s,^\\.,daneroll-$version," -czf "$tarball" .)
fi

args=(-bb --without check --define "_topdir $out" --define "_smp_mflags -j$jobs")
if [ -z "$(rpm --eval '%{?cmake:yes}')" ]; then
  echo "note: this rpm has no Fedora macros: loading $here/rpm-on-debian.macros, no debuginfo"
  args+=(--load "$here/rpm-on-debian.macros" --define 'debug_package %{nil}')
fi
if ! rpm -q rpm >/dev/null 2>&1; then
  echo "note: rpm does not manage this system's packages: --nodeps (BuildRequires not checked)"
  args+=(--nodeps)
fi

echo "== rpmbuild ${args[*]} daneroll.spec ($(date +%T))"
t0=$(date +%s)
rpmbuild "${args[@]}" "$spec" >"$out/build.log" 2>&1 ||
  { tail -40 "$out/build.log" >&2; fail "rpmbuild failed (log: $out/build.log)"; }
rpm_file=$(find "$out/RPMS" -name "daneroll-$version-*.rpm" ! -name '*debug*' | head -1)
[ -n "$rpm_file" ] || fail "no daneroll-$version RPM under $out/RPMS"
echo "built in $(($(date +%s) - t0)) s: ${rpm_file#"$out"/}"

rpm -qlvp "$rpm_file" | awk '{print $1, $NF}' | tee "$out/contents.txt"
has() {  # MODE PATH
  grep -qx -- "$1 $2" "$out/contents.txt" || fail "the RPM has no '$1 $2'"
}
has -rwxr-xr-x /usr/bin/daneroll
has -rw-r--r-- /usr/lib/systemd/system/daneroll.service
has -rw-r--r-- /usr/lib/systemd/system/daneroll.timer
has -rwxr-xr-x /usr/share/daneroll/hooks/certbot-deploy
has drwxr-xr-x /etc/daneroll
has drwx------ /etc/daneroll/tsig
has drwx------ /var/lib/daneroll
has -rw-r--r-- /usr/share/doc/daneroll/examples/current-next.toml
grep -q ' /usr/share/man/man5/daneroll\.toml\.5' "$out/contents.txt" || fail "the RPM has no daneroll.toml(5)"
grep -q ' /usr/share/man/man8/daneroll\.8' "$out/contents.txt" || fail "the RPM has no daneroll(8)"
! grep -q '^-.* /etc/' "$out/contents.txt" || fail "the RPM ships a file in /etc (an active configuration?)"
echo PASS
