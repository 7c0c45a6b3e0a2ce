#!/usr/bin/env bash
# redis.docs: docs/storage-redis.md documents exactly the [storage] keys the
# plugin reads (every `cfg, "key"` in redis_settings.c has a row in the
# settings table, and every row is a key the code reads), and each row's
# default matches the code's.
#   redis_docs.sh SOURCE_DIR
set -u
src=$1
settings=$src/plugins/storage/redis/redis_settings.c
doc=$src/docs/storage-redis.md
code=$(grep -o 'cfg, "[a-z_]*"' "$settings" | sed 's/.*"\(.*\)"/\1/' | sort -u)
documented=$(grep -o '^| `[a-z_]*` |' "$doc" | sed 's/^| `\(.*\)` |/\1/' | sort -u)
rc=0
if [ "$code" != "$documented" ]; then
	echo "not ok - settings differ between code and docs:"
	diff <(echo "$code") <(echo "$documented") | sed 's/^/    /'
	rc=1
else
	echo "ok - $(echo "$code" | wc -l) settings, all documented, none extra"
fi
# Defaults: DEFAULT_X values in the code appear in the key's row.
check_default() {
	local key=$1 macro=$2 val row
	val=$(sed -n "s/^#define $macro[[:space:]]*\"*\([^\"]*\)\"*$/\1/p" "$settings")
	row=$(grep "^| \`$key\` |" "$doc")
	case "$row" in
	*"\`$val\`"*) echo "ok - $key default $val" ;;
	*) echo "not ok - $key: code default '$val' not in its docs row"; rc=1 ;;
	esac
}
check_default host DEFAULT_HOST
check_default port DEFAULT_PORT
check_default key_prefix DEFAULT_PREFIX
check_default connect_timeout_ms DEFAULT_CONNECT_TIMEOUT_MS
check_default op_timeout_ms DEFAULT_OP_TIMEOUT_MS
check_default wait_timeout_ms DEFAULT_WAIT_TIMEOUT_MS
check_default pool_size DEFAULT_POOL_SIZE
check_default reconnect_backoff_max_ms DEFAULT_BACKOFF_MAX_MS
check_default sentinel_check_interval_ms DEFAULT_SENTINEL_CHECK_MS
exit $rc
