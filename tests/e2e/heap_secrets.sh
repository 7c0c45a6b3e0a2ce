#!/usr/bin/env bash
# Secrets left in freed memory (issue 15, item 3): after a backup, a
# restore, the hand-out of the master secret to a member over mutual TLS
# and credential reads and writes with distinctive values, the writable
# private memory of each daemon (heap, other malloc arenas, thread stacks;
# tests/lib/heap_scan.py, through /proc/PID/mem as root) holds none of
# the credential values, the backup password, or the master secret (its
# raw bytes or their base64), outside the locked secure memory where the
# secret belongs.
#
# The master secret's bytes are what the MSS hands a member: the test
# fetches them once itself with the member's certificate, as
# cl_fetch_secret does, and then looks for them. Needs root (and python3).
# A hit names the mapping, and the thread when it is a thread's stack;
# HEAP_SCAN_GDB=FILE also writes the member's thread backtraces there.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/../lib/certs.sh"
SCAN="python3 $here/../lib/heap_scan.py"

if [ "$(id -u)" -ne 0 ]; then
	echo "heap_secrets: needs root to read /proc/PID/mem" >&2
	exit 1
fi

T=$(make_tmpdir)
make_test_pki "$T/pki" mss1 member1 >/dev/null 2>&1 || exit 1
while :; do
	port=$((20000 + RANDOM % 20000))
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done
M=$T/mss1      # the MSS: generate, backup, credential writes and reads
N=$T/member1   # a member on the same SSO database: fetches the secret
R=$T/restored  # another MSS on its own database: restores the backup
SB_DB=$T/sso.db broker_config "$M" "
[listen]
tls_address = 127.0.0.1:$port
[tls]
cert = $T/pki/mss1.crt
key = $T/pki/mss1.key
ca = $T/pki/ca.crt
[access]
cluster_members = member1
[cluster]
address = 127.0.0.1:$port"
SB_DB=$T/sso.db broker_config "$N" "
[tls]
cert = $T/pki/member1.crt
key = $T/pki/member1.key
ca = $T/pki/ca.crt
[cluster]
role = member
refresh_s = 1"
broker_config "$R"

# Distinctive values, each searched for as it was sent.
tag=$$$RANDOM
PW="Backup-Pw-$tag-Zq"
USER_V="ext-user-$tag-Kx"
PASS_V="ext-pass-$tag-Wm"
PASS2_V="member-pass-$tag-Vb"
CONF_V="conf-value-$tag-Yr"
(umask 077; printf '%s\n' "$PW" >"$T/pw")

broker_start "$M" || exit 1
check "the MSS generates the master secret" \
	sbctl_in "$M" secret generate
wait_until 10 bash -c "curl -s --unix-socket $M/sb.sock http://sb/v1/cluster | jq -e '.active_mss.address != null'"

# The secret as the MSS hands it to a member (this is one member
# transfer; the member node below is another).
key_b64=$(curl -s --max-time 5 --cacert "$T/pki/ca.crt" \
	--cert "$T/pki/member1.crt" --key "$T/pki/member1.key" \
	"https://127.0.0.1:$port/v1/cluster/secret" | jq -r '.secrets[0].key')
check "the test read the master secret as a member does" \
	test "$(printf '%s' "$key_b64" | base64 -d | wc -c)" = 32
KEY_HEX=$(printf '%s' "$key_b64" | base64 -d | od -An -tx1 -v | tr -d ' \n')
hex() { printf '%s' "$1" | od -An -tx1 -v | tr -d ' \n'; }

check "backup with a password" sbctl_in "$M" secret backup "$T/b.sbk" \
	--password-file "$T/pw" --hint "the test's"
api "$M" POST /v1/apps '{"name":"payroll","type":"individual","fields":[{"label":"user"},{"label":"password","masked":true}],"user_group":"root"}' >/dev/null
api "$M" PATCH /v1/apps/payroll '{"enabled":true}' >/dev/null
r=$(api "$M" PUT /v1/apps/payroll/mappings/root "{\"values\":{\"user\":\"$USER_V\",\"password\":\"$PASS_V\"}}")
check "a credential is written" test "${r%% *}" = 201
for _ in 1 2 3; do
	r=$(api "$M" GET '/v1/lookup/payroll?show_masked=1&cache=bypass')
	r=$(api "$M" GET '/v1/lookup/payroll?show_masked=1')
	r=$(api "$M" GET '/v1/apps/payroll/mappings/root?show_masked=1')
done
check "and read back in clear" contains "$r" "$PASS_V"
api "$M" POST /v1/apps '{"name":"cfg","type":"config-store","user_group":"root"}' >/dev/null
api "$M" PATCH /v1/apps/cfg '{"enabled":true}' >/dev/null
r=$(api "$M" PUT /v1/apps/cfg/config/main "{\"values\":{\"dsn\":\"$CONF_V\"}}")
r=$(api "$M" GET '/v1/apps/cfg/config/main?cache=bypass')
check "a config-store value is written and read" contains "$r" "$CONF_V"

broker_start "$N" || exit 1
check "the member holds the secret" test \
	"$(api "$N" GET /v1/health | cut -d' ' -f1)" = 473
r=$(api "$N" PUT /v1/apps/payroll/mappings/root "{\"values\":{\"user\":\"$USER_V\",\"password\":\"$PASS2_V\"}}")
check "a credential is written through the member" test "${r%% *}" = 200
for _ in 1 2 3; do
	r=$(api "$N" GET '/v1/lookup/payroll?show_masked=1&cache=bypass')
done
check "and read through the member" contains "$r" "$PASS2_V"

broker_start "$R" || exit 1
check "another node restores the backup" sbctl_in "$R" secret restore \
	"$T/b.sbk" --password-file "$T/pw"
check "... and holds the same secret" test \
	"$(sbctl_in "$R" --json secret status | jq -r .msid)" = \
	"$(sbctl_in "$M" --json secret status | jq -r .msid)"

# Each daemon, after all of that: none of the values in its memory.
needles=(
	"master_secret=$KEY_HEX"
	"master_secret_base64=$(hex "$key_b64")"
	"backup_password=$(hex "$PW")"
	"credential_user=$(hex "$USER_V")"
	"credential_password=$(hex "$PASS_V")"
	"credential_password_via_member=$(hex "$PASS2_V")"
	"config_value=$(hex "$CONF_V")"
)
[ -n "${HEAP_SCAN_GDB:-}" ] && gdb -p "$(broker_pid "$N")" -batch -ex "thread apply all bt 12" > "$HEAP_SCAN_GDB" 2>&1
for node in "$M" "$N" "$R"; do
	out=$($SCAN "$(broker_pid "$node")" "${needles[@]}" 2>&1); rc=$?
	check "no secret in the memory of $(basename "$node")" test "$rc" -eq 0
	[ "$rc" -eq 0 ] || printf '%s\n' "$out" | head -n 40 >&2
done
finish
