#!/usr/bin/env bash
# The daemon on PostgreSQL when the database goes away (and comes back):
# every request that needs it gets one clear error naming the server, within
# the configured timeout, and nothing is lost; health never touches storage
# but reports the failed call ("storage": "unreachable", sbctl health
# --quiet exits 13, as keepalived's vrrp_script sees it); once the server
# is back the daemon serves again without a restart, and health exits 0.
here=$(dirname "$0")
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
FIX="$here/../../fixtures/postgres.sh"

T=$(make_tmpdir)
ENV=$T/pg.env
bash "$FIX" start "$ENV" >"$T/fixture.log" 2>&1 || { cat "$T/fixture.log"; exit 1; }
on_exit "bash '$FIX' stop '$ENV' >/dev/null 2>&1"
on_exit "[ \"\$TESTS_FAILED\" -eq 0 ] || bash '$FIX' log '$ENV' | tail -50"
. "$ENV"

A=$T/node
broker_config "$A"
# The sqlite settings of broker_config are replaced by the postgres ones.
sed -i '/^\[storage\]/,/^\[crypto\]/{/^plugin = sqlite/d;/^path = /d}' "$A/secretbroker.ini"
cat >>"$A/secretbroker.ini" <<INI
[storage]
plugin = postgres
conninfo = host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres sslmode=disable connect_timeout=2
schema = sb_outage
op_timeout_ms = 1500
[cache]
timeout_s = 0
INI
broker_start "$A" || exit 1
sbctl_in "$A" secret generate >/dev/null
MSID=$(sbctl_in "$A" --json secret status | jq -r .msid)
api "$A" POST /v1/apps '{"name":"payroll","type":"individual","fields":[{"label":"user"},{"label":"password","masked":true}],"user_group":"root"}' >/dev/null
api "$A" PATCH /v1/apps/payroll '{"enabled":true}' >/dev/null
r=$(api "$A" PUT /v1/apps/payroll/mappings/root '{"values":{"user":"u","password":"before"}}')
check "a credential stored on PostgreSQL" test "${r%% *}" = 201
check "health says storage ok" \
	test "$(api "$A" GET /v1/health | cut -d' ' -f2- | jq -r .storage)" = ok
out=$(sbctl_in "$A" health --quiet); r=$?
check "sbctl health --quiet exits 0, printing nothing" test "$r:$out" = "0:"

bash "$FIX" halt "$ENV" immediate >/dev/null 2>&1
start=$(date +%s%N)
r=$(api "$A" GET '/v1/lookup/payroll?show_masked=1')
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "    lookup with the database down answered in $ms ms"
check "a lookup with the database down: 503" test "${r%% *}" = 503
check "... code storage_unavailable" test "$(echo "${r#* }" | jq -r .error.code)" = storage_unavailable
check "... naming the server" contains "$r" "127.0.0.1:$PG_PORT"
check "... within the timeouts, not a hang" test "$ms" -lt 10000
r=$(api "$A" PUT /v1/apps/payroll/mappings/root '{"values":{"user":"u","password":"during"}}')
check "a write with the database down: 503, clear" test "${r%% *}" = 503
out=$(sbctl_in "$A" secret status 2>&1)
check "sbctl says the SSO database is unavailable" contains "$out" "SSO database unavailable"
check "health does not touch storage: still 200" test "$(api "$A" GET /v1/health | cut -d' ' -f1)" = 200
check "... but says storage unreachable" \
	test "$(api "$A" GET /v1/health | cut -d' ' -f2- | jq -r .storage)" = unreachable
out=$(sbctl_in "$A" health --quiet); r=$?
check "sbctl health --quiet exits 13 (MSS without its storage), printing nothing" \
	test "$r:$out" = "13:"
check "the daemon is still running" kill -0 "$(broker_pid "$A")"

bash "$FIX" resume "$ENV" >/dev/null 2>&1
check "after the server is back, lookups work again without a restart" \
	wait_until 20 bash -c "curl -s --unix-socket $A/sb.sock 'http://sb/v1/lookup/payroll?show_masked=1' | grep -q before"
# wait_until: a pooled connection the outage broke may fail once more.
check "after good reads, sbctl health --quiet exits 0 again" \
	wait_until 10 bash -c "'$SBCTL' -s '$A/sb.sock' health --quiet"
out=$(sbctl_in "$A" health --quiet); r=$?
check "... printing nothing" test "$r:$out" = "0:"
check "the refused write did not happen" contains "$(api "$A" GET '/v1/lookup/payroll?show_masked=1')" '"password":"before"'
r=$(api "$A" PUT /v1/apps/payroll/mappings/root '{"values":{"user":"u","password":"after"}}')
check "writes work again" test "${r%% *}" = 200
check "the secret is unchanged" test "$(sbctl_in "$A" --json secret status | jq -r .msid)" = "$MSID"
finish
