#!/usr/bin/env bash
# Installs everything daneroll needs to build, test and run its demo on
# Debian 12, from Debian's own packages. Safe to run again.
set -euo pipefail

# Build: compiler, CMake and the libraries daneroll links.
BUILD_PACKAGES=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format git
  libssl-dev libldns-dev libcurl4-openssl-dev libtomlplusplus-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev
  libgtest-dev libgmock-dev libbotan-2-dev
)
# Tests and demo: the real servers of the sandbox and independent checkers;
# dpkg-dev and debhelper build the Debian package that packaging_deb_install
# installs, lintian checks it; rpm brings rpmbuild for packaging_rpm_build;
# man-db and groff-base check the man pages.
TEST_PACKAGES=(
  openssl ca-certificates curl iproute2 util-linux procps
  bind9 bind9-utils bind9-dnsutils nsd unbound
  postfix pebble certbot python3-certbot-dns-rfc2136
  ldnsutils hash-slinger systemd ansible-core
  dpkg-dev debhelper lintian rpm man-db groff-base
)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO=(sudo)
fi

missing=()
for p in "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix must not configure (or start) a system mail server: the sandbox
# runs its own private instances.
echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections
install() { "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; }
if ! install; then
  "${SUDO[@]}" apt-get update
  install
fi
