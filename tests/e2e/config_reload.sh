#!/usr/bin/env bash
# Configuration checks and SIGHUP reload (issue 2, item 7):
# -t on good and broken files; a broken config refuses to start and says
# where; SIGHUP with a broken config keeps the old generation serving with
# no request failing; a good one installs a new generation; a key that needs
# a restart says so by name and keeps its value.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

T=$(make_tmpdir)
A=$T/node
broker_config "$A"
INI=$A/secretbroker.ini
cp "$INI" "$T/good.ini"

out=$("$SECRETBROKERD" -c "$INI" -t 2>&1)
check "-t on a good file: configuration OK" contains "$out" "configuration OK"

# The documented example configuration is itself valid.
sed -e "s|^state_dir = .*|state_dir = $T/example-state|" \
    -e "s|^plugin_dir = .*|plugin_dir = $SB_PLUGIN_DIR|" \
    -e "s|^socket = .*|socket = $T/example.sock|" \
    "$here/../../conf/secretbroker.ini" >"$T/example.ini"
out=$("$SECRETBROKERD" -c "$T/example.ini" -t 2>&1)
check "conf/secretbroker.ini (paths adjusted) passes -t" contains "$out" "configuration OK"

bad() { # NAME INI-EXTRA EXPECTED...
	local name=$1 extra=$2; shift 2
	cp "$T/good.ini" "$T/$name.ini"
	ini_merge "$T/$name.ini" "$extra"
	local out rc
	out=$("$SECRETBROKERD" -c "$T/$name.ini" -t 2>&1); rc=$?
	[ "$rc" -ne 0 ] || { echo "    -t accepted $name" >&2; return 1; }
	for e in "$@"; do contains "$out" "$e" || return 1; done
	# Starting on it fails the same way, and says where.
	out=$(timeout 10 "$SECRETBROKERD" -c "$T/$name.ini" 2>&1); rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || return 1
	for e in "$@"; do contains "$out" "$e" || return 1; done
}
check "unknown key named with its section" bad unknown_key $'[broker]\nthreadz = 4' "[broker] threadz" "unknown key"
check "bad number named with section and key" bad bad_threads $'[broker]\nthreads = lots' "[broker] threads" "lots"
check "[cache] app_check_ms out of range is named with its range" bad app_check $'[cache]\napp_check_ms = 60001' "[cache] app_check_ms" "60001"
check "[cache] app_check_ms not a number" bad app_check_word $'[cache]\napp_check_ms = soon' "[cache] app_check_ms" "soon"
check "unknown section" bad unknown_section $'[brokr]\nx = 1' "[brokr]" "unknown section"
check "missing plugin named with its file" bad missing_plugin $'[storage]\nplugin = nosuch' "[storage] plugin" "storage_nosuch.so"
check "missing group for sso_admins" bad bad_group $'[access]\nsso_admins = no_such_group_sb' "[access] sso_admins" "no_such_group_sb"
check "a misspelt plugin setting is named, not ignored" bad misspelt $'[storage]\nbusy_timeout = 10' "[storage] busy_timeout: unknown key for storage plugin sqlite"
check "plugin setting error comes from the plugin" bad sqlite_path $'[storage]\npath = /nonexistent/dir/db' "[storage]" "/nonexistent/dir/db"
check "every error is listed, not just the first" bad two_errors $'[broker]\nthreads = 0\nlog_level = loud' "[broker] threads" "[broker] log_level"
printf '[broker\nstate_dir = x\n' >"$T/syntax.ini"
out=$("$SECRETBROKERD" -c "$T/syntax.ini" -t 2>&1)
check "INI syntax error names the file" contains "$out" "$T/syntax.ini"
out=$("$SECRETBROKERD" -c "$T/nonexistent.ini" -t 2>&1)
check "missing config file is named" contains "$out" "$T/nonexistent.ini"

# A state directory others can read is refused.
mkdir -p "$T/loose/state" && chmod 755 "$T/loose/state"
broker_config "$T/loose"
chmod 755 "$T/loose/state"
out=$("$SECRETBROKERD" -c "$T/loose/secretbroker.ini" -t 2>&1)
check "a state directory readable by others is refused" contains "$out" "chmod 700"

# A plugin built against another ABI major is refused with one line naming it.
cp "$T/good.ini" "$T/abi.ini"
mkdir -p "$T/plugins"
cp "$SB_PLUGIN_DIR"/*.so "$T/plugins/"
cp "$SB_BUILD/tests/e2e/storage_abi2.so" "$T/plugins/storage_abi2.so"
sed -i "s|^plugin_dir = .*|plugin_dir = $T/plugins|; s|^plugin = sqlite|plugin = abi2|" "$T/abi.ini"
out=$("$SECRETBROKERD" -c "$T/abi.ini" 2>&1); rc=$?
check "ABI 2 plugin refused at start" test "$rc" -ne 0
line=$(echo "$out" | grep storage_abi2.so)
check "... in one line naming the file and both ABI versions" contains "$line" "incompatible library: plugin ABI 2.0, daemon ABI 1."

# ---- reload ----
broker_start "$A" || exit 1
gen() { sbctl_in "$A" --json status | jq -r .config.generation; }
check "generation 1 at start" test "$(gen)" = 1

# A steady stream of requests across all reloads; none may fail.
(
	fails=0 n=0
	while [ ! -e "$T/stop-load" ]; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$A/sb.sock" http://sb/v1/status)
		n=$((n + 1))
		[ "$code" = 200 ] || fails=$((fails + 1))
	done
	echo "$n $fails" >"$T/load-result"
) &
LOADER=$!

sbctl_in "$A" secret generate >/dev/null
cp "$T/good.ini" "$INI"
ini_merge "$INI" $'[storage]\nplugin = nosuch'
kill -HUP "$(broker_pid "$A")"
wait_until 10 bash -c "$SBCTL -s $A/sb.sock --json status | jq -e '.last_reload.result == \"failed\"'"
js=$(sbctl_in "$A" --json status)
check "broken reload is reported as failed" test "$(echo "$js" | jq -r .last_reload.result)" = failed
check "... with the error named" contains "$(echo "$js" | jq -r '.last_reload.errors|join(" ")')" "storage_nosuch.so"
check "... and generation 1 keeps running" test "$(echo "$js" | jq -r .config.generation)" = 1
out=$(sbctl_in "$A" status 2>&1)
check "sbctl status shows the failed reload" contains "$out" "storage_nosuch.so"
check "the log says it is not reloading" contains "$(cat "$A/broker.log")" "has errors, not reloading"
check "secret still served after the failed reload" sbctl_in "$A" secret status

# A good reload: log level changes, socket changes (needs a restart).
cp "$T/good.ini" "$INI"
sed -i "s|^log_level = debug|log_level = info|; s|^socket = .*|socket = $T/other.sock|" "$INI"
kill -HUP "$(broker_pid "$A")"
wait_until 10 bash -c "[ \"\$($SBCTL -s $A/sb.sock --json status | jq -r .config.generation)\" = 2 ]"
js=$(sbctl_in "$A" --json status)
check "good reload installs generation 2" test "$(echo "$js" | jq -r .config.generation)" = 2
check "reload result ok" test "$(echo "$js" | jq -r .last_reload.result)" = ok
check "listen.socket is reported as needing a restart" test "$(echo "$js" | jq -r '.last_reload.restart_required|join(",")')" = listen.socket
check "... and keeps its old value (still listening on the old socket)" test -S "$A/sb.sock"
check "... the new one is not created" test ! -e "$T/other.sock"

# Reload storms while serving.
for i in $(seq 1 10); do kill -HUP "$(broker_pid "$A")"; sleep 0.05; done
wait_until 10 bash -c "[ \"\$($SBCTL -s $A/sb.sock --json status | jq -r .config.generation)\" = 12 ]"
check "ten more reloads: generation 12" test "$(gen)" = 12
check "secret still there after reloads" sbctl_in "$A" secret status

touch "$T/stop-load"
wait "$LOADER"
read -r n fails <"$T/load-result"
echo "    $n requests during reloads, $fails failed"
check "requests were made during the reloads" test "$n" -gt 20
check "no request failed during the reloads" test "$fails" -eq 0

# SIGTERM: exit 0, socket removed.
pid=$(broker_pid "$A")
kill -TERM "$pid"
wait "$pid"; rc=$?
rm -f "$A/broker.pid"
check "SIGTERM: exit status 0" test "$rc" -eq 0
check "SIGTERM: socket removed" test ! -e "$A/sb.sock"
finish
