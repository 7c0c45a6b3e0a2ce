#!/usr/bin/env bash
# pacemaker.one_node: a one-node Pacemaker cluster (real corosync and
# pacemakerd) runs the OCF agent's promotable clone and promotes the
# broker; the broker writes; the promotion score follows the broker's
# state: a node without the master secret runs unpromoted and is never
# promoted, and is promoted once the secret is restored. SQLite.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/pcmk_lib.sh"

pm_setup sqlite mss1 || { fail "one-node Pacemaker cluster setup"; finish; exit 1; }
check "Pacemaker promotes the broker on mss1" test "$(pm_promoted)" = mss1
check "the broker is active (health 200)" test "$(cl_health mss1)" = 200
check "a write succeeds through it" test "$(cl_put mss1 alice pw-alice)" = 201
check "its log says Pacemaker promoted it" \
	grep -q "fencing: now active (epoch [0-9]*): promoted by pacemaker" "$CL_DIR/mss1/broker.log"
score() { pcmk_in mss1 crm_attribute -N mss1 -l reboot -n master-sb -G -q 2>/dev/null; }
score_is() { [ "$(score)" = "$1" ]; }
promoted_is() { [ "$(pm_promoted)" = "$1" ]; }
check "its promotion score is 10 (secret held, storage reached)" \
	wait_until 10 score_is 10

# Without the master secret: started, never promoted.
check "Pacemaker stops the broker" pm_stop_clone
rm -f "$CL_DIR/mss1/state/"secret*
pcmk_in mss1 crm_resource -r sb-clone --meta -p target-role -v Started >/dev/null 2>&1
check "the broker without the secret runs (health 503)" cl_wait_health mss1 503 30
check "... as an unpromoted instance" pm_wait_both_running 30
out=$(score)
check "... with no promotion score (crm_attribute: '$out')" test -z "$out"
sleep 3 # two unpromoted monitors: nothing may promote it meanwhile
check "... and it is not promoted" test -z "$(pm_promoted)"
"$SBCTL" -s "$CL_DIR/mss1/sb.sock" secret restore "$CL_DIR/backup.sbk" \
	--password-file "$CL_PW_FILE" >/dev/null
check "once the secret is restored, the next monitor scores it and Pacemaker promotes it" \
	wait_until 30 promoted_is mss1
check "it is active again" cl_wait_health mss1 200 15
check "and writes" test "$(cl_put mss1 bob pw-bob)" = 201
pm_finish
