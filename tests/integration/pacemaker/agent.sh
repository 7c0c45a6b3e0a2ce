#!/usr/bin/env bash
# The OCF resource agent conf/ocf/secretbroker and the pacemaker fencing
# plugin, without a cluster: ocf-tester on the agent; each action's OCF
# code from the broker's real state (promoted, standby, stopped, failed,
# frozen); validate-all's refusals; and a promoted node superseded by
# another promotion steps down by itself, so that the next monitor says
# so. Two brokers on one SQLite database (the plugin does not care which
# storage: the Pacemaker tests run PostgreSQL and Redis).
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"

AGENT=$(cd "$here/../../.." && pwd)/conf/ocf/secretbroker
export OCF_ROOT=/usr/lib/ocf
T=$(make_tmpdir)
export SB_DB=$T/sso.db
FENCE=$'[fencing]\nplugin = pacemaker\ncheck_interval_ms = 200'
A=$T/mss-a
B=$T/mss-b
# A checks the lease only every minute: it learns that it was superseded
# from the storage's refusal of its write (SB_EFENCED).
broker_config "$A" $'[fencing]\nplugin = pacemaker\ncheck_interval_ms = 60000'
broker_config "$B" "$FENCE"
printf 'agent test password\n' >"$T/pw"
chmod 600 "$T/pw"

# ra DIR ACTION [VAR=VALUE...]: runs the agent for the broker in DIR as
# Pacemaker would (OCF_RESKEY_* in the environment); prints its output,
# returns its exit code.
ra() {
	local dir=$1 action=$2
	shift 2
	env OCF_RESOURCE_INSTANCE="sb-$(basename "$dir")" \
		OCF_RESKEY_config="$dir/secretbroker.ini" \
		OCF_RESKEY_binary="$SECRETBROKERD" OCF_RESKEY_sbctl="$SBCTL" \
		OCF_RESKEY_socket="$dir/sb.sock" \
		OCF_RESKEY_pidfile="$dir/agent.pid" \
		OCF_RESKEY_logfile="$dir/broker.log" \
		OCF_RESKEY_monitor_timeout=2 "$@" "$AGENT" "$action" 2>&1
}
ra_rc() { # EXPECTED DIR ACTION [VAR=VALUE...]
	local want=$1 out rc
	shift
	out=$(ra "$@")
	rc=$?
	[ "$rc" = "$want" ] && return 0
	echo "    $2 returned $rc, expected $want: $out" >&2
	return 1
}
ra_kill() { # DIR: SIGKILL of the broker the agent started
	local pid
	pid=$(cat "$1/agent.pid") && kill -KILL "$pid" && wait_until 10 bash -c "! kill -0 $pid"
}
stop_all() { ra "$A" stop >/dev/null; ra "$B" stop >/dev/null; }
on_exit stop_all
on_exit "broker_log_on_failure '$A'"
on_exit "broker_log_on_failure '$B'"

# ---- the plugin: standby at start, active only by promote ----
broker_start "$A" || exit 1
check "pacemaker plugin: the node starts standby (no secret: 503)" \
	test "$(api "$A" GET /v1/health | cut -d' ' -f1)" = 503
out=$(sbctl_in "$A" cluster promote 2>&1)
check "sbctl cluster promote makes it active" contains "$out" "promoted mss-a as the active master secret server at epoch"
check "... and generates the secret" sbctl_in "$A" secret generate
check "... the MSS name is written" test "$(api "$A" GET /v1/cluster | cut -d' ' -f2- | jq -r .active_mss.node)" = mss-a
sbctl_in "$A" secret backup "$T/s.sbk" --password-file "$T/pw" >/dev/null
out=$(sbctl_in "$A" cluster demote 2>&1)
check "sbctl cluster demote: standby" contains "$out" "mss-a is a standby master secret server"
sbctl_in "$A" health --quiet
check "health exits 10 after demote" test $? = 10
check "demote again: still 0 (idempotent)" sbctl_in "$A" cluster demote
broker_stop "$A"
broker_start "$A" || exit 1
sbctl_in "$A" health --quiet
check "a restarted node that held the fence starts standby" test $? = 10
broker_stop "$A"

# ---- refusals: settings, callers, plugins that take no orders ----
broker_config "$T/badset" $'[fencing]\nplugin = pacemaker\ncheck_interval_ms = 5'
out=$("$SECRETBROKERD" -t -c "$T/badset/secretbroker.ini" 2>&1)
check "check_interval_ms out of range is refused" test $? != 0
check "... naming the section and key" contains "$out" "[fencing] check_interval_ms"
broker_config "$T/typo" $'[fencing]\nplugin = pacemaker\ncheck_intervall_ms = 500'
out=$("$SECRETBROKERD" -t -c "$T/typo/secretbroker.ini" 2>&1)
check "an unknown key in [fencing] is refused" test $? != 0
check "... naming it" contains "$out" "check_intervall_ms"
broker_start "$A" || exit 1
out=$(runuser -u nobody -- "$SBCTL" -s "$A/sb.sock" cluster promote 2>&1)
check "promote by a caller who is not an SSO administrator: forbidden" contains "$out" "(forbidden)"
out=$(runuser -u nobody -- "$SBCTL" -s "$A/sb.sock" cluster demote 2>&1)
check "demote by a caller who is not an SSO administrator: forbidden" contains "$out" "(forbidden)"
sbctl_in "$A" health --quiet
check "... and the node is still standby" test $? = 10
broker_stop "$A"
SB_DB=$T/single.db broker_config "$T/single"
broker_start "$T/single" || exit 1
out=$(sbctl_in "$T/single" cluster demote 2>&1)
check "demote with fencing plugin none: automatic_failover" contains "$out" "(automatic_failover)"
check "... and the node is still active (fencing none, epoch 1)" \
	contains "$(api "$T/single" GET /v1/status)" '"state":"active"' 
broker_stop "$T/single"

# ---- meta-data and validate-all ----
out=$("$AGENT" meta-data)
check "meta-data is valid against the OCF DTD (with its DOCTYPE)" \
	bash -c 'cd /usr/share/resource-agents && xmllint --noout --valid - <<<"$1"' _ "$out"
for p in config binary sbctl socket monitor_timeout; do
	check "meta-data has parameter $p" contains "$out" "<parameter name=\"$p\""
done
check "meta-data is promotable: promote, demote, a monitor per role" \
	bash -c 'grep -q "name=\"promote\"" <<<"$1" && grep -q "role=\"Promoted\"" <<<"$1" && grep -q "role=\"Unpromoted\"" <<<"$1"' _ "$out"
check "validate-all: 0 on a good config" ra_rc 0 "$A" validate-all
broker_config "$T/lease" $'[fencing]\nplugin = lease'
out=$(ra "$A" validate-all OCF_RESKEY_config="$T/lease/secretbroker.ini")
check "validate-all: another fencing plugin is OCF_ERR_CONFIGURED" \
	ra_rc 6 "$A" validate-all OCF_RESKEY_config="$T/lease/secretbroker.ini"
check "... naming the plugin and the file" contains "$out" "[fencing] plugin is \"lease\"; the secretbroker agent needs plugin = pacemaker"
printf '[broker]\nnode_name = x\nbogus_key = 1\n' >"$T/bad.ini"
out=$(ra "$A" validate-all OCF_RESKEY_config="$T/bad.ini")
check "validate-all: a config with errors is OCF_ERR_CONFIGURED" \
	ra_rc 6 "$A" validate-all OCF_RESKEY_config="$T/bad.ini"
check "... with secretbrokerd -t's message" contains "$out" "bogus_key"
check "validate-all: a missing binary is OCF_ERR_INSTALLED" \
	ra_rc 5 "$A" validate-all OCF_RESKEY_binary=/nonexistent/secretbrokerd
check "validate-all: a bad monitor_timeout is OCF_ERR_CONFIGURED" \
	ra_rc 6 "$A" validate-all OCF_RESKEY_monitor_timeout=soon
check "start refuses a config with another fencing plugin" \
	ra_rc 6 "$A" start OCF_RESKEY_config="$T/lease/secretbroker.ini"

# ---- ocf-tester ----
out=$(ocf-tester -n sb-ocf-tester -o config="$A/secretbroker.ini" \
	-o binary="$SECRETBROKERD" -o sbctl="$SBCTL" -o socket="$A/sb.sock" \
	-o pidfile="$A/agent.pid" -o logfile="$A/broker.log" \
	-o monitor_timeout=5 "$AGENT" 2>&1)
rc=$?
check "ocf-tester passes on the agent" test $rc = 0
check "... all tests" contains "$out" "passed all tests"
[ $rc = 0 ] || echo "$out" >&2

# ---- monitor codes from the broker's state ----
check "monitor of a stopped broker: OCF_NOT_RUNNING" ra_rc 7 "$A" monitor
check "start: 0" ra_rc 0 "$A" start
check "monitor of the standby: OCF_SUCCESS" ra_rc 0 "$A" monitor
check "start again: 0" ra_rc 0 "$A" start
check "promote: 0" ra_rc 0 "$A" promote
check "monitor of the promoted: OCF_RUNNING_PROMOTED" ra_rc 8 "$A" monitor
check "promote again: 0" ra_rc 0 "$A" promote
e1=$(api "$A" GET /v1/health | cut -d' ' -f2- | jq -r .epoch)

# B: no secret yet, then restored; promoting B supersedes A.
check "start B (no master secret): 0" ra_rc 0 "$B" start
check "monitor of a standby without the secret: OCF_SUCCESS" ra_rc 0 "$B" monitor
sbctl_in "$B" secret restore "$T/s.sbk" --password-file "$T/pw" >/dev/null
check "promote B: 0" ra_rc 0 "$B" promote
e2=$(api "$B" GET /v1/health | cut -d' ' -f2- | jq -r .epoch)
check "B's epoch is larger than A's" test "$e2" -gt "$e1"
r=$(api "$A" POST /v1/apps '{"name":"x","type":"config-store","user_group":"root"}')
check "the superseded A's write is refused by the storage (409 fenced)" test "${r%% *}" = 409
check "A steps down at once: its monitor says OCF_SUCCESS, not promoted" \
	ra_rc 0 "$A" monitor
check "A's log says it was superseded" contains "$(cat "$A/broker.log")" "superseded at epoch $e2 by mss-b"
r=$(api "$B" POST /v1/apps '{"name":"x","type":"config-store","user_group":"root"}')
check "writes go through B" test "${r%% *}" = 201

# failed and frozen brokers
ra_kill "$A"
check "monitor after kill -9: OCF_NOT_RUNNING" ra_rc 7 "$A" monitor
check "stop after kill -9: 0" ra_rc 0 "$A" stop
kill -STOP "$(cat "$B/agent.pid")"
check "monitor of a frozen broker: OCF_ERR_GENERIC after monitor_timeout" ra_rc 1 "$B" monitor
out=$(ra "$B" monitor)
check "... saying so" contains "$out" "did not answer sbctl health within 2s"
check "demote of a frozen broker: OCF_ERR_GENERIC" ra_rc 1 "$B" demote
check "stop of a frozen broker: 0 (killed)" ra_rc 0 "$B" stop
check "monitor after that stop: OCF_NOT_RUNNING" ra_rc 7 "$B" monitor
check "promote of a stopped broker: OCF_NOT_RUNNING" ra_rc 7 "$B" promote
check "demote of a stopped broker: OCF_NOT_RUNNING" ra_rc 7 "$B" demote
check "stop of a stopped broker: 0" ra_rc 0 "$B" stop

check "no sanitizer report in the brokers' logs" \
	bash -c '! grep -h -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$@"' _ "$A/broker.log" "$B/broker.log"
finish
