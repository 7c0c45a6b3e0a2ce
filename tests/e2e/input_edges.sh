#!/usr/bin/env bash
# Input edges (issue 15, item 6), through the real daemon: ambiguous
# request framing, HEAD, the request media type (Unix socket and TCP),
# lookup names checked as the create path checks them, config-store
# applications and fields, a key set twice in the INI file, and the
# backup blob's 64 KiB limit exactly at the edge.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/../lib/certs.sh"

T=$(make_tmpdir)
make_test_pki "$T/pki" node client >/dev/null 2>&1 || exit 1
port=$(free_tcp_port)
A=$T/node
broker_config "$A" "
[listen]
tls_address = 127.0.0.1:$port
max_body = 200000
[tls]
cert = $T/pki/node.crt
key = $T/pki/node.key
ca = $T/pki/ca.crt"
broker_start "$A" || exit 1
sbctl_in "$A" secret generate >/dev/null

# raw TEXT: sends TEXT (printf format) on the Unix socket, prints the reply.
raw() { printf "$1" | timeout 5 socat - UNIX-CONNECT:"$A/sb.sock" 2>/dev/null; }

# ---- framing ----
out=$(raw 'GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n')
check "two Content-Length headers: 400" contains "$out" "HTTP/1.1 400"
check "... a JSON error saying why" contains "$out" '"message":"the request has more than one Content-Length header"'
check "... and the connection is closed" contains "$out" "Connection: close"
out=$(raw 'POST /v1/secret/hint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}')
check "two different Content-Lengths: 400" contains "$out" "HTTP/1.1 400"
out=$(raw 'POST /v1/secret/hint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n')
check "Content-Length with Transfer-Encoding: 400" contains "$out" "HTTP/1.1 400"
out=$(raw 'GET /v1/health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n')
check "one Content-Length is fine" contains "$out" "HTTP/1.1 200"

# ---- HEAD ----
curl -s -o "$T/get.body" --unix-socket "$A/sb.sock" http://sb/v1/health
head=$(curl -s -I --unix-socket "$A/sb.sock" http://sb/v1/health)
check "HEAD /v1/health: 200 like GET" contains "$head" "HTTP/1.1 200"
check "... the JSON content type" contains "$head" "Content-Type: application/json"
check "... the GET body's length" contains "$head" "Content-Length: $(stat -c %s "$T/get.body")"
out=$(raw 'HEAD /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
check "... and no body" test "$(printf '%s' "$out" | sed -n '/^\r$/,$p' | wc -c)" -le 2
check "HEAD on a GET route that needs a role answers as GET does" \
	test "$(curl -s -o /dev/null -w '%{http_code}' -I --unix-socket "$A/sb.sock" http://sb/v1/secret)" = \
	     "$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$A/sb.sock" http://sb/v1/secret)"
check "HEAD on a POST-only route: 405" \
	test "$(curl -s -o /dev/null -w '%{http_code}' -I --unix-socket "$A/sb.sock" http://sb/v1/secret/generate)" = 405

# ---- media type ----
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
check "Unix socket: a body without Content-Type: 415" \
	test "$(code --unix-socket "$A/sb.sock" -X POST -H 'Content-Type:' --data-binary '{}' http://sb/v1/secret/hint)" = 415
check "Unix socket: a body sent as text/plain: 415" \
	test "$(code --unix-socket "$A/sb.sock" -X POST -H 'Content-Type: text/plain' --data-binary '{}' http://sb/v1/secret/hint)" = 415
out=$(curl -s --unix-socket "$A/sb.sock" -X POST -H 'Content-Type: text/plain' --data-binary '{}' http://sb/v1/secret/hint)
check "... a JSON error naming the type it needs" contains "$out" '"code":"unsupported_media_type"'
check "Unix socket: application/json; charset=utf-8 is JSON" \
	test "$(code --unix-socket "$A/sb.sock" -X POST -H 'Content-Type: application/json; charset=utf-8' --data-binary '{}' http://sb/v1/secret/hint)" = 400
check "Unix socket: a POST without a body needs no Content-Type" \
	test "$(code --unix-socket "$A/sb.sock" -X POST http://sb/v1/secret/hint)" = 400
tls() { code --max-time 5 --cert "$T/pki/client.crt" --key "$T/pki/client.key" --cacert "$T/pki/ca.crt" "$@"; }
check "TCP: a POST without Content-Type, even bodiless: 415" \
	test "$(tls -X POST "https://127.0.0.1:$port/v1/secret/hint")" = 415
check "TCP: a POST sent as a form: 415" \
	test "$(tls -X POST --data 'a=b' "https://127.0.0.1:$port/v1/secret/hint")" = 415
check "TCP: a POST with application/json gets past it" \
	test "$(tls -X POST -H 'Content-Type: application/json' --data '{}' "https://127.0.0.1:$port/v1/secret/hint")" != 415
check "TCP: a GET needs none" test "$(tls "https://127.0.0.1:$port/v1/health")" = 200
check "sbctl still works" sbctl_in "$A" secret status

# ---- lookup names ----
out=$(api "$A" GET '/v1/lookup/no!such')
check "lookup of a malformed application name: 400, as elsewhere" \
	contains "$out" '400 {"error":{"code":"bad_request","message":"\"no!such\" is not a valid application name"'
out=$(api "$A" GET '/v1/lookup/nosuchapp?user=bad!user')
check "lookup with a malformed user: 400 before the application is read" contains "$out" '400 {"error":{"code":"bad_request"'
out=$(api "$A" GET '/v1/lookup/nosuchapp?user=')
check "lookup with an empty user: 400" contains "$out" '400 {"error":{"code":"bad_request"'
out=$(api "$A" GET "/v1/lookup/nosuchapp?user=$(printf 'u%.0s' {1..65})")
check "lookup with a 65-character user: 400" contains "$out" '400 {"error":{"code":"bad_request"'
out=$(api "$A" GET "/v1/lookup/nosuchapp?user=$(printf 'u%.0s' {1..64})")
check "... a 64-character one is a name (404: no such application)" contains "$out" '404 {"error":{"code":"no_such_app"'

# ---- config-store applications have no fields ----
out=$(sbctl_in "$A" app create cs --type config-store --user-group root --fields a,b 2>&1); rc=$?
check "sbctl: config-store with --fields is a usage error" test "$rc" -eq 2
check "... naming --fields" contains "$out" "--fields: a config-store application has no fields"
out=$(sbctl_in "$A" app show cs 2>&1)
check "... and nothing was created" contains "$out" no_such_app
out=$(api "$A" POST /v1/apps '{"name":"cs","type":"config-store","user_group":"root","fields":[{"label":"a"}]}')
check "API: config-store with fields is refused" contains "$out" 'config-store applications have no fields'
out=$(api "$A" POST /v1/apps '{"name":"cs","type":"config-store","user_group":"root","fields":"x"}')
check "API: ... and with \"fields\": \"x\" (not silently taken as none)" contains "$out" 'config-store applications have no fields'
check "API: config-store with \"fields\": [] (as an export says) is created" \
	contains "$(api "$A" POST /v1/apps '{"name":"cs","type":"config-store","user_group":"root","fields":[]}')" 201

# ---- the backup blob: 64 KiB exactly ----
blob_of() { head -c "$1" /dev/urandom | base64 -w0; }
hint_reply() { jq -cn --arg b "$(blob_of "$1")" '{blob: $b}' >"$T/body.json"
	curl -s -w ' %{http_code}' --unix-socket "$A/sb.sock" -X POST -H 'Content-Type: application/json' --data-binary @"$T/body.json" http://sb/v1/secret/hint; }
out=$(hint_reply 65536)
check "a blob of exactly 65536 bytes passes the size check (then is no backup)" contains "$out" backup_foreign
for n in 65537 65538; do
	out=$(hint_reply $n)
	check "a blob of $n bytes: 400 naming the limit" contains "$out" "decodes to $n bytes; a backup file is at most 65536 bytes"
done

# ---- a key set twice in the INI file ----
cp "$A/secretbroker.ini" "$T/dup.ini"
printf '[broker]\nthreads = 3\n[Broker]\nTHREADS = 4\n' >>"$T/dup.ini"
line1=$(grep -n '^threads = 3' "$T/dup.ini" | cut -d: -f1)
line2=$(grep -n '^THREADS = 4' "$T/dup.ini" | cut -d: -f1)
first=$(grep -n '^threads = 2' "$T/dup.ini" | cut -d: -f1)
out=$("$SECRETBROKERD" -c "$T/dup.ini" -t 2>&1); rc=$?
check "-t refuses a key set twice in a section" test "$rc" -ne 0
check "... naming both lines" contains "$out" "$T/dup.ini:$line1: [broker] threads: set twice (first on line $first)"
check "... each time (case as iniparser: keys and sections ignore it)" contains "$out" "$T/dup.ini:$line2: [broker] threads: set twice (first on line $first)"
cp "$T/dup.ini" "$A/secretbroker.ini"
kill -HUP "$(broker_pid "$A")"
check "SIGHUP with a key set twice: not reloading" \
	wait_until 10 grep -q "has errors, not reloading" "$A/broker.log"
check "... the log names the lines" contains "$(cat "$A/broker.log")" "[broker] threads: set twice (first on line $first)"
finish
