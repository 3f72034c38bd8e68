#!/usr/bin/env bash
# Builds the Debian binary package from a temporary copy of the source tree,
# with packaging/debian moved to the top as debian/ (where dpkg-buildpackage
# needs it). The working tree is never touched.
#
#   packaging/build-deb.sh [--out DIR] [--keep] [-- DPKG_BUILDPACKAGE_ARGS...]
#
#   --out DIR   where the .deb, .buildinfo and .changes go (default build-deb/)
#   --keep      keep the temporary build tree and print its path
#   after --    extra dpkg-buildpackage arguments; the default is
#               `-us -uc -b`. Skip the unit tests with
#               DEB_BUILD_OPTIONS=nocheck packaging/build-deb.sh -- -us -uc -b -Pnocheck
#
# Needs: dpkg-dev, debhelper (>= 13) and the Build-Depends of
# packaging/debian/control (`dpkg-checkbuilddeps` lists what is missing).
# The copy holds the files git knows (tracked and untracked but not
# ignored), so build directories are never copied; outside git, everything
# but ./build*.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=$src/build-deb
keep=no
args=()
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --keep) keep=yes; shift ;;
    --) shift; args=("$@"); break ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "build-deb: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ ${#args[@]} -gt 0 ] || args=(-us -uc -b)

for tool in dpkg-buildpackage dh; do
  command -v "$tool" >/dev/null ||
    { echo "build-deb: $tool missing: apt-get install dpkg-dev debhelper" >&2; exit 1; }
done

version=$(dpkg-parsechangelog -l "$src/packaging/debian/changelog" -S Version)
upstream=${version%-*}
work=$(mktemp -d /tmp/daneroll-deb.XXXXXX)
if [ "$keep" = no ]; then trap 'rm -rf "$work"' EXIT; fi
tree=$work/daneroll-$upstream
mkdir -p "$tree"

if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
     while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
     tar --null -T - -cf -) | tar -xf - -C "$tree"
else
  (cd "$src" && tar --exclude='./build*' --exclude=./.git -cf - .) | tar -xf - -C "$tree"
fi
[ ! -e "$tree/debian" ] || { echo "build-deb: the source tree has a debian/ already" >&2; exit 1; }
mv "$tree/packaging/debian" "$tree/debian"

echo "build-deb: building daneroll $version in $tree"
(cd "$tree" && dpkg-buildpackage "${args[@]}")

mkdir -p "$out"
find "$work" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.ddeb' -o -name '*.buildinfo' \
  -o -name '*.changes' -o -name '*.dsc' -o -name '*.tar.*' \) -exec cp -t "$out" {} +
echo "build-deb: results in $out:"
ls -1 "$out"
if [ "$keep" = yes ]; then echo "build-deb: build tree kept in $work"; fi
