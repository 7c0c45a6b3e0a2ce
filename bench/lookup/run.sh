#!/usr/bin/env bash
# The lookup benchmark (issue 3, item 8): credential lookups per second and
# p50/p99 latency over the daemon's Unix socket, with 1 and 32 concurrent
# clients, cache on and off, beside nginx serving a response of the same
# size over a Unix socket in the same run (nginx is the ceiling). Prints one
# table with the ratio daemon/nginx. See bench/README.md.
#
# usage: bench/lookup/run.sh [--smoke] [--duration S] [--warmup S]
#                            [--threads N] [--pin] [--record]
#   --smoke      0.5 s per measurement: checks the bench runs (ctest -L bench)
#   --duration   seconds measured per row (5)
#   --warmup     seconds run before each measurement, not counted (1)
#   --threads L  the daemon's [broker] threads to measure, a list ("2 1":
#                2 is its default, 1 matches nginx's single worker)
#   --pin        client on CPU 0, servers on the other CPUs (default: the
#                scheduler places everything; see README for the trade-off)
#   --repeat N   measure each row N times and keep the fastest run (1);
#                on a machine shared with other work, interference only
#                ever slows a run down, so the best of N is the fairest
#   --record     also write the output to bench/results/lookup-DATE.txt
# Environment: SB_BUILD, an existing build directory to use; without it the
# script configures and builds ./build-bench (RelWithDebInfo).
#
# Exit status 0 when every measurement ran and every response was a 200.

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

DURATION=5
WARMUP=1
THREADS=(2 1)
PIN=0
RECORD=0
REPEAT=1
SMOKE=0
CLIENTS=(1 32)
NGINX_WORKERS=(1 2)

while [ $# -gt 0 ]; do
	case $1 in
	--smoke) SMOKE=1; DURATION=0.5; WARMUP=0.1 ;;
	--duration) DURATION=$2; shift ;;
	--warmup) WARMUP=$2; shift ;;
	--threads) read -r -a THREADS <<<"$2"; shift ;;
	--pin) PIN=1 ;;
	--repeat) REPEAT=$2; shift ;;
	--record) RECORD=1 ;;
	-h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 1 ;;
	esac
	shift
done

if [ "$RECORD" = 1 ]; then
	mkdir -p "$src/bench/results"
	out="$src/bench/results/lookup-$(date +%F).txt"
	echo "recording to $out" >&2
	exec > >(tee "$out")
fi

# ---- build ---------------------------------------------------------------

if [ -z "${SB_BUILD:-}" ]; then
	SB_BUILD=$src/build-bench
	echo "building in $SB_BUILD (set SB_BUILD to use another build)" >&2
	cmake -S "$src" -B "$SB_BUILD" >/dev/null &&
		cmake --build "$SB_BUILD" -j"$(nproc)" --target secretbrokerd \
			sbctl sbload storage_sqlite crypto_openssl fencing_none \
			>/dev/null || { echo "run.sh: build failed" >&2; exit 1; }
fi
export SB_BUILD
SBLOAD=$SB_BUILD/bench/sbload
for f in "$SBLOAD" "$SB_BUILD/core/secretbrokerd" "$SB_BUILD/client/sbctl" \
	"$SB_BUILD/plugins/storage_sqlite.so"; do
	[ -x "$f" ] || [ -f "$f" ] || {
		echo "run.sh: $f is missing: build it first (cmake --build $SB_BUILD)" >&2
		exit 1
	}
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || {
	echo "run.sh: nginx not found: install nginx-light (scripts/install-deps.sh)" >&2
	exit 1
}

. "$src/tests/lib/testlib.sh"
. "$src/tests/lib/broker.sh"

T=$(make_tmpdir)
SB=$T/broker
APP=bench
ME=$(id -un)
MYGROUP=$(id -gn)

# ---- CPU placement -------------------------------------------------------

NCPU=$(nproc)
CLIENT_PIN=()
SERVER_PIN=()
if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
	CLIENT_PIN=(--cpus 0)
	SERVER_PIN=(taskset -c "1-$((NCPU - 1))")
	PLACEMENT="client on CPU 0, servers on CPUs 1-$((NCPU - 1))"
else
	PLACEMENT="not pinned: client and servers share all $NCPU CPUs"
fi

# ---- the daemon ----------------------------------------------------------

# daemon_start THREADS TIMEOUT_S: (re)starts the daemon with [broker]
# threads and [cache] timeout_s (0: no cache), on the same database and
# state directory (the secret is sealed there and survives the restart).
# Logging at warning: the debug level of the test fixture logs a line per
# request, which would be measured too.
daemon_start() {
	broker_stop "$SB" 2>/dev/null
	broker_config "$SB" "
[broker]
log_level = warning
threads = $1
[access]
sso_admins = $MYGROUP
[cache]
timeout_s = $2
"
	broker_start "$SB" || return 1
	# Pin every thread of the running daemon (its workers exist once it
	# answers; later threads inherit the mask).
	if [ "$PIN" = 1 ] && [ "$NCPU" -ge 2 ]; then
		taskset -a -p -c "1-$((NCPU - 1))" "$(broker_pid "$SB")" >/dev/null
	fi
}

# call METHOD PATH [BODY]: an API call that must succeed (2xx).
call() {
	local res
	res=$(api "$SB" "$@")
	case $res in
	2*) return 0 ;;
	*) echo "run.sh: $1 $2 failed: $res" >&2; return 1 ;;
	esac
}

setup_daemon() {
	daemon_start "${THREADS[0]}" 60 || return 1
	sbctl_in "$SB" secret generate >/dev/null || return 1
	call POST /v1/apps "{\"name\":\"$APP\",\"type\":\"individual\",
		\"fields\":[{\"label\":\"user\",\"masked\":false},
			    {\"label\":\"password\",\"masked\":true}],
		\"user_group\":\"$MYGROUP\",\"description\":\"lookup benchmark\"}" &&
	call PATCH "/v1/apps/$APP" '{"enabled":true}' &&
	call PUT "/v1/apps/$APP/mappings/$ME" \
		'{"values":{"user":"svc-bench@example.test","password":"bench-only: not a secret 0123456789"}}'
}

LOOKUP="/v1/lookup/$APP?show_masked=1"

# ---- nginx ---------------------------------------------------------------

NG=$T/nginx
NGINX_PID=

nginx_config() {
	local workers=$1 temps="" m v
	mkdir -p "$NG/www" "$NG/temp"
	# Temp directories under our own directory, not /var/lib/nginx; only
	# for the modules this nginx was built with (others would be unknown
	# directives).
	v=$("$NGINX" -V 2>&1)
	temps="  client_body_temp_path $NG/temp/client_body;"$'\n'
	for m in proxy fastcgi uwsgi scgi; do
		case $v in *"--http-$m-temp-path"*)
			temps+="  ${m}_temp_path $NG/temp/$m;"$'\n' ;;
		esac
	done
	cat >"$NG/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
pid $NG/nginx.pid;
lock_file $NG/nginx.lock;
error_log $NG/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000000;
  keepalive_timeout 300s;
  server_tokens off;
  etag off;
  default_type application/json;
$temps
  server {
    listen unix:$NG/nginx.sock;
    location / {
      root $NG/www;
      # No Last-Modified, ETag or Accept-Ranges (the daemon sends none)...
      max_ranges 0;
      add_header Last-Modified "";
      # ... and its two own headers: the responses are alike in size too.
      add_header Cache-Control no-store;
      add_header X-Request-Id 0000000000000000;
    }
  }
}
CONF
}

nginx_answers() {
	curl -sf -o /dev/null --unix-socket "$NG/nginx.sock" http://bench/lookup.json
}

nginx_start() {
	nginx_stop
	nginx_config "$1"
	rm -f "$NG/nginx.sock"
	${SERVER_PIN[@]+"${SERVER_PIN[@]}"} "$NGINX" -c "$NG/nginx.conf" -p "$NG" \
		>>"$NG/error.log" 2>&1 &
	NGINX_PID=$!
	if ! wait_until 10 nginx_answers; then
		echo "run.sh: nginx did not become ready; its log:" >&2
		cat "$NG/error.log" >&2
		return 1
	fi
}

nginx_stop() {
	if [ -n "$NGINX_PID" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
		kill -TERM "$NGINX_PID"
		wait "$NGINX_PID" 2>/dev/null
	fi
	NGINX_PID=
}
on_exit nginx_stop

# ---- measuring -----------------------------------------------------------

ROWS=()    # "server|cache|clients|rps|p50|p99|max|errors"
FAILED=0

# measure SERVER CACHE SOCKET PATH CLIENTS: sbload runs (--repeat of them,
# the fastest kept), one row.
measure() {
	local server=$1 cache=$2 sock=$3 path=$4 clients=$5 line kv i
	local rps p50 p99 max errors requests rc
	local best_rps=-1 best
	for ((i = 0; i < REPEAT; i++)); do
		rps=0 p50=- p99=- max=- errors=- requests=0
		line=$("$SBLOAD" -U "$sock" -p "$path" -o bench -c "$clients" \
			-d "$DURATION" -w "$WARMUP" ${CLIENT_PIN[@]+"${CLIENT_PIN[@]}"})
		rc=$?
		for kv in $line; do
			case $kv in
			rps=*) rps=${kv#rps=} ;;
			p50_us=*) p50=${kv#p50_us=} ;;
			p99_us=*) p99=${kv#p99_us=} ;;
			max_us=*) max=${kv#max_us=} ;;
			errors=*) errors=${kv#errors=} ;;
			requests=*) requests=${kv#requests=} ;;
			esac
		done
		if [ "$rc" -ne 0 ] || [ "$requests" = 0 ]; then
			echo "run.sh: $server (cache $cache, $clients clients) failed: ${line:-no output}" >&2
			FAILED=1
		fi
		if awk -v a="$rps" -v b="$best_rps" 'BEGIN { exit !(a > b) }'; then
			best_rps=$rps
			best="$rps $p50 $p99 $max $errors"
		fi
	done
	read -r rps p50 p99 max errors <<<"$best"
	ROWS+=("$server|$cache|$clients|$rps|$p50|$p99|$max|$errors")
	printf '  measured %-24s cache %-3s clients %2s: %s req/s\n' \
		"$server" "$cache" "$clients" "${rps%.*}" >&2
}

# rate_of SERVER CLIENTS: the req/s of an nginx row.
rate_of() {
	local row
	for row in "${ROWS[@]}"; do
		IFS='|' read -r s _ c rps _ <<<"$row"
		if [ "$s" = "$1" ] && [ "$c" = "$2" ]; then echo "$rps"; return; fi
	done
	echo 0
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# ---- the run -------------------------------------------------------------

echo "lookup benchmark, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "machine: $NCPU CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r)"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
btype=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$SB_BUILD/CMakeCache.txt")
if grep -q '^SB_SANITIZE:BOOL=ON' "$SB_BUILD/CMakeCache.txt"; then
	btype+="${btype:+, }ASan+UBSan: figures NOT representative"
fi
echo "build: $SB_BUILD (${btype:-RelWithDebInfo, the project default})"
echo "nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //'); daemon: secretbrokerd, sqlite + openssl + none, [broker] threads = ${THREADS[*]} (one row set each)"
echo "placement: $PLACEMENT"
echo "each row: $DURATION s measured after $WARMUP s warm-up$([ "$REPEAT" -gt 1 ] && echo ", best of $REPEAT runs"); closed loop, one request in flight per client (sbload)"

setup_daemon || { echo "run.sh: cannot set up the daemon" >&2; exit 1; }
body_bytes=$(curl -s -o "$T/lookup.body" -w '%{size_download} %{size_header}' \
	--unix-socket "$SB/sb.sock" "http://bench$LOOKUP")
read -r BODY SB_HDR <<<"$body_bytes"
if [ "${BODY:-0}" -lt 2 ] || ! jq -e .values.password "$T/lookup.body" >/dev/null 2>&1; then
	echo "run.sh: the lookup did not answer as expected: $(cat "$T/lookup.body")" >&2
	exit 1
fi

# The static file: a JSON document of exactly the lookup's body size.
mkdir -p "$NG/www"
pad=$((BODY - 11)) # {"pad":""} and a newline
{ printf '{"pad":"'; head -c "$pad" /dev/zero | tr '\0' x; printf '"}\n'; } >"$NG/www/lookup.json"
chmod 644 "$NG/www/lookup.json"

for w in "${NGINX_WORKERS[@]}"; do
	nginx_start "$w" || exit 1
	if [ "$w" = "${NGINX_WORKERS[0]}" ]; then
		NG_HDR=$(curl -s -o /dev/null -w '%{size_header}' --unix-socket "$NG/nginx.sock" http://bench/lookup.json)
		echo "response: daemon body $BODY B + headers $SB_HDR B; nginx static file $(stat -c %s "$NG/www/lookup.json") B + headers $NG_HDR B"
		echo "request:  GET $LOOKUP (one storage read through the cache, one AES-GCM open)"
		echo
	fi
	label="nginx ($w worker$([ "$w" != 1 ] && echo s))"
	for c in "${CLIENTS[@]}"; do
		measure "$label" - "$NG/nginx.sock" /lookup.json "$c"
	done
done
nginx_stop

# Cache on: [cache] timeout_s = 60 (the default); cache off: a restart with
# timeout_s = 0, so every lookup reads the SSO database.
first=1
for t in "${THREADS[@]}"; do
	for cache in on off; do
		if [ "$first" = 1 ]; then
			first=0 # setup_daemon started it: threads[0], cache on
		else
			daemon_start "$t" "$([ "$cache" = on ] && echo 60 || echo 0)" || exit 1
		fi
		for c in "${CLIENTS[@]}"; do
			measure "secretbrokerd ($t thr)" "$cache" "$SB/sb.sock" "$LOOKUP" "$c"
		done
	done
done
broker_stop "$SB"

# ---- the table -----------------------------------------------------------

echo
n1="nginx (1 worker)"
n2="nginx (2 workers)"
printf '%-24s %-5s %7s %10s %9s %9s %10s %6s %10s %10s\n' \
	server cache clients 'req/s' 'p50 us' 'p99 us' 'max us' errors \
	'/nginx-1w' '/nginx-2w'
for row in "${ROWS[@]}"; do
	IFS='|' read -r s cache c rps p50 p99 max errors <<<"$row"
	printf '%-24s %-5s %7s %10.0f %9s %9s %10s %6s %10s %10s\n' \
		"$s" "$cache" "$c" "$rps" "$p50" "$p99" "$max" "$errors" \
		"$(ratio "$rps" "$(rate_of "$n1" "$c")")" \
		"$(ratio "$rps" "$(rate_of "$n2" "$c")")"
done
echo
echo "ratio = req/s of the row / req/s of nginx with as many clients; the aim (issue 3) is >= 0.50 with the cache on."
[ "$FAILED" = 0 ]
