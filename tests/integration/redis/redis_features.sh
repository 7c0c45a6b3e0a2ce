#!/usr/bin/env bash
# redis.features: Redis-specific behaviour of the plugin on servers of its
# own: the `sb-redis-tool features` checks (large and 0xff-prefix scans,
# 1 MiB values, NOSCRIPT reload, killed pooled connections, threads on a
# small pool, maxmemory), the durability warning, an ACL user with a
# password file and a minimal command set, db, a Unix socket, a replica
# refused, a primary demoted under the plugin (READONLY, through a
# sentinel), and settings errors that name section and key.
#   redis_features.sh REDIS_TOOL PLUGIN_DIR FIXTURE_DIR
set -u
tool=$1 plugin_dir=$2
here=$(dirname "$0")
. "$here/../../lib/testlib.sh"
. "$here/../../fixtures/redis.sh"

tmp=$(make_tmpdir)
# make_tmpdir runs in a subshell here, so its own cleanup hook is lost:
# register it in this shell, first, so it runs after the servers are gone.
[ -n "${KEEP_TMP:-}" ] || on_exit "rm -rf '$tmp'"
on_exit "redis_kill '$tmp' primary; redis_kill '$tmp' replica"
redis_start "$tmp" primary --unixsocket "$tmp/primary/redis.sock" \
	--unixsocketperm 700 --repl-diskless-sync-delay 0 || exit 1
port=$(redis_port "$tmp" primary)
on_exit '[ "$TESTS_FAILED" -eq 0 ] || redis_log "$tmp" primary'

run() { "$tool" "$@" --plugin-dir "$plugin_dir" 2>&1; }
base=(--set host=127.0.0.1 --set "port=$port")

# --- the tool's checks, with a pool smaller than its thread count -------
out=$(run features "${base[@]}" --set key_prefix=feat: --set pool_size=2 \
	--admin-port "$port")
rc=$?
echo "$out"
check "features checks pass" [ $rc -eq 0 ]
check "durability warning for appendonly no" \
	contains "$out" "appendonly is \"no\": acknowledged writes since the last snapshot are LOST"

# --- ACL user, password file, minimal commands --------------------------
# Exactly the command list docs/storage-redis.md gives as the minimum
# (without the optional +role +config|get).
redis_cli "$port" ACL SETUSER sb on '>pw with spaces' '~acl:*' \
	+evalsha '+script|load' +select +wait +hsetnx +hget +hmget +hset \
	+hdel +get +incr +del +zadd +zrem +zrangebylex +time >/dev/null
printf 'pw with spaces\n' >"$tmp/pw"
chmod 600 "$tmp/pw"
acl=(--set host=127.0.0.1 --set "port=$port" --set user=sb
	--set "password_file=$tmp/pw" --set key_prefix=acl:)
out=$(run fence "${acl[@]}")
rc=$?
echo "$out"
check "fence checks as ACL user sb (password from a file)" [ $rc -eq 0 ]
check "CONFIG GET refused: said so" \
	contains "$out" "CONFIG GET is not permitted"
printf 'wrong\n' >"$tmp/badpw"
chmod 600 "$tmp/badpw"
out=$(run open --set host=127.0.0.1 --set "port=$port" --set user=sb \
	--set "password_file=$tmp/badpw")
echo "$out"
check "wrong password: auth_failed naming user and file" \
	contains "$out" "open: auth_failed"
check "  ... message names the user and the file" \
	contains "$out" "AUTH as user \"sb\" (password from $tmp/badpw) failed"
check "  ... and never the password" bash -c "! grep -q 'pw with' <<<\"\$1\"" _ "$out"
chmod 644 "$tmp/pw"
out=$(run open "${acl[@]}")
check "world-readable password file refused" \
	contains "$out" "[storage] password_file: $tmp/pw has mode 0644"
out=$(run open "${base[@]}" --set password=x)
check "password in the INI refused" \
	contains "$out" "[storage] password: not accepted in the configuration file"

# --- db and Unix socket -------------------------------------------------
out=$(run fence --set "socket=$tmp/primary/redis.sock" --set db=3 \
	--set key_prefix=db3:)
rc=$?
check "fence checks over the Unix socket in db 3" [ $rc -eq 0 ]
check "  ... keys are in db 3" \
	[ "$(redis_cli "$port" -n 3 EXISTS db3:idx)" = 1 ]
check "  ... and not in db 0" \
	[ "$(redis_cli "$port" -n 0 EXISTS db3:idx)" = 0 ]

# --- a replica is not a primary ----------------------------------------
redis_start "$tmp" replica --replicaof 127.0.0.1 "$port" || exit 1
rport=$(redis_port "$tmp" replica)
out=$(run open --set host=127.0.0.1 --set "port=$rport")
echo "$out"
check "replica refused at open" \
	contains "$out" "127.0.0.1:$rport: reports role \"slave\", not master"

# --- a server that is not there -----------------------------------------
redis_kill "$tmp" replica
out=$(run open --set host=127.0.0.1 --set "port=$rport" \
	--set connect_timeout_ms=500)
echo "$out"
check "connection refused: unavailable, naming host:port" \
	contains "$out" "open: unavailable"
check "  ... message names 127.0.0.1:$rport" \
	contains "$out" "redis 127.0.0.1:$rport: cannot connect: Connection refused"

# --- READONLY through Sentinel: the primary is demoted under the plugin ---
# One sentinel (it cannot fail over: there is no replica) names the
# primary; the primary is then made a replica of another server by hand.
# The write gets READONLY, the plugin asks the sentinel again, verifies
# with ROLE and refuses the server it names; once the server is a primary
# again, writes go on.
redis_start "$tmp" z || exit 1
zport=$(redis_port "$tmp" z)
redis_sentinel_start "$tmp" s fm "$port" 1 || exit 1
sport=$(redis_port "$tmp" s)
on_exit "redis_kill '$tmp' z; redis_kill '$tmp' s"
"$tool" loop --plugin-dir "$plugin_dir" --set "sentinels=127.0.0.1:$sport" \
	--set master_name=fm --set key_prefix=ro: --set op_timeout_ms=1000 \
	--acks "$tmp/ro.acks" >"$tmp/ro.out" 2>&1 &
ro_pid=$!
on_exit "kill $ro_pid 2>/dev/null"
ro_has() { grep -q -- "$1" "$tmp/ro.out"; }
ro_acked() { [ -s "$tmp/ro.acks" ]; }
check "loop through the sentinel writes" wait_until 10 ro_acked
redis_cli "$port" REPLICAOF 127.0.0.1 "$zport" >/dev/null
check "READONLY seen, sentinel asked again" wait_until 10 ro_has \
	"127.0.0.1:$port: batch_apply refused: the server is now a read-only replica (READONLY"
check "the server the sentinel names is refused after ROLE" wait_until 10 \
	ro_has "batch unavailable: redis 127.0.0.1:$port: named primary of \"fm\" by a sentinel but reports role \"slave\""
mark=$(wc -l <"$tmp/ro.out")
redis_cli "$port" REPLICAOF NO ONE >/dev/null
ok_again() { tail -n +"$((mark + 1))" "$tmp/ro.out" | grep -q "batch ok"; }
check "writes go on once it is a primary again" wait_until 10 ok_again
kill -TERM "$ro_pid"
wait "$ro_pid"
[ "$TESTS_FAILED" -eq 0 ] || cat "$tmp/ro.out"

# --- settings errors ---------------------------------------------------
settings_error() {
	local want=$1
	shift
	local out
	out=$(run open "$@")
	contains "$out" "open: invalid" && contains "$out" "$want"
}
check "host and socket together" settings_error \
	"[storage] host, socket and sentinels are alternatives" \
	--set host=127.0.0.1 --set socket=/x
check "sentinels without master_name" settings_error \
	"[storage] master_name: required with sentinels" \
	--set sentinels=127.0.0.1:1
check "bad sentinel entry" settings_error \
	"[storage] sentinels: \"127.0.0.1\" is not host:port" \
	--set "sentinels=127.0.0.1:26379, 127.0.0.1" --set master_name=m
check "port out of range" settings_error \
	"[storage] port: 70000 is out of range" --set port=70000
check "pool_size 0" settings_error \
	"[storage] pool_size: 0 is out of range" --set pool_size=0
check "op_timeout_ms not a number" settings_error \
	"[storage] op_timeout_ms: \"soon\" is not an integer" \
	--set op_timeout_ms=soon
check "user without password_file" settings_error \
	"[storage] user: needs password_file" --set user=sb
check "sentinel_check_interval_ms without sentinels" settings_error \
	"[storage] sentinel_check_interval_ms: only used with sentinels" \
	--set sentinel_check_interval_ms=500

finish
