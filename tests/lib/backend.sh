# A real SSO database for a test, by backend name (bash; source after
# tests/lib/testlib.sh):
#
#   backend_start BACKEND DIR   sqlite (a file, nothing to start), postgres
#                               (tests/fixtures/postgres.sh) or redis
#                               (tests/fixtures/redis.sh, append-only file
#                               synced every second), its files under DIR;
#                               sets BACKEND_STORAGE_INI, the [storage]
#                               section for broker_config, and
#                               BACKEND_PG_ENV or BACKEND_REDIS_PORT
#   backend_stop                stops the server backend_start started
#   backend_log                 prints its log
#
# The caller registers backend_stop (on_exit) before backend_start, so a
# server that started halfway is stopped too.

BACKEND_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BACKEND=
BACKEND_DIR=
BACKEND_PG_ENV=
BACKEND_REDIS_PORT=

backend_start() {
	BACKEND=$1
	BACKEND_DIR=$2
	mkdir -p "$2" || return 1
	case "$1" in
	sqlite)
		BACKEND_STORAGE_INI="[storage]
plugin = sqlite
path = $2/sso.db"
		;;
	postgres)
		BACKEND_PG_ENV=$2/pg.env
		bash "$BACKEND_SRC/tests/fixtures/postgres.sh" start \
			"$BACKEND_PG_ENV" >/dev/null || return 1
		# shellcheck disable=SC1090
		. "$BACKEND_PG_ENV"
		BACKEND_STORAGE_INI="[storage]
plugin = postgres
conninfo = host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres sslmode=disable
schema = secretbroker
op_timeout_ms = 2000"
		;;
	redis)
		. "$BACKEND_SRC/tests/fixtures/redis.sh"
		redis_start "$2" redis --appendonly yes \
			--appendfsync everysec || return 1
		BACKEND_REDIS_PORT=$(redis_port "$2" redis)
		BACKEND_STORAGE_INI="[storage]
plugin = redis
host = 127.0.0.1
port = $BACKEND_REDIS_PORT
key_prefix = sb:
op_timeout_ms = 2000"
		;;
	*)
		echo "backend.sh: unknown backend $1 (sqlite, postgres or redis)" >&2
		return 1
		;;
	esac
}

backend_stop() {
	case "$BACKEND" in
	postgres) [ -z "$BACKEND_PG_ENV" ] ||
		bash "$BACKEND_SRC/tests/fixtures/postgres.sh" stop "$BACKEND_PG_ENV" ;;
	redis) redis_stop "$BACKEND_DIR" redis ;;
	esac
}

backend_log() {
	case "$BACKEND" in
	postgres) bash "$BACKEND_SRC/tests/fixtures/postgres.sh" log "$BACKEND_PG_ENV" ;;
	redis) redis_log "$BACKEND_DIR" redis ;;
	esac
}
