# A secretbroker cluster under real Pacemaker (bash; source after
# tests/lib/testlib.sh and tests/lib/broker.sh): the MSS nodes mss1 (and
# mss2) each a Pacemaker + corosync node of tests/fixtures/pacemaker.sh,
# where the OCF agent conf/ocf/secretbroker runs the broker as the
# promotable clone sb-clone ([fencing] plugin = pacemaker), on one SSO
# database: a real PostgreSQL or Redis server started here, reached over
# its Unix socket (the nodes have network namespaces of their own).
#
# Reuses tests/integration/cluster/cluster_lib.sh for the database
# (cl_db_records, cl_db_snapshot, cl_observer) and the API helpers
# (cl_health, cl_epoch, cl_put, cl_api, cl_wait_active, cl_wait_health):
# node NODE's broker answers on $CL_DIR/NODE/sb.sock, and its log
# $CL_DIR/NODE/broker.log (appended by the agent) is printed on failure.
#
#   pm_setup BACKEND NODE...   the database, the secret (generated on the
#                              first node, restored on the others), the
#                              application, the CIB; Pacemaker started on
#                              every node and one broker promoted
#   pm_promoted                the node Pacemaker promoted (crm_resource)
#   pm_broker_pid NODE         the broker's pid (the agent's pid file)
#   pm_wait_both_running       both instances running again (after a
#                              failure was cleaned up)
#   pm_in_log NODE REGEX       the time (ms) of the first line of NODE's
#                              broker log matching REGEX after its last
#                              mark (pm_mark NODE)
#
# Timing: the promoted instance is monitored every second, the unpromoted
# every 2 s, sbctl health may take PM_MONITOR_TIMEOUT_S (default 2).

PM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PM_SRC=$(cd "$PM_HERE/../../.." && pwd)
. "$PM_SRC/tests/integration/cluster/cluster_lib.sh"
. "$PM_SRC/tests/fixtures/pacemaker.sh"
. "$PM_SRC/tests/fixtures/redis.sh"

PM_MONITOR_TIMEOUT_S=${PM_MONITOR_TIMEOUT_S:-2}
PM_NODES=

# The database, reached by the brokers over a Unix socket.
_pm_backend_start() {
	case "$1" in
	sqlite)
		CL_STORAGE_INI="[storage]
plugin = sqlite
path = $CL_DIR/sso.db"
		;;
	postgres)
		_cl_backend_start postgres || return 1
		CL_STORAGE_INI="[storage]
plugin = postgres
conninfo = host=$PG_DIR/sock port=$PG_PORT dbname=postgres user=postgres sslmode=disable
schema = secretbroker
op_timeout_ms = 2000"
		;;
	redis)
		redis_start "$CL_DIR" redis --appendonly yes --appendfsync everysec \
			--unixsocket "$CL_DIR/redis.sock" --unixsocketperm 700 || return 1
		CL_REDIS_PORT=$(redis_port "$CL_DIR" redis)
		CL_STORAGE_INI="[storage]
plugin = redis
socket = $CL_DIR/redis.sock
key_prefix = sb:
op_timeout_ms = 2000"
		;;
	esac
}

# _pm_node_config NODE: the broker's configuration, in $CL_DIR/NODE and
# as /run/secretbroker/secretbroker.ini of the Pacemaker node (the same
# path on every node, as the clone's parameters are the same).
_pm_node_config() {
	local n=$1 d=$CL_DIR/$1 run
	run=$(pcmk_run "$n")/secretbroker
	mkdir -p "$d" "$run"
	{
		_cl_common_ini "$n"
		cat <<INI

[cluster]
role = mss

[fencing]
plugin = pacemaker
check_interval_ms = 200
INI
	} >"$d/secretbroker.ini"
	install -m 644 "$d/secretbroker.ini" "$run/secretbroker.ini"
	: >"$run/broker.log"
	ln -sf "$run/broker.log" "$d/broker.log"
}

# The clone: every parameter the same on each node; the broker's socket
# comes from the configuration ([listen] socket).
_pm_resources() {
	cat <<XML
<clone id="sb-clone">
  <meta_attributes id="sb-clone-meta">
    <nvpair id="sb-clone-promotable" name="promotable" value="true"/>
    <nvpair id="sb-clone-promoted-max" name="promoted-max" value="1"/>
    <nvpair id="sb-clone-promoted-node-max" name="promoted-node-max" value="1"/>
    <nvpair id="sb-clone-clone-node-max" name="clone-node-max" value="1"/>
    <nvpair id="sb-clone-notify" name="notify" value="true"/>
  </meta_attributes>
  <primitive id="sb" class="ocf" provider="secretbroker" type="secretbroker">
    <instance_attributes id="sb-params">
      <nvpair id="sb-params-config" name="config" value="/run/secretbroker/secretbroker.ini"/>
      <nvpair id="sb-params-binary" name="binary" value="$SECRETBROKERD"/>
      <nvpair id="sb-params-sbctl" name="sbctl" value="$SBCTL"/>
      <nvpair id="sb-params-pidfile" name="pidfile" value="/run/secretbroker/broker.pid"/>
      <nvpair id="sb-params-logfile" name="logfile" value="/run/secretbroker/broker.log"/>
      <nvpair id="sb-params-monitor_timeout" name="monitor_timeout" value="$PM_MONITOR_TIMEOUT_S"/>
    </instance_attributes>
    <meta_attributes id="sb-meta">
      <nvpair id="sb-meta-stickiness" name="resource-stickiness" value="1"/>
    </meta_attributes>
    <operations>
      <op id="sb-start" name="start" interval="0s" timeout="30s"/>
      <op id="sb-stop" name="stop" interval="0s" timeout="15s"/>
      <op id="sb-promote" name="promote" interval="0s" timeout="15s"/>
      <op id="sb-demote" name="demote" interval="0s" timeout="10s"/>
      <op id="sb-monitor-promoted" name="monitor" interval="1s" role="Promoted" timeout="10s"/>
      <op id="sb-monitor-unpromoted" name="monitor" interval="2s" role="Unpromoted" timeout="10s"/>
    </operations>
  </primitive>
</clone>
XML
}

pm_broker_pid() { cat "$(pcmk_run "$1")/secretbroker/broker.pid" 2>/dev/null; }

# pm_promoted: the node where sb-clone is promoted, as Pacemaker sees it
# (asked on any live node).
pm_promoted() {
	local n out
	for n in $PM_NODES; do
		[ -n "$(pcmk_stack_pids "$n")" ] || continue
		out=$(pcmk_in "$n" crm_mon -1 --output-as=xml 2>/dev/null) || continue
		xmllint --xpath 'string(//resource[@id="sb" and @role="Promoted" and @failed="false"]/node/@name)' - <<<"$out" 2>/dev/null
		return 0
	done
	return 1
}

_pm_running_on_all() {
	local n out cnt
	for n in $PM_NODES; do
		[ -n "$(pcmk_stack_pids "$n")" ] || continue
		out=$(pcmk_in "$n" crm_mon -1 --output-as=xml 2>/dev/null) || return 1
		cnt=$(xmllint --xpath 'count(//resource[@id="sb" and @active="true" and @failed="false" and (@role="Promoted" or @role="Unpromoted" or @role="Slave" or @role="Master")])' - <<<"$out" 2>/dev/null)
		[ "$cnt" = "$(echo $PM_NODES | wc -w)" ]
		return
	done
	return 1
}

# pm_wait_both_running [TIMEOUT_S]: every node runs its instance.
pm_wait_both_running() { wait_until "${1:-60}" _pm_running_on_all; }

# pm_mark NODE: remembers the end of NODE's broker log.
pm_mark() { wc -c <"$CL_DIR/$1/broker.log" >"$CL_DIR/$1/mark"; }

# pm_in_log NODE REGEX: prints the first line matching REGEX since pm_mark.
pm_in_log() {
	tail -c +$(($(cat "$CL_DIR/$1/mark" 2>/dev/null || echo 0) + 1)) \
		"$CL_DIR/$1/broker.log" | grep -m1 -E "$2"
}

# pm_cleanup: forget failures (so a node that failed may run again).
pm_cleanup() {
	local n
	for n in $PM_NODES; do
		[ -n "$(pcmk_stack_pids "$n")" ] || continue
		pcmk_in "$n" crm_resource --cleanup -r sb-clone >/dev/null 2>&1
		return
	done
}

_pm_logs_on_failure() {
	local n
	[ "$TESTS_FAILED" -gt 0 ] || return 0
	for n in $PM_NODES; do
		pcmk_log "$n"
		[ -n "$(pcmk_stack_pids "$n")" ] && pcmk_in "$n" crm_mon -1 -f >&2
	done
	return 0
}

# pm_stop_clone: Pacemaker stops every instance (the agent's stop:
# SIGTERM, so a sanitizer build writes its reports); waits for it.
pm_stop_clone() {
	local n
	for n in $PM_NODES; do
		[ -n "$(pcmk_stack_pids "$n")" ] || continue
		pcmk_in "$n" crm_resource -r sb-clone --meta -p target-role \
			-v Stopped >/dev/null 2>&1
		break
	done
	for n in $PM_NODES; do
		wait_until 60 bash -c "! kill -0 \$(cat '$(pcmk_run "$n")/secretbroker/broker.pid' 2>/dev/null) 2>/dev/null" || return 1
	done
}

# pm_finish: stops the clone, checks the brokers' logs for sanitizer
# reports, ends the test.
pm_finish() {
	check "Pacemaker stops every broker" pm_stop_clone
	check "no sanitizer report in any broker's log" \
		cl_sanitizer_clean "$CL_DIR"/*/broker.log
	finish
}

# pm_setup BACKEND NODE...
pm_setup() {
	local backend=$1 n first out deadline
	shift
	PM_NODES="$*"
	CL_MSS_NODES="$*"
	first=$1
	CL_BACKEND=$backend
	_cl_dir_init sbpcmk || return 1
	pcmk_setup "$CL_DIR/pcmk" "$@" || return 1
	on_exit "_pm_logs_on_failure"
	_pm_backend_start "$backend" || return 1
	for n in "$@"; do _pm_node_config "$n" || return 1; done
	CL_PW_FILE=$CL_DIR/backup.pw
	(umask 077 && printf 'pacemaker test password\n' >"$CL_PW_FILE")

	# The secret and the application, before Pacemaker runs the brokers:
	# the first node promoted by hand, then demoted and stopped.
	cl_start "$first" || return 1
	"$SBCTL" -s "$CL_DIR/$first/sb.sock" cluster promote >/dev/null || return 1
	"$SBCTL" -s "$CL_DIR/$first/sb.sock" secret generate >/dev/null || return 1
	"$SBCTL" -s "$CL_DIR/$first/sb.sock" secret backup "$CL_DIR/backup.sbk" \
		--password-file "$CL_PW_FILE" --hint "pacemaker test" >/dev/null ||
		return 1
	out=$(cl_api "$first" POST /v1/apps '{"name": "'$CL_APP'", "type": "individual",
		"user_group": "root", "fields": [{"label": "user"},
		{"label": "password", "masked": true}]}')
	[ "${out%% *}" = 201 ] || { echo "creating $CL_APP: $out" >&2; return 1; }
	out=$(cl_api "$first" PATCH "/v1/apps/$CL_APP" '{"enabled": true}')
	[ "${out%% *}" = 200 ] || { echo "enabling $CL_APP: $out" >&2; return 1; }
	"$SBCTL" -s "$CL_DIR/$first/sb.sock" cluster demote >/dev/null || return 1
	cl_stop "$first"
	for n in "$@"; do
		[ "$n" = "$first" ] && continue
		cl_start "$n" || return 1
		"$SBCTL" -s "$CL_DIR/$n/sb.sock" secret restore "$CL_DIR/backup.sbk" \
			--password-file "$CL_PW_FILE" >/dev/null || return 1
		cl_stop "$n"
	done
	# From here the agent's pid file is the node's broker.pid.
	for n in "$@"; do
		ln -sf "$(pcmk_run "$n")/secretbroker/broker.pid" "$CL_DIR/$n/broker.pid"
	done

	pcmk_cib "$(_pm_resources)" || return 1
	for n in "$@"; do pcmk_start "$n" || return 1; done
	pcmk_wait_online "$@" || return 1
	deadline=$((SECONDS + 60))
	until [ -n "$(pm_promoted)" ] && [ -n "$(cl_active)" ]; do
		if ((SECONDS >= deadline)); then
			echo "pm_setup: nothing promoted within 60 s" >&2
			return 1
		fi
		sleep 0.2
	done
}
