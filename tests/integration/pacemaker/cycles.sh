#!/usr/bin/env bash
# cluster.pacemaker_cycles.BACKEND: PM_CYCLES (default 10) failovers of a
# two-node Pacemaker cluster in one bounded run (PM_CYCLES_BUDGET_S), with
# a writer going. Alternately the promoted node's whole stack is killed
# (kill -9 of corosync, Pacemaker and the broker) and started again, or
# its broker is SIGSTOPped until the other node is promoted, then resumed
# and sent writes at once (writes sent while it was frozen are queued in
# its socket). Meanwhile a writer writes through whichever
# node is active and an observer reads the database directly (see
# cluster_lib.sh). Afterwards: every acknowledged write is in the
# database, none under a superseded epoch (epochs never go back, none
# below its node's when sent, the observer saw none committed late), and
# nothing sent to the frozen or resumed node is there.
#
#   cycles.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/pcmk_lib.sh"

backend=${1:?usage: cycles.sh postgres|redis}
cycles=${PM_CYCLES:-10}
budget_s=${PM_CYCLES_BUDGET_S:-300}
pm_setup "$backend" mss1 mss2 || { fail "two-node Pacemaker cluster on $backend"; finish; exit 1; }
check "both brokers run" pm_wait_both_running 60
W=$CL_DIR/writer.log
STOP=$CL_DIR/cycles.stop
cl_start_writing "$W" "$STOP"
acks_on() { cl_acks_on "$W" "$@"; }
check "the writer writes" wait_until 20 acks_on "$(cl_active)" 5

start_s=$SECONDS
done_cycles=0
: >"$CL_DIR/stale.ids"
for c in $(seq 1 "$cycles"); do
	((SECONDS - start_s < budget_s)) || break
	act=$(cl_wait_active "" 30) || { fail "cycle $c: no active MSS"; break; }
	other=$(cl_other_of "$act")
	e_old=$(cl_epoch "$act")
	before=$(grep -c "^ack .* $other " "$W")
	t0=$(now_ms)
	if ((c % 2 == 1)); then
		kind="kill -9 of the stack"
		pcmk_kill "$act"
	else
		kind=SIGSTOP
		pid=$(pm_broker_pid "$act")
		kill -STOP "$pid"
		# Writes sent to the frozen broker: queued in its socket.
		frozen_pids=()
		for k in 1 2; do
			echo "frozen$c-$k" >>"$CL_DIR/stale.ids"
			(cl_put "$act" "frozen$c-$k" stale 30 >"$CL_DIR/frozen$c-$k.code") &
			frozen_pids+=($!)
		done
	fi
	new=$(cl_wait_active "$act" 60)
	t1=$(now_ms)
	if [ "$new" != "$other" ]; then
		fail "cycle $c: $other was not promoted after $kind of $act"
		[ "$kind" = SIGSTOP ] && kill -CONT "$pid"
		break
	fi
	e_new=$(cl_epoch "$new")
	wait_until 20 acks_on "$new" $((before + 5)) ||
		fail "cycle $c: the writer made no progress through $new"
	t2=$(now_ms)
	if [ "$kind" = SIGSTOP ]; then
		kill -CONT "$pid" 2>/dev/null
		wait "${frozen_pids[@]}"
		for k in 1 2; do
			code=$(cat "$CL_DIR/frozen$c-$k.code")
			[ "${code:0:1}" != 2 ] ||
				fail "cycle $c: write $k sent to the frozen $act was acknowledged"
		done
		cl_put_stale "$act" "$c"
	else
		pcmk_start "$act" || { fail "cycle $c: restarting $act's stack"; break; }
	fi
	pm_cleanup
	pm_wait_both_running 60 || fail "cycle $c: $act does not run again"
	check "cycle $c: $kind $act (epoch $e_old) -> $new promoted at epoch $e_new after $((t1 - t0)) ms, writing after $((t2 - t0)) ms" \
		test "${e_new:-0}" -gt "$e_old"
	done_cycles=$c
done
cl_stop_writing "$STOP"
echo "# $done_cycles cycles in $((SECONDS - start_s)) s"
check "all $cycles cycles ran ($done_cycles)" test "$done_cycles" -ge "$cycles"
echo "# writer: $(grep -c '^ack' "$W") acknowledged, $(grep -c '^nak' "$W") failed"
cl_check_acks "$W" "$done_cycles"
cl_check_observer
cl_check_stale "a frozen node, or to it right after SIGCONT"
pm_finish
