#!/bin/sh
# check_unit.sh — the steerd.service meson generates (systemd/steerd.service.in): `systemd-analyze
# verify` with nothing on stderr and `systemd-analyze security --offline=true` exposure <= 2.5. Exit 77 (skipped) without systemd-analyze.
# Usage: check_unit.sh UNIT STEERD_BINARY [STEERD_MAN_PAGE] (ExecStart is pointed at the built binary
# for verify; verify also opens the unit's Documentation=man:steerd(8): the built page, via MANPATH).
set -eu
unit=$1
bin=$2
man=${3:-}
if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "systemd-analyze not found: skipped"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#^ExecStart=/[^ ]*/steerd #ExecStart=$bin #" "$unit" > "$tmp/steerd.service"
grep -q "^ExecStart=$bin " "$tmp/steerd.service" || { echo "ExecStart not found in $unit"; exit 1; }
if [ -n "$man" ]; then
    mkdir -p "$tmp/man/man8" && cp "$man" "$tmp/man/man8/steerd.8"
    MANPATH=$tmp/man:   # the trailing colon keeps the system pages (systemd.exec(5))
    export MANPATH
fi
cd "$tmp"
systemd-analyze verify ./steerd.service > verify.out 2> verify.err || {
    echo "systemd-analyze verify failed:"; cat verify.out verify.err; exit 1; }
if [ -s verify.err ]; then
    echo "systemd-analyze verify warnings:"; cat verify.err; exit 1
fi
systemd-analyze security --offline=true --no-pager ./steerd.service > security.out 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for steerd.service: \([0-9.]*\).*/\1/p' security.out)
if [ -z "$exposure" ]; then
    echo "no exposure level in:"; cat security.out; exit 1
fi
echo "exposure $exposure (limit 2.5)"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }' || { grep '✗' security.out; exit 1; }
