#!/usr/bin/env bash
# Master secret rotation on one backend (issue 13), with 10,000 records on
# a real SSO database (sqlite, postgres or redis, started here):
# - a missing, empty or too short password file: nothing changes (no
#   rotation, no FILE, the same MSID);
# - rotate with a reader going: no failed lookup, every value identical
#   before and after; --json secret status shows the MSID change and the
#   progress; the old backup is refused while re-encrypting
#   (rotation_in_progress) and once retired (secret_retired, naming both
#   MSIDs); the rotation's own backup restores;
# - SIGKILL of the daemon mid-re-encryption (secretbrokerd_crashtest at
#   reencrypt-halfway): the next start resumes at the cursor and finishes,
#   nothing lost or double-encrypted;
# - SIGKILL during the commit, after sealing (the next start undoes it)
#   and after the database write (the next start finishes it, and the
#   re-encryption runs).
# Usage: rotation.sh BACKEND
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/../lib/backend.sh"

BACKEND_NAME=${1:?usage: rotation.sh sqlite|postgres|redis}
N_CFG=10000
N_MAP=100
N=$((N_CFG + N_MAP))
DATA="python3 $here/../lib/rotation_data.py"
CRASHD=$SB_BUILD/tests/e2e/secretbrokerd_crashtest

T=$(make_tmpdir)
on_exit backend_stop
backend_start "$BACKEND_NAME" "$T" || { backend_log; exit 1; }
on_exit '[ "$TESTS_FAILED" -eq 0 ] || backend_log'
A=$T/node-a
# 2000 records/s: the re-encryption of 10,100 records takes about 5 s, a
# window the checks below use; no delay for member nodes (there are none).
broker_config "$A" "$BACKEND_STORAGE_INI
[secret]
reencrypt_delay_s = 0
reencrypt_batch = 200
reencrypt_rate = 2000"
# broker_config's [storage] is sqlite's: its path means nothing elsewhere.
[ "$BACKEND_NAME" = sqlite ] || sed -i '/^path = /d' "$A/secretbroker.ini"
broker_start "$A" || exit 1
(umask 077 && printf 'correct horse battery\n' >"$T/pw" &&
	printf 'short\n' >"$T/short.pw" && : >"$T/empty.pw")
sbctl_in "$A" secret generate >/dev/null
sbctl_in "$A" secret backup "$T/old.sbk" --password-file "$T/pw" >/dev/null
MSID0=$(sbctl_in "$A" --json secret status | jq -r .msid)
check "the first secret and its backup" test -n "$MSID0" -a -s "$T/old.sbk"
check "10,000 config values and 100 mappings loaded through the API" \
	$DATA load "$A/sb.sock" $N_CFG $N_MAP
DIGEST0=$($DATA verify "$A/sb.sock" $N_CFG $N_MAP)
check "every value reads back" test -n "$DIGEST0"

# secret_state NODE: "MSID PREVIOUS ROTATION-TO" as --json secret status says.
secret_state() {
	sbctl_in "$1" --json secret status |
		jq -r '"\(.msid) \(.previous_msid) \(.rotation.to // "none")"'
}

# ---- bad password files change nothing ----
for pwf in "$T/missing.pw" "$T/empty.pw" "$T/short.pw"; do
	out=$(sbctl_in "$A" secret rotate "$T/bad.sbk" --password-file "$pwf" 2>&1)
	rc=$?
	check "rotate with $(basename "$pwf"): refused ($out)" test $rc -ne 0
	check "... no backup file written" test ! -e "$T/bad.sbk"
	check "... the same secret, no rotation" \
		test "$(secret_state "$A")" = "$MSID0 null none"
done
out=$(sbctl_in "$A" secret rotate "$T/bad.sbk" --password-file "$T/short.pw" 2>&1)
check "a short password is refused by name" contains "$out" "at least 8 characters"
out=$(sbctl_in "$A" secret rotate "$T/old.sbk" --password-file "$T/pw" 2>&1)
check "an existing FILE is refused before anything changes" \
	test "$(secret_state "$A")" = "$MSID0 null none"
check "... and says so" contains "$out" "old.sbk"

# ---- rotate with a reader going ----
rm -f "$T/stop"
$DATA read "$A/sb.sock" $N_CFG $N_MAP "$T/stop" "$T/reader.json" &
READER=$!
on_exit "touch '$T/stop'; wait $READER 2>/dev/null"
check "the reader is reading" wait_until 30 test -e "$T/reader.json.ready"
check "rotate FILE --password-file F" \
	sbctl_in "$A" secret rotate "$T/new.sbk" --password-file "$T/pw" --hint rot
MSID1=$(sbctl_in "$A" --json secret status | jq -r .msid)
check "the new secret is current" test "$MSID1" != "$MSID0" -a -n "$MSID1"
check "its backup was written, 0600" test "$(stat -c %a "$T/new.sbk")" = 600
js=$(sbctl_in "$A" --json secret status)
check "--json secret status: the previous MSID while re-encrypting" \
	test "$(echo "$js" | jq -r .previous_msid)" = "$MSID0"
check "... and the progress: from, to, total" \
	test "$(echo "$js" | jq -r '"\(.rotation.from) \(.rotation.to) \(.rotation.total)"')" = "$MSID0 $MSID1 $N"
out=$(sbctl_in "$A" secret restore "$T/old.sbk" --password-file "$T/pw" 2>&1)
check "the old backup is refused during re-encryption: rotation_in_progress" \
	contains "$out" "rotation_in_progress"
check "... saying a rotation is in progress" contains "$out" "rotation in progress"
out=$(sbctl_in "$A" secret rotate "$T/again.sbk" --password-file "$T/pw" 2>&1)
check "a second rotation waits for the first" contains "$out" "rotation_in_progress"
m=$(curl -s --unix-socket "$A/sb.sock" http://sb/v1/metrics)
check "GET /v1/metrics: the re-encryption running" \
	contains "$m" "secretbroker_reencrypt_running 1"
check "... with its total" contains "$m" "secretbroker_reencrypt_records $N"
st=$(sbctl_in "$A" --json status | jq -c .secret)
check "/v1/status shows the rotation too" \
	test "$(echo "$st" | jq -r .rotation.to)" = "$MSID1"

retired() { test "$(secret_state "$A")" = "$MSID1 null none"; }
check "the re-encryption finishes and retires the old secret" wait_until 120 retired
touch "$T/stop"
wait $READER
rc=$?
check "the reader never failed nor read a wrong value ($(cat "$T/reader.json"))" test $rc -eq 0
check "... and it did read meanwhile" \
	test "$(jq -r .reads "$T/reader.json")" -gt 0
check "every value is identical after the rotation" \
	test "$($DATA verify "$A/sb.sock" $N_CFG $N_MAP)" = "$DIGEST0"
check "the log says it retired the old secret" \
	contains "$(cat "$A/broker.log")" "previous master secret $MSID0 is retired"
out=$(sbctl_in "$A" secret restore "$T/old.sbk" --password-file "$T/pw" 2>&1)
check "the old backup no longer restores: secret_retired" contains "$out" "secret_retired"
check "... naming the retired MSID" contains "$out" "$MSID0"
check "... and the current one" contains "$out" "$MSID1"
check "the rotation's backup restores" \
	sbctl_in "$A" secret restore "$T/new.sbk" --password-file "$T/pw"
check "... and installs only the current secret" retired
broker_stop "$A"

# ---- SIGKILL mid-re-encryption, then a restart ----
SECRETBROKERD=$CRASHD SB_TEST_CRASH_AT=reencrypt-halfway broker_start "$A" || exit 1
pid=$(broker_pid "$A")
check "a second rotation" \
	sbctl_in "$A" secret rotate "$T/new2.sbk" --password-file "$T/pw"
died() { ! kill -0 "$pid" 2>/dev/null || [[ $(ps -o stat= -p "$pid") == Z* ]]; }
check "the daemon dies halfway through the re-encryption" wait_until 120 died
wait "$pid"
rc=$?
rm -f "$A/broker.pid"
check "... of SIGKILL (137, was $rc)" test "$rc" -eq 137
check "... at the crash point" \
	contains "$(cat "$A/broker.log")" "crash point reencrypt-halfway: SIGKILL"
broker_start "$A" || exit 1
MSID2=$(sbctl_in "$A" --json secret status | jq -r .msid)
check "after the restart the new secret is current" \
	test "$MSID2" != "$MSID1" -a -n "$MSID2"
check "it resumes at the cursor, not at the first record" \
	grep -Eq "re-encryption from master secret $MSID1 to $MSID2: resuming at (cfg|map)/" "$A/broker.log"
retired2() { test "$(secret_state "$A")" = "$MSID2 null none"; }
check "... and finishes" wait_until 120 retired2
check "nothing lost or double-encrypted: every value identical" \
	test "$($DATA verify "$A/sb.sock" $N_CFG $N_MAP)" = "$DIGEST0"
expect_fail "no record was skipped" grep -q "left as is" "$A/broker.log"

# ---- SIGKILL during the commit, between its writes ----
# crash_commit POINT: a rotation under the daemon armed at POINT; the
# daemon must die of SIGKILL there, and start again.
crash_commit() {
	local pid rc
	broker_stop "$A"
	SECRETBROKERD=$CRASHD SB_TEST_CRASH_AT=$1 broker_start "$A" || return 1
	pid=$(broker_pid "$A")
	rm -f "$T/c.sbk"
	if sbctl_in "$A" secret rotate "$T/c.sbk" --password-file "$T/pw" \
		>"$T/c.out" 2>&1; then
		echo "    the rotation succeeded: $1 was not reached" >&2
		return 1
	fi
	wait_until 30 died || return 1
	wait "$pid"
	rc=$?
	rm -f "$A/broker.pid"
	[ "$rc" -eq 137 ] && grep -q "crash point $1: SIGKILL" "$A/broker.log" &&
		broker_start "$A"
}
check "killed after sealing the new secret, before the database" \
	crash_commit rotate-after-seal
check "... the next start undoes it" grep -q \
	"undid an interrupted restore or generate of master secret .*: the SSO database holds another master secret" \
	"$A/broker.log"
check "... the secret is unchanged, no rotation" retired2
check "killed after the database, before installing the sealed file" \
	crash_commit rotate-after-db
MSID3=$(sbctl_in "$A" --json secret status | jq -r .msid)
check "... the next start finishes it: the new secret is current" \
	test "$MSID3" != "$MSID2" -a -n "$MSID3"
check "... with the previous one kept" \
	test "$(sbctl_in "$A" --json secret status | jq -r .previous_msid)" = "$MSID2"
retired3() { test "$(secret_state "$A")" = "$MSID3 null none"; }
check "... and the re-encryption runs to the end" wait_until 120 retired3
check "every value is identical" \
	test "$($DATA verify "$A/sb.sock" $N_CFG $N_MAP)" = "$DIGEST0"
finish
