#!/usr/bin/env bash
# cluster.rotation.BACKEND: master secret rotation on a two-node lease
# cluster with a member, on a real PostgreSQL or Redis server (issue 13).
#
# 10,000 config values and 100 mappings. Rotation is refused on the
# standby (naming the active node) and on the member, changing nothing.
# mss1 rotates; its backup is restored on mss2; a reader looks values up
# on the member all along. mss1 is SIGKILLed mid-way through the
# re-encryption: mss2 takes over, resumes at the cursor and finishes; the
# member never failed a lookup; every value is identical; mss1, restarted
# as a standby, drops the retired secret by itself. Then a second rotation
# on mss1, which freezes itself (a test point of secretbrokerd_crashtest)
# with a batch decided at its epoch: mss2 takes over and finishes; the
# thawed node's batch is refused.
#
#   rotation.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/cluster_lib.sh"

backend=${1:?usage: rotation.sh postgres|redis}
N_CFG=10000
N_MAP=100
DATA="python3 $here/../../lib/rotation_data.py"
# 1000 records/s: about 10 s of re-encryption to kill mss1 in; the member
# checks for a new secret every second, so 2 s of delay is enough.
CL_MSS_EXTRA_INI="[secret]
reencrypt_delay_s = 2
reencrypt_batch = 100
reencrypt_rate = 1000"
cl_setup "$backend" || { fail "cluster setup on $backend"; finish; exit 1; }

check "10,000 config values and 100 mappings loaded through mss1" \
	$DATA load "$CL_DIR/mss1/sb.sock" $N_CFG $N_MAP
DIGEST0=$($DATA verify "$CL_DIR/mss1/sb.sock" $N_CFG $N_MAP)
check "every value reads back" test -n "$DIGEST0"

# state NODE: "MSID PREVIOUS ROTATION-TO" as --json secret status says.
state() {
	"$SBCTL" -s "$CL_DIR/$1/sb.sock" --json secret status |
		jq -r '"\(.msid) \(.previous_msid) \(.rotation.to // "none")"'
}
MSID0=$(state mss1 | cut -d' ' -f1)
PW=$CL_DIR/backup.pw

out=$("$SBCTL" -s "$CL_DIR/mss2/sb.sock" secret rotate "$CL_DIR/r2.sbk" \
	--password-file "$PW" 2>&1)
check "rotate on the standby: refused, not_active" contains "$out" "not_active"
check "... naming the active node" contains "$out" "the active master secret server is mss1"
check "... no file written" test ! -e "$CL_DIR/r2.sbk"
out=$("$SBCTL" -s "$CL_DIR/member1/sb.sock" secret rotate "$CL_DIR/r3.sbk" \
	--password-file "$PW" 2>&1)
check "rotate on the member: refused, member_node" contains "$out" "member_node"
check "nothing changed" test "$(state mss1)" = "$MSID0 null none"

rm -f "$CL_DIR/stop"
$DATA read "$CL_DIR/member1/sb.sock" $N_CFG $N_MAP "$CL_DIR/stop" \
	"$CL_DIR/reader.json" &
READER=$!
on_exit "touch '$CL_DIR/stop'; wait $READER 2>/dev/null"
check "the reader on the member is reading" \
	wait_until 30 test -e "$CL_DIR/reader.json.ready"

check "mss1 rotates" "$SBCTL" -s "$CL_DIR/mss1/sb.sock" secret rotate \
	"$CL_DIR/rot.sbk" --password-file "$PW"
MSID1=$(state mss1 | cut -d' ' -f1)
check "the new secret is current on mss1" test "$MSID1" != "$MSID0"
out=$("$SBCTL" -s "$CL_DIR/mss2/sb.sock" secret status 2>&1)
check "the standby's status says to restore the new secret" \
	contains "$out" "restore a backup of $MSID1 on this node"
check "the rotation's backup restores on the standby" \
	"$SBCTL" -s "$CL_DIR/mss2/sb.sock" secret restore "$CL_DIR/rot.sbk" \
	--password-file "$PW"
check "... which then holds both secrets" \
	test "$(state mss2)" = "$MSID1 $MSID0 $MSID1"

# halfway: mss1 has re-encrypted at least 3000 records of its first pass.
halfway() {
	local j
	j=$("$SBCTL" -s "$CL_DIR/mss1/sb.sock" --json secret status) || return 1
	[ "$(echo "$j" | jq -r '.rotation.pass')" = 1 ] &&
		[ "$(echo "$j" | jq -r '.rotation.done')" -ge 3000 ]
}
check "mss1 re-encrypts (3000 records done)" wait_until 60 halfway
done_at_kill=$("$SBCTL" -s "$CL_DIR/mss1/sb.sock" --json secret status | jq -r .rotation.done)
check "... and is not finished ($done_at_kill of $((N_CFG + N_MAP)))" \
	test "$done_at_kill" -lt $((N_CFG + N_MAP))
cl_kill mss1
new=$(cl_wait_active mss1 $((CL_TTL_MS / 1000 + 10)))
check "mss2 becomes the active MSS" test "$new" = mss2
check "mss2 resumes the re-encryption at the cursor" wait_until 30 grep -Eq \
	"re-encryption from master secret $MSID0 to $MSID1: resuming at (cfg|map)/" \
	"$CL_DIR/mss2/broker.log"
finished() { test "$(state mss2)" = "$MSID1 null none"; }
check "mss2 finishes it and retires the old secret" wait_until 120 finished
member_current() {
	[ "$(curl -s --unix-socket "$CL_DIR/member1/sb.sock" http://sb/v1/status |
		jq -r '"\(.secret.msid) \(.secret.previous_msid)"')" = "$MSID1 null" ]
}
check "the member holds only the new secret" wait_until 30 member_current
touch "$CL_DIR/stop"
wait "$READER"
rc=$?
check "no member lookup failed nor was wrong ($(cat "$CL_DIR/reader.json"))" test $rc -eq 0
check "... through the whole rotation and failover" \
	test "$(jq -r .reads "$CL_DIR/reader.json")" -gt 100
check "every value is identical, read through mss2" \
	test "$($DATA verify "$CL_DIR/mss2/sb.sock" $N_CFG $N_MAP)" = "$DIGEST0"
check "... and through the member" \
	test "$($DATA verify "$CL_DIR/member1/sb.sock" $N_CFG $N_MAP)" = "$DIGEST0"

cl_start mss1 || fail "restarting mss1"
check "restarted mss1 is a standby" cl_wait_health mss1 429 10
mss1_settled() { test "$(state mss1)" = "$MSID1 null none"; }
check "... and drops the retired secret by itself" wait_until 15 mss1_settled
check "... saying so" grep -q "master secret $MSID0 is retired: this node no longer holds it" \
	"$CL_DIR/mss1/broker.log"
out=$("$SBCTL" -s "$CL_DIR/mss1/sb.sock" secret restore "$CL_DIR/backup.sbk" \
	--password-file "$PW" 2>&1)
check "the old backup no longer restores: secret_retired" contains "$out" "secret_retired"

# ---- a superseded node's batch is refused by the epoch ----
# mss1 again, as the daemon with its test points, armed to freeze itself
# (SIGSTOP) halfway through a re-encryption, between deciding a batch at
# its epoch and writing it. Thawed, the batch is refused: by the store
# layer when the lease plugin has fenced the node first (what usually
# happens), else by the backend, whose epoch is newer (conformance and
# cluster.pause show that one directly).
cl_kill mss1
SECRETBROKERD=$SB_BUILD/tests/e2e/secretbrokerd_crashtest \
	SB_TEST_CRASH_AT=pause:reencrypt-halfway cl_start mss1 ||
	fail "restarting mss1 with the pause point"
check "mss1 is a standby again" cl_wait_health mss1 429 10
cl_kill mss2
new=$(cl_wait_active mss2 $((CL_TTL_MS / 1000 + 10)))
check "mss1 takes over when mss2 is killed" test "$new" = mss1
cl_start mss2 || fail "restarting mss2"
check "mss2 is a standby" cl_wait_health mss2 429 10
check "mss1 rotates again" "$SBCTL" -s "$CL_DIR/mss1/sb.sock" secret rotate \
	"$CL_DIR/rot2.sbk" --password-file "$PW"
MSID2=$(state mss1 | cut -d' ' -f1)
check "... and its backup restores on mss2" \
	"$SBCTL" -s "$CL_DIR/mss2/sb.sock" secret restore "$CL_DIR/rot2.sbk" \
	--password-file "$PW"
e_old=$(cl_epoch mss1)
frozen() { [[ $(ps -o stat= -p "$(cat "$CL_DIR/mss1/broker.pid")") == T* ]]; }
check "mss1 freezes halfway, a batch at epoch $e_old decided, not written" \
	wait_until 60 frozen
new=$(cl_wait_active mss1 $((CL_TTL_MS / 1000 + 10)))
check "mss2 takes over from the frozen node" test "$new" = mss2
finished2() { test "$(state mss2)" = "$MSID2 null none"; }
check "mss2 resumes and finishes the second rotation" wait_until 120 finished2
cl_resume mss1
check "the thawed node's batch of epoch $e_old is refused (fenced)" wait_until 15 grep -q \
	"re-encryption paused: this node no longer holds the fencing epoch $e_old" \
	"$CL_DIR/mss1/broker.log"
check "... mss1 is a standby" cl_wait_health mss1 429 10
check "... the rotation stays finished" finished2
check "every value is still identical" \
	test "$($DATA verify "$CL_DIR/mss2/sb.sock" $N_CFG $N_MAP)" = "$DIGEST0"
finish
