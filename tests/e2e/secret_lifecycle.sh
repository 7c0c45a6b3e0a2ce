#!/usr/bin/env bash
# The master secret lifecycle as a new operator meets it (issue 2):
# generate, status, backup with a hint, hint, restore on a second daemon
# with its own state directory and the same SSO database; and every way a
# restore can be refused, each leaving the node unchanged.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

T=$(make_tmpdir)
export SB_DB=$T/sso.db
A=$T/node-a
B=$T/node-b
broker_config "$A"
broker_config "$B"
broker_start "$A" || exit 1
printf 'correct horse battery\n' >"$T/pw"
printf 'wrong password!!\n' >"$T/badpw"
chmod 600 "$T/pw" "$T/badpw"

out=$(sbctl_in "$A" secret status 2>&1); rc=$?
check "status before generate fails" test "$rc" -ne 0
check "status before generate says no secret" contains "$out" "no master secret"

out=$(sbctl_in "$A" secret generate 2>&1)
check "generate succeeds" test $? -eq 0
MSID=$(sbctl_in "$A" --json secret status | jq -r .msid)
check "generate printed the MSID" contains "$out" "$MSID"
check "MSID looks like a UUID" contains "$(echo "$MSID" | grep -Ec '^[0-9a-f]{8}-[0-9a-f]{4}-4')" "1"

out=$(sbctl_in "$A" secret status 2>&1)
check "status shows the MSID" contains "$out" "$MSID"
check "status warns that no backup was made" contains "$out" "no backup"
js=$(sbctl_in "$A" --json secret status)
check "status: backup_made false" test "$(echo "$js" | jq -r .backup_made)" = false
check "status: check value ok" test "$(echo "$js" | jq -r .check)" = ok
check "status: role mss" test "$(echo "$js" | jq -r .role)" = mss
check "status: age in seconds" test "$(echo "$js" | jq -r '.age_s|type')" = number

out=$(sbctl_in "$A" secret generate 2>&1); rc=$?
check "a second generate is refused" test "$rc" -ne 0
check "... because a secret exists" contains "$out" "secret_exists"

out=$(sbctl_in "$A" secret backup "$T/backup.sbk" --password-file "$T/pw" --hint "the usual, with horses" 2>&1)
check "backup succeeds" test $? -eq 0
check "backup file is 0600" test "$(stat -c %a "$T/backup.sbk")" = 600
expect_fail "backup file holds no password" grep -q "correct horse" "$T/backup.sbk"
check "status now records the backup" test "$(sbctl_in "$A" --json secret status | jq -r .backup_made)" = true
out=$(sbctl_in "$A" secret status 2>&1)
expect_fail "status no longer warns" contains "$out" "no backup"

out=$(sbctl_in "$A" secret backup "$T/backup.sbk" --password-file "$T/pw" 2>&1); rc=$?
check "backup refuses to overwrite without --force" test "$rc" -ne 0

# The second node starts now, against the same SSO database. (With fencing
# plugin none it takes the fencing epoch: from here on A's writes would be
# refused as fenced, and A only reads.)
broker_start "$B" || exit 1
out=$(sbctl_in "$B" secret hint "$T/backup.sbk" 2>&1)
check "hint is readable without a password" contains "$out" "the usual, with horses"

# Damaged copies of the backup.
size=$(stat -c %s "$T/backup.sbk")
head -c $((size / 2)) "$T/backup.sbk" >"$T/truncated.sbk"
cp "$T/backup.sbk" "$T/tampered.sbk"
printf '\x5a' | dd of="$T/tampered.sbk" bs=1 seek=$((size - 20)) conv=notrunc 2>/dev/null
printf 'this is not a backup file at all, just text\n' >"$T/foreign.sbk"

restore_refused() { # CODE FILE PWFILE
	local out rc
	out=$(sbctl_in "$B" secret restore "$2" --password-file "$3" 2>&1); rc=$?
	[ "$rc" -ne 0 ] && contains "$out" "$1"
}
b_has_no_secret() {
	! sbctl_in "$B" secret status >/dev/null 2>&1 &&
	[ ! -e "$B/state/secret.sealed" ]
}
check "restore with a wrong password: clear error" restore_refused backup_wrong_password "$T/backup.sbk" "$T/badpw"
check "... and nothing changed" b_has_no_secret
check "restore of a truncated file: clear error" restore_refused backup_truncated "$T/truncated.sbk" "$T/pw"
check "restore of a tampered file: clear error" restore_refused backup_tampered "$T/tampered.sbk" "$T/pw"
check "restore of a foreign file: clear error" restore_refused backup_foreign "$T/foreign.sbk" "$T/pw"
check "restore of a missing file: clear error" restore_refused "$T/nope.sbk" "$T/nope.sbk" "$T/pw"
check "... and still nothing changed" b_has_no_secret

out=$(sbctl_in "$B" secret restore "$T/backup.sbk" --password-file "$T/pw" 2>&1)
check "restore on the second node succeeds" test $? -eq 0
check "second node has the same MSID" test "$(sbctl_in "$B" --json secret status | jq -r .msid)" = "$MSID"
check "second node's check value matches" test "$(sbctl_in "$B" --json secret status | jq -r .check)" = ok
check "sealed secret file is 0600" test "$(stat -c %a "$B/state/secret.sealed")" = 600
check "node key file is 0600" test "$(stat -c %a "$B/state/node.key")" = 600
check "state directory is 0700" test "$(stat -c %a "$B/state")" = 700

# The second node keeps its secret across a restart (sealed at rest).
broker_stop "$B"
broker_start "$B" || exit 1
check "secret survives a restart" test "$(sbctl_in "$B" --json secret status | jq -r .msid)" = "$MSID"

# A backup of another SSO database's secret does not match this one.
C=$T/node-c
SB_DB=$T/other.db broker_config "$C"
broker_start "$C" || exit 1
sbctl_in "$C" secret generate >/dev/null
sbctl_in "$C" secret backup "$T/other.sbk" --password-file "$T/pw" >/dev/null
check "restore of another database's backup: secret_mismatch" restore_refused secret_mismatch "$T/other.sbk" "$T/pw"
check "... and the node keeps its own secret" test "$(sbctl_in "$B" --json secret status | jq -r .msid)" = "$MSID"

# A sealed file copied to a node with another key cannot be unsealed there.
D=$T/node-d
broker_config "$D"
mkdir -p "$D/state" && chmod 700 "$D/state"
broker_start "$D" || exit 1
broker_stop "$D"
cp "$A/state/secret.sealed" "$D/state/secret.sealed"
out=$(timeout 20 "$SECRETBROKERD" -c "$D/secretbroker.ini" 2>&1); rc=$?
check "... refused, not timed out" test "$rc" -ne 124
check "a secret sealed by another node's key is refused at start" test "$rc" -ne 0
check "... with a clear message" contains "$out" "another node"

out=$(sbctl_in "$A" secret backup "$T/late.sbk" --password-file "$T/pw" 2>&1)
check "A was deposed by B's start: its backup record is refused as fenced, the backup still written" test -s "$T/late.sbk"
check "daemon A still serves" test "$(sbctl_in "$A" --json secret status | jq -r .msid)" = "$MSID"
finish
