#!/usr/bin/env bash
# Backups and restores that go wrong (issue 15, item 5):
# - a damaged backup says only what was verified: a damaged header is
#   reported before the password is checked, and says so; only an
#   authentication failure after the password check says the password is
#   right;
# - a restore onto an empty SSO database (and a generate) killed with
#   SIGKILL between its writes: the next start finishes it when the
#   database recorded the secret, undoes it when not, and says which.
# The crashes are real: secretbrokerd_crashtest (the daemon built with its
# crash points) kills itself at SB_TEST_CRASH_AT.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

CRASHD=$SB_BUILD/tests/e2e/secretbrokerd_crashtest
T=$(make_tmpdir)
A=$T/node-a
broker_config "$A"
broker_start "$A" || exit 1
(umask 077 && printf 'correct horse battery\n' >"$T/pw")
sbctl_in "$A" secret generate >/dev/null
MSID=$(sbctl_in "$A" --json secret status | jq -r .msid)
sbctl_in "$A" secret backup "$T/backup.sbk" --password-file "$T/pw" --hint h >/dev/null
check "a backup to restore from" test -s "$T/backup.sbk"

# restore_body FILE PASSWORD: the JSON body of POST /v1/secret/restore.
restore_body() {
	jq -cn --arg blob "$(base64 -w0 "$1")" --arg pw "$2" '{blob: $blob, password: $pw}'
}

# ---- what a damaged file says ----
B=$T/node-b
broker_config "$B"
broker_start "$B" || exit 1
size=$(stat -c %s "$T/backup.sbk")
cp "$T/backup.sbk" "$T/header.sbk"     # the salt: the header checksum fails
printf '\x5a' | dd of="$T/header.sbk" bs=1 seek=25 conv=notrunc 2>/dev/null
cp "$T/backup.sbk" "$T/cipher.sbk"     # the ciphertext: only the GCM tag fails
printf '\x5a' | dd of="$T/cipher.sbk" bs=1 seek=$((size - 20)) conv=notrunc 2>/dev/null

out=$(api "$B" POST /v1/secret/restore "$(restore_body "$T/header.sbk" 'not the password')")
check "damaged header, wrong password: 400 backup_tampered" contains "$out" '400 {"error":{"code":"backup_tampered"'
check "... says the password was not checked" contains "$out" "the password was not checked"
expect_fail "... and never that it is right" contains "$out" "password is right"
out=$(api "$B" POST /v1/secret/restore "$(restore_body "$T/header.sbk" 'correct horse battery')")
check "damaged header, right password: the same answer" contains "$out" "the password was not checked"
out=$(api "$B" POST /v1/secret/restore "$(restore_body "$T/cipher.sbk" 'not the password')")
check "damaged ciphertext, wrong password: backup_wrong_password" contains "$out" '401 {"error":{"code":"backup_wrong_password"'
out=$(api "$B" POST /v1/secret/restore "$(restore_body "$T/cipher.sbk" 'correct horse battery')")
check "damaged ciphertext, right password: tampered, and the password is right" \
	contains "$out" "the password is right but the header or the encrypted secrets do not authenticate"
broker_stop "$B"

# ---- crashes while seeding an empty SSO database ----
# died PID: the process has exited (a zombie counts: it is reaped below).
died() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null)
	[ -z "$st" ] || [[ $st == Z* ]]
}

# crash_at NODE POINT COMMAND...: starts NODE's daemon armed at POINT, runs
# the sbctl COMMAND (which must fail: the daemon dies under it), and checks
# that the daemon died of SIGKILL.
crash_at() {
	local node=$1 point=$2 pid rc; shift 2
	SECRETBROKERD=$CRASHD SB_TEST_CRASH_AT=$point broker_start "$node" || return 1
	pid=$(broker_pid "$node")
	if sbctl_in "$node" "$@" >"$node/crash.out" 2>&1; then
		echo "    $* succeeded: the crash point was not reached" >&2
		return 1
	fi
	wait_until 20 died "$pid" || { echo "    the daemon did not die" >&2; return 1; }
	wait "$pid"; rc=$?
	rm -f "$node/broker.pid"
	[ "$rc" -eq 137 ] || { echo "    exit status $rc, not 137 (SIGKILL)" >&2; return 1; }
	contains "$(cat "$node/broker.log")" "crash point $point: SIGKILL"
}

# Killed after the database recorded the secret, before it was installed.
C=$T/node-c
broker_config "$C"
check "restore killed after the database write" \
	crash_at "$C" restore-after-db secret restore "$T/backup.sbk" --password-file "$T/pw"
check "... leaves the pending sealed file" test -f "$C/state/secret.sealed.pending"
check "... and no sealed file" test ! -e "$C/state/secret.sealed"
broker_start "$C" || exit 1
check "the next start finishes the restore" \
	contains "$(cat "$C/broker.log")" "finished an interrupted restore or generate: the SSO database records master secret $MSID"
js=$(sbctl_in "$C" --json secret status)
check "... the node holds the backup's secret" test "$(echo "$js" | jq -r .msid)" = "$MSID"
check "... and it matches the database's check value" test "$(echo "$js" | jq -r .check)" = ok
check "... sealed 0600, no pending file left" \
	test "$(stat -c %a "$C/state/secret.sealed")" = 600 -a ! -e "$C/state/secret.sealed.pending"
broker_stop "$C"

# Killed after sealing, before the database write: the restore never
# happened; the next start undoes it and a new restore works.
D=$T/node-d
broker_config "$D"
check "restore killed before the database write" \
	crash_at "$D" restore-after-seal secret restore "$T/backup.sbk" --password-file "$T/pw"
check "... leaves the pending sealed file" test -f "$D/state/secret.sealed.pending"
broker_start "$D" || exit 1
check "the next start undoes it, and says so" \
	contains "$(cat "$D/broker.log")" "undid an interrupted restore or generate of master secret $MSID: the SSO database was never seeded with it"
check "... no pending file left" test ! -e "$D/state/secret.sealed.pending"
out=$(sbctl_in "$D" secret status 2>&1)
check "... the node holds no secret" contains "$out" "no master secret"
check "... and a new restore succeeds" sbctl_in "$D" secret restore "$T/backup.sbk" --password-file "$T/pw"
check "... with the backup's secret" test "$(sbctl_in "$D" --json secret status | jq -r .msid)" = "$MSID"
broker_stop "$D"

# A generate killed between the same two writes is settled the same way.
E=$T/node-e
broker_config "$E"
check "generate killed after the database write" crash_at "$E" generate-after-db secret generate
broker_start "$E" || exit 1
js=$(sbctl_in "$E" --json secret status)
check "... the next start installs the generated secret, check ok" test "$(echo "$js" | jq -r .check)" = ok
broker_stop "$E"
F=$T/node-f
broker_config "$F"
check "generate killed before the database write" crash_at "$F" generate-after-seal secret generate
broker_start "$F" || exit 1
check "... the next start undoes it" contains "$(cat "$F/broker.log")" "was never seeded with it"
check "... and a new generate succeeds" sbctl_in "$F" secret generate
finish
