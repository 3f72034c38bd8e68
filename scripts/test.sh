#!/usr/bin/env bash
# The README's test command: installs the dependencies, builds, and runs
# every test (unit, oracle, interop and the integration tests against the
# real servers of the sandbox). Needs root: the sandbox adds loopback
# addresses and runs BIND, NSD, Unbound and Postfix.
#
# ctest runs in a network namespace of its own (unshare --net) where the
# kernel allows it: the sandboxes' 127.53.x.y addresses then live and die
# with the run, cannot collide with another run on the same host (a CI job
# beside a developer's shell), and a killed run leaves nothing on the host's
# lo. DANEROLL_TEST_HOST_NET=1 runs on the host's loopback instead, to look
# at a sandbox from another shell while a test runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
cd build
ctest_cmd=(ctest --output-on-failure --timeout 900 -j "$(nproc)" "$@")
if [[ ${DANEROLL_TEST_HOST_NET:-0} != 1 ]] && unshare --net -- true 2>/dev/null; then
  echo "test.sh: running ctest in a private network namespace (its own loopback)"
  exec unshare --net -- bash -c 'ip link set lo up && exec "$@"' test-netns "${ctest_cmd[@]}"
fi
echo "test.sh: running ctest on the host's loopback"
exec "${ctest_cmd[@]}"
