#!/usr/bin/env bash
# pacemaker.two_nodes.BACKEND: two MSS nodes, each a real Pacemaker +
# corosync node in network and mount namespaces of its own (knet over a
# veth pair, two_node), running the OCF agent's promotable clone on one
# PostgreSQL or Redis database:
#   - kill -9 of the promoted node's whole stack: the other is promoted
#     and a write succeeds through it; the node comes back unpromoted;
#   - a failed monitor (the promoted broker stopped behind Pacemaker's
#     back): a broker is promoted again, the time is printed;
#   - a planned move (crm_resource --move --promoted) under a writer: the
#     old node is demoted before the new one is promoted, and every
#     acknowledged write is in the database;
#   - SIGSTOP of the promoted broker past the monitor timeout: the other
#     node is promoted; the frozen broker is demoted or killed; nothing
#     sent to it is committed, and no record carries a superseded epoch
#     (asserted on the database).
#
#   two_nodes.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/pcmk_lib.sh"

backend=${1:?usage: two_nodes.sh postgres|redis}
pm_setup "$backend" mss1 mss2 || { fail "two-node Pacemaker cluster on $backend"; finish; exit 1; }
other_of() { if [ "$1" = mss1 ]; then echo mss2; else echo mss1; fi; }
promoted_is() { [ "$(pm_promoted)" = "$1" ]; }
record_present() { cl_db_records | grep -q "^map/$CL_APP/$1"$'\t'; }

check "both brokers run, one promoted" pm_wait_both_running 60
act=$(pm_promoted)
check "Pacemaker promoted one broker ($act), and it is the active one" \
	test -n "$act" -a "$(cl_active)" = "$act"
check "a write succeeds through it" test "$(cl_put "$act" first v-first)" = 201
STOP=$CL_DIR/observer.stop
cl_observer "$STOP" "$CL_DIR/observer.log" &
observer_pid=$!
on_exit "touch '$STOP'; wait $observer_pid 2>/dev/null"

# ---- kill -9 of the promoted node's stack ----
other=$(other_of "$act")
e_old=$(cl_epoch "$act")
t0=$(now_ms)
pcmk_kill "$act"
new=$(cl_wait_active "$act" 60)
t1=$(now_ms)
check "kill -9 of $act's stack: $other is promoted ($((t1 - t0)) ms)" test "$new" = "$other"
e_new=$(cl_epoch "$other")
check "... at a larger epoch ($e_old -> $e_new)" test "${e_new:-0}" -gt "$e_old"
check "... and a write succeeds through it" test "$(cl_put "$other" after-kill v)" = 201
check "... Pacemaker agrees" wait_until 20 promoted_is "$other"
pcmk_start "$act" || fail "restarting $act's stack"
check "$act comes back and runs unpromoted" pm_wait_both_running 60
check "... standby (429)" cl_wait_health "$act" 429 20
act=$other

# ---- a failed monitor: the promoted broker stops behind Pacemaker's back ----
other=$(other_of "$act")
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

# ---- a planned move, with a writer ----
other=$(other_of "$act")
W=$CL_DIR/move-writer.log
: >"$W"
( i=0
  while [ ! -e "$CL_DIR/move.stop" ]; do
	i=$((i + 1))
	for n in mss1 mss2; do
		c=$(cl_put "$n" "mv$i" "v$i" 2)
		if [ "$c" = 201 ]; then echo "ack mv$i $n"; break; fi
	done
	sleep 0.02
  done >"$W" ) &
writer_pid=$!
wait_until 10 test -s "$W"
pm_mark "$act"
pm_mark "$other"
pcmk_in "$act" crm_resource --move -r sb-clone --promoted -N "$other" >/dev/null 2>&1 ||
	fail "crm_resource --move"
check "planned move: $other is promoted" wait_until 60 promoted_is "$other"
check "... and active" cl_wait_health "$other" 200 20
sleep 1
touch "$CL_DIR/move.stop"
wait "$writer_pid"
d_line=$(pm_in_log "$act" "fencing: now standby .*: demoted")
p_line=$(pm_in_log "$other" "fencing: now active .*promoted by pacemaker")
check "... $act was demoted ($d_line)" test -n "$d_line"
check "... $other promoted ($p_line)" test -n "$p_line"
check "... the demote came before the promote" test "${d_line%% *}" \< "${p_line%% *}"
acked=$(grep -c '^ack' "$W")
cl_db_records >"$CL_DIR/records.txt"
missing=$(grep '^ack' "$W" | awk '{print $2}' | while read -r id; do
	grep -q "^map/$CL_APP/$id"$'\t' "$CL_DIR/records.txt" || echo "$id"; done | wc -l)
check "no acknowledged write lost across the move ($acked acknowledged, $missing missing)" \
	test "$acked" -gt 0 -a "$missing" = 0
check "writes went through $other after the move" grep -q "^ack .* $other$" "$W"
pcmk_in "$act" crm_resource --clear -r sb-clone >/dev/null 2>&1
act=$other

# ---- SIGSTOP of the promoted broker past the monitor timeout ----
other=$(other_of "$act")
pid=$(pm_broker_pid "$act")
e_old=$(cl_epoch "$act")
t0=$(now_ms)
kill -STOP "$pid"
echo "==== SIGSTOP $(date +%T.%N)" >>"$CL_DIR/$act/broker.log"
# Writes sent to the frozen broker: queued in its socket, never answered.
frozen_pids=()
for k in 1 2 3; do
	(cl_put "$act" "frozen$k" stale 30 >"$CL_DIR/frozen$k.code") &
	frozen_pids+=($!)
done
new=$(cl_wait_active "$act" 60)
t1=$(now_ms)
check "SIGSTOP of $act: $other is promoted ($((t1 - t0)) ms)" test "$new" = "$other"
check "... at a larger epoch" test "$(cl_epoch "$other")" -gt "$e_old"
kill -CONT "$pid" 2>/dev/null
echo "==== SIGCONT $(date +%T.%N)" >>"$CL_DIR/$act/broker.log"
wait "${frozen_pids[@]}"
not_active() { [ "$(cl_health "$act")" != 200 ]; }
check "... the frozen broker was demoted or killed (health $(cl_health "$act"))" not_active
for k in 1 2 3; do
	code=$(cat "$CL_DIR/frozen$k.code")
	check "... write $k sent to the frozen broker was not acknowledged ($code)" test "${code:0:1}" != 2
done
check "a write through $other succeeds" test "$(cl_put "$other" after-stop v)" = 201
sleep 1
for k in 1 2 3; do
	expect_fail "... write $k sent to the frozen broker is not in the database" record_present "frozen$k"
done

touch "$STOP"
wait "$observer_pid"
tail -n 1 "$CL_DIR/observer.log" | sed 's/^/# observer: /'
violations=$(grep -c VIOLATION "$CL_DIR/observer.log")
grep VIOLATION "$CL_DIR/observer.log" | head >&2
check "the database never got a write under a superseded epoch ($violations)" \
	test "$violations" -eq 0
pm_cleanup
pm_finish
