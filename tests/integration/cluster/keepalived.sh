#!/usr/bin/env bash
# cluster.keepalived.BACKEND: the keepalived fencing plugin with real
# keepalived daemons, two brokers and a member on a real PostgreSQL or
# Redis server.
#
# Each MSS node is a broker (root network namespace, reached over its Unix
# socket) and a keepalived in a network namespace of its own, started from
# conf/keepalived/keepalived.conf.example with the addresses substituted
# (tests/fixtures/keepalived.sh; cluster_lib.sh with CL_FENCING=keepalived:
# unicast VRRP 3 at advert_int 0.1, the example's vrrp_script running
# `sbctl health --quiet` every second). mss1 reaches the database through a
# TCP forwarder the test can cut (tests/lib/tcp_proxy.py), mss2 directly.
# In order:
#   1. SIGTERM of the MASTER's keepalived (a STOP line): its broker steps
#      down at once, and nothing written through it after that is
#      committed; the other node becomes active;
#   2. SIGKILL of the MASTER's keepalived and broker (a lost host): the
#      other becomes active and a write succeeds through it;
#   3. the vrrp_script fails on the MASTER (its storage is cut): VRRP moves
#      the virtual address and the other broker becomes active;
#   4. split brain (VRRP dropped both ways, both keepalived MASTER): each
#      broker takes over in turn; the superseded one steps down within
#      epoch_check_ms + 1 s (409 on its next write, health 429), a
#      database observer sees no write committed with a superseded epoch,
#      and once VRRP flows again exactly one active node remains;
# and throughout: every acknowledged write is in the database, the member
# answers every lookup.
#
#   keepalived.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
export CL_FENCING=keepalived
. "$here/cluster_lib.sh"

backend=${1:?usage: keepalived.sh postgres|redis}
PROXY_PORT=
PROXY_PID=

# The forwarder for mss1's storage: started before the node configs are
# written, so mss1's [storage] points at it.
proxy_start() {
	local target log=$CL_DIR/proxy.log
	target=$(echo "$CL_STORAGE_INI" | sed -n 's/.*port[ =]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
	[ -n "$PROXY_PORT" ] || PROXY_PORT=$(_cl_free_port) || return 1
	python3 "$CL_SRC/tests/lib/tcp_proxy.py" "$PROXY_PORT" "$target" \
		>>"$log" 2>&1 &
	PROXY_PID=$!
	on_exit "kill $PROXY_PID 2>/dev/null"
	wait_until 20 grep -q ready "$log" || { echo "tcp_proxy did not start" >&2; return 1; }
		CL_STORAGE_INI_mss1=$(echo "$CL_STORAGE_INI" |
		sed "s/port=$target/port=$PROXY_PORT/; s/^port = $target\$/port = $PROXY_PORT/")
}
proxy_cut() { kill -KILL "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null; }
proxy_restore() {
	python3 "$CL_SRC/tests/lib/tcp_proxy.py" "$PROXY_PORT" \
		"$(echo "$CL_STORAGE_INI" | sed -n 's/.*port[ =]*\([0-9][0-9]*\).*/\1/p' | head -n 1)" \
		>"$CL_DIR/proxy2.log" 2>&1 &
	PROXY_PID=$!
	on_exit "kill $PROXY_PID 2>/dev/null"
	wait_until 20 grep -q ready "$CL_DIR/proxy2.log"
}
CL_PRE_START_HOOK=proxy_start

cl_setup "$backend" || { fail "cluster setup on $backend"; finish; exit 1; }
check "mss1 was started from the example config's keepalived (VRRP MASTER)" \
	grep -q "(VI_1) Entering MASTER STATE" "$CL_DIR/ka/a/keepalived.log"
check "mss1 reads its storage through the forwarder" \
	grep -q "$PROXY_PORT" "$CL_DIR/mss1/secretbroker.ini"

STOP=$CL_DIR/all.stop
cl_observer "$STOP" "$CL_DIR/observer.log" &
observer_pid=$!
on_exit "touch '$STOP'; wait $observer_pid 2>/dev/null"
for i in $(seq 1 5); do
	[ "$(cl_put mss1 "seed$i" "seed-$i")" = 201 ] || fail "write seed$i"
done
cl_start_poller member1 seed1 seed2 seed3 seed4 seed5
ACKS=$CL_DIR/acks.txt # "ID VALUE" of every acknowledged write
: >"$ACKS"
for i in $(seq 1 5); do echo "seed$i seed-$i" >>"$ACKS"; done

# put NODE ID VALUE: one write; prints the status and records an ack.
put() {
	local code
	code=$(cl_put "$1" "$2" "$3" 3)
	[ "${code:0:1}" = 2 ] && echo "$2 $3" >>"$ACKS"
	echo "$code"
}

# node_writer NODE PREFIX OUT STOPFILE: one write after another through
# NODE, "N STATUS MS" per write in OUT, acks also in $ACKS.
node_writer() {
	local node=$1 prefix=$2 out=$3 stop=$4 n=0 code
	: >"$out"
	while [ ! -e "$stop" ]; do
		n=$((n + 1))
		code=$(put "$node" "$prefix$n" "v-$prefix$n")
		echo "$n $code $(now_ms)" >>"$out"
		sleep 0.02
	done
}

# log_ms NODE REGEX: the time (ms since the epoch, the broker's own clock)
# of the last line of NODE's log matching REGEX; empty if none.
log_ms() {
	local line
	line=$(grep -E "$2" "$CL_DIR/$1/broker.log" | tail -n 1)
	[ -n "$line" ] && date -d "${line%% *}" +%s%3N
}

# ---- 1. SIGTERM of the MASTER's keepalived: STOP, a clean step-down ----
e1=$(cl_epoch mss1)
node_writer mss1 term "$CL_DIR/w1.log" "$CL_DIR/w1.stop" &
w1=$!
acked_in() { [ "$(grep -c ' 2[0-9][0-9] ' "$1" 2>/dev/null)" -ge "$2" ]; }
wait_until 10 acked_in "$CL_DIR/w1.log" 5 ||
	fail "the writer on mss1 made no progress"
ka_stop a
check "mss1 steps down on keepalived's STOP line" cl_wait_health mss1 429 5
t1=$(now_ms)
# Every write answered after the step-down was seen must be refused.
sleep 0.5
touch "$CL_DIR/w1.stop"
wait "$w1"
late=$(awk -v t="$t1" '$3 > t + 300 && $2 ~ /^2/' "$CL_DIR/w1.log" | wc -l)
check "no write through mss1 succeeds after its step-down ($late)" test "$late" -eq 0
check "mss1's log names the STOP line" \
	grep -q "keepalived reports STOP for instance VI_1" "$CL_DIR/mss1/broker.log"
new=$(cl_wait_active mss1 10)
check "mss2 becomes active after mss1's keepalived stopped" test "$new" = mss2
ts=$(log_ms mss1 "now standby .*reports STOP")
ta=$(log_ms mss2 "now active")
echo "# STOP: mss2 active $((ta - ts)) ms after mss1 read the STOP line (broker logs)"
e2=$(cl_epoch mss2)
check "mss2's epoch is larger ($e2 > $e1)" test "$e2" -gt "$e1"
check "a write through mss2 succeeds" test "$(put mss2 after-stop v1)" = 201
ka_start a
sleep 1
check "mss1 stays standby when its keepalived is back (equal priority)" \
	test "$(cl_health mss1)" = 429
check "mss2 stays active" test "$(cl_health mss2)" = 200

# ---- 2. SIGKILL of the MASTER's host: keepalived and broker ----
t0=$(now_ms)
cl_crash mss2
new=$(cl_wait_active mss2 15)
check "mss1 becomes active after mss2's host is lost" test "$new" = mss1
code=$(put mss1 after-kill v2)
t1=$(now_ms)
check "the first write through mss1 succeeds ($code)" test "$code" = 201
echo "# SIGKILL: first write through mss1 $((t1 - t0)) ms after the kill"
check "mss2 comes back as a standby" cl_boot mss2
check "mss2 is standby" cl_wait_health mss2 429 10

# ---- 3. the vrrp_script fails on the MASTER: storage cut for mss1 ----
vip_on() { ip -n "$(ka_ns "$1")" addr show veth0 | grep -q "$(ka_net).100/"; }
check "the virtual address is on mss1's side" vip_on a
t0=$(now_ms)
proxy_cut
new=$(cl_wait_active mss1 20)
t1=$(now_ms)
check "mss2 becomes active when mss1 loses its storage" test "$new" = mss2
check "the virtual address moved to mss2's side" wait_until 5 vip_on b
check "mss1's health says the storage is unreachable" \
	wait_until 5 sh -c "curl -s --max-time 1 --unix-socket '$CL_DIR/mss1/sb.sock' http://sb/v1/health | grep -q '\"storage\":\"unreachable\"'"
quiet_rc() { "$SBCTL" -s "$CL_DIR/mss1/sb.sock" health --quiet; echo $?; }
quiet_is() { [ "$(quiet_rc)" = "$1" ]; }
check "sbctl health --quiet exits 13 on mss1" test "$(quiet_rc)" = 13
check "mss1 is standby" cl_wait_health mss1 429 5
echo "# health check: mss2 active $((t1 - t0)) ms after mss1's storage was cut"
check "a write through mss2 succeeds" test "$(put mss2 after-check v3)" = 201
proxy_restore || fail "restarting the forwarder"
check "mss1 reaches its storage again (sbctl health --quiet: 10)" \
	wait_until 30 quiet_is 10
check "mss2 stays active" test "$(cl_health mss2)" = 200

# ---- 4. split brain ----
node_writer mss1 splita "$CL_DIR/wa.log" "$CL_DIR/split.stop" &
wa=$!
node_writer mss2 splitb "$CL_DIR/wb.log" "$CL_DIR/split.stop" &
wb=$!
off_a=$(wc -c <"$CL_DIR/ka/a/keepalived.log")
ka_split
a_master() { # mss1's keepalived became MASTER after the cut
	tail -c +"$((off_a + 1))" "$CL_DIR/ka/a/keepalived.log" | grep -q "Entering MASTER STATE"
}
check "keepalived on both sides is MASTER once VRRP is cut" wait_until 10 a_master
check "mss1 takes over (keepalived says MASTER)" cl_wait_health mss1 200 10
check "mss2, superseded, steps down" cl_wait_health mss2 429 10
e_split=$(cl_epoch mss1)
check "mss2's log says it was superseded" \
	grep -q "superseded at epoch $e_split by mss1" "$CL_DIR/mss2/broker.log"
# Measured on the brokers' own clock, from their logs: the test's polling
# on a loaded machine would add its own delays.
ta=$(log_ms mss1 "now active \\(epoch $e_split\\)")
tb=$(log_ms mss2 "now standby .*superseded at epoch $e_split ")
check "mss2 stepped down within epoch_check_ms + 1 s of mss1's takeover ($((tb - ta)) ms)" \
	test -n "$ta" -a -n "$tb" -a $((tb - ta)) -le $((CL_KA_CHECK_MS + 1000))
check "mss2's health says why" \
	sh -c "'$SBCTL' -s '$CL_DIR/mss2/sb.sock' health --json | grep -q superseded"
sleep 1
check "mss2 stays standby while keepalived on both sides says MASTER" \
	test "$(cl_health mss2)" = 429
ka_heal
one_active() {
	local a b
	a=$(cl_health mss1)
	b=$(cl_health mss2)
	[ "$a$b" = 200429 ] || [ "$a$b" = 429200 ]
}
check "after VRRP flows again exactly one node is active" wait_until 10 one_active
sleep 2
check "and stays so" one_active
touch "$CL_DIR/split.stop"
wait "$wa" "$wb"
act=$(cl_active)
check "a write through the active node ($act) succeeds" test "$(put "$act" after-split v4)" = 201
echo "# split: mss1 active at epoch $e_split, mss2 standby $((tb - ta)) ms later; after the heal $act is active"

touch "$STOP"
wait "$observer_pid"
cl_stop_poller

# Every acknowledged write, read from the database.
cl_db_records >"$CL_DIR/records.txt"
missing=$(awk -F'\t' 'FNR == NR { split($1, k, "/"); have[k[3]] = 1; next }
	!($1 in have) { n++; if (n <= 5) print "MISSING " $1 > "/dev/stderr" }
	END { print n + 0 }' "$CL_DIR/records.txt" FS=' ' "$ACKS")
check "every acknowledged write is in the database ($missing missing of $(wc -l <"$ACKS"))" \
	test "$missing" -eq 0
tail -n 1 "$CL_DIR/observer.log" | sed 's/^/# observer: /'
violations=$(grep -c VIOLATION "$CL_DIR/observer.log")
grep VIOLATION "$CL_DIR/observer.log" | head >&2
check "the observer saw no write committed with a superseded epoch ($violations)" \
	test "$violations" -eq 0
read -r ok failed <<<"$(cl_poller_counts)"
check "the member answered every lookup ($ok answered, $failed failed)" \
	test "$ok" -ge 20 -a "$failed" -eq 0
cl_finish
