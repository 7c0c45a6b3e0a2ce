#!/usr/bin/env bash
# redis.restart: a writer loop (a batch and a get per iteration) runs while
# the server is SIGKILLed and restarted on the same port, then while it is
# stalled (DEBUG SLEEP). Checks: clear errors naming the server
# (unavailable / timeout), recovery without reopening the instance, no
# call slower than the timeouts allow, and — the server runs appendonly
# yes + appendfsync always — no acknowledged write lost over the crash.
#   redis_restart.sh REDIS_TOOL PLUGIN_DIR FIXTURE_DIR
set -u
tool=$1 plugin_dir=$2
here=$(dirname "$0")
. "$here/../../lib/testlib.sh"
. "$here/../../fixtures/redis.sh"

tmp=$(make_tmpdir)
# make_tmpdir runs in a subshell here, so its own cleanup hook is lost:
# register it in this shell, first, so it runs after the servers are gone.
[ -n "${KEEP_TMP:-}" ] || on_exit "rm -rf '$tmp'"
on_exit "redis_kill '$tmp' r"
redis_start "$tmp" r --appendonly yes --appendfsync always \
	--enable-debug-command local || exit 1
port=$(redis_port "$tmp" r)
on_exit '[ "$TESTS_FAILED" -eq 0 ] || { redis_log "$tmp" r; cat "$tmp/loop.out"; }'

settings=(--set host=127.0.0.1 --set "port=$port" --set key_prefix=rs:
	--set connect_timeout_ms=500 --set op_timeout_ms=500)
: >"$tmp/acks"
"$tool" loop --plugin-dir "$plugin_dir" "${settings[@]}" --acks "$tmp/acks" \
	>"$tmp/loop.out" 2>&1 &
loop_pid=$!
on_exit "kill $loop_pid 2>/dev/null"

acks() { wc -l <"$tmp/acks"; }
acks_above() { [ "$(acks)" -gt "$1" ]; }
# lines_after N PATTERN: PATTERN occurs in loop.out after line N.
lines_after() { tail -n +"$(($1 + 1))" "$tmp/loop.out" | grep -q -- "$2"; }
nlines() { wc -l <"$tmp/loop.out"; }
# ok_after_error N: after line N, a failed call was later followed by a
# batch that succeeded.
ok_after_error() {
	tail -n +"$(($1 + 1))" "$tmp/loop.out" |
		awk '/ (timeout|unavailable): /{e=1} e && / batch ok$/{f=1} END{exit !f}'
}

check "writes flow" wait_until 10 acks_above 50

# --- crash and restart --------------------------------------------------
mark=$(nlines)
redis_kill "$tmp" r
t_kill=$(date +%s%N)
check "batch fails with unavailable after SIGKILL" \
	wait_until 5 lines_after "$mark" "batch unavailable: redis 127.0.0.1:$port: "
t_err=$(date +%s%N)
echo "# first error $(((t_err - t_kill) / 1000000)) ms after the kill"
n_before=$(acks)
mark=$(nlines)
# Stay down until the loop is in the reconnect backoff: it must keep
# failing cleanly and fast, not hang on a dead server.
check "reconnect backoff engaged" \
	wait_until 5 lines_after "$mark" "(next reconnect attempt in"
mark=$(nlines)
redis_restart "$tmp" r || exit 1
t_up=$(date +%s%N)
check "recovers after the restart, same instance" \
	wait_until 10 lines_after "$mark" "batch ok"
t_ok=$(date +%s%N)
echo "# recovered $(((t_ok - t_up) / 1000000)) ms after the server was ready again"
check "writes flow again" wait_until 10 acks_above "$((n_before + 20))"

# --- a stalled server ---------------------------------------------------
mark=$(nlines)
redis_cli "$port" DEBUG SLEEP 1.5 >/dev/null &
sleeper=$!
check "stalled server: timeout naming the server" \
	wait_until 5 lines_after "$mark" "timeout: redis 127.0.0.1:$port: "
check "recovers after the stall" wait_until 10 ok_after_error "$mark"
wait "$sleeper"
n_before=$(acks)
check "writes flow after the stall" wait_until 10 acks_above "$((n_before + 20))"

kill -TERM "$loop_pid"
wait "$loop_pid"
cat "$tmp/loop.out"

# No call may take longer than a connect plus a few op timeouts (500 ms
# each): a hang would show here.
max_ms=$(sed -n 's/^loop .* max_ms=\([0-9]*\)$/\1/p' "$tmp/loop.out" | sort -n | tail -1)
echo "# slowest call: ${max_ms:-?} ms"
check "no call took 3 s or more" [ -n "$max_ms" ] && [ "$max_ms" -lt 3000 ]

out=$("$tool" verify --plugin-dir "$plugin_dir" "${settings[@]}" --acks "$tmp/acks" 2>&1)
echo "$out"
check "no acknowledged write lost over SIGKILL (appendfsync always)" \
	contains "$out" " lost=0"
finish
