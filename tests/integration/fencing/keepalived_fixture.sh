#!/usr/bin/env bash
# fencing.keepalived.fixture: the keepalived fixture (tests/fixtures/
# keepalived.sh) on two real keepalived daemons in two network namespaces,
# no broker: what the keepalived fencing plugin will read from notify_fifo.
#
# Fast part (VRRP v3, advert_int 0.1; a priority 120, b 100; the example's
# sbctl wrapper around a fake sbctl whose exit status the test sets):
#   a MASTER, b BACKUP; SIGKILL a -> b MASTER (timed); a back -> MASTER;
#   SIGTERM a -> STOP on a's FIFO, b MASTER (timed); split (VRRP dropped
#   both ways) -> both MASTER; heal -> one MASTER; the check exiting 10
#   (standby) changes nothing, 12/13 move MASTER to b, 0 brings it back;
#   a keepalived restart loses no FIFO line for a read-write reader.
# Slow part: the example file exactly, addresses substituted (VRRP v2,
#   advert_int 1, equal priorities, the real sbctl with no broker behind
#   it: exit 3, both penalised alike): SIGKILL and SIGTERM timed, and a
#   returning node does not take MASTER back.
# Needs root, keepalived, nft, ip. SBCTL: the sbctl binary (or SB_BUILD).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../fixtures/keepalived.sh"

SBCTL=${SBCTL:-${SB_BUILD:+$SB_BUILD/client/sbctl}}
: "${SBCTL:?SBCTL or SB_BUILD must name sbctl}"
for tool in "$KEEPALIVED" nft ip; do
	command -v "$tool" >/dev/null || { echo "missing $tool (scripts/install-deps.sh)" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }

D=$(make_tmpdir)
ka_setup "$D" || { echo "ka_setup failed" >&2; exit 1; }

TIMINGS=()
# elapsed T0 T1: T1 - T0 in seconds, 3 decimals.
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# lt X LIMIT: X < LIMIT (decimals).
lt() { awk -v x="$1" -v l="$2" 'BEGIN { exit !(x < l) }'; }

failed_before=0
# dump_on_failure: print both logs once per new failure.
dump_on_failure() {
	if [ "$TESTS_FAILED" -gt "$failed_before" ]; then
		ka_log a
		ka_log b
		failed_before=$TESTS_FAILED
	fi
}

# master_moves WHAT ACTION NODE OTHER LIMIT: runs ACTION on NODE (ka_kill or
# ka_stop), waits for OTHER's MASTER line, records the time.
master_moves() {
	local what=$1 action=$2 node=$3 other=$4 limit=$5 off offn t0 t1 dt
	off=$(ka_offset "$other")
	offn=$(ka_offset "$node")
	t0=$EPOCHREALTIME
	"$action" "$node"
	if [ "$action" = ka_kill ]; then
		# A crash says nothing: no STOP line, hence no priority-0 advert
		# (a line written as it died would be read within milliseconds).
		sleep 0.2
		expect_fail "$what: no STOP line from the killed $node" \
			ka_wait_line "$node" "$offn" 'INSTANCE "VI_1" STOP ' 0
	fi
	if t1=$(ka_wait_line "$other" "$off" 'INSTANCE "VI_1" MASTER ' 15); then
		dt=$(elapsed "$t0" "$t1")
		TIMINGS+=("$what: ${dt} s")
		echo "# $what: $other MASTER after ${dt} s"
		check "$what: $other becomes MASTER within $limit s (${dt} s)" lt "$dt" "$limit"
	else
		fail "$what: $other never became MASTER"
	fi
	dump_on_failure
}

# ---- fast part -----------------------------------------------------------
for n in a b; do
	echo 0 >"$D/$n/health_rc"
	cat >"$D/$n/fake-sbctl" <<EOF
#!/bin/sh
# Stands in for sbctl: counts its calls, exits with health_rc.
echo "\$*" >>"$D/$n/calls"
exit \$(cat "$D/$n/health_rc")
EOF
	chmod 755 "$D/$n/fake-sbctl"
done
fast=(version=3 advert_int=0.1 interval=1 fall=1 rise=1 timeout=1)
check "config a (fast)" ka_config a "${fast[@]}" priority=120 sbctl="$D/a/fake-sbctl"
check "config b (fast)" ka_config b "${fast[@]}" priority=100 sbctl="$D/b/fake-sbctl"
check "config holds the substituted wrapper" grep -q \
	"script \"/bin/sh -c '$D/a/fake-sbctl -s $D/a/sb.sock health" "$D/a/keepalived.conf"
ka_reader a
ka_reader b
check "start a" ka_start a
check "start b" ka_start b
check "a says MASTER on its FIFO" ka_wait_line a 0 'INSTANCE "VI_1" MASTER 120' 10
check "b says BACKUP on its FIFO" ka_wait_line b 0 'INSTANCE "VI_1" BACKUP 100' 10
dump_on_failure

master_moves "SIGKILL, advert_int 0.1 v3" ka_kill a b 3
off=$(ka_offset a)
offb=$(ka_offset b)
check "a restarted" ka_start a
check "a (higher priority) takes MASTER back" ka_wait_line a "$off" 'INSTANCE "VI_1" MASTER ' 10
check "b back to BACKUP" ka_wait_line b "$offb" 'INSTANCE "VI_1" BACKUP ' 10
dump_on_failure

offa=$(ka_offset a)
master_moves "SIGTERM, advert_int 0.1 v3" ka_stop a b 2
check "SIGTERM: a wrote STOP to its FIFO" ka_wait_line a "$offa" 'INSTANCE "VI_1" STOP ' 5
off=$(ka_offset a)
check "a started again" ka_start a
check "a MASTER again" ka_wait_line a "$off" 'INSTANCE "VI_1" MASTER ' 10
check "b BACKUP again" wait_until 5 test "$(ka_state b)" = BACKUP
dump_on_failure

# Split brain: VRRP dropped in and out of both namespaces.
offb=$(ka_offset b)
check "split" ka_split
check "split: b becomes MASTER too" ka_wait_line b "$offb" 'INSTANCE "VI_1" MASTER ' 10
check "split: a still MASTER" test "$(ka_state a)" = MASTER
offb=$(ka_offset b)
check "heal" ka_heal
check "heal: b (lower priority) back to BACKUP" ka_wait_line b "$offb" 'INSTANCE "VI_1" BACKUP ' 10
check "heal: a still MASTER" test "$(ka_state a)" = MASTER
dump_on_failure

# The health check: exit 10 (standby) is healthy, 12 and 13 are not.
# set_rc RC: a's fake sbctl exits RC from now on; waits until keepalived
# ran it twice more, so the result is in.
set_rc() {
	local calls
	echo "$1" >"$D/a/health_rc"
	calls=$(wc -l <"$D/a/calls")
	wait_until 10 test "$(wc -l <"$D/a/calls")" -ge $((calls + 2))
}
offa=$(ka_offset a)
loga=$(wc -c <"$D/a/keepalived.log")
set_rc 10
check "check exit 10 (standby): a still MASTER" test "$(ka_state a)" = MASTER
check "check exit 10: no FIFO line" test "$(ka_offset a)" -eq "$offa"
expect_fail "check exit 10: priority unchanged" \
	sh -c "tail -c +$((loga + 1)) '$D/a/keepalived.log' | grep -q 'Changing effective priority'"
for rc in 12 13; do
	offb=$(ka_offset b)
	offa=$(ka_offset a)
	echo "$rc" >"$D/a/health_rc"
	check "check exit $rc: b takes MASTER" ka_wait_line b "$offb" 'INSTANCE "VI_1" MASTER ' 10
	check "check exit $rc: a BACKUP at priority 70" ka_wait_line a "$offa" 'INSTANCE "VI_1" BACKUP 70' 10
	offa=$(ka_offset a)
	echo 0 >"$D/a/health_rc"
	check "check exit 0 again: a takes MASTER back" ka_wait_line a "$offa" 'INSTANCE "VI_1" MASTER 120' 10
	dump_on_failure
done
wait_until 5 test "$(ka_state b)" = BACKUP

# A restart with the reader holding the FIFO open read-write: keepalived's
# STOP line and the new daemon's first line both arrive, and the reader
# never saw end-of-file (one reader process throughout).
offb=$(ka_offset b)
readers_before=$(tail -n1 "$D/readers.pid") # b's reader
check "restart b" ka_restart b
check "restart: STOP line kept" ka_wait_line b "$offb" 'INSTANCE "VI_1" STOP ' 5
check "restart: the new daemon's BACKUP line read" ka_wait_line b "$offb" 'INSTANCE "VI_1" BACKUP ' 10
check "restart: reader still running" kill -0 "$readers_before"
check "restart: lines in order STOP, BACKUP" test \
	"$(tail -c +$((offb + 1)) "$(ka_lines b)" | awk '{print $4}' | tr '\n' ' ')" = "STOP BACKUP "
dump_on_failure

for n in a b; do ka_stop "$n"; done

# ---- slow part: the example file as shipped --------------------------------
check "config a (example)" ka_config a sbctl="$SBCTL"
check "config b (example)" ka_config b sbctl="$SBCTL"
check "example config: only addresses, paths, interface changed" sh -c "
	diff '$KA_CONF_EXAMPLE' '$D/a/keepalived.conf' | grep '^>' |
	grep -v -e 'notify_fifo' -e 'sbctl' -e '$(ka_net)' -e 'veth0' | grep -q . && exit 1; exit 0"
offa=$(ka_offset a)
offb=$(ka_offset b)
check "start a (example)" ka_start a
check "a MASTER (example)" ka_wait_line a "$offa" 'INSTANCE "VI_1" MASTER ' 15
check "start b (example)" ka_start b
check "b BACKUP (example)" ka_wait_line b "$offb" 'INSTANCE "VI_1" BACKUP ' 10
for n in a b; do
	check "no broker: sbctl check fails, $n penalised" wait_until 10 grep -q \
		'Changing effective priority from 100 to 50' "$D/$n/keepalived.log"
done
# Until b's first check result, b (100) outranks a (50) and ignores a's
# adverts; only from then on do they hold b's timer back. Let b's
# master-down interval (3 adverts and a bit) pass once, so the failover
# timed next starts from a settled BACKUP.
sleep 4
check "equal priorities: b stays BACKUP under a's adverts" test "$(ka_state b)" = BACKUP
check "equal priorities: a stays MASTER" test "$(ka_state a)" = MASTER
dump_on_failure

master_moves "SIGKILL, advert_int 1 v2" ka_kill a b 7
off=$(ka_offset a)
check "a restarted (example)" ka_start a
check "a comes back as BACKUP" ka_wait_line a "$off" 'INSTANCE "VI_1" BACKUP ' 10
sleep 4 # four adverts: equal priorities, so a must not take MASTER back
check "equal priorities: a did not take MASTER back" test "$(ka_state a)" = BACKUP
check "equal priorities: b still MASTER" test "$(ka_state b)" = MASTER
dump_on_failure

offb=$(ka_offset b)
master_moves "SIGTERM, advert_int 1 v2" ka_stop b a 4
check "SIGTERM: b wrote STOP (example)" ka_wait_line b "$offb" 'INSTANCE "VI_1" STOP ' 5
dump_on_failure

echo "# measured MASTER switch times:"
for t in "${TIMINGS[@]}"; do echo "#   $t"; done
finish
