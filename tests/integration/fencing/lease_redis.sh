#!/usr/bin/env bash
# fencing.lease.redis: sb-fencing-lease-cluster, unchanged, on the redis
# fixture's shared server (tests/fixtures/redis.sh), on a key prefix no
# earlier run used. On failure, prints the server's log.
# Usage: lease_redis.sh CLUSTER_TOOL PLUGIN_DIR FIXTURE_DIR
set -u
tool=$1 plugin_dir=$2 fixture=$3
. "$(dirname "$0")/../../fixtures/redis.sh"

port=$(redis_port "$fixture" main) || { echo "no fixture server" >&2; exit 1; }
prefix="lease:$(date +%s%N):$$:"
rc=0
"$tool" --plugin-dir "$plugin_dir" --plugin redis \
	--set host=127.0.0.1 --set "port=$port" --set "key_prefix=$prefix" \
	--set op_timeout_ms=2000 --driver-set op_timeout_ms=100 || rc=$?
[ $rc -eq 0 ] || redis_log "$fixture" main
exit $rc
