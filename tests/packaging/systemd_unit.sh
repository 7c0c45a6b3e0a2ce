#!/usr/bin/env bash
# conf/secretbrokerd.service (issue 16, item 3): `systemd-analyze verify`
# finds nothing wrong (with the daemon's path pointed at the build; the
# man: documentation links are checked by unit.man_pages instead), and
# `systemd-analyze security --offline=true` rates its exposure at most
# SB_UNIT_EXPOSURE_MAX (20, i.e. 2.0: systemd counts tenths; it was 1.4
# when written), so a hardening
# directive dropped by mistake fails here. Both run without systemd as
# PID 1.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
: "${SB_BUILD:?SB_BUILD must name the build directory}"
UNIT=$here/../../conf/secretbrokerd.service
MAX=${SB_UNIT_EXPOSURE_MAX:-20}

command -v systemd-analyze >/dev/null || { echo "systemd-analyze is missing (systemd package)"; exit 1; }

T=$(make_tmpdir)
sed "s|/usr/sbin/secretbrokerd|$SB_BUILD/core/secretbrokerd|g" "$UNIT" \
	>"$T/secretbrokerd.service"
out=$(cd "$T" && systemd-analyze verify --man=no ./secretbrokerd.service 2>&1); rc=$?
check "systemd-analyze verify: exit 0" test "$rc" -eq 0
check "... and nothing to say (got: ${out:-nothing})" test -z "$out"

out=$(systemd-analyze security --offline=true --threshold="$MAX" "$T/secretbrokerd.service" 2>&1); rc=$?
score=$(echo "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "exposure: ${score:-?}"
check "systemd-analyze security: exposure ${score:-?} is at most $MAX tenths" test "$rc" -eq 0
[ "$rc" -eq 0 ] || echo "$out" | grep '✗' >&2

for d in Type=notify NotifyAccess=main WatchdogSec= ProtectSystem=strict \
	NoNewPrivileges=yes CapabilityBoundingSet= LockPersonality=yes \
	MemoryDenyWriteExecute=yes SystemCallFilter=@system-service; do
	check "the unit has $d" grep -q "^$d" "$UNIT"
done
finish
