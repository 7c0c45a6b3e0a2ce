#!/usr/bin/env bash
# cluster.pacemaker.BACKEND: two MSS nodes, each a real Pacemaker +
# corosync node in network and mount namespaces of its own (knet over a
# veth pair, two_node), running the OCF agent's promotable clone on one
# PostgreSQL or Redis database:
#   - a failed monitor (the promoted broker stopped behind Pacemaker's
#     back): a broker is promoted again at a larger epoch, and writes; the
#     time is printed;
#   - a planned move (crm_resource --move --promoted): the old node is
#     demoted before the new one is promoted.
# Throughout, a writer writes through whichever node is active: every
# acknowledged write is in the database at the end (none lost across the
# move), and an observer of the database sees no record committed under a
# superseded epoch. kill -9 of a node's stack and SIGSTOP of the promoted
# broker are cycles.sh.
#
#   two_nodes.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/pcmk_lib.sh"

backend=${1:?usage: two_nodes.sh postgres|redis}
pm_setup "$backend" mss1 mss2 || { fail "two-node Pacemaker cluster on $backend"; finish; exit 1; }
promoted_is() { [ "$(pm_promoted)" = "$1" ]; }

check "both brokers run, one promoted" pm_wait_both_running 60
act=$(pm_promoted)
check "Pacemaker promoted one broker ($act), and it is the active one" \
	test -n "$act" -a "$(cl_active)" = "$act"
check "a write succeeds through it" test "$(cl_put "$act" first v-first)" = 201
# Throughout: a writer through whichever node is active, and an observer
# of the database (cluster_lib.sh).
STOP=$CL_DIR/observer.stop
W=$CL_DIR/writer.log
cl_start_writing "$W" "$STOP"
acks_on() { cl_acks_on "$W" "$@"; }
check "the writer writes" wait_until 20 acks_on "$act" 5

# ---- a failed monitor: the promoted broker stops behind Pacemaker's back ----
other=$(cl_other_of "$act")
e_old=$(cl_epoch "$act")
t0=$(now_ms)
kill -TERM "$(pm_broker_pid "$act")"
new=$(cl_wait_active "" 60)
t1=$(now_ms)
check "failed monitor on $act: $new is active again after $((t1 - t0)) ms (monitor every 1 s)" test -n "$new"
check "... at a larger epoch" test "$(cl_epoch "$new")" -gt "$e_old"
check "... and it writes" test "$(cl_put "$new" after-monitor v)" = 201
pm_cleanup
check "both run again after a cleanup" pm_wait_both_running 60
act=$(pm_promoted)

# ---- a planned move, under the writer ----
other=$(cl_other_of "$act")
pm_mark "$act"
pm_mark "$other"
before=$(grep -c "^ack .* $other " "$W")
pcmk_in "$act" crm_resource --move -r sb-clone --promoted -N "$other" >/dev/null 2>&1 ||
	fail "crm_resource --move"
check "planned move: $other is promoted" wait_until 60 promoted_is "$other"
check "... and active" cl_wait_health "$other" 200 20
check "... the writer writes through $other" wait_until 20 acks_on "$other" $((before + 5))
d_line=$(pm_in_log "$act" "fencing: now standby .*: demoted")
p_line=$(pm_in_log "$other" "fencing: now active .*promoted by pacemaker")
check "... $act was demoted ($d_line)" test -n "$d_line"
check "... $other promoted ($p_line)" test -n "$p_line"
check "... the demote came before the promote" test "${d_line%% *}" \< "${p_line%% *}"
pcmk_in "$act" crm_resource --clear -r sb-clone >/dev/null 2>&1
act=$other

cl_stop_writing "$STOP"
echo "# writer: $(grep -c '^ack' "$W") acknowledged, $(grep -c '^nak' "$W") failed"
# Every acknowledged write of the whole run (failed monitor, move) is in
# the database, at 3 epochs or more.
cl_check_acks "$W" 3
cl_check_observer 10
pm_cleanup
pm_finish
