#!/usr/bin/env bash
# The version in CMakeLists.txt's project() must be the upstream version of
# packaging/debian/changelog, the Version of packaging/rpm/daneroll.spec and
# the ones in the headers of daneroll(8) and daneroll.toml(5), so a release
# bumps all of them.
# usage: check-versions.sh SOURCE_DIR
set -euo pipefail
src=$1
cmake_v=$(sed -n 's/^project(daneroll VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
deb_v=$(sed -n '1s/^daneroll (\([^)]*\)).*/\1/p' "$src/packaging/debian/changelog")
deb_v=${deb_v%-*}   # the Debian revision
rpm_v=$(sed -n 's/^Version:[[:space:]]*//p' "$src/packaging/rpm/daneroll.spec")
man_v=$(sed -n '1s/^\.TH DANEROLL 8 "[^"]*" "daneroll \([^"]*\)".*/\1/p' "$src/packaging/daneroll.8")
man5_v=$(sed -n 's/^\.TH DANEROLL\.TOML 5 "[^"]*" "daneroll \([^"]*\)".*/\1/p' "$src/packaging/daneroll.toml.5")
printf 'CMakeLists.txt %s, debian/changelog %s, rpm spec %s, daneroll.8 %s, daneroll.toml.5 %s\n' \
  "${cmake_v:-?}" "${deb_v:-?}" "${rpm_v:-?}" "${man_v:-?}" "${man5_v:-?}"
[ -n "$cmake_v" ] || { echo "FAIL: no version in CMakeLists.txt's project()" >&2; exit 1; }
for v in "$deb_v" "$rpm_v" "$man_v" "$man5_v"; do
  [ "$v" = "$cmake_v" ] || { echo "FAIL: the packaging versions differ" >&2; exit 1; }
done
echo PASS
