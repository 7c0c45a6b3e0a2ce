#!/usr/bin/env bash
# GET /v1/metrics (issue 16, item 4) against the real daemon, real users
# and the real sbctl: the Prometheus text passes `promtool check metrics`;
# lookups are counted by result with their latency, the cache's hits and
# misses, storage calls by operation, fencing state and epoch, reloads ok
# and failed, audit failures; only SSO administrators and [access] metrics
# may read it (403 naming the group otherwise); nothing in it names a
# credential, a user or an application.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/store_lib.sh"

command -v promtool >/dev/null || { echo "promtool is missing (prometheus package)"; exit 1; }

MG=sbtest_m_metrics
UG=sbtest_m_usr
MON=sbtest_m_mon
ALICE=sbtest_m_alice
EVE=sbtest_m_eve
for g in $MG $UG; do ensure_group $g || exit 1; done
ensure_user $MON $MG || exit 1
ensure_user $ALICE $UG || exit 1
ensure_user $EVE || exit 1

T=$(make_tmpdir)
A=$T/node
broker_config "$A" "
[access]
metrics = $MG"
broker_start "$A" || exit 1

# metrics_as USER [DIR]: the metrics body as USER into $T/m.txt; prints
# the HTTP status and content type.
metrics_as() {
	local u=$1 dir=${2:-$A} out
	out=$(runuser -u "$u" -- curl -s -w '\n%{http_code} %{content_type}' \
		--unix-socket "$dir/sb.sock" http://sb/v1/metrics)
	printf '%s\n' "${out%$'\n'*}" >"$T/m.txt"
	echo "${out##*$'\n'}"
}
# value NAME{LABELS}: the sample's value in $T/m.txt (the exact series).
value() { awk -v s="$1" '$1 == s { print $2 }' "$T/m.txt"; }
# is SERIES EXPECTED: the sample has the value EXPECTED.
is() {
	local v
	v=$(value "$1")
	[ "$v" = "$2" ] || { echo "    $1 is '${v}', expected $2" >&2; return 1; }
}
# at_least SERIES N
at_least() {
	local v
	v=$(value "$1")
	[ -n "$v" ] && awk -v v="$v" -v n="$2" 'BEGIN { exit !(v >= n) }' ||
		{ echo "    $1 is '${v}', expected at least $2" >&2; return 1; }
}

check "root generates the secret" as root secret generate
ok "root creates crm" root app create crm --type individual \
	--fields user,password:masked --user-group $UG --admin-group $UG
ok "root enables crm" root app enable crm
ok "alice sets her credentials" $ALICE cred set crm --stdin \
	<<<'{"user": "alice_ext", "password": "Alice-Pw-7"}'

# Lookups of every result: 3 ok, 1 forbidden, 1 not found, 1 bad request.
for i in 1 2 3; do ok "alice looks up ($i)" $ALICE cred get crm; done
refused "eve may not look up" forbidden $EVE cred get crm
refused "a lookup of a missing application" no_such_app $ALICE cred get nosuch
check "a lookup with a malformed user: 400" \
	test "$(raw_as $ALICE GET '/v1/lookup/crm?user=no%20such')" = "400 bad_request"

r=$(metrics_as $MON)
check "a member of [access] metrics reads them: 200" test "${r%% *}" = 200
check "... as Prometheus text 0.0.4" contains "$r" "text/plain; version=0.0.4"
out=$(promtool check metrics <"$T/m.txt" 2>&1)
check "promtool check metrics passes" test $? -eq 0
[ -z "$out" ] || echo "$out" >&2
check "lookups ok: 3" is 'secretbroker_lookups_total{result="ok"}' 3
check "lookups forbidden: 1" is 'secretbroker_lookups_total{result="forbidden"}' 1
check "lookups not found: 1" is 'secretbroker_lookups_total{result="not_found"}' 1
check "lookups bad request: 1" is 'secretbroker_lookups_total{result="bad_request"}' 1
check "lookups error: 0" is 'secretbroker_lookups_total{result="error"}' 0
check "the latency histogram counted all 6" is 'secretbroker_lookup_duration_seconds_count' 6
check "... its +Inf bucket too" is 'secretbroker_lookup_duration_seconds_bucket{le="+Inf"}' 6
check "cache hits counted" at_least secretbroker_cache_hits_total 2
check "cache misses counted" at_least secretbroker_cache_misses_total 1
check "storage gets counted with their latency" at_least 'secretbroker_storage_duration_seconds_count{op="get"}' 1
check "storage batches (the writes) counted" at_least 'secretbroker_storage_duration_seconds_count{op="batch"}' 3
check "no storage errors" is 'secretbroker_storage_errors_total{op="get"}' 0
check "fencing active" is secretbroker_fencing_active 1
check "fencing epoch" at_least secretbroker_fencing_epoch 1
check "one transition to active" is 'secretbroker_fencing_transitions_total{to="active"}' 1
check "secret present" is secretbroker_secret_present 1
check "role mss" is 'secretbroker_node_role{role="mss"}' 1
check "generation 1" is secretbroker_config_generation 1
check "no reload yet" is 'secretbroker_reloads_total{result="ok"}' 0
check "storage reachable" is secretbroker_storage_reachable 1
check "no re-encryption running" is secretbroker_reencrypt_running 0
expect_fail "no application, user or credential in the metrics" \
	grep -q -e crm -e alice -e Alice-Pw -e $ALICE "$T/m.txt"

r=$(metrics_as root)
check "root (an SSO administrator) reads them" test "${r%% *}" = 200
for u in $EVE $ALICE; do
	r=$(metrics_as $u)
	check "$u (not in $MG) is refused: 403" test "${r%% *}" = 403
	check "... naming the group" contains "$(cat "$T/m.txt")" "[access] metrics group '$MG'"
done

# Reloads: one applied, one refused.
kill -HUP "$(broker_pid "$A")"
wait_until 20 grep -q "configuration reloaded: generation 2" "$A/broker.log"
cp "$A/secretbroker.ini" "$T/good.ini"
ini_merge "$A/secretbroker.ini" $'[broker]\nthreadz = 4'
kill -HUP "$(broker_pid "$A")"
wait_until 20 grep -q "not reloading" "$A/broker.log"
metrics_as $MON >/dev/null
check "reloads ok: 1" is 'secretbroker_reloads_total{result="ok"}' 1
check "reloads failed: 1" is 'secretbroker_reloads_total{result="failed"}' 1
check "last reload unsuccessful" is secretbroker_config_last_reload_successful 0
check "generation 2 runs" is secretbroker_config_generation 2
cp "$T/good.ini" "$A/secretbroker.ini"
broker_stop "$A"

# A metrics group that does not exist: one error naming the key and the
# group, at -t and on reload (which then changes nothing).
cp "$A/secretbroker.ini" "$T/nogroup.ini"
ini_merge "$T/nogroup.ini" $'[access]\nmetrics = sbtest_m_nosuch'
out=$("$SECRETBROKERD" -c "$T/nogroup.ini" -t 2>&1)
check "-t: a missing [access] metrics group is refused" \
	contains "$out" '[access] metrics: group "sbtest_m_nosuch" does not exist'
broker_start "$A" || exit 1
cp "$T/nogroup.ini" "$A/secretbroker.ini"
kill -HUP "$(broker_pid "$A")"
wait_until 20 grep -q 'metrics: group "sbtest_m_nosuch"' "$A/broker.log"
r=$(metrics_as $MON)
check "... a reload with it is refused and $MON may still read" test "${r%% *}" = 200
check "... counted as a failed reload" is 'secretbroker_reloads_total{result="failed"}' 1
cp "$T/good.ini" "$A/secretbroker.ini"
broker_stop "$A"

# Without [access] metrics only administrators may; the refusal says so.
B=$T/b
broker_config "$B" "
[audit]
file = /dev/full
positive_level = 3
negative_level = 3"
broker_start "$B" || exit 1
r=$(metrics_as $MON "$B")
check "without [access] metrics a non-admin is refused" test "${r%% *}" = 403
check "... and told no group is configured" contains "$(cat "$T/m.txt")" "no [access] metrics group"
# An audit record that cannot be written (/dev/full) is counted.
api "$B" GET /v1/lookup/crm >/dev/null
r=$(metrics_as root "$B")
check "audit failures counted" is secretbroker_audit_failures_total 1
check "... the lookup still answered (404, as not_found)" is 'secretbroker_lookups_total{result="not_found"}' 1
finish
