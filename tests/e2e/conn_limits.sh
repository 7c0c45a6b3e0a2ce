#!/usr/bin/env bash
# Connection limits (issue 15, items 1 and 2), against the real daemon:
#   - a slow request (one byte every 200 ms) is cut at [listen]
#     request_timeout_ms on the Unix socket, and a slow TLS handshake at
#     handshake_timeout_ms on the TCP listener; a normal request still
#     works on both;
#   - [listen] max_connections_per_peer refuses the N+1st connection of a
#     uid on the Unix socket (with a 503 and a log line) and of an address
#     over TCP, while another uid and another address still get in, and
#     the peer gets in again once one of its connections closed;
#   - the three keys are reloadable (SIGHUP);
#   - out of file descriptors (a low ulimit -n and a flood of
#     connections), the daemon does not spin writing the accept error: a
#     few log lines with a count; a keep-alive connection opened before
#     still gets answers, and once the flood is gone /v1/health answers
#     again by itself.
# No check measures a time: the slow clients would take far longer than
# the deadlines to finish, and "cut" is the connection closing first.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/../lib/certs.sh"
. "$here/store_lib.sh"
CLIENT="python3 $here/../lib/conn_client.py"

OTHER=sbtest_c_other
ensure_user $OTHER || exit 1

T=$(make_tmpdir)
make_test_pki "$T/pki" node1 >/dev/null 2>&1 || exit 1
while :; do
	port=$((20000 + RANDOM % 20000))
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done
A=$T/node1
broker_config "$A" "
[listen]
tls_address = 127.0.0.1:$port
request_timeout_ms = 1000
handshake_timeout_ms = 1000
max_connections_per_peer = 3
[tls]
cert = $T/pki/node1.crt
key = $T/pki/node1.key
ca = $T/pki/ca.crt"
broker_start "$A" || exit 1
export SB_TLS_CA=$T/pki/ca.crt SB_TLS_CERT=$T/pki/node1.crt \
	SB_TLS_KEY=$T/pki/node1.key
tls_health() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		--cacert "$T/pki/ca.crt" --cert "$T/pki/node1.crt" \
		--key "$T/pki/node1.key" "https://127.0.0.1:$port/v1/health"
}

# ---- deadlines ----
out=$($CLIENT slow-request "$A/sb.sock" 0.2 150); rc=$?
check "a slow request on the Unix socket is cut before it is complete" \
	test "$rc" -eq 0
echo "    ($out)"
check "... and the log says why" wait_until 5 grep -q \
	"connection from uid 0 cut: request not complete within \[listen\] request_timeout_ms" \
	"$A/broker.log"
out=$($CLIENT slow-handshake 127.0.0.1 "$port" 0.2); rc=$?
check "a slow TLS handshake is cut before it is complete" test "$rc" -eq 0
echo "    ($out)"
check "... and the log says why" wait_until 5 grep -q \
	"connection from address 127.0.0.1 cut: TLS handshake not complete within \[listen\] handshake_timeout_ms" \
	"$A/broker.log"
check "a normal request works on the Unix socket" \
	test "$(api "$A" GET /v1/health | cut -d' ' -f1)" = 503
check "and over TLS" test "$(tls_health)" = 503

# ---- per-peer cap, Unix socket ----
coproc HOLD { $CLIENT hold unix "$A/sb.sock" 4; }
read -r -t 30 line <&"${HOLD[0]}"
check "uid 0 gets 3 connections, the 4th is refused with a 503" \
	test "$line" = "open 3 refused 1 (503 too_many_connections)"
check "... and a log line naming the key" grep -q \
	"connection from uid 0 refused: it has 3 open, \[listen\] max_connections_per_peer is 3" \
	"$A/broker.log"
r=$(su -s /bin/sh $OTHER -c "curl -s -o /dev/null -w '%{http_code}' --unix-socket '$A/sb.sock' http://sb/v1/health")
check "another uid still gets in" test "$r" = 503
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null
check "uid 0 gets in again once its connections closed" \
	wait_until 10 bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' --unix-socket '$A/sb.sock' http://sb/v1/health)\" = 503"

# ---- per-peer cap, TCP ----
coproc HOLD { $CLIENT hold tcp 127.0.0.1 "$port" 4; }
read -r -t 30 line <&"${HOLD[0]}"
check "address 127.0.0.1 gets 3 connections, the 4th is refused" \
	test "$line" = "open 3 refused 1"
check "... with a log line" grep -q \
	"connection from address 127.0.0.1 refused: it has 3 open" \
	"$A/broker.log"
out=$($CLIENT hold tcp 127.0.0.1 "$port" 1 127.0.0.2 </dev/null)
check "another address (127.0.0.2) still gets in" test "$out" = "open 1 refused 0"
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null
check "127.0.0.1 gets in again" wait_until 10 bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert '$T/pki/ca.crt' --cert '$T/pki/node1.crt' --key '$T/pki/node1.key' https://127.0.0.1:$port/v1/health)\" = 503"

# ---- the limits are reloadable ----
sed -i 's/^max_connections_per_peer = 3$/max_connections_per_peer = 1/' \
	"$A/secretbroker.ini"
kill -HUP "$(broker_pid "$A")"
check "a reload lowers max_connections_per_peer to 1" wait_until 10 grep -q \
	"configuration reloaded: generation 2" "$A/broker.log"
check "... with no restart needed for it" bash -c \
	"! $SBCTL -s $A/sb.sock --json status | grep -q max_connections_per_peer"
out=$($CLIENT hold unix "$A/sb.sock" 2 </dev/null)
check "... and the 2nd connection of uid 0 is refused now" \
	test "$out" = "open 1 refused 1 (503 too_many_connections)"

# ---- bad values are refused, naming the key ----
for kv in "request_timeout_ms = 5" "handshake_timeout_ms = abc" \
	"max_connections_per_peer = -1"; do
	B=$T/bad
	broker_config "$B" "
[listen]
$kv"
	out=$("$SECRETBROKERD" -t -c "$B/secretbroker.ini" 2>&1); rc=$?
	check "'$kv' is refused" test "$rc" -ne 0
	check "... naming [listen] ${kv%% *}" contains "$out" "[listen] ${kv%% *}:"
done

# ---- out of file descriptors ----
broker_stop "$A"
F=$T/fd
broker_config "$F" "
[listen]
max_connections_per_peer = 0"
: >"$F/broker.log"
"$SECRETBROKERD" -c "$F/secretbroker.ini" >>"$F/broker.log" 2>&1 &
echo $! >"$F/broker.pid"
on_exit "broker_stop '$F'"
on_exit "broker_log_on_failure '$F'"
# The limit is set on the running daemon (prlimit), once it has opened
# what it needs, a little above what it holds.
wait_until 20 broker_answers "$F" || { cat "$F/broker.log"; exit 1; }
pid=$(broker_pid "$F")
nfd=$(ls /proc/"$pid"/fd | wc -l)
prlimit --pid "$pid" --nofile=$((nfd + 8)):$((nfd + 8))
coproc FLOOD { $CLIENT flood "$F/sb.sock" 400; }
read -r -t 30 before <&"${FLOOD[0]}"
read -r -t 30 during <&"${FLOOD[0]}"
check "before the flood a keep-alive connection is answered" \
	test "$before" = "keepalive-before 503"
check "during the flood it still is" test "$during" = "keepalive 503"
sleep 2 # what an operator would see during two seconds of flooding
lines=$(grep -ci "too many open files" "$F/broker.log")
check "the accept error is not logged in a loop ($lines lines)" \
	test "$lines" -le 10
exec {FLOOD[1]}>&-
wait "$FLOOD_PID" 2>/dev/null
check "after the flood /v1/health answers again by itself" \
	wait_until 20 broker_answers "$F"
check "the log counts the refused connections" wait_until 10 grep -Eq \
	"accept: too many open files; [0-9]+ connections refused in the last [0-9.]+ s" \
	"$F/broker.log"
finish
