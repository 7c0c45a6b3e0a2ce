#!/usr/bin/env bash
# The lookup benchmark with a networked storage backend (issue 4 item 6,
# issue 5 item 8): credential lookups per second and p50/p99 over the
# daemon's Unix socket with the cache OFF (every lookup reads the store),
# the store being a real PostgreSQL or Redis server started for the run,
# beside that same server's own ceiling at the same client count, measured
# in the same run: `pgbench -S -M prepared` (PostgreSQL) and
# `redis-benchmark -t get` (Redis). Prints one table with the ratios. See
# bench/README.md ("Lookups on PostgreSQL and Redis").
#
# usage: bench/lookup/storage.sh [--backend postgres|redis|both]
#                                [--duration S] [--warmup S] [--tcp]
#                                [--repeat N] [--record]
#   --backend    which store to measure (both)
#   --duration   seconds measured per row (4)
#   --warmup     seconds of load before each daemon row, not counted (1)
#   --tcp        reach the store over 127.0.0.1 instead of its Unix socket
#                (daemon and ceiling alike; PostgreSQL with sslmode=disable)
#   --repeat N   measure each row N times, keep the fastest of each side (1)
#   --record     also write the output to
#                bench/results/lookup-storage-DATE.txt
#   --scale "N..."  instead of the ceiling comparison: the cost as the data
#                grows (issue 14 item 4). The store is filled through the
#                API (PUT of mappings s0000001..., 32 at a time) up to each
#                size in turn, and the same lookups are measured at each
#                (1 and 32 clients, cache off): lookups/s, p50, p99, and
#                p99 over the p99 at the first size. E.g. --scale "1000
#                100000 1000000" (loading a million mappings takes a while)
# Environment: SB_BUILD, an existing build directory to use; without it the
# script configures and builds ./build-bench (as run.sh does, plus the
# postgres and redis plugins). Needs root (the PostgreSQL fixture runs the
# server as the postgres user), pgbench and redis-benchmark.
#
# Exit status 0 when every measurement ran and every lookup was a 200.

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# SB_BUILD relative to the caller's directory (SB_BUILD=build, as
# bench/README.md writes it) is made absolute now: the daemon and its
# plugin directory are used from other directories later.
if [ -n "${SB_BUILD:-}" ]; then
	SB_BUILD=$(cd "$SB_BUILD" && pwd) || {
		echo "$(basename "$0"): SB_BUILD=$SB_BUILD is not a directory" >&2
		exit 1
	}
fi

BACKENDS=(postgres redis)
DURATION=4
WARMUP=1
TCP=0
RECORD=0
REPEAT=1
CLIENTS=(1 32)
PIN=0
SCALE=()

while [ $# -gt 0 ]; do
	case $1 in
	--backend)
		case $2 in
		postgres | redis) BACKENDS=("$2") ;;
		both) BACKENDS=(postgres redis) ;;
		*) echo "storage.sh: --backend is postgres, redis or both" >&2; exit 1 ;;
		esac
		shift
		;;
	--duration) DURATION=$2; shift ;;
	--warmup) WARMUP=$2; shift ;;
	--tcp) TCP=1 ;;
	--repeat) REPEAT=$2; shift ;;
	--record) RECORD=1 ;;
	--scale) read -r -a SCALE <<<"$2"; shift ;;
	-h | --help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "storage.sh: unknown argument $1 (try --help)" >&2; exit 1 ;;
	esac
	shift
done

for tool in pgbench redis-benchmark redis-server curl jq; do
	command -v "$tool" >/dev/null ||
		{ echo "storage.sh: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done
if [ "$(id -u)" != 0 ]; then
	echo "storage.sh: needs root (tests/fixtures/postgres.sh runs the server as postgres)" >&2
	exit 1
fi

if [ "$RECORD" = 1 ]; then
	mkdir -p "$src/bench/results"
	out="$src/bench/results/lookup-storage-$(date +%F).txt"
	echo "recording to $out" >&2
	exec > >(tee "$out")
fi

# lib.sh builds only what run.sh needs: build the storage plugins first.
if [ -z "${SB_BUILD:-}" ]; then
	SB_BUILD=$src/build-bench
	echo "building in $SB_BUILD (set SB_BUILD to use another build)" >&2
	cmake -S "$src" -B "$SB_BUILD" >/dev/null &&
		cmake --build "$SB_BUILD" -j"$(nproc)" --target secretbrokerd \
			sbctl sbload storage_sqlite storage_postgres \
			storage_redis crypto_openssl fencing_none >/dev/null || {
		echo "storage.sh: the build in $SB_BUILD failed" >&2
		exit 1
	}
fi
for f in storage_postgres storage_redis; do
	[ -f "$SB_BUILD/plugins/$f.so" ] || {
		echo "storage.sh: $SB_BUILD/plugins/$f.so is missing: build it first" >&2
		exit 1
	}
done

. "$here/lib.sh"
lib_init || exit 1
# testlib's EXIT trap tears everything down; make ^C and kill go through it.
trap 'exit 130' INT
trap 'exit 143' TERM
. "$src/tests/fixtures/redis.sh"
PGFIX=$src/tests/fixtures/postgres.sh
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

ROWS=() # "backend|clients|rps|p50|p99|errors|ceiling|ceiling_lat"
FAILED=0

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# ---- the backends ----------------------------------------------------------

# pg_up: a PostgreSQL 15 server (tests/fixtures/postgres.sh) with a second
# database for pgbench; sets STORAGE_INI and PGB_CONN (pgbench's connection
# options, the daemon's transport).
pg_up() {
	local host
	PG_ENV=$T/pg.env
	bash "$PGFIX" start "$PG_ENV" >/dev/null || return 1
	on_exit "bash '$PGFIX' stop '$PG_ENV'"
	. "$PG_ENV"
	if [ "$TCP" = 1 ]; then host=127.0.0.1; else host=$PG_DIR/sock; fi
	# sslmode=disable: the fixture's server has SSL on, and libpq's
	# default (prefer) would encrypt a TCP connection, for one side only.
	STORAGE_INI="[storage]
plugin = postgres
conninfo = host=$host port=$PG_PORT dbname=postgres user=postgres sslmode=disable
schema = sb_bench"
	PGB_CONN=(-h "$host" -p "$PG_PORT" -U postgres)
	bash "$PGFIX" psql "$PG_ENV" 1 -c "CREATE DATABASE pgbench" >/dev/null &&
		PGSSLMODE=disable pgbench -q -i -s 1 "${PGB_CONN[@]}" pgbench \
			>"$T/pgbench-init.log" 2>&1 || {
		echo "storage.sh: pgbench -i failed:" >&2
		cat "$T/pgbench-init.log" >&2
		return 1
	}
	echo "postgres: $("$PGBIN/postgres" --version | sed 's/^postgres (PostgreSQL) /PostgreSQL /; s/ (.*//'), fixture settings (fsync off, shared_buffers 32MB), $([ "$TCP" = 1 ] && echo "TCP 127.0.0.1:$PG_PORT" || echo "Unix socket"), no SSL"
}

pg_down() { bash "$PGFIX" stop "$PG_ENV"; }

# pg_record_sizes: the stored value sizes, as "key=bytes ...".
pg_record_sizes() {
	bash "$PGFIX" psql "$PG_ENV" 1 -F= -c \
		"SELECT convert_from(key, 'UTF8'), octet_length(value) FROM sb_bench.kv ORDER BY 1" |
		tr '\n' ' '
}

# pg_ceiling CLIENTS: sets CEIL to "ops/s latency-average-us" of pgbench -S -M prepared.
pg_ceiling() {
	local n=$1 log=$T/pgbench-$1.log tps lat
	PGSSLMODE=disable timeout $((${DURATION%.*} * 3 + 30)) \
		pgbench -n -S -M prepared -c "$n" -j "$n" -T "${DURATION%.*}" \
		"${PGB_CONN[@]}" pgbench >"$log" 2>&1
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$log" | head -1)
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$log")
	if [ -z "$tps" ]; then
		echo "storage.sh: pgbench with $n clients failed:" >&2
		cat "$log" >&2
		FAILED=1
		CEIL="0 -"
		return
	fi
	CEIL="$tps $(awk -v l="$lat" 'BEGIN { printf "%.0f avg", l * 1000 }')"
}

# redis_up: a Redis server (tests/fixtures/redis.sh) with a Unix socket
# too; sets STORAGE_INI and RB_CONN (redis-benchmark's connection options).
redis_up() {
	local d
	redis_start "$T" redis --unixsocket "$T/redis/redis.sock" \
		--unixsocketperm 700 || return 1
	on_exit "redis_stop '$T' redis"
	d=$T/redis
	if [ "$TCP" = 1 ]; then
		STORAGE_INI="[storage]
plugin = redis
host = 127.0.0.1
port = $(redis_port "$T" redis)
key_prefix = sbbench:"
		RB_CONN=(-h 127.0.0.1 -p "$(redis_port "$T" redis)")
	else
		STORAGE_INI="[storage]
plugin = redis
socket = $d/redis.sock
key_prefix = sbbench:"
		RB_CONN=(-s "$d/redis.sock")
	fi
	echo "redis: $(redis-server --version | sed 's/ sha=.*//'), fixture settings (no persistence), $([ "$TCP" = 1 ] && echo "TCP 127.0.0.1" || echo "Unix socket")"
}

redis_down() { redis_stop "$T" redis; }

redis_record_sizes() {
	local k
	while read -r k; do
		printf '%s=%s ' "$k" "$(redis_cli "$(redis_port "$T" redis)" \
			HSTRLEN sbbench:data "$k")"
	done < <(redis_cli "$(redis_port "$T" redis)" HKEYS sbbench:data | sort)
}

# redis_ceiling CLIENTS: sets CEIL to "ops/s p50-us" of redis-benchmark GET of a value of
# RECORD_BYTES. -n is bounded: a short run gives the rate, the measured one
# asks for DURATION seconds of it. The key is SET first (redis-benchmark's
# GET of a missing key would return nil, not RECORD_BYTES).
redis_ceiling() {
	local n=$1 out rps req p50
	redis-benchmark "${RB_CONN[@]}" -t set -n 1000 -d "$RECORD_BYTES" -q \
		>/dev/null 2>&1
	out=$(timeout 30 redis-benchmark "${RB_CONN[@]}" -t get -c "$n" \
		-n 20000 -d "$RECORD_BYTES" -q 2>&1 | tr '\r' '\n' | grep '^GET: .*per second' | tail -1)
	rps=$(sed -n 's/^GET: \([0-9.]*\) requests per second.*/\1/p' <<<"$out")
	req=$(awk -v r="${rps:-0}" -v d="$DURATION" 'BEGIN { n = int(r * d); print (n < 20000 ? 20000 : n) }')
	out=$(timeout $((${DURATION%.*} * 3 + 30)) redis-benchmark "${RB_CONN[@]}" \
		-t get -c "$n" -n "$req" -d "$RECORD_BYTES" -q 2>&1 |
		tr '\r' '\n' | grep '^GET: .*per second' | tail -1)
	rps=$(sed -n 's/^GET: \([0-9.]*\) requests per second.*/\1/p' <<<"$out")
	p50=$(sed -n 's/.*p50=\([0-9.]*\) msec.*/\1/p' <<<"$out")
	if [ -z "$rps" ]; then
		echo "storage.sh: redis-benchmark with $n clients failed: $out" >&2
		FAILED=1
		CEIL="0 -"
		return
	fi
	CEIL="$rps $(awk -v l="${p50:-0}" 'BEGIN { printf "%.0f p50", l * 1000 }')"
}

# ---- the daemon ------------------------------------------------------------

# store_daemon_start: (re)starts the daemon on STORAGE_INI, cache off. The
# INI is written here, not by broker_config: its [storage] section is
# sqlite's, and the daemon refuses keys a plugin does not know (path).
store_daemon_start() {
	daemon_stop || return 1
	mkdir -p "$SB"
	cat >"$SB/secretbroker.ini" <<INI
[broker]
state_dir = $SB/state
plugin_dir = $SB_PLUGIN_DIR
node_name = bench-$BACKEND
threads = 2
log_level = warning

[listen]
socket = $SB/sb.sock
socket_mode = 0666

[access]
sso_admins = $MYGROUP

[cache]
timeout_s = 0

$STORAGE_INI

[crypto]
plugin = openssl

[fencing]
plugin = none
INI
	broker_start "$SB"
}

# store_setup: the daemon, its secret, the application and the mapping (as
# setup_daemon in lib.sh, but on the backend and with the cache off).
store_setup() {
	store_daemon_start || return 1
	sbctl_in "$SB" secret generate >/dev/null || return 1
	call POST /v1/apps "{\"name\":\"$APP\",\"type\":\"individual\",
		\"fields\":[{\"label\":\"user\",\"masked\":false},
			    {\"label\":\"password\",\"masked\":true}],
		\"user_group\":\"$MYGROUP\",\"description\":\"lookup benchmark\"}" &&
	call PATCH "/v1/apps/$APP" '{"enabled":true}' &&
	call PUT "/v1/apps/$APP/mappings/$ME" \
		'{"values":{"user":"svc-bench@example.test","password":"bench-only: not a secret 0123456789"}}'
}

# daemon_row CLIENTS: sbload against the daemon; sets DROW to "rps p50 p99 errors".
daemon_row() {
	local c=$1 line kv rc rps=0 p50=- p99=- errors=- requests=0
	line=$("$SBLOAD" -U "$SB/sb.sock" -p "$LOOKUP" -o bench -c "$c" \
		-d "$DURATION" -w "$WARMUP")
	rc=$?
	for kv in $line; do
		case $kv in
		rps=*) rps=${kv#rps=} ;;
		p50_us=*) p50=${kv#p50_us=} ;;
		p99_us=*) p99=${kv#p99_us=} ;;
		errors=*) errors=${kv#errors=} ;;
		requests=*) requests=${kv#requests=} ;;
		esac
	done
	if [ "$rc" -ne 0 ] || [ "$requests" = 0 ]; then
		echo "storage.sh: the daemon on $BACKEND ($c clients) failed: ${line:-no output}" >&2
		FAILED=1
	fi
	DROW="$rps $p50 $p99 $errors"
}

# backend_up: $BACKEND's server and the daemon on it with the application
# and the caller's mapping. On failure prints the daemon's log, stops both,
# sets FAILED and returns 1.
backend_up() {
	"${BACKEND/postgres/pg}_up" || { FAILED=1; return 1; }
	if ! store_setup || ! lookup_size; then
		echo "storage.sh: cannot set up the daemon on $BACKEND; its log:" >&2
		tail -n 40 "$SB/broker.log" >&2
		FAILED=1
		daemon_stop
		"${BACKEND/postgres/pg}_down"
		return 1
	fi
}

# fill_to N: PUTs mappings s0000001.. of the application until the store
# holds N of them besides the caller's (FILLED counts them), through curl
# with 32 transfers in flight, 10 000 per curl; fails on any non-2xx.
FILLED=0
fill_to() {
	local want=$1 from to i cfg=$T/fill.curl codes
	while [ "$FILLED" -lt "$want" ]; do
		from=$((FILLED + 1))
		to=$((FILLED + 10000 < want ? FILLED + 10000 : want))
		{
			echo 'silent'
			echo 'no-progress-meter'
			echo 'request = "PUT"'
			echo 'header = "Content-Type: application/json"'
			echo 'data-binary = "{\"values\":{\"user\":\"scale-user\",\"password\":\"bench-only: not a secret\"}}"'
			echo "unix-socket = \"$SB/sb.sock\""
			echo 'write-out = "%{http_code}\\n"'
			for ((i = from; i <= to; i++)); do
				printf 'url = "http://sb/v1/apps/%s/mappings/s%07d"\noutput = "/dev/null"\n' "$APP" "$i"
			done
		} >"$cfg"
		codes=$(curl --parallel --parallel-max 32 -K "$cfg" | grep -cv '^2')
		if [ "$codes" != 0 ]; then
			echo "storage.sh: $codes of the PUTs $from..$to failed" >&2
			return 1
		fi
		FILLED=$to
	done
}

# scale_run: for each backend and each size, fill and measure.
scale_run() {
	local size c rps p50 p99 errors first
	echo "lookup cost as the data grows, cache off, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	machine_facts | grep -v '^nginx:'
	echo "daemon: as below, [cache] timeout_s = 0; mappings added through the API (PUT, 32 in flight); each row: the caller's lookup, sbload $DURATION s after $WARMUP s warm-up"
	for BACKEND in "${BACKENDS[@]}"; do
		echo
		SB=$T/broker-$BACKEND
		FILLED=0
		backend_up || continue
		for size in "${SCALE[@]}"; do
			local t0=$SECONDS
			fill_to "$size" || { FAILED=1; break; }
			echo "  $BACKEND: $size mappings loaded ($((SECONDS - t0)) s)" >&2
			for c in "${CLIENTS[@]}"; do
				daemon_row "$c"
				read -r rps p50 p99 errors <<<"$DROW"
				ROWS+=("$BACKEND|$size|$c|$rps|$p50|$p99|$errors")
			done
		done
		daemon_stop || FAILED=1
		"${BACKEND/postgres/pg}_down"
	done
	echo
	printf '%-9s %9s %7s %10s %8s %8s %6s %12s\n' backend mappings clients \
		'lookups/s' 'p50 us' 'p99 us' errors 'p99/first'
	for row in "${ROWS[@]}"; do
		IFS='|' read -r b size c rps p50 p99 errors <<<"$row"
		first=$(printf '%s\n' "${ROWS[@]}" | awk -F'|' -v b="$b" -v c="$c" \
			'$1 == b && $3 == c { print $6; exit }')
		printf '%-9s %9s %7s %10.0f %8s %8s %6s %12s\n' "$b" "$size" "$c" \
			"$rps" "$p50" "$p99" "$errors" "$(ratio "$p99" "$first")"
	done
	echo
	echo "p99/first = p99 at this size over p99 at the first size, same backend and clients (aim: within 1.5)."
	echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---- the run ---------------------------------------------------------------
if [ "${#SCALE[@]}" -gt 0 ]; then
	scale_run
	[ "$FAILED" = 0 ]
	exit
fi


echo "lookup benchmark on networked storage, cache off, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
machine_facts | grep -v '^nginx:'
echo "daemon: secretbrokerd, [storage] postgres or redis + openssl + none, [broker] threads = 2, [cache] timeout_s = 0 (every lookup reads the store once, the mapping: the application comes from the application cache, whose generation each worker thread reads at most once per [cache] app_check_ms = 1000 ms)"
echo "placement: $PLACEMENT"
echo "each row: daemon $DURATION s measured after $WARMUP s warm-up (sbload, closed loop); then the backend's own benchmark against the same server for about $DURATION s$([ "$REPEAT" -gt 1 ] && echo "; best of $REPEAT for each")"

for BACKEND in "${BACKENDS[@]}"; do
	echo
	SB=$T/broker-$BACKEND
	backend_up || continue
	echo "request: GET $LOOKUP, body $BODY B + headers $SB_HDR B"
	if [ "$BACKEND" = postgres ]; then
		echo "stored values (bytes): $(pg_record_sizes)"
		echo "ceiling: pgbench -n -S -M prepared -c N -j N -T ${DURATION%.*} (scale 1, its own database on the same server; one SELECT by primary key per transaction)"
	else
		sizes=$(redis_record_sizes)
		echo "stored values (bytes): $sizes"
		# The one value a lookup reads, the mapping: the GET is
		# measured at its size.
		RECORD_BYTES=$(tr ' ' '\n' <<<"$sizes" | grep -E "^map/$APP/$ME=" |
			awk -F= '{ s += $NF; n++ } END { print n ? int(s / n + 0.5) : 100 }')
		echo "ceiling: redis-benchmark -t get -c N -n (about ${DURATION%.*} s of requests) -d $RECORD_BYTES -q (keep-alive, no pipelining)"
	fi
	for c in "${CLIENTS[@]}"; do
		# Best of --repeat for each side (other work on the machine only
		# ever slows a run down), daemon and ceiling alternating.
		best=-1 bestc=-1
		for ((i = 0; i < REPEAT; i++)); do
			daemon_row "$c"
			read -r rps _ <<<"$DROW"
			if awk -v a="$rps" -v b="$best" 'BEGIN { exit !(a > b) }'; then
				best=$rps drow=$DROW
			fi
			if [ "$BACKEND" = postgres ]; then
				pg_ceiling "$c"
			else
				redis_ceiling "$c"
			fi
			read -r ceil _ <<<"$CEIL"
			if awk -v a="$ceil" -v b="$bestc" 'BEGIN { exit !(a > b) }'; then
				bestc=$ceil crow=$CEIL
			fi
			printf '  measured %-8s clients %2s: daemon %s lookups/s, ceiling %s ops/s\n' \
				"$BACKEND" "$c" "${rps%.*}" "${ceil%.*}" >&2
		done
		read -r rps p50 p99 errors <<<"$drow"
		read -r ceil clat <<<"$crow"
		ROWS+=("$BACKEND|$c|$rps|$p50|$p99|$errors|$ceil|$clat")
	done
	daemon_stop || FAILED=1
	"${BACKEND/postgres/pg}_down"
done

echo
printf '%-9s %7s %10s %8s %8s %6s %12s %12s %9s\n' \
	backend clients 'lookups/s' 'p50 us' 'p99 us' errors 'ceiling/s' \
	'ceiling us' '/ceiling'
for row in "${ROWS[@]}"; do
	IFS='|' read -r b c rps p50 p99 errors ceil clat <<<"$row"
	printf '%-9s %7s %10.0f %8s %8s %6s %12.0f %12s %9s\n' \
		"$b" "$c" "$rps" "$p50" "$p99" "$errors" "$ceil" "$clat" \
		"$(ratio "$rps" "$ceil")"
done
echo
echo "/ceiling = daemon lookups/s / the backend's own ops/s at as many clients (pgbench -S tps, redis-benchmark GET/s)."
echo "each lookup with the cache off is one storage read (the mapping), so /ceiling also compares storage reads per second."
echo "ceiling us: pgbench's latency average, redis-benchmark's p50."
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$FAILED" = 0 ]
