#!/usr/bin/env bash
# postgres.failover: primary + synchronous streaming replica; pg_writer
# (the plugin, loaded as the daemon loads it) writes fenced batches through
# a multi-host conninfo; the primary is killed (-m immediate) and the
# replica promoted; the writer must carry on against the new primary
# without restarting. Then: every acknowledged write is on the new
# primary (checked here with psql, independently of the plugin, and by the
# writer through the plugin), the epoch never went back, a takeover gives a
# larger epoch, and a stale-epoch batch is refused with nothing applied.
#
# Usage: failover.sh PG_WRITER PLUGIN_DIR FIXTURE WORKDIR
set -euo pipefail
writer=$1 plugin_dir=$2 fixture=$3 work=$4
mkdir -p "$work"
env="$work/env" acks="$work/acks.log" stop="$work/stop" out="$work/writer.out"
rm -f "$acks" "$stop" "$out"
wpid=
cleanup() {
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null
	bash "$fixture" stop "$env"
}
trap cleanup EXIT
fail() {
	echo "not ok - $*"
	[ -f "$out" ] && cat "$out"
	bash "$fixture" log "$env" || true
	exit 1
}
now_ms() { date +%s%3N; }
n_acks() { if [ -f "$acks" ]; then grep -c '^ack' "$acks" || true; else echo 0; fi; }
wait_acks() { # N TIMEOUT_S
	local deadline=$(($(now_ms) + $2 * 1000))
	while [ "$(n_acks)" -lt "$1" ]; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		kill -0 "$wpid" 2>/dev/null || return 1
		sleep 0.02
	done
}

bash "$fixture" start "$env" pair
# shellcheck disable=SC1090
. "$env"
conninfo="host=127.0.0.1,127.0.0.1 port=$PG_PORT,$PG_PORT2 user=postgres dbname=postgres target_session_attrs=read-write"

"$writer" "$plugin_dir" "$conninfo" failover "$acks" "$stop" >"$out" 2>&1 &
wpid=$!
wait_acks 100 15 || fail "writer made no progress before the failover"

t0=$(now_ms)
bash "$fixture" halt "$env" immediate 1
bash "$fixture" promote "$env"
t1=$(now_ms)
before=$(n_acks)
echo "# primary killed and replica promoted in $((t1 - t0)) ms, after $before acknowledged batches"
wait_acks $((before + 100)) 20 || fail "writer made no progress on the new primary"
t2=$(now_ms)
touch "$stop"
rc=0
wait "$wpid" || rc=$?
wpid=
cat "$out"
[ "$rc" = 0 ] || fail "pg_writer failed ($rc)"
echo "# $(($(n_acks) - before)) batches acknowledged on the new primary (the 100th $((t2 - t1)) ms after the promotion)"

# Independent check on the new primary: every acknowledged key is there.
grep '^ack' "$acks" | awk '{ for (i = 0; i < $3; i++) printf "k/%07d\n", $2 + i }' >"$work/acked.txt"
n=$(wc -l <"$work/acked.txt")
missing=$(bash "$fixture" psql "$env" 2 \
	-c "CREATE TEMP TABLE acked (k text)" \
	-c "\\copy acked FROM pstdin" \
	-c "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM failover.kv WHERE key = convert_to(a.k, 'UTF8'))" \
	<"$work/acked.txt")
[ "$missing" = 0 ] || fail "$missing of $n acknowledged keys missing on the new primary"
epochs=$(grep '^ack' "$acks" | awk '{ print $4 }' | sort -n -c && echo sorted)
[ "$epochs" = sorted ] || fail "epochs in the acknowledgement log went backwards"
recovery=$(bash "$fixture" psql "$env" 2 -c "SELECT pg_is_in_recovery()")
[ "$recovery" = f ] || fail "node 2 is still a standby"
echo "ok - postgres.failover: $n acknowledged keys all on the new primary"
