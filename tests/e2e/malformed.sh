#!/usr/bin/env bash
# Malformed requests get a clear 4xx and never crash, block or change the
# daemon (issue 2, item 8); the process is hardened (item 9).
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

T=$(make_tmpdir)
A=$T/node
broker_config "$A"
broker_start "$A" || exit 1
sbctl_in "$A" secret generate >/dev/null
MSID=$(sbctl_in "$A" --json secret status | jq -r .msid)

code_of() { local r; r=$(api "$A" "$@"); echo "${r%% *}"; }
errcode_of() { local r; r=$(api "$A" "$@"); echo "${r#* }" | jq -r .error.code; }

check "unknown path: 404 not_found" test "$(errcode_of GET /v1/nope)" = not_found
check "wrong method: 405" test "$(code_of DELETE /v1/secret)" = 405
check "invalid JSON: 400 bad_request" test "$(errcode_of POST /v1/secret/backup '{"password": ')" = bad_request
check "JSON that is not an object: 400" test "$(errcode_of POST /v1/secret/backup '[1,2,3]')" = bad_request
check "duplicate keys: 400" test "$(errcode_of POST /v1/secret/backup '{"password":"aaaaaaaaa","password":"bbbbbbbbb"}')" = bad_request
check "missing field: 400 naming it" contains "$(api "$A" POST /v1/secret/backup '{}')" '\"password\"'
check "wrong type: 400" test "$(errcode_of POST /v1/secret/backup '{"password": 12345678}')" = bad_request
check "short password: weak_password" test "$(errcode_of POST /v1/secret/backup '{"password": "short"}')" = weak_password
check "blob not base64: 400" test "$(errcode_of POST /v1/secret/restore '{"password":"xxxxxxxxxx","blob":"!!!!"}')" = bad_request
check "empty blob: 400" test "$(errcode_of POST /v1/secret/hint '{"blob":""}')" = bad_request
check "garbage blob: backup_foreign" test "$(errcode_of POST /v1/secret/hint '{"blob":"aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ="}')" = backup_foreign
check "NUL in path: 400" test "$(code_of GET '/v1/sec%00ret')" = 400

head -c 200000 /dev/zero | tr '\0' 'a' >"$T/big"
# "Expect: 100-continue": the daemon refuses on the Content-Length before the
# body is sent, so the answer never races with curl still writing the body
# into a connection the daemon has closed (a reset, code 000, under load).
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$A/sb.sock" -H 'Content-Type: application/json' -H 'Expect: 100-continue' --data-binary @"$T/big" http://sb/v1/secret/restore)
check "oversized body: 413" test "$code" = 413

# Raw garbage on the socket, and a client that hangs up mid-request.
printf 'GARBAGE\r\n\r\n' | timeout 5 socat - UNIX-CONNECT:"$A/sb.sock" >/dev/null 2>&1 || true
printf 'POST /v1/secret/backup HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"pass' | timeout 2 socat - UNIX-CONNECT:"$A/sb.sock" >/dev/null 2>&1 || true
# A client that closes while its backup (scrypt) is running.
timeout 0.05 curl -s --unix-socket "$A/sb.sock" -d '{"password":"correct horse battery"}' http://sb/v1/secret/backup >/dev/null 2>&1 || true
sleep 0.5

check "daemon still alive after the garbage" kill -0 "$(broker_pid "$A")"
check "daemon still serves, secret unchanged" test "$(sbctl_in "$A" --json secret status | jq -r .msid)" = "$MSID"
check "health needs no auth and is 200 when active" test "$(code_of GET /v1/health)" = 200

pid=$(broker_pid "$A")
check "core dumps disabled (RLIMIT_CORE 0)" contains "$(grep 'Max core file size' /proc/$pid/limits)" " 0 "
check "not dumpable (PR_SET_DUMPABLE 0: /proc/PID owned by root)" test "$(stat -c %u /proc/$pid/status)" = 0
if ldd "$SECRETBROKERD" | grep -q libasan; then
	pass "secret memory is locked (not checkable: AddressSanitizer makes mlock a no-op)"
else
	check "secret memory is locked" test "$(awk '/VmLck/ {print $2}' /proc/$pid/status)" -gt 0
fi
expect_fail "no secret in argv" grep -q correct /proc/$pid/cmdline
finish
