#!/usr/bin/env bash
# redis.sentinel: a primary, a replica and three sentinels. Two writers run
# through Sentinel, each taking the fence and writing numbered keys in
# fenced batches, recording every acknowledged key:
#   A  without WAIT            (key_prefix sa:)
#   B  with wait_replicas = 1  (key_prefix sb:)
# The primary is SIGKILLed mid-run. The sentinels promote the replica; the
# plugin finds the new primary by itself (no restart of the writers). The
# old primary is then restarted as a replica of the new one, so B's writes
# can be acknowledged again. Then SENTINEL FAILOVER moves the primary back
# while the writers still hold connections to the old primary.
# At the end every acknowledged key is read back through Sentinel.
# Reported: how many of A's acknowledged writes were lost in each failover
# (no WAIT). Asserted: none of B's, B's distinct "not acknowledged by
# replicas" error, and both writers writing on each new primary.
#   redis_sentinel.sh REDIS_TOOL PLUGIN_DIR FIXTURE_DIR
set -u
tool=$1 plugin_dir=$2
here=$(dirname "$0")
. "$here/../../lib/testlib.sh"
. "$here/../../fixtures/redis.sh"

tmp=$(make_tmpdir)
# make_tmpdir runs in a subshell here, so its own cleanup hook is lost:
# register it in this shell, first, so it runs after the servers are gone.
[ -n "${KEEP_TMP:-}" ] || on_exit "rm -rf '$tmp'"
on_exit "for n in s1 s2 s3 p r; do redis_kill '$tmp' \$n; done"
on_exit '[ "$TESTS_FAILED" -eq 0 ] || for n in p r s1; do redis_log "$tmp" $n; done'

# Both data servers serve a replica without the 5 s diskless-sync delay.
redis_start "$tmp" p --repl-diskless-sync-delay 0 || exit 1
P=$(redis_port "$tmp" p)
redis_start "$tmp" r --repl-diskless-sync-delay 0 --replicaof 127.0.0.1 "$P" || exit 1
R=$(redis_port "$tmp" r)
for s in s1 s2 s3; do
	redis_sentinel_start "$tmp" $s mymaster "$P" 2 || exit 1
done
S1=$(redis_port "$tmp" s1) S2=$(redis_port "$tmp" s2) S3=$(redis_port "$tmp" s3)

in_sync() { redis_cli "$R" INFO replication | grep -q 'master_link_status:up'; }
sentinels_ready() {
	local s
	for s in "$S1" "$S2" "$S3"; do
		redis_cli "$s" SENTINEL ckquorum mymaster | grep -q '^OK 3 usable' || return 1
		[ "$(redis_cli "$s" SENTINEL replicas mymaster | grep -c '^runid$')" = 1 ] || return 1
	done
}
t0=$SECONDS
check "replica in sync" wait_until 10 in_sync
check "three sentinels see each other and the replica" wait_until 20 sentinels_ready
echo "# cluster ready in $((SECONDS - t0)) s"

common=(--plugin-dir "$plugin_dir"
	--set "sentinels=127.0.0.1:$S1, 127.0.0.1:$S2, 127.0.0.1:$S3"
	--set master_name=mymaster --set connect_timeout_ms=300
	--set op_timeout_ms=1000)
A=(--set key_prefix=sa:)
B=(--set key_prefix=sb: --set wait_replicas=1 --set wait_timeout_ms=300)
: >"$tmp/a.acks"
: >"$tmp/b.acks"
"$tool" writer "${common[@]}" "${A[@]}" --acks "$tmp/a.acks" --batch 4 --pause-us 500 \
	>"$tmp/a.out" 2>&1 &
wa=$!
"$tool" writer "${common[@]}" "${B[@]}" --acks "$tmp/b.acks" --batch 4 --pause-us 500 \
	>"$tmp/b.out" 2>&1 &
wb=$!
on_exit "kill $wa $wb 2>/dev/null"
on_exit '[ "$TESTS_FAILED" -eq 0 ] || { cat "$tmp/a.out" "$tmp/b.out"; }'

acks() { wc -l <"$tmp/$1.acks"; }
acks_above() { [ "$(acks "$1")" -gt "$2" ]; }
check "writer A (no WAIT) acknowledged writes" wait_until 10 acks_above a 200
check "writer B (WAIT 1) acknowledged writes" wait_until 10 acks_above b 200

# --- the primary dies ----------------------------------------------------
redis_kill "$tmp" p
t_kill=$SECONDS
a_kill=$(acks a) b_kill=$(acks b)
echo "# primary 127.0.0.1:$P SIGKILLed; acknowledged so far: A $a_kill, B $b_kill"
promoted() {
	[ "$(redis_cli "$S1" SENTINEL get-master-addr-by-name mymaster | tail -1)" = "$R" ]
}
check "sentinels promote the replica 127.0.0.1:$R" wait_until 20 promoted
echo "# failover took about $((SECONDS - t_kill)) s"
check "writer A continues on the new primary" \
	wait_until 15 acks_above a "$((a_kill + 200))"

# The new primary has no replica yet: B's batches are applied there but
# not acknowledged, and B must say so with its own error.
not_acked() {
	grep -q "was written on the primary but acknowledged by only 0 of 1 replica" "$tmp/b.out"
}
check "B: written on the primary but not acknowledged by 1 replica (distinct error)" \
	wait_until 15 not_acked
b_noreplica=$(acks b)
# B needs a replica to acknowledge: bring the old primary back as one.
redis_restart "$tmp" p --replicaof 127.0.0.1 "$R" || exit 1
check "writer B continues on the new primary once a replica is back" \
	wait_until 20 acks_above b "$((b_kill + 200))"

# --- a second, Sentinel-initiated failover back to p ------------------------
# The old primary r is not stopped: it keeps accepting writes until the
# sentinels reconfigure it (which can take seconds), and whatever it
# acknowledges meanwhile is lost when it resyncs from p. The plugin's
# periodic check of the sentinels (sentinel_check_interval_ms, 1 s) bounds
# that window; WAIT closes it.
p_synced() { redis_cli "$P" INFO replication | grep -q 'master_link_status:up'; }
check "old primary in sync as a replica" wait_until 10 p_synced
# The sentinels learn of the returned server from r's INFO (up to 10 s).
sentinel_sees_p() {
	redis_cli "$S1" SENTINEL replicas mymaster | awk -v want="127.0.0.1:$P" '
		prev == "name" { name = $0 }
		prev == "flags" && name == want && $0 == "slave" { ok = 1 }
		{ prev = $0 }
		END { exit !ok }'
}
check "sentinels list it as a healthy replica" wait_until 20 sentinel_sees_p
a_fo=$(acks a) b_fo=$(acks b)
failover_ok() { [ "$(redis_cli "$S1" SENTINEL FAILOVER mymaster)" = OK ]; }
check "SENTINEL FAILOVER accepted" wait_until 10 failover_ok
promoted_p() {
	[ "$(redis_cli "$S1" SENTINEL get-master-addr-by-name mymaster | tail -1)" = "$P" ]
}
check "SENTINEL FAILOVER promotes 127.0.0.1:$P again" wait_until 20 promoted_p
# Each writer must move to p by itself (the periodic check of the
# sentinels, or r closing its connections when the sentinels reconfigure
# it), then keep writing there.
switched() {
	grep -q "the sentinels name 127.0.0.1:$P as primary of \"mymaster\" (was 127.0.0.1:$R)" "$tmp/$1.out"
}
check "writer A moved to p" wait_until 15 switched a
check "writer B moved to p" wait_until 15 switched b
a_sw=$(acks a) b_sw=$(acks b)
check "writer A continues on p" wait_until 15 acks_above a "$((a_sw + 200))"
check "writer B continues on p" wait_until 15 acks_above b "$((b_sw + 200))"

kill -TERM "$wa" "$wb"
wait "$wa"
rca=$?
wait "$wb"
rcb=$?
check "writer A ended cleanly" [ $rca -eq 0 ]
check "writer B ended cleanly" [ $rcb -eq 0 ]
echo "# writer A (no WAIT):"
sed 's/^/#   /' "$tmp/a.out"
echo "# writer B (wait_replicas 1):"
sed 's/^/#   /' "$tmp/b.out"
check "writer A found r through Sentinel after the kill (log)" \
	grep -q "the sentinels name 127.0.0.1:$R as primary of \"mymaster\" (was 127.0.0.1:$P)" \
	"$tmp/a.out"

# Keys acknowledged before the second failover began can only have been
# lost in the first: --split tells the two apart.
va=$("$tool" verify "${common[@]}" "${A[@]}" --acks "$tmp/a.acks" --split "$a_fo" 2>&1 | grep '^verify:')
vb=$("$tool" verify "${common[@]}" "${B[@]}" --acks "$tmp/b.acks" --split "$b_fo" 2>&1 | grep '^verify:')
echo "# without WAIT:      $va"
echo "# wait_replicas = 1: $vb"
lost_a=$(sed -n 's/.* lost=\([0-9]*\).*/\1/p' <<<"$va")
lost_a1=$(sed -n 's/.* lost_in_first_[0-9]*=\([0-9]*\).*/\1/p' <<<"$va")
lost_a2=$(sed -n 's/.* lost_after=\([0-9]*\).*/\1/p' <<<"$va")
echo "# REPORT: acknowledged writes lost without WAIT: ${lost_a:-?} of $(acks a)" \
	"(primary SIGKILLed: ${lost_a1:-?}; SENTINEL FAILOVER: ${lost_a2:-?})"
check "verify A ran" [ -n "$lost_a" ]
check "with wait_replicas = 1 no acknowledged write was lost" contains "$vb" " lost=0"
finish
