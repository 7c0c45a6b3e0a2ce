#!/usr/bin/env bash
# redis.fence: on the fixture server, a batch carrying a stale fencing epoch
# is refused (SB_EFENCED) and nothing of it is applied; the same batch at
# the current epoch applies; release keeps the counter; an epoch before any
# lease is stale too. The checks are in `sb-redis-tool fence`.
#   redis_fence.sh REDIS_TOOL PLUGIN_DIR FIXTURE_DIR
set -u
tool=$1 plugin_dir=$2 fixture=$3
. "$(dirname "$0")/../../fixtures/redis.sh"

port=$(redis_port "$fixture" main) || { echo "no fixture server" >&2; exit 1; }
rc=0
"$tool" fence --plugin-dir "$plugin_dir" --set host=127.0.0.1 \
	--set "port=$port" --set "key_prefix=fence:$(date +%s%N):$$:" || rc=$?
[ $rc -eq 0 ] || redis_log "$fixture" main
exit $rc
