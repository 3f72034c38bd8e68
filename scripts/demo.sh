#!/usr/bin/env bash
# The README's main command: installs the dependencies, builds daneroll and
# runs `daneroll demo`: complete rollovers (current+next with RSA and ECDSA,
# then current+issuer, then an issuer change) on a sandbox of real servers
# on loopback (BIND, NSD, Unbound, Postfix, a local CA), checked by
# posttls-finger and openssl. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
exec build/src/daneroll demo "$@"
