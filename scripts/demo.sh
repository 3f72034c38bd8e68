#!/usr/bin/env bash
# The README's main command: installs the dependencies, builds daneroll and
# shows what it does today, end to end, in a scratch directory:
# keys -> certificate -> TLSA records -> offline DANE check, with
# ldns-dane as an independent second opinion.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build
daneroll=$PWD/build/src/daneroll

work=$(mktemp -d /tmp/daneroll-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$work"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "generate the current and the next key (0600, atomic)"
"$daneroll" keygen --algorithm ecdsa-p256 --out keys/current.key
"$daneroll" keygen --algorithm ecdsa-p256 --out keys/next.key
ls -l keys

step "a self-signed certificate for the current key"
"$daneroll" cert selfsign --key keys/current.key --name mx1.example.test --days 90 --out current.pem

step "the TLSA RRset for 'current + next' (publish this before deploying 'next')"
"$daneroll" tlsa --cert current.pem --key keys/current.key --ttl 300 | tee rrset.txt
"$daneroll" tlsa --key keys/next.key --owner mx1.example.test --ttl 300 | tee -a rrset.txt

step "ldns-dane's view of the same certificate (independent check)"
ldns-dane -c current.pem create mx1.example.test 25 3 1 1

step "does the served chain match the published records? (RFC 7672 rules)"
mapfile -t records < <(cut -d' ' -f5- rrset.txt)
"$daneroll" tlsa match --chain current.pem --record "${records[0]}" --record "${records[1]}"

step "a certificate for the next key matches too: the rollover is safe to deploy"
"$daneroll" cert selfsign --key keys/next.key --name mx1.example.test --days 90 --out next.pem
"$daneroll" tlsa match --chain next.pem --record "${records[0]}" --record "${records[1]}"

step "a certificate for an unpublished key does not: deploying it would break mail"
"$daneroll" keygen --algorithm ecdsa-p256 --out keys/rogue.key >/dev/null
"$daneroll" cert selfsign --key keys/rogue.key --name mx1.example.test --out rogue.pem >/dev/null
if "$daneroll" tlsa match --chain rogue.pem --record "${records[0]}" --record "${records[1]}"; then
  echo "demo: a rogue certificate matched; this is a bug" >&2
  exit 1
fi
printf '\ndemo: done (the full DNS + MTA rollover arrives with the sandbox)\n'
