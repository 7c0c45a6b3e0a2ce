#!/usr/bin/env bash
# cluster.pause.BACKEND: SIGSTOP the active master secret server past the
# lease TTL, let the standby take over, SIGCONT.
#
# While mss1 is stopped, writes are already queued on its socket (they
# run the moment it resumes, possibly before its lease watchdog has
# noticed anything); mss2 takes over and writes at the new epoch. After
# SIGCONT more writes go to mss1 at once. Every write to mss1 must fail,
# mss1 must report standby (429), and the database, read directly
# (psql / redis-cli), must hold none of mss1's values, with every record
# at the new epoch or written before the takeover at the old one.
#
#   pause.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/cluster_lib.sh"

backend=${1:?usage: pause.sh postgres|redis}
cl_setup "$backend" || { fail "cluster setup on $backend"; finish; exit 1; }

for i in $(seq 1 5); do
	[ "$(cl_put mss1 "pre$i" "before-$i")" = 201 ] || fail "write pre$i on mss1"
done
e1=$(cl_epoch mss1)
cl_start_poller member1 pre1 pre2 pre3

# A storm of writes to mss1, some of them in flight when it is stopped:
# a request that read its epoch before the SIGSTOP sends its batch after
# the SIGCONT, and only the storage's epoch check can refuse it.
cl_put_storm mss1 inflight "$CL_DIR/storm.codes" "$CL_DIR/storm.stop" &
storm_pid=$!
storm_going() { [ "$(grep -c '^2' "$CL_DIR/storm.codes")" -ge 50 ]; }
wait_until 20 storm_going || fail "the storm of writes on mss1 did not get going"
t0=$(now_ms)
cl_pause mss1
touch "$CL_DIR/storm.stop"
# Writes sent to the stopped node: they wait in its socket's backlog.
for i in 1 2 3; do
	cl_put mss1 "queued$i" "stale-queued-$i" 30 >"$CL_DIR/queued$i.code" &
	eval "queued_pid$i=$!"
done
new=$(cl_wait_active mss1 $((CL_TTL_MS / 1000 + 10)))
t1=$(now_ms)
check "mss2 takes over while mss1 is stopped" test "$new" = mss2
echo "# mss2 active $((t1 - t0)) ms after the SIGSTOP (lease TTL $CL_TTL_MS ms)"
e2=$(cl_epoch mss2)
check "mss2 holds a larger epoch ($e2 > $e1)" test "$e2" -gt "$e1"
for i in $(seq 1 5); do
	[ "$(cl_put mss2 "post$i" "after-$i")" = 201 ] || fail "write post$i on mss2"
done
# What the database holds of mss1's storm now, after the takeover: from
# here on nothing of it may be added.
cl_db_records | grep "^map/$CL_APP/inflight" | cut -f1 | sort >"$CL_DIR/storm.before"
# Stopped well past the TTL, as a long GC pause or a frozen VM would be.
sleep "$(awk -v t="$CL_TTL_MS" 'BEGIN { print t / 2000 }')"

cl_resume mss1
# Straight after SIGCONT: writes to the old node, one after the other.
for i in $(seq 1 5); do
	code=$(cl_put mss1 "late$i" "stale-late-$i" 10)
	echo "$code" >"$CL_DIR/late$i.code"
done
for i in 1 2 3; do
	eval "wait \$queued_pid$i"
	code=$(cat "$CL_DIR/queued$i.code")
	check "write queued on stopped mss1 fails after SIGCONT ($code)" \
		test "${code:0:1}" != 2
done
for i in $(seq 1 5); do
	code=$(cat "$CL_DIR/late$i.code")
	check "write $i sent to mss1 right after SIGCONT fails ($code)" \
		test "${code:0:1}" != 2
done
wait "$storm_pid"
acked=$(grep -c '^2' "$CL_DIR/storm.codes")
refused=$(grep -c -v '^2' "$CL_DIR/storm.codes")
echo "# storm on mss1: $acked acknowledged, $refused refused (HTTP status: count):$(grep -v '^2' "$CL_DIR/storm.codes" | cut -d' ' -f1 | sort | uniq -c | awk '{ printf " %s: %s", $2, $1 }')"
# (The SIGSTOP may fall between two batches of the storm: then only the
# queued writes above were caught by it, and none of the storm's is refused.)
cl_db_records | grep "^map/$CL_APP/inflight" | cut -f1 | sort >"$CL_DIR/storm.after"
check "nothing of mss1's storm was committed after the takeover ($(wc -l <"$CL_DIR/storm.before") before, $(wc -l <"$CL_DIR/storm.after") after)" \
	cmp -s "$CL_DIR/storm.before" "$CL_DIR/storm.after"
grep '^2' "$CL_DIR/storm.codes" | sed "s|.* .*/mappings/|map/$CL_APP/|" | sort >"$CL_DIR/storm.acked"
check "the storm's committed writes are exactly those acknowledged" \
	cmp -s "$CL_DIR/storm.acked" "$CL_DIR/storm.after"
check "mss1 reports standby (429) after SIGCONT" cl_wait_health mss1 429 5
check "its health body says standby" \
	test "$(cl_health_json mss1 | jq -r .status)" = standby
check "mss2 is still active" test "$(cl_health mss2)" = 200
code=$(cl_fetch_secret mss1 member1)
check "resumed mss1 refuses to hand out the secret: 503 ($code)" test "$code" = 503
check "... and is still up (429)" test "$(cl_health mss1)" = 429
out=$(cl_api mss1 PUT "/v1/apps/$CL_APP/mappings/after" \
	'{"values": {"user": "after", "password": "stale-after"}}')
check "a write on standby mss1 is refused: 503 not_active" \
	contains "$out" "503 {\"error\":{\"code\":\"not_active\""
check "... naming the active MSS mss2" contains "$out" "mss2"
grep -E "fencing: now|refused|fenced|stale" "$CL_DIR/mss1/broker.log" |
	tail -n 12 | sed 's/^/# mss1: /'

cl_stop_poller
read -r ok failed <<<"$(cl_poller_counts)"
check "the member served lookups throughout ($ok answered, $failed failed)" \
	test "$ok" -ge 10 -a "$failed" -eq 0

# The database, read directly.
cl_db_records >"$CL_DIR/records.txt"
dbepoch=$(cl_db_epoch)
stale=$(grep -c -E "^map/$CL_APP/(queued|late|after)" "$CL_DIR/records.txt")
check "none of mss1's writes after the SIGSTOP is in the database ($stale found)" \
	test "$stale" -eq 0
grep -E "^map/$CL_APP/(queued|late|after)" "$CL_DIR/records.txt" >&2
n=$(grep -c -v "^map/$CL_APP/inflight" "$CL_DIR/records.txt")
check "every other record acknowledged is there (10 of $n)" test "$n" -eq 10
bad=$(awk -F'\t' -v e1="$e1" -v e2="$e2" '
	{ split($1, k, "/"); id = k[3]
	  match($2, /"epoch":[0-9]+/); e = substr($2, RSTART + 8, RLENGTH - 8) + 0
	  if (!(e >= e2 || (id ~ /^(pre|inflight)/ && e == e1))) print id " epoch " e }' \
	"$CL_DIR/records.txt")
check "every record is at epoch >= $e2 or was written before the takeover at $e1" \
	test -z "$bad"
[ -z "$bad" ] || echo "$bad" >&2
check "the store's epoch did not go back ($dbepoch >= $e2)" test "$dbepoch" -ge "$e2"
cl_lookup member1 pre1 pre5 post1 post5 >"$CL_DIR/lookups.txt"
check "values from both epochs decrypt on the member" test "$(cut -f2 "$CL_DIR/lookups.txt" | tr '\n' ' ')" = \
	"before-1 before-5 after-1 after-5 "
cl_finish
