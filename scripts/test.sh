#!/usr/bin/env bash
# The README's test command: installs the dependencies, builds, and runs
# every test (unit, oracle, interop and the integration tests against the
# real servers of the sandbox). Needs root: the sandbox adds loopback
# addresses and runs BIND, NSD, Unbound and Postfix.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
cd build
ctest --output-on-failure --timeout 900 -j "$(nproc)"
