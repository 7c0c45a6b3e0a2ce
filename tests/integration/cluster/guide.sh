#!/usr/bin/env bash
# cluster.guide: docs/clustering.md, end to end, literally.
#
# Every block of the guide marked <!-- test: NAME --> is extracted and run
# (shell blocks with bash -e, the SQL with psql as the superuser, the INI
# blocks written as the nodes' configuration files), with only host names,
# ports and directories changed (subst below; the guide's "About the test"
# lists the same changes). The test fails if the guide's marked blocks and
# the ones run here differ, so the two cannot drift apart. Three nodes on
# one machine: sso1 and sso2 (MSS candidates, lease fencing) and sso3 (a
# member), on a real PostgreSQL server started here. Then the failover the
# guide describes: a clean stop and a SIGKILL of the active MSS.
#
#   guide.sh      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/../../lib/certs.sh"

GUIDE=$here/../../../docs/clustering.md
PG_FIXTURE=$here/../../fixtures/postgres.sh
RUN="dirs.sh db.sql pgpass.sh tls-install.sh sso1.ini check.sh start.sh
generate.sh restore.sh sso3.ini try-mss.sh try-member.sh status.sh
designate.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/sbguide.XXXXXX") || exit 1
chmod 755 "$T"
[ -n "${KEEP_TMP:-}" ] || on_exit "rm -rf '$T'"
on_exit "bash '$PG_FIXTURE' stop '$T/pg.env'"
on_exit "logs_on_failure"
on_exit "stop_all"

now_ms() { date +%s%3N; }

# block NAME: the fenced block after the marker <!-- test: NAME -->.
block() {
	awk -v name="$1" '
		$0 == "<!-- test: " name " -->" { want = 1; next }
		want && /^```/ { if (inside) exit; inside = 1; next }
		inside { print }' "$GUIDE"
}

free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# subst NODE: the guide's hosts, ports and directories -> this machine's.
subst() {
	local d=$T/$1 port=${PORTS[$1]:-0}
	sed -e "s|/etc/secretbroker|$d/etc|g" \
		-e "s|/var/lib/secretbroker|$d/state|g" \
		-e "s|/run/secretbroker|$d/run|g" \
		-e "s|/root/|$d/root/|g" \
		-e "s|/usr/lib/x86_64-linux-gnu/secretbroker|$SB_PLUGIN_DIR|g" \
		-e "s|db\.example\.net|localhost|g" \
		-e "s|5432|$PG_PORT|g" \
		-e "s|sso1\.example\.net:7443|127.0.0.1:${PORTS[sso1]}|g" \
		-e "s|sso2\.example\.net:7443|127.0.0.1:${PORTS[sso2]}|g" \
		-e "s|\*:7443|127.0.0.1:$port|g"
}

# run NODE NAME [ARGS]: runs shell block NAME on NODE (in NODE's work
# directory, with its socket for sbctl); prints its output.
run() {
	local node=$1 name=$2
	(cd "$T/$node/work" &&
		SECRETBROKER_SOCKET=$T/$node/run/secretbroker.sock \
		PATH="$T/bin:$PATH" bash -e -o pipefail -c "$(block "$name" | subst "$node")")
}

health() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
		--unix-socket "$T/$1/run/secretbroker.sock" http://localhost/v1/health
}

wait_health() { # NODE CODE TIMEOUT_MS
	local deadline=$(($(now_ms) + $3))
	while (($(now_ms) < deadline)); do
		[ "$(health "$1")" = "$2" ] && return 0
		sleep 0.02
	done
	return 1
}

# start NODE: the guide's start command, in the background.
start() {
	local d=$T/$1
	(cd "$d/work" && PATH="$T/bin:$PATH" exec bash -c "exec $(block start.sh | subst "$1")") \
		>>"$d/daemon.log" 2>&1 &
	echo $! >"$d/pid"
	wait_until 30 sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 --unix-socket '$d/run/secretbroker.sock' http://localhost/v1/health)\" != 000 ]"
}

stop_node() { # NODE SIGNAL
	local pid
	pid=$(cat "$T/$1/pid" 2>/dev/null) || return 0
	kill "-$2" "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rm -f "$T/$1/pid"
}

stop_all() {
	local n
	for n in sso3 sso2 sso1; do stop_node "$n" TERM; done
}

logs_on_failure() {
	local n
	[ "$TESTS_FAILED" -gt 0 ] || return 0
	for n in sso1 sso2 sso3; do
		[ -f "$T/$n/daemon.log" ] || continue
		echo "---- log of $n ----" >&2
		tail -n 60 "$T/$n/daemon.log" >&2
	done
	bash "$PG_FIXTURE" log "$T/pg.env" >&2
}

# ---- the guide and this test agree on what is tested ----
marked=$(grep -o '^<!-- test: [^ ]* -->$' "$GUIDE" | awk '{ print $3 }' | sort)
wanted=$(echo "$RUN" | tr ' ' '\n' | grep . | sort)
check "the guide's marked blocks are exactly the ones this test runs" \
	test "$marked" = "$wanted"
[ "$marked" = "$wanted" ] || diff <(echo "$marked") <(echo "$wanted") >&2
for name in $RUN; do
	[ -n "$(block "$name")" ] || fail "the guide's block $name is empty"
done

# sbctl and secretbrokerd as installed; backups and restores take their
# password from a file, a designation is confirmed with --yes (no terminal
# here).
mkdir -p "$T/bin"
(umask 077 && printf 'guide test backup password\n' >"$T/backup.pw")
cat >"$T/bin/sbctl" <<EOF
#!/bin/sh
case "\$1 \$2" in
"secret backup"|"secret restore") exec "$SBCTL" "\$@" --password-file "$T/backup.pw" ;;
"cluster designate") exec "$SBCTL" "\$@" --yes ;;
esac
exec "$SBCTL" "\$@"
EOF
printf '#!/bin/sh\nexec "%s" "$@"\n' "$SECRETBROKERD" >"$T/bin/secretbrokerd"
chmod 755 "$T/bin/sbctl" "$T/bin/secretbrokerd"

# ---- step 2: the SSO database ----
bash "$PG_FIXTURE" start "$T/pg.env" >/dev/null || { fail "PostgreSQL did not start"; finish; exit 1; }
. "$T/pg.env"
check "step 2: the guide's SQL runs" \
	bash "$PG_FIXTURE" psql "$T/pg.env" 1 -q -f - < <(block db.sql)

declare -A PORTS
PORTS[sso1]=$(free_port) && PORTS[sso2]=$(free_port) || { fail "no free port"; finish; exit 1; }
make_test_pki "$T/pki" sso1.example.net sso2.example.net sso3.example.net ||
	{ fail "test PKI"; finish; exit 1; }

# ---- steps 1-4 on every node ----
for n in sso1 sso2 sso3; do
	mkdir -p "$T/$n/work" "$T/$n/root"
	check "step 1 on $n: directories" run "$n" dirs.sh
	# The operator's copy of the database server's certificate.
	cp "$PG_DIR/node1/server.crt" "$T/$n/etc/db-ca.pem"
	check "step 2 on $n: the password file" run "$n" pgpass.sh
	check "... is private" test "$(stat -c %a "$T/$n/etc/pgpass")" = 600
	cp "$T/pki/ca.crt" "$T/$n/work/ca.crt"
	cp "$T/pki/$n.example.net.crt" "$T/$n/work/node.crt"
	cp "$T/pki/$n.example.net.key" "$T/$n/work/node.key"
	check "step 3 on $n: certificates installed" run "$n" tls-install.sh
	case $n in
	sso1) block sso1.ini | subst sso1 ;;
	sso2) block sso1.ini | sed 's/sso1/sso2/g' | subst sso2 ;;
	sso3) block sso3.ini | subst sso3 ;;
	esac >"$T/$n/etc/secretbroker.ini"
	out=$(run "$n" check.sh 2>&1)
	check "step 4 on $n: secretbrokerd -t says configuration OK" \
		contains "$out" "configuration OK"
done

# ---- step 5: sso1 ----
start sso1 || fail "sso1 did not start"
check "step 5: sso1 alone holds no secret yet (503)" test "$(health sso1)" = 503
out=$(run sso1 generate.sh 2>&1)
check "step 5: generate, backup, status on sso1" test $? -eq 0
msid=$(SECRETBROKER_SOCKET=$T/sso1/run/secretbroker.sock "$SBCTL" --json secret status | jq -r .msid)
check "... status shows the MSID $msid" contains "$out" "$msid"
check "... the backup file is there, 0600" test "$(stat -c %a "$T/sso1/root/sso-secret.sbk")" = 600
check "sso1 is the active MSS (200)" wait_health sso1 200 5000

# ---- step 6: sso2 ----
cp "$T/sso1/root/sso-secret.sbk" "$T/sso2/root/" # the guide's scp
start sso2 || fail "sso2 did not start"
out=$(run sso2 restore.sh 2>&1)
check "step 6: restore and status on sso2" test $? -eq 0
js=$(SECRETBROKER_SOCKET=$T/sso2/run/secretbroker.sock "$SBCTL" --json secret status)
check "... the same MSID as sso1" test "$(echo "$js" | jq -r .msid)" = "$msid"
check "... check value ok" test "$(echo "$js" | jq -r .check)" = ok
check "sso2 is a standby (429)" wait_health sso2 429 5000

# ---- step 7: sso3, a member ----
start sso3 || fail "sso3 did not start"
check "step 7: sso3 is a member holding the secret (473)" wait_health sso3 473 5000
out=$(run sso1 try-mss.sh 2>&1)
check "step 7: application and credentials made on the active MSS" test $? -eq 0
out=$(run sso3 try-member.sh 2>&1)
check "step 7: the member decrypts them" contains "$out" "s3cret"

# ---- step 8: status and failover ----
status_of() { # NODE CODE: the guide's status commands on NODE
	local out
	out=$(run "$1" status.sh 2>&1) || { echo "$out" >&2; return 1; }
	contains "$(echo "$out" | sed -n 2p)" "HTTP $2" &&
		contains "$out" "active MSS:    sso1 at 127.0.0.1:${PORTS[sso1]}, epoch 1"
}
sbctl_on() { # NODE ARGS...
	local node=$1
	shift
	SECRETBROKER_SOCKET=$T/$node/run/secretbroker.sock "$SBCTL" "$@"
}
health_exit() { # NODE STATUS: sbctl health exits with STATUS
	local rc=0
	sbctl_on "$1" health >/dev/null 2>&1 || rc=$?
	[ "$rc" = "$2" ] || { echo "    sbctl health on $1 exited $rc, not $2" >&2; return 1; }
}
check "step 8: status on sso1 (200)" status_of sso1 200
check "step 8: status on sso2 (429)" status_of sso2 429
check "step 8: status on sso3 (473)" status_of sso3 473
check "step 8: sbctl health exits 0 on sso1" health_exit sso1 0
check "step 8: sbctl health exits 10 on sso2" health_exit sso2 10
check "step 8: sbctl health exits 11 on sso3" health_exit sso3 11
active_is() { # NODE: the cluster status on sso3 names NODE as the MSS
	[ "$(sbctl_on sso3 --json cluster status | jq -r .active_mss.node)" = "$1" ]
}
check "the SSO database names sso1 as the MSS" active_is sso1
member_reported() {
	[ "$(sbctl_on sso1 --json cluster status |
		jq -r '.nodes[] | select(.node == "sso3") | .role')" = member ]
}
check "the member has reported in" wait_until 10 member_reported
e1=$(sbctl_on sso3 --json cluster status | jq -r .active_mss.epoch)

t0=$(now_ms)
stop_node sso1 TERM
check "clean stop of sso1: sso2 active within acquire_interval_ms + 2 s" \
	wait_health sso2 200 3000
echo "# sso2 active $(($(now_ms) - t0)) ms after sso1 was stopped cleanly"
check "the SSO database names sso2 as the MSS" wait_until 5 active_is sso2
e2=$(sbctl_on sso3 --json cluster status | jq -r .active_mss.epoch)
check "... at a larger epoch ($e2 > $e1)" test "$e2" -gt "$e1"
out=$(echo '{"user": "bob_ext", "password": "b0b"}' |
	SECRETBROKER_SOCKET=$T/sso2/run/secretbroker.sock "$SBCTL" cred set payroll --user bob --stdin 2>&1)
check "writes go to sso2 now" test $? -eq 0
out=$(SECRETBROKER_SOCKET=$T/sso3/run/secretbroker.sock "$SBCTL" cred get payroll --user bob --show-masked 2>&1)
check "the member serves what sso2 wrote" contains "$out" "b0b"
start sso1 || fail "sso1 did not restart"
check "sso1 comes back as a standby (429)" wait_health sso1 429 5000

t0=$(now_ms)
stop_node sso2 KILL
check "crash of sso2: sso1 active within ttl_ms + acquire_interval_ms + 2 s" \
	wait_health sso1 200 6000
echo "# sso1 active $(($(now_ms) - t0)) ms after sso2 was killed"
check "the SSO database names sso1 as the MSS again" wait_until 5 active_is sso1
out=$(run sso3 try-member.sh 2>&1)
check "the member still serves lookups" contains "$out" "s3cret"

# ---- step 9: designation ----
out=$(run sso1 designate.sh 2>&1)
check "step 9: designate on the active node records it again" \
	contains "$out" "designated sso1"
start sso2 || fail "sso2 did not restart"
wait_health sso2 429 5000
out=$(sbctl_on sso2 cluster designate sso2 --yes 2>&1)
check "... on a standby with lease fencing: automatic_failover" \
	contains "$out" "(automatic_failover)"

# Stopped, so that leak reports are written; UBSan reports and goes on.
stop_all
sanitizer_clean() {
	! grep -h -E "ERROR: (Address|Leak)Sanitizer|runtime error:" \
		"$T"/sso*/daemon.log >&2
}
check "no sanitizer report in any node's log" sanitizer_clean
finish
