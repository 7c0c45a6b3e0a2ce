#!/usr/bin/env bash
# systemd's readiness protocol (issue 16, item 3), with this script as the
# service manager: tests/lib/notify_listener.py listens on the datagram
# socket named in $NOTIFY_SOCKET. READY=1 comes once the API socket accepts
# connections, with a STATUS= line (role, state, epoch, generation, secret);
# STATUS= follows a change (a generated secret); WATCHDOG=1 pings arrive
# at least every half $WATCHDOG_USEC; SIGHUP sends RELOADING=1 with a
# MONOTONIC_USEC of now, then READY=1 with the new generation (or "last
# reload failed"); SIGTERM sends STOPPING=1. A bad $NOTIFY_SOCKET is one
# clear error at start; a watchdog meant for another pid is ignored.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

T=$(make_tmpdir)
A=$T/node
broker_config "$A"
NS=$T/notify.sock
OUT=$T/notify.log
: >"$OUT"

python3 "$here/../lib/notify_listener.py" "$NS" "$OUT" "$A/sb.sock" \
	>"$T/listener.out" 2>&1 &
LPID=$!
on_exit "kill $LPID 2>/dev/null; wait $LPID 2>/dev/null"
on_exit '[ "$TESTS_FAILED" -eq 0 ] || { echo "---- notify records ----" >&2; tail -n 60 "$OUT" >&2; }'
wait_until 20 grep -q listening "$T/listener.out" || {
	echo "the notify listener did not start" >&2
	cat "$T/listener.out" >&2
	exit 1
}

# records_with LINE: the numbers of the records holding the exact LINE.
records_with() { awk -v l="$1" '{ n = $1; sub(/^[0-9]+ /, "") } $0 == l { print n }' "$OUT"; }
# record N: the lines of record N, without their number.
record() { awk -v n="$1" '$1 == n { sub(/^[0-9]+ /, ""); print }' "$OUT"; }
# count LINE: how many records hold LINE.
count() { records_with "$1" | wc -l; }
# has_record_after N LINE: a record after number N holds LINE.
has_record_after() { records_with "$2" | awk -v n="$1" '$1 > n { f = 1 } END { exit !f }'; }
last_of() { records_with "$1" | tail -n 1; }
# at_least N LINE: at least N records hold LINE (polled by wait_until).
at_least() { [ "$(count "$2")" -ge "$1" ]; }

export NOTIFY_SOCKET=$NS WATCHDOG_USEC=400000
broker_start "$A" || exit 1
unset NOTIFY_SOCKET WATCHDOG_USEC

check "READY=1 is sent" wait_until 20 at_least 1 READY=1
R=$(last_of READY=1)
ready=$(record "$R")
check "READY=1 came when the API socket already accepted" contains "$ready" "PROBE=ok"
check "READY=1 carries STATUS= with role, state and epoch" contains "$ready" "STATUS=role mss, active, epoch "
check "... the generation" contains "$ready" "generation 1"
check "... and that no secret is held yet" contains "$ready" "no master secret"

check "WATCHDOG=1 pings arrive (at least 3)" wait_until 20 at_least 3 WATCHDOG=1

sbctl_in "$A" secret generate >/dev/null 2>&1
check "a generated secret is reported in a new STATUS=" \
	wait_until 20 grep -q "STATUS=.*master secret loaded" "$OUT"

# SIGHUP: RELOADING=1 with the monotonic time of now, then READY=1.
mark=$(tail -n 1 "$OUT" | cut -d' ' -f1)
kill -HUP "$(broker_pid "$A")"
check "SIGHUP sends RELOADING=1" wait_until 20 has_record_after "$mark" RELOADING=1
RL=$(last_of RELOADING=1)
rl=$(record "$RL")
check "... with MONOTONIC_USEC=" contains "$rl" "MONOTONIC_USEC="
diff_usec=$(echo "$rl" | sed -n 's/^CLOCK_DIFF_USEC=//p')
check "... MONOTONIC_USEC is CLOCK_MONOTONIC now (off by ${diff_usec:-?} us)" \
	test "${diff_usec:-999999999}" -lt 60000000
check "then READY=1" wait_until 20 has_record_after "$RL" READY=1
ready=$(record "$(last_of READY=1)")
check "... with STATUS= naming generation 2" contains "$ready" "generation 2"
check "... and the secret held" contains "$ready" "master secret loaded"

# A reload that fails still ends in READY=1, and STATUS= says it failed.
cp "$A/secretbroker.ini" "$T/good.ini"
ini_merge "$A/secretbroker.ini" $'[broker]\nthreadz = 4'
mark=$(tail -n 1 "$OUT" | cut -d' ' -f1)
kill -HUP "$(broker_pid "$A")"
check "a failed reload: RELOADING=1" wait_until 20 has_record_after "$mark" RELOADING=1
check "... then READY=1" wait_until 20 has_record_after "$(last_of RELOADING=1)" READY=1
ready=$(record "$(last_of READY=1)")
check "... STATUS= says the reload failed" contains "$ready" "last reload failed"
check "... and the old generation runs on" contains "$ready" "generation 2"
cp "$T/good.ini" "$A/secretbroker.ini"

# SIGTERM: STOPPING=1, and the daemon exits 0.
mark=$(tail -n 1 "$OUT" | cut -d' ' -f1)
check "SIGTERM: the daemon stops cleanly" broker_stop "$A"
check "... after sending STOPPING=1" has_record_after "$mark" STOPPING=1

# A watchdog meant for another process is not ours: no pings.
: >"$OUT"
B=$T/other
broker_config "$B"
export NOTIFY_SOCKET=$NS WATCHDOG_USEC=200000 WATCHDOG_PID=1
broker_start "$B" || exit 1
unset NOTIFY_SOCKET WATCHDOG_USEC WATCHDOG_PID
check "READY=1 with WATCHDOG_PID of another process" wait_until 20 at_least 1 READY=1
# Let a STATUS= change (a generated secret) pass through the tick loop:
# after it, many watchdog periods have gone by.
sbctl_in "$B" secret generate >/dev/null 2>&1
wait_until 20 grep -q "STATUS=.*master secret loaded" "$OUT"
check "... and no WATCHDOG=1" test "$(count WATCHDOG=1)" -eq 0
broker_stop "$B"

# A NOTIFY_SOCKET that is neither a path nor an abstract name: one clear
# error, and no start.
out=$(NOTIFY_SOCKET=relative/notify.sock timeout 20 "$SECRETBROKERD" -c "$B/secretbroker.ini" 2>&1); rc=$?
check "a relative NOTIFY_SOCKET refuses the start" test "$rc" -eq 1
check "... naming the variable and its value" contains "$out" 'NOTIFY_SOCKET "relative/notify.sock" is not an absolute path'

long=/$(printf 'n%.0s' $(seq 1 120))/$(printf 's%.0s' $(seq 1 120))
out=$(NOTIFY_SOCKET=$long timeout 20 "$SECRETBROKERD" -c "$B/secretbroker.ini" 2>&1); rc=$?
check "a NOTIFY_SOCKET longer than a socket path refuses the start" test "$rc" -eq 1
check "... saying why" contains "$out" "of at most 107 bytes"

# A manager that went away does not stop the daemon: it logs and serves.
kill "$LPID"; wait "$LPID" 2>/dev/null
rm -f "$NS"
export NOTIFY_SOCKET=$NS
broker_start "$B" || exit 1
unset NOTIFY_SOCKET
check "with no manager listening the daemon still serves" broker_answers "$B"
check "... and logs that it cannot notify" wait_until 20 grep -q "NOTIFY_SOCKET: cannot send" "$B/broker.log"

finish
