# Shared by run.sh and instructions.sh (sourced, not run): the binaries, a
# real secretbrokerd (sqlite + openssl + none) holding one individual
# application with a mapping for the caller, and nginx serving a static file
# of exactly the lookup's body size over a Unix socket.
#
# Needs $src (the source tree) and $PIN (1: client on CPU 0, servers on the
# other CPUs). Uses SB_BUILD when set; otherwise builds ./build-bench.

APP=bench
LOOKUP="/v1/lookup/$APP?show_masked=1"
ME=$(id -un)
MYGROUP=$(id -gn)

# lib_init: finds (or builds) the binaries, sources the test fixtures
# (tests/lib: their teardown hooks run at exit), makes the temporary
# directory $T and decides the placement. Returns 0, or 1 having said why.
lib_init() {
	local f
	if [ -z "${SB_BUILD:-}" ]; then
		SB_BUILD=$src/build-bench
		echo "building in $SB_BUILD (set SB_BUILD to use another build)" >&2
		cmake -S "$src" -B "$SB_BUILD" >/dev/null &&
			cmake --build "$SB_BUILD" -j"$(nproc)" --target \
				secretbrokerd sbctl sbload storage_sqlite \
				crypto_openssl fencing_none >/dev/null || {
			echo "bench: the build in $SB_BUILD failed" >&2
			return 1
		}
	fi
	# The scripts that source this make SB_BUILD absolute; so does this,
	# for any other caller.
	SB_BUILD=$(cd "$SB_BUILD" && pwd) || return 1
	export SB_BUILD
	SBLOAD=$SB_BUILD/bench/sbload
	for f in "$SBLOAD" "$SB_BUILD/core/secretbrokerd" \
		"$SB_BUILD/client/sbctl" "$SB_BUILD/plugins/storage_sqlite.so" \
		"$SB_BUILD/plugins/crypto_openssl.so" \
		"$SB_BUILD/plugins/fencing_none.so"; do
		if [ ! -f "$f" ]; then
			echo "bench: $f is missing: build it first (cmake --build $SB_BUILD)" >&2
			return 1
		fi
	done
	NGINX=$(command -v nginx || echo /usr/sbin/nginx)
	if [ ! -x "$NGINX" ]; then
		echo "bench: nginx not found: install nginx-light (scripts/install-deps.sh)" >&2
		return 1
	fi

	. "$src/tests/lib/testlib.sh"
	. "$src/tests/lib/broker.sh"
	T=$(make_tmpdir)
	SB=$T/broker
	NG=$T/nginx
	NGINX_PID=
	on_exit nginx_stop

	NCPU=$(nproc)
	CLIENT_PIN=()
	SERVER_PIN=()
	if [ "${PIN:-0}" = 1 ] && [ "$NCPU" -ge 2 ]; then
		CLIENT_PIN=(--cpus 0)
		SERVER_PIN=(taskset -c "1-$((NCPU - 1))")
		PLACEMENT="client on CPU 0, servers on CPUs 1-$((NCPU - 1))"
	else
		PLACEMENT="not pinned: client and servers share all $NCPU CPUs"
	fi
}

# machine_facts: the lines every report starts with.
machine_facts() {
	local btype srcdir commit
	echo "machine: $NCPU CPUs, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), kernel $(uname -r)"
	echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine slows both servers)"
	btype=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$SB_BUILD/CMakeCache.txt")
	if grep -q '^SB_SANITIZE:BOOL=ON' "$SB_BUILD/CMakeCache.txt"; then
		btype+="${btype:+, }ASan+UBSan: figures NOT representative"
	fi
	echo "build: $SB_BUILD (${btype:-RelWithDebInfo, the project default})"
	srcdir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$SB_BUILD/CMakeCache.txt")
	if commit=$(git -C "$srcdir" rev-parse --short HEAD 2>/dev/null); then
		[ -n "$(git -C "$srcdir" status --porcelain -- core plugins include 2>/dev/null)" ] &&
			commit+=" with uncommitted changes in core/, plugins/ or include/"
		echo "source: $srcdir, now at $commit (the build may be older)"
	fi
	echo "nginx: $("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
}

# ---- the daemon ----------------------------------------------------------

# daemon_start THREADS TIMEOUT_S: (re)starts the daemon with [broker]
# threads and [cache] timeout_s (0: no cache), on the same database and
# state directory (the secret is sealed there and survives a restart).
# Logging at warning: the fixture's debug level logs a line per request,
# which would be measured too. The caller's primary group administers, so
# the bench needs no root.
daemon_start() {
	daemon_stop || return 1
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
	if [ ${#SERVER_PIN[@]} -gt 0 ]; then
		taskset -a -p -c "1-$((NCPU - 1))" "$(broker_pid "$SB")" >/dev/null
	fi
}

# daemon_stop: stops the daemon (if running) and checks it exited cleanly:
# a crash, or a sanitizer report in an ASan build, fails the bench with the
# end of its log.
daemon_stop() {
	local rc=0
	broker_stop "$SB" 2>/dev/null || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "bench: secretbrokerd exited with status $rc; the end of its log:" >&2
		tail -n 40 "$SB/broker.log" >&2
		return 1
	fi
}

# call METHOD PATH [BODY]: an API call that must succeed (2xx).
call() {
	local res
	res=$(api "$SB" "$@")
	case $res in
	2*) return 0 ;;
	*) echo "bench: $1 $2 failed: $res" >&2; return 1 ;;
	esac
}

# setup_daemon THREADS: starts the daemon (cache on), generates the master
# secret, creates and enables the application and sets the caller's
# credentials, as an administrator would with sbctl.
setup_daemon() {
	daemon_start "$1" 60 || return 1
	sbctl_in "$SB" secret generate >/dev/null || return 1
	call POST /v1/apps "{\"name\":\"$APP\",\"type\":\"individual\",
		\"fields\":[{\"label\":\"user\",\"masked\":false},
			    {\"label\":\"password\",\"masked\":true}],
		\"user_group\":\"$MYGROUP\",\"description\":\"lookup benchmark\"}" &&
	call PATCH "/v1/apps/$APP" '{"enabled":true}' &&
	call PUT "/v1/apps/$APP/mappings/$ME" \
		'{"values":{"user":"svc-bench@example.test","password":"bench-only: not a secret 0123456789"}}'
}

# lookup_size: sets BODY and SB_HDR, the body and header bytes of one
# lookup, after checking it answers what was stored.
lookup_size() {
	local sizes
	sizes=$(curl -s -o "$T/lookup.body" -w '%{size_download} %{size_header}' \
		--unix-socket "$SB/sb.sock" "http://bench$LOOKUP")
	read -r BODY SB_HDR <<<"$sizes"
	if [ "${BODY:-0}" -lt 12 ] ||
	   ! jq -e .values.password "$T/lookup.body" >/dev/null 2>&1; then
		echo "bench: the lookup did not answer as expected: $(cat "$T/lookup.body" 2>/dev/null)" >&2
		return 1
	fi
}

# ---- nginx ---------------------------------------------------------------

# nginx_static_file SIZE: a JSON document of exactly SIZE bytes.
nginx_static_file() {
	mkdir -p "$NG/www"
	{
		printf '{"pad":"'
		head -c "$(($1 - 11))" /dev/zero | tr '\0' x
		printf '"}\n'
	} >"$NG/www/lookup.json"
	chmod 644 "$NG/www/lookup.json"
}

# nginx_config WORKERS [MAIN_DIRECTIVES]
nginx_config() {
	local workers=$1 extra=${2:-} temps m v
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
$extra
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

# nginx_start WORKERS [MAIN_DIRECTIVES [WRAPPER...]]: (re)starts nginx in
# the foreground of a background job (its pid is ours to stop), ready when
# it serves the file.
nginx_start() {
	local workers=$1 extra=${2:-}
	shift $(($# < 2 ? $# : 2))
	nginx_stop
	nginx_config "$workers" "$extra"
	rm -f "$NG/nginx.sock"
	"$@" ${SERVER_PIN[@]+"${SERVER_PIN[@]}"} "$NGINX" -c "$NG/nginx.conf" \
		-p "$NG" >>"$NG/error.log" 2>&1 &
	NGINX_PID=$!
	if ! wait_until 30 nginx_answers; then
		echo "bench: nginx did not become ready; its log:" >&2
		cat "$NG/error.log" >&2
		return 1
	fi
}

nginx_stop() {
	if [ -n "${NGINX_PID:-}" ] && kill -0 "$NGINX_PID" 2>/dev/null; then
		kill -TERM "$NGINX_PID"
		wait "$NGINX_PID" 2>/dev/null
	fi
	NGINX_PID=
}
