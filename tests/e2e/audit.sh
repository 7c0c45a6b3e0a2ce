#!/usr/bin/env bash
# Auditing against the real daemon (issue 3, item 7): structured records of
# successes and refusals at the configured levels, never a secret; the file
# reopened on SIGHUP for rotation; an audit file that cannot be written
# fails the operation closed.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

T=$(make_tmpdir)
A=$T/node
broker_config "$A" "
[audit]
file = $T/audit.log
positive_level = 3
negative_level = 3"
broker_start "$A" || exit 1
sbctl_in "$A" secret generate >/dev/null
api "$A" POST /v1/apps '{"name":"payroll","type":"individual","fields":[{"label":"user"},{"label":"password","masked":true}],"user_group":"root"}' >/dev/null
api "$A" PATCH /v1/apps/payroll '{"enabled":true}' >/dev/null
api "$A" PUT /v1/apps/payroll/mappings/root '{"values":{"user":"ext-user-7781","password":"Sup3rS3cret-4412"}}' >/dev/null
api "$A" GET '/v1/lookup/payroll?show_masked=1' >/dev/null
api "$A" GET '/v1/lookup/nosuchapp' >/dev/null

check "the audit file is 0600" test "$(stat -c %a "$T/audit.log")" = 600
check "every line is a JSON object" bash -c "jq -e . '$T/audit.log' >/dev/null"
ops=$(jq -r .operation "$T/audit.log" | sort -u | tr '\n' ' ')
for op in secret.generate app.create app.enable mapping.set lookup; do
	check "a record of $op" contains "$ops" "$op"
done
rec=$(jq -c 'select(.operation == "lookup" and .success == true)' "$T/audit.log" | head -1)
check "a lookup record names caller, app, target, result and request id" \
	bash -c "echo '$rec' | jq -e '.uid == 0 and .user == \"root\" and .app == \"payroll\" and .target == \"root\" and .result == \"ok\" and (.request_id|length) == 16' >/dev/null"
check "a refusal is recorded with its code" \
	bash -c "jq -e 'select(.app == \"nosuchapp\") | .success == false and .result == \"no_such_app\"' '$T/audit.log' >/dev/null"
expect_fail "no credential value in the audit file" grep -q -e Sup3rS3cret -e ext-user-7781 "$T/audit.log"

# Rotation: move the file away, SIGHUP, new records go to a new file.
mv "$T/audit.log" "$T/audit.log.1"
n1=$(wc -l <"$T/audit.log.1")
kill -HUP "$(broker_pid "$A")"
wait_until 10 test -e "$T/audit.log"
api "$A" GET '/v1/lookup/payroll' >/dev/null
check "after SIGHUP records go to the new file" wait_until 5 grep -q '"lookup"' "$T/audit.log"
check "the rotated file got nothing more" test "$(wc -l <"$T/audit.log.1")" = "$n1"
broker_stop "$A"

# Fail closed: an audit file that cannot be written.
sed -i "s|^file = .*|file = /dev/full|" "$A/secretbroker.ini"
broker_start "$A" || exit 1
r=$(api "$A" GET '/v1/lookup/payroll?show_masked=1')
check "a lookup whose audit record cannot be written fails: 500" test "${r%% *}" = 500
check "... code audit_failed" test "$(echo "${r#* }" | jq -r .error.code)" = audit_failed
expect_fail "... and the values are withheld" contains "$r" "Sup3rS3cret"
check "the daemon logs the audit failure clearly" wait_until 5 grep -q "cannot write audit record to /dev/full" "$A/broker.log"
finish
