#!/usr/bin/env bash
# The manual pages:
#  1. daneroll.toml(5) documents the same keys as docs/configuration.md, in
#     the same tables: every key in the first column of a table under a
#     heading `[table]` there must be a tagged paragraph `\fBkey\fR = ...` in
#     the `.SS "[table] ..."` section of the page, and the other way round.
#     (A grep-level comparison: it catches a key added to one and not the
#     other, not a changed default.)
#  2. daneroll(8) and daneroll.toml(5) render without a single warning, run
#     the way lintian runs them (man --warnings, i.e. groff -ww), and have a
#     NAME section that lexgrog (whatis/apropos) can parse.
# usage: check-man-pages.sh SOURCE_DIR
set -euo pipefail
src=$1
md=$src/docs/configuration.md
page5=$src/packaging/daneroll.toml.5
page8=$src/packaging/daneroll.8

fail() { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Section names compare without quotes, <>, roff fonts and case:
# `[zone."<name>"]` and `[zone.\(dq\fIname\fP\(dq]` are both [zone.name].
# Output: "table<TAB>key" lines.
awk '
  function norm(s) { gsub(/["<>]/, "", s); return tolower(s) }
  /^#+ / {
    table = ""
    if (match($0, /`\[[^`]*\]`/)) table = norm(substr($0, RSTART + 1, RLENGTH - 2))
    next
  }
  table != "" && /^\|/ {
    split($0, cell, "|")        # cell[1] is empty: the line starts with |
    first = cell[2]
    while (match(first, /`[^`]+`/)) {
      print table "\t" substr(first, RSTART + 1, RLENGTH - 2)
      first = substr(first, RSTART + RLENGTH)
    }
  }
' "$md" | sort -u >"$work/md"

awk '
  function norm(s) {
    gsub(/\\f[BIRP]/, "", s); gsub(/\\\(dq/, "", s); gsub(/["<>]/, "", s)
    return tolower(s)
  }
  /^\.S[HS] / {
    table = ""
    if ($1 == ".SS" && match($0, /\[[^]]*\]/)) table = norm(substr($0, RSTART, RLENGTH))
    next
  }
  /^\.TP/ { tag = 1; next }
  tag {
    tag = 0
    if (table == "") next
    line = $0
    while (match(line, /\\fB[A-Za-z0-9_]+\\f[RP] =/)) {
      key = substr(line, RSTART + 3, RLENGTH - 3)
      sub(/\\f[RP] =$/, "", key)
      print table "\t" key
      line = substr(line, RSTART + RLENGTH)
    }
  }
' "$page5" | sort -u >"$work/man"

echo "== configuration keys: $(wc -l <"$work/md") in docs/configuration.md," \
  "$(wc -l <"$work/man") in daneroll.toml.5"
[ -s "$work/md" ] || fail "no table keys found in $md (did its format change?)"
only_md=$(comm -23 "$work/md" "$work/man")
only_man=$(comm -13 "$work/md" "$work/man")
if [ -n "$only_md" ] || [ -n "$only_man" ]; then
  [ -z "$only_md" ] || printf 'in docs/configuration.md, missing from daneroll.toml.5:\n%s\n' \
    "$(sed 's/\t/  /' <<<"$only_md")" >&2
  [ -z "$only_man" ] || printf 'in daneroll.toml.5, not in docs/configuration.md:\n%s\n' \
    "$(sed 's/\t/  /' <<<"$only_man")" >&2
  fail "daneroll.toml.5 and docs/configuration.md document different keys"
fi
# The brief form of the same promise: every key name appears in the page.
while IFS=$'\t' read -r table key; do
  grep -qF "\\fB$key\\fR" "$page5" || fail "$key ([$table]) does not appear in daneroll.toml.5"
done <"$work/md"

for page in "$page8" "$page5"; do
  echo "== $(basename "$page")"
  if command -v man >/dev/null; then
    # What lintian's groff-message check runs.
    warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
      man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null) ||
      fail "man -l $page failed: $warnings"
  else
    command -v groff >/dev/null || fail "neither man (man-db) nor groff (groff-base) is installed"
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1) || fail "groff failed on $page: $warnings"
  fi
  [ -z "$warnings" ] || { printf '%s\n' "$warnings" >&2; fail "$page renders with warnings"; }
  if command -v lexgrog >/dev/null; then
    lexgrog "$page" || fail "lexgrog cannot parse the NAME section of $page"
  fi
done
echo PASS
