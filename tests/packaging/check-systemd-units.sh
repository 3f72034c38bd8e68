#!/usr/bin/env bash
# Checks packaging/systemd with systemd's own tools:
#  1. `systemd-analyze verify` on daneroll.service and daneroll.timer must
#     print nothing: it exits 0 even for unknown keys or unparsable values
#     (it only warns), so any output is a failure;
#  2. the facts the docs promise (oneshot `daneroll run`, exit 4 is success,
#     an hourly persistent timer);
#  3. `systemd-analyze security --offline=yes` (systemd >= 252): records the
#     exposure score in OUT_DIR/daneroll.service.security.txt and fails above
#     MAX_EXPOSURE (tenths: 25 = 2.5), so loosening the sandbox is noticed.
# PID 1 need not be systemd: both commands work on unit files alone.
#
# usage: check-systemd-units.sh DANEROLL_BIN UNIT_DIR MAN_DIR OUT_DIR [MAX_EXPOSURE]
# (MAN_DIR: the directory of daneroll.8 and daneroll.toml.5, i.e. packaging/)
set -euo pipefail
bin=$(realpath "$1") units=$2 mandir=$3 out=$4 max_exposure=${5:-25}

fail() { echo "FAIL: $*" >&2; exit 1; }
command -v systemd-analyze >/dev/null ||
  fail "systemd-analyze not found: install Debian's 'systemd' package (scripts/install-deps.sh)"
[ -x "$bin" ] || fail "$bin is not an executable"
systemd-analyze --version | head -1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/man/man8" "$work/man/man5"
cp "$units/daneroll.service" "$units/daneroll.timer" "$work/"
cp "$mandir/daneroll.8" "$work/man/man8/"
cp "$mandir/daneroll.toml.5" "$work/man/man5/"

# The shipped unit runs /usr/bin/daneroll; verify checks that ExecStart's
# program exists and is executable, so the copy points at the built binary.
grep -qx 'ExecStart=/usr/bin/daneroll run' "$work/daneroll.service" ||
  fail "daneroll.service: expected 'ExecStart=/usr/bin/daneroll run'"
sed -i "s|^ExecStart=/usr/bin/daneroll run\$|ExecStart=$bin run|" "$work/daneroll.service"

# The facts packaging/README.md documents.
expect() {  # FILE LINE
  grep -qx -- "$2" "$work/$1" || fail "$1: expected the line '$2'"
}
expect daneroll.service 'Type=oneshot'
expect daneroll.service 'SuccessExitStatus=4'
expect daneroll.service 'NoNewPrivileges=yes'
expect daneroll.service 'ProtectSystem=strict'
expect daneroll.service 'StateDirectory=daneroll'
expect daneroll.service 'StateDirectoryMode=0700'
expect daneroll.timer 'OnCalendar=hourly'
expect daneroll.timer 'Persistent=true'
expect daneroll.timer 'Unit=daneroll.service'

# Documentation=man:daneroll(8) man:daneroll.toml(5) is checked with `man`
# when it exists (the pages come from the source tree through MANPATH);
# without man-db, skip it.
man_opt=--man=yes
if ! command -v man >/dev/null; then
  man_opt=--man=no
  echo "note: 'man' not installed: Documentation=man:... not checked"
fi

echo "== systemd-analyze verify $man_opt daneroll.service daneroll.timer"
set +e
verify_out=$(cd "$work" && MANPATH="$work/man" SYSTEMD_LOG_COLOR=0 \
  systemd-analyze verify "$man_opt" ./daneroll.service ./daneroll.timer 2>&1)
verify_rc=$?
set -e
printf '%s\n' "${verify_out:-(no output: clean)}" | tee "$out/verify.txt"
[ "$verify_rc" -eq 0 ] || fail "systemd-analyze verify exited with status $verify_rc"
[ -z "$verify_out" ] || fail "systemd-analyze verify reported problems (above)"

echo "== systemd-analyze security --offline=yes daneroll.service"
set +e
(cd "$work" && SYSTEMD_LOG_COLOR=0 systemd-analyze security --offline=yes --no-pager \
  ./daneroll.service) >"$out/daneroll.service.security.txt" 2>&1
sec_rc=$?
set -e
grep -E '^✗|Overall exposure' "$out/daneroll.service.security.txt" || true
[ "$sec_rc" -eq 0 ] || fail "systemd-analyze security exited with status $sec_rc"
score=$(sed -n 's/.*Overall exposure level for daneroll.service: \([0-9.]*\).*/\1/p' \
  "$out/daneroll.service.security.txt")
[ -n "$score" ] || fail "no exposure score in the output of systemd-analyze security"
echo "exposure score: $score (limit $((max_exposure / 10)).$((max_exposure % 10)))" |
  tee "$out/exposure-score.txt"
# --threshold counts in tenths and fails when the exposure is above it.
(cd "$work" && systemd-analyze security --offline=yes --no-pager \
  --threshold="$max_exposure" ./daneroll.service >/dev/null 2>&1) ||
  fail "exposure $score is above $((max_exposure / 10)).$((max_exposure % 10)): the sandbox was loosened"
echo "PASS"
