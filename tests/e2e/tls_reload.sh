#!/usr/bin/env bash
# The network API over mutual TLS: certificate identities decide who may
# fetch the master secret, and SIGHUP re-reads the certificates — a broken
# one keeps the old ones serving, a good one replaces them for new
# connections (issue 6, item 4).
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/../lib/certs.sh"

T=$(make_tmpdir)
make_test_pki "$T/pki1" mss1 member1 outsider >/dev/null 2>&1 || exit 1
make_test_pki "$T/pki2" mss1 member1 >/dev/null 2>&1 || exit 1
mkdir -m 700 "$T/tls"
install -m 600 "$T/pki1/mss1.crt" "$T/tls/node.crt"
install -m 600 "$T/pki1/mss1.key" "$T/tls/node.key"
install -m 600 "$T/pki1/ca.crt" "$T/tls/ca.crt"
port=$(free_tcp_port)
A=$T/mss1
broker_config "$A" "
[listen]
tls_address = 127.0.0.1:$port
[tls]
cert = $T/tls/node.crt
key = $T/tls/node.key
ca = $T/tls/ca.crt
[access]
cluster_members = member1
tls_admins = admin-nobody"
broker_start "$A" || exit 1
sbctl_in "$A" secret generate >/dev/null

tls_get() { # PKI NAME PATH -> prints HTTP code (000 when the handshake fails)
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		--cert "$1/$2.crt" --key "$1/$2.key" --cacert "$1/ca.crt" \
		"https://127.0.0.1:$port$3"
}

check "health over TLS with a client certificate" test "$(tls_get "$T/pki1" member1 /v1/health)" = 200
check "a listed member may fetch the secret" test "$(tls_get "$T/pki1" member1 /v1/cluster/secret)" = 200
check "an unlisted identity may not (403)" test "$(tls_get "$T/pki1" outsider /v1/cluster/secret)" = 403
check "an unlisted identity is no SSO administrator" test "$(tls_get "$T/pki1" outsider /v1/secret)" = 403
r=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --cacert "$T/pki1/ca.crt" "https://127.0.0.1:$port/v1/health")
check "no client certificate: no answer" test "$r" = 000
r=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$A/sb.sock" http://sb/v1/cluster/secret)
check "the secret is never handed out on the Unix socket" test "$r" = 403

# A broken certificate on reload: refused, the old ones keep serving.
printf 'not a certificate\n' >"$T/tls/node.crt"
kill -HUP "$(broker_pid "$A")"
wait_until 10 bash -c "$SBCTL -s $A/sb.sock --json status | jq -e '.last_reload.result == \"failed\"'"
check "a broken certificate fails the reload" contains "$(sbctl_in "$A" --json status | jq -r '.last_reload.errors|join(" ")')" "$T/tls/node.crt"
check "... and the old certificate still serves" test "$(tls_get "$T/pki1" member1 /v1/health)" = 200

# New certificates from another CA: after SIGHUP, new connections use them.
install -m 600 "$T/pki2/mss1.crt" "$T/tls/node.crt"
install -m 600 "$T/pki2/mss1.key" "$T/tls/node.key"
install -m 600 "$T/pki2/ca.crt" "$T/tls/ca.crt"
gen=$(sbctl_in "$A" --json status | jq -r .config.generation)
kill -HUP "$(broker_pid "$A")"
wait_until 10 bash -c "[ \"\$($SBCTL -s $A/sb.sock --json status | jq -r .config.generation)\" -gt $gen ]"
check "the reload with new certificates succeeds" test "$(sbctl_in "$A" --json status | jq -r .last_reload.result)" = ok
check "clients of the new CA are served" test "$(tls_get "$T/pki2" member1 /v1/cluster/secret)" = 200
check "clients of the old CA are not" test "$(tls_get "$T/pki1" member1 /v1/health)" = 000
finish
