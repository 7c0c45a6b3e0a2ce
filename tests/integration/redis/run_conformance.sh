#!/usr/bin/env bash
# conformance.redis: runs sb-storage-conformance unchanged against the
# fixture server, on a key prefix no earlier run used (the suite needs a
# fresh store). On failure, prints the server's log.
#   run_conformance.sh CONFORMANCE_TOOL REDIS_TOOL PLUGIN_DIR FIXTURE_DIR
set -u
conformance=$1 plugin_dir=$3 fixture=$4
. "$(dirname "$0")/../../fixtures/redis.sh"

port=$(redis_port "$fixture" main) || { echo "no fixture server" >&2; exit 1; }
prefix="ct:$(date +%s%N):$$:"
echo "conformance.redis: 127.0.0.1:$port key_prefix $prefix"
rc=0
"$conformance" --plugin-dir "$plugin_dir" --plugin redis \
	--set host=127.0.0.1 --set "port=$port" --set "key_prefix=$prefix" \
	--set op_timeout_ms=5000 || rc=$?
[ $rc -eq 0 ] || redis_log "$fixture" main
exit $rc
