#!/usr/bin/env bash
# cluster.kill.BACKEND: SIGKILL the active master secret server.
#
# Two MSS nodes (lease fencing) and a member on a real PostgreSQL or Redis
# server. mss1 is active; a poller looks credentials up on the member all
# the time; mss1 is SIGKILLed. Then: mss2 becomes active (health 200) at a
# larger epoch within the lease TTL plus slack, writes through it succeed,
# cluster/mss names it, the member served every lookup throughout (0
# failures), reaches the new MSS by itself and encrypts again; mss1,
# restarted, comes back as a standby; every value written is in the
# database (raw records) and decrypts on the member.
#
#   kill.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/cluster_lib.sh"

backend=${1:?usage: kill.sh postgres|redis}
cl_setup "$backend" || { fail "cluster setup on $backend"; finish; exit 1; }

# Values written before the failover, through the active node.
for i in $(seq 1 10); do
	[ "$(cl_put mss1 "pre$i" "before-$i")" = 201 ] || fail "write pre$i on mss1"
done
e1=$(cl_epoch mss1)

cl_start_poller member1 pre1 pre2 pre3 pre4 pre5
wait_until 10 test -s "$CL_DIR/poller.log" || fail "the poller got no answer"

t0=$(now_ms)
cl_kill mss1
new=$(cl_wait_active mss1 $((CL_TTL_MS / 1000 + 10)))
t1=$(now_ms)
check "mss2 becomes the active MSS after mss1 is killed" test "$new" = mss2
echo "# mss2 answered 200 $((t1 - t0)) ms after the SIGKILL (lease TTL $CL_TTL_MS ms)"
# The lease must have expired first: never sooner than the self-fencing
# margin, and not much later than the TTL plus one acquire interval.
check "the takeover waited for the lease to expire (>= TTL/2)" test $((t1 - t0)) -ge $((CL_TTL_MS / 2))
check "the takeover came within TTL + 3 s" test $((t1 - t0)) -le $((CL_TTL_MS + 3000))

e2=$(cl_epoch mss2)
check "mss2 holds a larger epoch ($e2 > $e1)" test "$e2" -gt "$e1"
code=$(cl_put mss2 post1 after-1)
t2=$(now_ms)
check "the first write through mss2 succeeds ($code)" test "$code" = 201
echo "# first write through mss2 acknowledged $((t2 - t0)) ms after the SIGKILL"
for i in $(seq 2 10); do
	[ "$(cl_put mss2 "post$i" "after-$i")" = 201 ] || fail "write post$i on mss2"
done

mss_is() { # NODE EPOCH: cluster/mss names NODE at EPOCH
	local j
	j=$(curl -s --max-time 2 --unix-socket "$CL_DIR/mss2/sb.sock" http://sb/v1/cluster)
	[ "$(echo "$j" | jq -r .active_mss.node)" = "$1" ] &&
		[ "$(echo "$j" | jq -r .active_mss.epoch)" = "$2" ]
}
check "cluster/mss names mss2 at epoch $e2" wait_until 5 mss_is mss2 "$e2"

# The member finds the new MSS by itself (refresh_s = 1) and then encrypts.
member_reachable() {
	[ "$(cl_health_json member1 | jq -r .mss_reachable)" = true ]
}
check "the member reaches the new MSS by itself" wait_until 10 member_reachable
code=$(cl_put member1 bymember member-value)
check "the member encrypts again (write through it: $code)" test "$code" = 201

cl_stop_poller
read -r ok failed <<<"$(cl_poller_counts)"
echo "# member lookups during the failover: $ok answered, $failed failed"
check "the member answered lookups throughout ($ok)" test "$ok" -ge 20
check "no member lookup failed ($failed failures)" test "$failed" -eq 0

cl_start mss1 || fail "restarting mss1"
check "restarted mss1 is a standby (429)" cl_wait_health mss1 429 10
check "mss2 is still active" test "$(cl_health mss2)" = 200
code=$(cl_put mss1 refused nope)
check "a write on the standby is refused with 503 ($code)" test "$code" = 503
# The secret is handed out by the active MSS only, to members only.
code=$(cl_fetch_secret mss2 member1)
check "the active MSS hands the secret to the member over mutual TLS ($code)" \
	test "$code" = 200
code=$(cl_fetch_secret mss2 mss1)
check "... and not to a certificate that is not a cluster member ($code)" \
	test "$code" = 403
code=$(cl_fetch_secret mss1 member1)
check "the standby refuses to hand out the secret: 503 ($code)" test "$code" = 503
check "... and is still up (429)" test "$(cl_health mss1)" = 429

# Everything written is there: raw records, and decrypted on the member.
ids=(bymember)
for i in $(seq 1 10); do ids+=("pre$i" "post$i"); done
cl_db_records >"$CL_DIR/records.txt"
missing=0
for id in "${ids[@]}"; do
	grep -q "^map/$CL_APP/$id"$'\t' "$CL_DIR/records.txt" || missing=$((missing + 1))
done
check "every written record is in the database ($missing missing)" test "$missing" -eq 0
expect_fail "the refused write is not in the database" \
	grep -q "^map/$CL_APP/refused"$'\t' "$CL_DIR/records.txt"
bad=$(awk -F'\t' -v e1="$e1" -v e2="$e2" '
	{ split($1, k, "/"); id = k[3]
	  match($2, /"epoch":[0-9]+/); e = substr($2, RSTART + 8, RLENGTH - 8) + 0
	  if (id ~ /^pre/ && e != e1) print id " epoch " e " (want " e1 ")"
	  if (id ~ /^post/ && e != e2) print id " epoch " e " (want " e2 ")" }' \
	"$CL_DIR/records.txt")
check "records carry the epoch of the node that wrote them" test -z "$bad"
[ -z "$bad" ] || echo "$bad" | head >&2
cl_lookup member1 "${ids[@]}" >"$CL_DIR/lookups.txt"
wrong=$(awk -F'\t' '
	$1 ~ /^pre/ { if ($2 != "before-" substr($1, 4)) print }
	$1 ~ /^post/ { if ($2 != "after-" substr($1, 5)) print }
	$1 == "bymember" { if ($2 != "member-value") print }
	$1 == "?" { print }' "$CL_DIR/lookups.txt")
check "every value decrypts on the member (${#ids[@]} lookups)" \
	test -z "$wrong" -a "$(wc -l <"$CL_DIR/lookups.txt")" -eq "${#ids[@]}"
[ -z "$wrong" ] || echo "$wrong" | head >&2
cl_finish
