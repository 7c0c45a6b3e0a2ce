# A real secretbroker cluster for the failover tests (bash; source after
# tests/lib/testlib.sh and tests/lib/broker.sh):
#
#   two master secret server nodes, mss1 and mss2, with the lease fencing
#   plugin, both holding the master secret (generated on mss1, backed up,
#   restored on mss2), each with a mutual-TLS listener advertised in
#   [cluster] address; one member node, member1, that fetches the secret
#   from the active MSS over mutual TLS; all on one SSO database, a real
#   PostgreSQL or Redis server started here.
#
# Functions (after cl_setup BACKEND):
#   cl_start NODE / cl_kill NODE / cl_pause NODE / cl_resume NODE
#   cl_health NODE            HTTP status of /v1/health ("000": no answer)
#   cl_epoch NODE             the epoch in /v1/health's body
#   cl_active                 the MSS node answering 200, or nothing
#   cl_wait_active [EXCEPT] [TIMEOUT_S]
#   cl_put NODE IDENTITY VALUE [MAX_TIME_S]   PUT a mapping; prints status
#   cl_db_records             every map/ record in the SSO database, one
#                             line each: KEY<TAB>JSON, read with psql /
#                             redis-cli, never through the daemon
#   cl_db_epoch               the storage's fencing epoch counter
#
# Node directories are $CL_DIR/NODE: secretbroker.ini, state/, sb.sock,
# broker.log, broker.pid. Every node's log is printed when a check failed.
#
# Fencing: CL_FENCING=lease (default) or keepalived. With keepalived, each
# MSS node is a host of two daemons: its broker and a real keepalived in a
# network namespace of its own (tests/fixtures/keepalived.sh: mss1 on ka
# node a, mss2 on b, unicast VRRP over a veth pair, advert_int
# CL_KA_ADVERT (default 0.1, VRRP 3), the example config's vrrp_script
# running sbctl health against the node's socket every second; two
# failures in a row, or two slow answers (2 s), lower its priority). mss1's
# keepalived starts alone, so mss1 becomes MASTER and generates the secret;
# mss2's starts when mss2 holds it. cl_crash / cl_boot then act on both
# daemons of a node (a host lost and rebooted); cl_kill / cl_start on the
# broker only. CL_KA_CHECK_MS (default 200) is epoch_check_ms.
#
# CL_MSS_EXTRA_INI, when set, is merged into both MSS nodes' configs
# (ini_merge: its keys replace the generated ones).
#
# Per node, CL_STORAGE_INI_<NODE> (e.g. CL_STORAGE_INI_mss1), when set by a
# hook, replaces the [storage] section; CL_PRE_START_HOOK, when set, is
# run after the server started (CL_STORAGE_INI is set) and before the node
# configs are written (to start a proxy for one node's storage, say).
#
# Timing: CL_TTL_MS (default 1500) is the lease TTL; the other lease
# settings are the plugin's defaults derived from it (renew every TTL/3,
# self-fence at TTL - max(TTL/3, min(500, TTL/4)), acquire every TTL/3)
# unless CL_LEASE_EXTRA adds lines to [fencing].

CL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CL_SRC=$(cd "$CL_HERE/../../.." && pwd)
. "$CL_SRC/tests/lib/certs.sh"
. "$CL_SRC/tests/lib/backend.sh"

CL_TTL_MS=${CL_TTL_MS:-1500}
CL_FENCING=${CL_FENCING:-lease}
CL_KA_ADVERT=${CL_KA_ADVERT:-0.1}
CL_KA_CHECK_MS=${CL_KA_CHECK_MS:-200}
CL_APP=payroll
CL_MSS_NODES="mss1 mss2"
CL_PW_FILE=
CL_BACKEND=
CL_DIR=
CL_PG_ENV=

now_ms() { date +%s%3N; }

# _cl_free_port: a TCP port on 127.0.0.1 nothing answers on, below the
# ephemeral range. Another process may take it before the node binds it:
# cl_start reports that clearly (the log says the address is in use).
_cl_free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "cluster_lib: no free port found" >&2
	return 1
}

# ---- the SSO database ----

# _cl_backend_start BACKEND: starts a real server in $CL_DIR
# (tests/lib/backend.sh) and sets CL_STORAGE_INI (the [storage] section
# every node uses).
_cl_backend_start() {
	case "$1" in
	postgres | redis) ;;
	*)
		echo "cluster_lib: unknown backend $1 (postgres or redis)" >&2
		return 1
		;;
	esac
	backend_start "$1" "$CL_DIR" || return 1
	CL_STORAGE_INI=$BACKEND_STORAGE_INI
	CL_PG_ENV=$BACKEND_PG_ENV
	CL_REDIS_PORT=$BACKEND_REDIS_PORT
}

_cl_backend_stop() { backend_stop; }

_cl_backend_log() { backend_log; }

# cl_db_records: KEY<TAB>VALUE for every mapping record (map/...), read
# straight from the database.
cl_db_records() {
	case "$CL_BACKEND" in
	postgres)
		bash "$CL_SRC/tests/fixtures/postgres.sh" psql "$CL_PG_ENV" 1 \
			-F $'\t' -c "SELECT convert_from(key, 'UTF8'),
				convert_from(value, 'UTF8') FROM secretbroker.kv
				WHERE key >= 'map/'::bytea AND key < 'map0'::bytea
				ORDER BY key"
		;;
	redis)
		# One script: a consistent snapshot of the hash, as pairs.
		redis_cli "$CL_REDIS_PORT" --raw EVAL \
			"local out = {}
			 local all = redis.call('HGETALL', KEYS[1])
			 for i = 1, #all, 2 do
			   if string.sub(all[i], 1, 4) == 'map/' then
			     out[#out + 1] = all[i] .. '\t' .. all[i + 1]
			   end
			 end
			 table.sort(out)
			 return out" 1 sb:data
		;;
	esac
}

# cl_db_epoch: the fencing epoch counter of the store.
cl_db_epoch() {
	case "$CL_BACKEND" in
	postgres)
		bash "$CL_SRC/tests/fixtures/postgres.sh" psql "$CL_PG_ENV" 1 \
			-c "SELECT epoch FROM secretbroker.lease"
		;;
	redis) redis_cli "$CL_REDIS_PORT" --raw GET sb:epoch ;;
	esac
}

# cl_db_snapshot: one consistent read of the epoch counter and the mapping
# records: the first line is the epoch, then KEY<TAB>EPOCH-OF-RECORD.
cl_db_snapshot() {
	case "$CL_BACKEND" in
	postgres)
		bash "$CL_SRC/tests/fixtures/postgres.sh" psql "$CL_PG_ENV" 1 \
			-F $'\t' -c "SELECT epoch::text, NULL FROM secretbroker.lease
				UNION ALL
				SELECT * FROM (SELECT convert_from(key, 'UTF8'),
				  (convert_from(value, 'UTF8')::json->>'epoch')
				 FROM secretbroker.kv
				 WHERE key >= 'map/'::bytea AND key < 'map0'::bytea
				 ORDER BY key) r" | sed 's/\t$//'
		;;
	redis)
		redis_cli "$CL_REDIS_PORT" --raw EVAL \
			"local out = {redis.call('GET', KEYS[2]) or '0'}
			 local all = redis.call('HGETALL', KEYS[1])
			 for i = 1, #all, 2 do
			   if string.sub(all[i], 1, 4) == 'map/' then
			     local e = string.match(all[i + 1], '\"epoch\":(%d+)')
			     out[#out + 1] = all[i] .. '\t' .. (e or '?')
			   end
			 end
			 return out" 2 sb:data sb:epoch
		;;
	esac
}

# cl_observer STOPFILE OUTFILE: until STOPFILE exists, reads the database
# directly (cl_db_snapshot: one consistent snapshot of the store's epoch and
# every record) every ~100 ms, and writes to OUTFILE a VIOLATION line for a
# record that appears with an epoch older than the store's epoch in the
# snapshot before (a write committed with a superseded epoch), one above
# the store's epoch, one whose epoch changes, and the store's epoch going
# back; then "observed N snapshots, K records, store epoch E". Run it in
# the background.
cl_observer() {
	local stop=$1 out=$2
	while [ ! -e "$stop" ]; do
		echo "SNAP"
		cl_db_snapshot
		sleep 0.1
	done | awk -F'\t' '
	function close_snap() {
		if (!insnap) return
		if (cur < prev) {
			print "VIOLATION: the store epoch went back from " prev " to " cur
		}
		prev = cur; insnap = 0
	}
	$0 == "SNAP" { close_snap(); snaps++; insnap = 1; first = 1; next }
	first { cur = $1 + 0; first = 0; next }
	{
		key = $1; e = $2 + 0
		if (!(key in seen)) {
			if (snaps > 1 && e < prev)
				print "VIOLATION: " key " appeared with epoch " e " after the store was at epoch " prev
			if (e > cur)
				print "VIOLATION: " key " carries epoch " e " above the store epoch " cur
			seen[key] = e; keys++
		} else if (seen[key] != e) {
			print "VIOLATION: " key " changed epoch from " seen[key] " to " e
		}
	}
	END { close_snap(); print "observed " snaps " snapshots, " keys " records, store epoch " prev }
	' >"$CL_DIR/observer.log"
}

# cl_writer OUTFILE STOPFILE: until STOPFILE exists, writes mappings w1,
# w2, ... of $CL_APP through whichever MSS node is active (found via
# /v1/health) and logs to OUTFILE "ack N NODE EPOCH_BEFORE MS" per
# acknowledged write, "nak N NODE STATUS" per failed one (its outcome may
# be unknown: it may or may not be in the database, and either is right).
# One curl per write, on one connection: GET /v1/health (the node's epoch
# before the write), then the PUT. Run it in the background.
cl_writer() {
	local out_file=$1 stop=$2 n=0 target= out hj code n_try
	local re='"status":"active".*"epoch":([0-9]+)'
	while [ ! -e "$stop" ]; do
		if [ -z "$target" ]; then
			for n_try in $CL_MSS_NODES; do
				if [ "$(curl -s -o /dev/null -w '%{http_code}' \
					--max-time 0.3 --unix-socket \
					"$CL_DIR/$n_try/sb.sock" \
					http://sb/v1/health)" = 200 ]; then
					target=$n_try
					break
				fi
			done
			[ -n "$target" ] || { sleep 0.02; continue; }
		fi
		n=$((n + 1))
		out=$(curl -s --max-time 0.5 --unix-socket "$CL_DIR/$target/sb.sock" \
			-w '\n' http://sb/v1/health --next \
			-s -o /dev/null -w '%{http_code}' --max-time 2 \
			--unix-socket "$CL_DIR/$target/sb.sock" -X PUT \
			-H 'Content-Type: application/json' --data-binary \
			"{\"values\": {\"user\": \"w$n\", \"password\": \"v$n\"}}" \
			"http://sb/v1/apps/$CL_APP/mappings/w$n")
		hj=${out%%$'\n'*}
		code=${out##*$'\n'}
		if [ "${code:0:1}" = 2 ] && [[ "$hj" =~ $re ]]; then
			echo "ack $n $target ${BASH_REMATCH[1]} $(now_ms)"
		elif [ "${code:0:1}" = 2 ]; then
			# Acknowledged, but the health answer before it was
			# not "active": impossible unless fencing is broken.
			echo "ack $n $target 999999999 $(now_ms) (health: $hj)"
		else
			echo "nak $n $target ${code:-000}"
			target=
		fi
	done >"$out_file"
}

# cl_start_writing WRITER_LOG STOPFILE: cl_writer and cl_observer (to
# $CL_DIR/observer.log) in the background until STOPFILE exists
# (cl_stop_writing); stopped at exit too.
cl_start_writing() {
	cl_writer "$1" "$2" &
	CL_WRITER_PID=$!
	cl_observer "$2" "$CL_DIR/observer.log" &
	CL_OBSERVER_PID=$!
	on_exit "touch '$2'; wait $CL_WRITER_PID $CL_OBSERVER_PID 2>/dev/null"
}

# cl_stop_writing STOPFILE: ends both and waits for them.
cl_stop_writing() {
	touch "$1"
	wait "$CL_WRITER_PID" "$CL_OBSERVER_PID"
}

# cl_acks_on WRITER_LOG NODE N: cl_writer has N acknowledged writes
# through NODE.
cl_acks_on() { [ "$(grep -c "^ack .* $2 " "$1")" -ge "$3" ]; }

# cl_other_of NODE: the other MSS node of two.
cl_other_of() { if [ "$1" = mss1 ]; then echo mss2; else echo mss1; fi; }

# cl_check_acks WRITER_LOG MIN_EPOCHS: checks, from the database itself,
# that every write cl_writer logged as acknowledged is there, with an epoch
# >= its node's when it was sent, epochs never going back in
# acknowledgement order and spanning at least MIN_EPOCHS epochs, and no
# record above the store's epoch. Leaves KEY<TAB>EPOCH of every record in
# $CL_DIR/record-epochs.txt.
cl_check_acks() {
	local W=$1 min_epochs=$2 acked result missing low back n_epochs dbepoch maxrec
	acked=$(grep -c '^ack' "$W")
	# Every acknowledged write, from the database itself.
	cl_db_records >"$CL_DIR/records.txt"
	awk -F'\t' '{ split($1, k, "/"); match($2, /"epoch":[0-9]+/)
		print k[3] "\t" substr($2, RSTART + 8, RLENGTH - 8) }' \
		"$CL_DIR/records.txt" >"$CL_DIR/record-epochs.txt"
	result=$(awk -F'\t' '
		FNR == NR { epoch[$1] = $2; next }
		$1 == "ack" {
			split($0, f, " "); id = "w" f[2]
			if (!(id in epoch)) { missing++; if (missing <= 5) print "MISSING " id; next }
			e = epoch[id] + 0
			if (e < f[4]) { low++; print "LOW " id " epoch " e " < " f[4] " (node " f[3] ")" }
			if (e < last) { back++; print "BACK " id " epoch " e " after " last }
			last = e; seen[e] = 1
		}
		END { n = 0; for (e in seen) n++
			printf "SUMMARY %d %d %d %d\n", missing, low, back, n }
		' "$CL_DIR/record-epochs.txt" FS=' ' "$W")
	echo "$result" | grep -v '^SUMMARY' | head -n 20 >&2
	read -r _ missing low back n_epochs <<<"$(echo "$result" | grep '^SUMMARY')"
	check "every acknowledged write is in the database ($missing missing of $acked)" \
		test "$missing" -eq 0
	check "each carries an epoch >= its node's when it was sent ($low lower)" \
		test "$low" -eq 0
	check "epochs in acknowledgement order never go back ($back times)" \
		test "$back" -eq 0
	check "acknowledged writes span $n_epochs epochs (>= $min_epochs)" \
		test "$n_epochs" -ge "$min_epochs"
	dbepoch=$(cl_db_epoch)
	maxrec=$(cut -f2 "$CL_DIR/record-epochs.txt" | sort -n | tail -n 1)
	check "no record is above the store's epoch ($maxrec <= $dbepoch)" \
		test "$maxrec" -le "$dbepoch"
}

# cl_put_stale NODE CYCLE: three writes to NODE right after it was thawed
# (SIGCONT) from a pause in which the other node took over: none may
# succeed. Their ids go to $CL_DIR/stale.ids for cl_check_stale.
cl_put_stale() {
	local node=$1 c=$2 k code
	for k in 1 2 3; do
		code=$(cl_put "$node" "stale$c-$k" "stale" 10)
		echo "stale$c-$k" >>"$CL_DIR/stale.ids"
		[ "${code:0:1}" != 2 ] ||
			fail "cycle $c: write $k to $node right after SIGCONT succeeded"
	done
}

# cl_check_stale WHAT: no id listed in $CL_DIR/stale.ids (writes sent to a
# frozen or just thawed node) is in the database; cl_check_acks first.
cl_check_stale() {
	local stale
	stale=$(cut -f1 "$CL_DIR/record-epochs.txt" | grep -c -x -F -f "$CL_DIR/stale.ids")
	check "nothing sent to $1 is in the database ($stale)" test "$stale" -eq 0
}

# cl_check_observer [MIN_SNAPSHOTS]: cl_observer saw no write committed
# with a superseded epoch, and took snapshots all along (at least
# MIN_SNAPSHOTS, default 50).
cl_check_observer() {
	local violations min=${1:-50}
	cat "$CL_DIR/observer.log" | tail -n 1 | sed 's/^/# observer: /'
	violations=$(grep -c VIOLATION "$CL_DIR/observer.log")
	grep VIOLATION "$CL_DIR/observer.log" | head >&2
	check "the observer saw no write committed with a superseded epoch ($violations)" \
		test "$violations" -eq 0
	check "the observer took snapshots all along" \
		test "$(tail -n 1 "$CL_DIR/observer.log" | awk '{ print $2 }')" -ge "$min"
}

# ---- nodes ----

_cl_common_ini() { # NODE
	local d=$CL_DIR/$1 storage_var=CL_STORAGE_INI_$1
	local storage=${!storage_var:-$CL_STORAGE_INI}
	cat <<INI
[broker]
state_dir = $d/state
plugin_dir = $SB_PLUGIN_DIR
node_name = $1
threads = 2
log_level = info

[listen]
socket = $d/sb.sock
socket_mode = 0666

$storage

[crypto]
plugin = openssl
INI
}

# _cl_mss_config NODE: an MSS candidate with the lease plugin and a
# mutual-TLS listener that member1 may fetch the secret from.
_cl_mss_config() {
	local n=$1 d=$CL_DIR/$1 port
	port=$(_cl_free_port) || return 1
	mkdir -p "$d"
	{
		_cl_common_ini "$n"
		cat <<INI

[listen]
tls_address = 127.0.0.1:$port

[tls]
cert = $CL_DIR/pki/$n.crt
key = $CL_DIR/pki/$n.key
ca = $CL_DIR/pki/ca.crt

[access]
cluster_members = member1

[cluster]
role = mss
address = 127.0.0.1:$port

INI
		_cl_fencing_ini "$n"
	} >"$d/secretbroker.ini"
	[ -z "${CL_MSS_EXTRA_INI:-}" ] ||
		ini_merge "$d/secretbroker.ini" "$CL_MSS_EXTRA_INI"
}

# _cl_ka_node NODE: the keepalived fixture's node of MSS NODE.
_cl_ka_node() { case $1 in mss1) echo a ;; mss2) echo b ;; esac; }

# _cl_fencing_ini NODE: the [fencing] section of MSS NODE.
_cl_fencing_ini() {
	case $CL_FENCING in
	lease)
		cat <<INI
[fencing]
plugin = lease
ttl_ms = $CL_TTL_MS
${CL_LEASE_EXTRA:-}
INI
		;;
	keepalived)
		cat <<INI
[fencing]
plugin = keepalived
fifo = $CL_DIR/ka/$(_cl_ka_node "$1")/fifo
instance = VI_1
epoch_check_ms = $CL_KA_CHECK_MS
INI
		;;
	esac
}

# _cl_ka_prepare: the namespaces and both keepalived configs, made from
# conf/keepalived/keepalived.conf.example; the vrrp_script checks the
# node's broker every second and two failures in a row (or two answers
# slower than 2 s) lower the priority.
_cl_ka_prepare() {
	. "$CL_SRC/tests/fixtures/keepalived.sh"
	ka_setup "$CL_DIR/ka" || return 1
	# After ka_setup: runs before its teardown, while the logs are there.
	on_exit "_cl_ka_logs_on_failure"
	local n version=2
	case $CL_KA_ADVERT in 0.*) version=3 ;; esac
	for n in mss1 mss2; do
		ka_config "$(_cl_ka_node $n)" advert_int="$CL_KA_ADVERT" \
			version=$version sbctl="$SBCTL" \
			socket="$CL_DIR/$n/sb.sock" interval=1 timeout=2 fall=2 \
			rise=2 || return 1
		# The broker needs its FIFO before keepalived runs.
		mkfifo -m 600 "$(ka_fifo "$(_cl_ka_node $n)")" || return 1
	done
}

_cl_ka_logs_on_failure() {
	[ "$TESTS_FAILED" -gt 0 ] || return 0
	ka_log a
	ka_log b
}

# _cl_member_config NODE: a member; checks the MSS every second, and reads
# every lookup from the database (no cache) so that lookups really go
# through storage and decryption while the MSS fails over.
_cl_member_config() {
	local n=$1 d=$CL_DIR/$1
	mkdir -p "$d"
	{
		_cl_common_ini "$n"
		cat <<INI

[tls]
cert = $CL_DIR/pki/$n.crt
key = $CL_DIR/pki/$n.key
ca = $CL_DIR/pki/ca.crt

[cluster]
role = member
refresh_s = 1

[cache]
timeout_s = 0
INI
	} >"$d/secretbroker.ini"
}

_cl_pid() { cat "$CL_DIR/$1/broker.pid" 2>/dev/null; }

_cl_running() { # NODE
	local pid
	pid=$(_cl_pid "$1") || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

# cl_start NODE: starts the node's daemon in the background (its output
# appended to broker.log) and waits until it answers /v1/health.
cl_start() {
	local d=$CL_DIR/$1 pid deadline
	echo "==== start $(date +%T.%N)" >>"$d/broker.log"
	"$SECRETBROKERD" -c "$d/secretbroker.ini" >>"$d/broker.log" 2>&1 &
	pid=$!
	echo "$pid" >"$d/broker.pid"
	deadline=$((SECONDS + 30))
	while ((SECONDS < deadline)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null
			echo "node $1 exited during start; its log:" >&2
			tail -n 40 "$d/broker.log" >&2
			return 1
		fi
		[ "$(cl_health "$1")" != 000 ] && return 0
		sleep 0.05
	done
	echo "node $1 did not answer within 30 s; its log:" >&2
	tail -n 40 "$d/broker.log" >&2
	return 1
}

# cl_crash NODE: the node's host is lost: SIGKILL of its broker and, with
# keepalived fencing, of its keepalived (no last advert, no STOP line).
cl_crash() {
	[ "$CL_FENCING" = keepalived ] && [ -n "$(_cl_ka_node "$1")" ] &&
		ka_kill "$(_cl_ka_node "$1")"
	cl_kill "$1"
}

# cl_boot NODE: the host comes back: its broker, then its keepalived (which
# starts in BACKUP; the broker reads every line it writes).
cl_boot() {
	cl_start "$1" || return 1
	if [ "$CL_FENCING" = keepalived ] && [ -n "$(_cl_ka_node "$1")" ]; then
		ka_start "$(_cl_ka_node "$1")" || return 1
	fi
	return 0
}

# cl_kill NODE: SIGKILL (a crash) and reap.
cl_kill() {
	local pid
	pid=$(_cl_pid "$1") || return 0
	echo "==== SIGKILL $(date +%T.%N)" >>"$CL_DIR/$1/broker.log"
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$CL_DIR/$1/broker.pid"
	return 0
}

cl_pause() {
	echo "==== SIGSTOP $(date +%T.%N)" >>"$CL_DIR/$1/broker.log"
	kill -STOP "$(_cl_pid "$1")"
}

cl_resume() {
	kill -CONT "$(_cl_pid "$1")"
	echo "==== SIGCONT $(date +%T.%N)" >>"$CL_DIR/$1/broker.log"
}

# cl_stop NODE: SIGCONT (a paused node cannot exit), SIGTERM, at most 20 s
# for a clean exit, then SIGKILL.
cl_stop() {
	local pid i
	pid=$(_cl_pid "$1") || return 0
	kill -CONT "$pid" 2>/dev/null
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 400); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$CL_DIR/$1/broker.pid"
	return 0
}

_cl_teardown() {
	local n
	for n in member1 $CL_MSS_NODES; do
		[ -d "$CL_DIR/$n" ] && cl_stop "$n"
	done
}

# Printed when any check failed: every node's log and the server's.
_cl_logs_on_failure() {
	local n
	[ "$TESTS_FAILED" -gt 0 ] || return 0
	for n in $CL_MSS_NODES member1; do
		[ -f "$CL_DIR/$n/broker.log" ] || continue
		echo "---- log of node $n (last 150 lines) ----" >&2
		tail -n 150 "$CL_DIR/$n/broker.log" >&2
	done
	_cl_backend_log >&2
}

# cl_health NODE: the HTTP status of GET /v1/health (000 when the node
# does not answer within 1 s).
cl_health() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
		--unix-socket "$CL_DIR/$1/sb.sock" http://sb/v1/health
}

cl_health_json() {
	curl -s --max-time 1 --unix-socket "$CL_DIR/$1/sb.sock" \
		http://sb/v1/health
}

cl_epoch() { cl_health_json "$1" | jq -r .epoch; }

# cl_api NODE METHOD PATH [BODY]: prints "STATUS BODY" (000 on no answer
# within 5 s).
cl_api() {
	local d=$CL_DIR/$1 out
	local args=(-s -X "$2" -w '\n%{http_code}' --max-time 5
		--unix-socket "$d/sb.sock")
	[ -n "${4:-}" ] && args+=(-H 'Content-Type: application/json'
		--data-binary "$4")
	out=$(curl "${args[@]}" "http://sb$3")
	echo "${out##*$'\n'} ${out%$'\n'*}"
}

# cl_fetch_secret NODE AS: the HTTP status of GET /v1/cluster/secret on
# MSS NODE's TLS listener, with the certificate of node AS (member1: a
# cluster member), as a member fetches the secret. The answer (key
# material) is discarded.
cl_fetch_secret() {
	local addr
	addr=$(sed -n 's/^address = //p' "$CL_DIR/$1/secretbroker.ini")
	curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
		--cacert "$CL_DIR/pki/ca.crt" --cert "$CL_DIR/pki/$2.crt" \
		--key "$CL_DIR/pki/$2.key" "https://$addr/v1/cluster/secret"
}

# cl_active: the MSS node that answers 200 (active), if any.
cl_active() {
	local n
	for n in $CL_MSS_NODES; do
		if [ "$(cl_health "$n")" = 200 ]; then
			echo "$n"
			return 0
		fi
	done
	return 1
}

# cl_wait_active [EXCEPT] [TIMEOUT_S]: waits for an active MSS other than
# EXCEPT; prints it.
cl_wait_active() {
	local except=${1:-} deadline=$(($(now_ms) + ${2:-15} * 1000)) n
	while (($(now_ms) < deadline)); do
		for n in $CL_MSS_NODES; do
			[ "$n" = "$except" ] && continue
			if [ "$(cl_health "$n")" = 200 ]; then
				echo "$n"
				return 0
			fi
		done
		sleep 0.02
	done
	return 1
}

# cl_wait_health NODE CODE [TIMEOUT_S]
cl_wait_health() {
	local deadline=$(($(now_ms) + ${3:-15} * 1000))
	while (($(now_ms) < deadline)); do
		[ "$(cl_health "$1")" = "$2" ] && return 0
		sleep 0.02
	done
	return 1
}

# cl_put NODE IDENTITY VALUE [MAX_TIME_S]: PUT a mapping of $CL_APP
# through NODE; prints the HTTP status (000: no answer in time).
cl_put() {
	curl -s -o /dev/null -w '%{http_code}' --max-time "${4:-5}" \
		-X PUT -H 'Content-Type: application/json' \
		--data-binary "{\"values\": {\"user\": \"$2\", \"password\": \"$3\"}}" \
		--unix-socket "$CL_DIR/$1/sb.sock" \
		"http://sb/v1/apps/$CL_APP/mappings/$2"
}

# cl_lookup NODE IDENTITY...: prints IDENTITY<TAB>PASSWORD for each (one
# keep-alive connection), or IDENTITY<TAB>!STATUS on a failure.
cl_lookup() {
	local node=$1 id urls=()
	shift
	for id in "$@"; do
		urls+=("http://sb/v1/lookup/$CL_APP?user=$id&show_masked=1&cache=bypass")
	done
	curl -s --max-time 20 --unix-socket "$CL_DIR/$node/sb.sock" \
		-w '\n' "${urls[@]}" |
		jq -r 'if .values then "\(.identity)\t\(.values.password)"
			else "?\t!\(.error.code)" end'
}

# _cl_dir_init PREFIX: a new $CL_DIR (PREFIX.XXXXXX under $TMPDIR), with the
# exit hooks that stop the nodes, print their logs on failure, stop the
# server and remove it (unless KEEP_TMP). Not make_tmpdir: its removal hook
# would be registered in the subshell of $(...) and never run.
_cl_dir_init() {
	CL_DIR=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX") || return 1
	chmod 755 "$CL_DIR"
	[ -n "${KEEP_TMP:-}" ] || on_exit "rm -rf '$CL_DIR'"
	# Run in reverse: nodes stopped, logs printed, then the server.
	on_exit "_cl_backend_stop"
	on_exit "_cl_logs_on_failure"
	on_exit "_cl_teardown"
}

# cl_setup BACKEND: the whole cluster, ready: mss1 active with the secret,
# mss2 standby with the restored secret, member1 holding the secret, and
# application $CL_APP (fields user, password:masked) enabled.
cl_setup() {
	local out
	CL_BACKEND=$1
	_cl_dir_init sbcluster || return 1
	make_test_pki "$CL_DIR/pki" mss1 mss2 member1 || return 1
	_cl_backend_start "$1" || return 1
	if [ -n "${CL_PRE_START_HOOK:-}" ]; then
		$CL_PRE_START_HOOK || return 1
	fi
	_cl_mss_config mss1 && _cl_mss_config mss2 &&
		_cl_member_config member1 || return 1
	if [ "$CL_FENCING" = keepalived ]; then
		# Alone on the link, mss1's keepalived becomes MASTER; its
		# broker reads the lines waiting in the FIFO when it starts.
		_cl_ka_prepare && ka_start a || return 1
	fi
	CL_PW_FILE=$CL_DIR/backup.pw
	(umask 077 && printf 'failover test password\n' >"$CL_PW_FILE")

	cl_start mss1 || return 1
	# Alone, mss1 takes the lease at once; generating needs it active.
	cl_wait_health mss1 503 15 || { echo "mss1 never said no_secret" >&2; return 1; }
	local deadline=$((SECONDS + 15))
	until out=$("$SBCTL" -s "$CL_DIR/mss1/sb.sock" secret generate 2>&1); do
		if ((SECONDS >= deadline)) || ! contains "$out" not_active 2>/dev/null; then
			echo "secret generate on mss1 failed: $out" >&2
			return 1
		fi
		sleep 0.1
	done
	"$SBCTL" -s "$CL_DIR/mss1/sb.sock" secret backup "$CL_DIR/backup.sbk" \
		--password-file "$CL_PW_FILE" --hint "failover test" >/dev/null ||
		return 1
	cl_start mss2 || return 1
	"$SBCTL" -s "$CL_DIR/mss2/sb.sock" secret restore "$CL_DIR/backup.sbk" \
		--password-file "$CL_PW_FILE" >/dev/null || return 1
	if [ "$CL_FENCING" = keepalived ]; then
		# Equal priorities: b joins as BACKUP and stays there, once
		# a's vrrp_script (failing while mss1 had no secret) no longer
		# lowers a's priority.
		cl_wait_health mss1 200 15 || { echo "mss1 is not active" >&2; return 1; }
		wait_until 15 ka_script_healthy a ||
			{ echo "mss1's keepalived still lowers its priority" >&2; return 1; }
		ka_start b || return 1
	fi
	cl_wait_health mss1 200 15 || { echo "mss1 is not active" >&2; return 1; }
	cl_wait_health mss2 429 15 || { echo "mss2 is not standby" >&2; return 1; }

	out=$(cl_api mss1 POST /v1/apps '{"name": "'$CL_APP'", "type": "individual",
		"user_group": "root", "fields": [{"label": "user"},
		{"label": "password", "masked": true}]}')
	[ "${out%% *}" = 201 ] || { echo "creating $CL_APP: $out" >&2; return 1; }
	out=$(cl_api mss1 PATCH "/v1/apps/$CL_APP" '{"enabled": true}')
	[ "${out%% *}" = 200 ] || { echo "enabling $CL_APP: $out" >&2; return 1; }
	cl_start member1 || return 1
	cl_wait_health member1 473 15 || { echo "member1 holds no secret" >&2; return 1; }
}

# ---- a lookup poller on a node ----

# cl_start_poller NODE IDENTITY...: looks the identities up on NODE again
# and again (one keep-alive connection per round, 2 s per round at most)
# until cl_stop_poller; $CL_DIR/poller.log gets one line per lookup: "ok"
# or "fail WHAT".
cl_start_poller() {
	local node=$1
	shift
	rm -f "$CL_DIR/poller.stop"
	: >"$CL_DIR/poller.log"
	(
		local urls=() id out n
		for id in "$@"; do
			urls+=("http://sb/v1/lookup/$CL_APP?user=$id&show_masked=1&cache=bypass")
		done
		while [ ! -e "$CL_DIR/poller.stop" ]; do
			# One line per answer: "ok", or the error code.
			out=$(curl -s --max-time 2 -w '\n' \
				--unix-socket "$CL_DIR/$node/sb.sock" "${urls[@]}" |
				sed -E '/^$/d; s/.*"password":"[^"]+".*/ok/;
					s/.*"code":"([^"]*)".*/fail \1/;
					/^(ok|fail .*)$/!s/.*/fail unexpected answer/')
			n=$(grep -c . <<<"$out")
			if [ "$n" -ne "$#" ]; then
				echo "fail $(($# - n)) of $# lookups unanswered at $(date +%T.%N)"
			fi
			[ -n "$out" ] && echo "$out"
			sleep 0.05
		done >>"$CL_DIR/poller.log"
	) &
	CL_POLLER_PID=$!
}

cl_stop_poller() {
	touch "$CL_DIR/poller.stop"
	[ -n "${CL_POLLER_PID:-}" ] && wait "$CL_POLLER_PID" 2>/dev/null
	CL_POLLER_PID=
}

# cl_poller_counts: "OK FAILED" (failed lines are echoed to stderr).
cl_poller_counts() {
	local ok failed
	ok=$(grep -c '^ok$' "$CL_DIR/poller.log")
	failed=$(grep -c '^fail' "$CL_DIR/poller.log")
	grep '^fail' "$CL_DIR/poller.log" | sort | uniq -c | head >&2
	echo "$ok $failed"
}

# cl_put_storm NODE PREFIX OUTFILE STOPFILE: mapping writes PREFIX1,
# PREFIX2, ... to NODE, in batches of 40 sent 8 at a time (curl
# --parallel), each write given 30 s, until STOPFILE exists (the batch
# under way is finished). OUTFILE gets "STATUS URL" per write.
cl_put_storm() {
	local node=$1 prefix=$2 out=$3 stop=$4 n=0 i urls
	: >"$out"
	while [ ! -e "$stop" ]; do
		urls=()
		for i in $(seq $((n + 1)) $((n + 40))); do
			urls+=(-o /dev/null "http://sb/v1/apps/$CL_APP/mappings/$prefix$i")
		done
		n=$((n + 40))
		curl -s --no-progress-meter --parallel --parallel-max 8 --max-time 30 \
			-w '%{http_code} %{url_effective}\n' -X PUT \
			-H 'Content-Type: application/json' \
			--data-binary "{\"values\": {\"user\": \"storm\", \"password\": \"$prefix\"}}" \
			--unix-socket "$CL_DIR/$node/sb.sock" "${urls[@]}" >>"$out" 2>/dev/null
	done
}

# cl_sanitizer_clean LOG...: no AddressSanitizer, LeakSanitizer or
# UndefinedBehaviorSanitizer report in the logs (UBSan reports and goes on,
# so only its log shows it).
cl_sanitizer_clean() {
	local hits
	hits=$(grep -h -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$@" 2>/dev/null)
	[ -z "$hits" ] && return 0
	echo "$hits" | head -n 20 >&2
	return 1
}

# cl_finish: stops every node (so that leak reports are written), checks
# their logs for sanitizer reports, and ends the test (testlib's finish).
cl_finish() {
	_cl_teardown
	check "no sanitizer report in any node's log" \
		cl_sanitizer_clean "$CL_DIR"/*/broker.log
	finish
}
