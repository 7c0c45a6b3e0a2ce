#!/usr/bin/env bash
# cluster.cycles.BACKEND: many failovers in one bounded run, with a writer
# going.
#
# Two MSS nodes and a member on a real PostgreSQL or Redis server, with
# the lease fencing plugin or (CL_FENCING=keepalived) real keepalived
# daemons deciding (see cluster_lib.sh). Alternately the active MSS is
# crashed (SIGKILL; with keepalived, its keepalived too) and restarted, or
# its broker is SIGSTOPped until the other node took over (past the lease
# TTL; with keepalived, until the health check lowered its VRRP priority)
# and resumed, then sent writes at once, CL_CYCLES times or until
# CL_CYCLES_BUDGET_S has passed. Meanwhile:
#   - a writer writes numbered values through whichever node is active
#     (found via /v1/health, whose epoch it notes before each write) and
#     logs every acknowledged write;
#   - an observer reads the database directly (psql / redis-cli), one
#     consistent snapshot of the store's epoch and every record every
#     ~50 ms: a record that appears with an epoch older than the store's
#     epoch in the snapshot before is a write committed with a superseded
#     epoch;
#   - a poller looks credentials up on the member.
# Afterwards: every acknowledged write is in the database and decrypts on
# the member, carries an epoch >= the one its node had when the write was
# sent, the epochs in acknowledgement order never go back, the observer saw
# no superseded epoch committed and the store's epoch never going back,
# nothing sent to a resumed node right after SIGCONT is there, and the
# member answered every lookup.
#
#   cycles.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/cluster_lib.sh"

backend=${1:?usage: cycles.sh postgres|redis}
cycles=${CL_CYCLES:-10}
budget_s=${CL_CYCLES_BUDGET_S:-75}
min_cycles=${CL_MIN_CYCLES:-6}
cl_setup "$backend" || { fail "cluster setup on $backend"; finish; exit 1; }
W=$CL_DIR/writer.log
STOP=$CL_DIR/cycles.stop

for i in $(seq 1 5); do
	[ "$(cl_put mss1 "seed$i" "seed-$i")" = 201 ] || fail "write seed$i"
done
cl_start_poller member1 seed1 seed2 seed3 seed4 seed5

cl_start_writing "$W" "$STOP"
n_acks() { grep -c '^ack' "$W"; }
acks_on() { cl_acks_on "$W" "$@"; }
check "the writer writes" wait_until 20 acks_on mss1 20

start_s=$SECONDS
done_cycles=0
: >"$CL_DIR/stale.ids"
for c in $(seq 1 "$cycles"); do
	((SECONDS - start_s < budget_s)) || break
	act=$(cl_wait_active "" 15) || { fail "cycle $c: no active MSS"; break; }
	other=$(cl_other_of "$act")
	e_old=$(cl_epoch "$act")
	before=$(grep -c "^ack .* $other " "$W")
	t0=$(now_ms)
	if ((c % 2 == 1)); then
		kind=SIGKILL
		cl_crash "$act"
	else
		kind=SIGSTOP
		cl_pause "$act"
	fi
	new=$(cl_wait_active "$act" $((CL_TTL_MS / 1000 + 10)))
	t1=$(now_ms)
	if [ "$new" != "$other" ]; then
		fail "cycle $c: $other did not take over from $act ($kind)"
		[ "$kind" = SIGSTOP ] && cl_resume "$act"
		break
	fi
	e_new=$(cl_epoch "$new")
	# Let the writer find the new node and write through it.
	wait_until 10 acks_on "$new" $((before + 10)) ||
		fail "cycle $c: the writer made no progress through $new"
	t2=$(now_ms)
	if [ "$kind" = SIGKILL ]; then
		cl_boot "$act" || { fail "cycle $c: restarting $act"; break; }
	else
		cl_resume "$act"
		cl_put_stale "$act" "$c"
	fi
	cl_wait_health "$act" 429 10 ||
		fail "cycle $c: $act is not a standby after the $kind ($(cl_health "$act"))"
	check "cycle $c: $kind $act (epoch $e_old) -> $new active at epoch $e_new after $((t1 - t0)) ms, writing after $((t2 - t0)) ms" \
		test "$e_new" -gt "$e_old"
	done_cycles=$c
done
cl_stop_writing "$STOP"
cl_stop_poller
echo "# $done_cycles cycles in $((SECONDS - start_s)) s"
check "at least $min_cycles cycles ran ($done_cycles)" test "$done_cycles" -ge "$min_cycles"

acked=$(n_acks)
echo "# writer: $acked acknowledged, $(grep -c '^nak' "$W") failed ($(grep '^nak' "$W" | awk '{ print $4 }' | sort | uniq -c | awk '{ printf "%s%s: %s", sep, $2, $1; sep = ", " }'))"
check "the writer got writes acknowledged ($acked)" test "$acked" -ge 50

cl_check_acks "$W" "$done_cycles"
cl_check_observer

cl_check_stale "a resumed node right after SIGCONT"

read -r ok failed <<<"$(cl_poller_counts)"
check "the member answered every lookup throughout ($ok answered, $failed failed)" \
	test "$ok" -ge 100 -a "$failed" -eq 0

# Every acknowledged value decrypts on the member.
grep '^ack' "$W" | awk '{ print "w" $2 }' >"$CL_DIR/acked.ids"
mapfile -t ids <"$CL_DIR/acked.ids"
cl_lookup member1 "${ids[@]}" >"$CL_DIR/lookups.txt"
wrong=$(awk -F'\t' '$2 != "v" substr($1, 2)' "$CL_DIR/lookups.txt" | head -n 5)
check "every acknowledged value decrypts on the member ($(wc -l <"$CL_DIR/lookups.txt") of ${#ids[@]})" \
	test -z "$wrong" -a "$(wc -l <"$CL_DIR/lookups.txt")" -eq "${#ids[@]}"
[ -z "$wrong" ] || echo "$wrong" >&2
cl_finish
