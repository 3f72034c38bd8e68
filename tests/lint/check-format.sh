#!/usr/bin/env bash
# Every C++ file git knows is formatted as .clang-format says (clang-format
# from Debian 12, version 14; another version may format differently, so
# the version is printed). Lists the files that are not, and how to fix them.
# usage: check-format.sh SOURCE_DIR
set -euo pipefail
cd "$1"
command -v clang-format >/dev/null ||
  { echo "FAIL: clang-format missing: scripts/install-deps.sh installs it" >&2; exit 1; }
clang-format --version
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.hpp' '*.h' '*.cc' 2>/dev/null ||
                     find src include tests bench -name '*.[ch]pp')
[ ${#files[@]} -gt 0 ] || { echo "FAIL: no C++ files found under $PWD" >&2; exit 1; }
bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "FAIL: not formatted as .clang-format says (fix: clang-format -i FILE...):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "ok: ${#files[@]} files formatted"
