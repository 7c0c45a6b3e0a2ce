#!/usr/bin/env bash
# sbctl health, sbctl cluster status and sbctl cluster designate against
# real daemons: two MSS nodes with fencing plugin manual and one member node
# on one SSO database (sqlite), the MSS nodes with mutual-TLS listeners the
# member fetches the secret from. Checks the text sbctl prints and its exit
# statuses: health's codes for an active, a standby, a member and a
# secretless node, --quiet, and "storage": "ok" after a write; the cluster view before and after each designation;
# designation refused without confirmation, on the wrong node and on a
# member; a stale node report marked.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/../lib/certs.sh"

T=$(make_tmpdir)
export SB_DB=$T/sso.db
A=$T/mss-a
B=$T/mss-b
C=$T/member-c

# free_port: a TCP port on 127.0.0.1 that nothing answers on. Another
# process may take it before the daemon binds it; broker_start then fails
# with the daemon's log saying so.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 12000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

# mss_ini NODE PORT: the settings of an MSS candidate with manual fencing
# and a TLS listener advertised as its [cluster] address.
mss_ini() {
	cat <<INI
[fencing]
plugin = manual
check_interval_ms = 200

[listen]
tls_address = 127.0.0.1:$2

[tls]
cert = $T/pki/$1.crt
key = $T/pki/$1.key
ca = $T/pki/ca.crt

[access]
cluster_members = member-c

[cluster]
role = mss
address = 127.0.0.1:$2
INI
}

member_ini() {
	cat <<INI
[tls]
cert = $T/pki/member-c.crt
key = $T/pki/member-c.key
ca = $T/pki/ca.crt

[cluster]
role = member
refresh_s = 1
INI
}

if ! make_test_pki "$T/pki" mss-a mss-b member-c >"$T/pki.log" 2>&1; then
	cat "$T/pki.log" >&2
	fail "make the test PKI"
	finish
	exit 1
fi
PA=$(free_port) && PB=$(free_port) || exit 1
while [ "$PB" = "$PA" ]; do PB=$(free_port) || exit 1; done
broker_config "$A" "$(mss_ini mss-a "$PA")"
broker_config "$B" "$(mss_ini mss-b "$PB")"
broker_config "$C" "$(member_ini)"
printf 'correct horse battery\n' >"$T/pw"
chmod 600 "$T/pw"

# rc DIR ARGS...: sbctl's exit status against the broker in DIR.
rc() {
	local dir=$1; shift
	sbctl_in "$dir" "$@" >/dev/null 2>&1
	echo $?
}
# both_listed DIR: cluster status on DIR lists mss-a and mss-b as rows.
both_listed() {
	local out
	out=$(sbctl_in "$1" cluster status) || return 1
	grep -q '^mss-a  ' <<<"$out" && grep -q '^mss-b  ' <<<"$out"
}
# quiet COMMAND...: the command with its stdout dropped.
quiet() { "$@" >/dev/null; }
# health_is DIR CODE: sbctl health on DIR exits CODE.
health_is() { [ "$(rc "$1" health)" = "$2" ]; }

broker_start "$A" || exit 1
broker_start "$B" || exit 1

# ---- before any designation ----
out=$(sbctl_in "$A" health); r=$?
check "health on a node without a secret exits 12" test "$r" = 12
check "... and says no_secret" contains "$out" "no_secret: mss-a holds no master secret"

check "both MSS nodes report in" wait_until 10 both_listed "$A"
out=$(sbctl_in "$A" cluster status); r=$?
check "cluster status exits 0" test "$r" = 0
check "this node is mss-a, standby" contains "$out" "this node:     mss-a (mss), standby"
check "the fencing plugin is manual" contains "$out" "fencing:       manual ("
check "no active MSS recorded yet" contains "$out" "active MSS:    none recorded"
check "the lease is free" contains "$out" "lease:         free"
check "two nodes reported in" contains "$out" "nodes:         2 reported in"
check "the table has its header" contains "$out" "NODE   ROLE  STATE    EPOCH  ADDRESS"
check "mss-b's row shows its address" grep -q "^mss-b  mss   standby  0      127.0.0.1:$PB" <<<"$out"

# ---- designation refused ----
# setsid: no controlling terminal, as under cron or CI.
out=$(setsid -w "$SBCTL" -s "$A/sb.sock" cluster designate mss-a </dev/null 2>&1); r=$?
check "designate without a terminal and without --yes exits 1" test "$r" = 1
check "... saying it needs confirmation" contains "$out" "will not designate node mss-a without confirmation"
check "... and changes nothing" health_is "$A" 12

out=$(sbctl_in "$A" cluster designate mss-b --yes 2>&1); r=$?
check "designate mss-b on mss-a exits 1" test "$r" = 1
check "... wrong_node, naming both nodes" contains "$out" "sbctl: this is node mss-a: run the designation on node mss-b itself (wrong_node)"
check "... and mss-a is still not active" \
	contains "$(sbctl_in "$A" cluster status)" "active MSS:    none recorded"

# ---- designate mss-a ----
out=$(sbctl_in "$A" cluster designate mss-a --yes 2>&1); r=$?
check "designate mss-a on mss-a with --yes exits 0" test "$r" = 0
check "... and says so with the epoch" contains "$out" "designated mss-a as the active master secret server at epoch "
e1=$(sbctl_in "$A" --json cluster status | jq -r .epoch)
check "mss-a holds a fencing epoch" test "$e1" -ge 1

check "mss-a generates the secret" quiet sbctl_in "$A" secret generate
sbctl_in "$A" secret backup "$T/s.sbk" --password-file "$T/pw" >/dev/null
check "mss-b restores it" quiet sbctl_in "$B" secret restore "$T/s.sbk" --password-file "$T/pw"

out=$(sbctl_in "$A" health); r=$?
check "health on the active MSS exits 0" test "$r" = 0
check "... and says active with the epoch" contains "$out" "active: mss-a is the active master secret server (role mss, epoch $e1)"
out=$(sbctl_in "$B" health); r=$?
check "health on the standby exits 10" test "$r" = 10
check "... and says standby" contains "$out" "standby: mss-b is a standby master secret server"
out=$(sbctl_in "$B" --json health); r=$?
check "health --json exits 10 as well" test "$r" = 10
check "... printing the daemon's body" test "$(jq -r .status <<<"$out")" = standby
check "after a write (the secret), health says storage ok" \
	test "$(sbctl_in "$A" --json health | jq -r .storage)" = ok
out=$(sbctl_in "$A" health --quiet 2>&1); r=$?
check "health --quiet on the active MSS exits 0" test "$r" = 0
check "... printing nothing" test -z "$out"
out=$(sbctl_in "$B" health --quiet 2>&1); r=$?
check "health --quiet on the standby exits 10, printing nothing" \
	test "$r:$out" = "10:"

broker_start "$C" || exit 1
out=$(sbctl_in "$C" health); r=$?
check "health on a member exits 11" test "$r" = 11
check "... and says member, MSS reachable" contains "$out" "member: member-c is a member node (role member, master secret server reachable)"

for n in "$A" "$B" "$C"; do
	out=$(sbctl_in "$n" cluster status)
	check "cluster status on $(basename "$n") names mss-a as the active MSS" \
		contains "$out" "active MSS:    mss-a at 127.0.0.1:$PA, epoch $e1, since "
	check "... shows the lease mss-a took by designation" \
		contains "$out" "lease:         held by mss-a, epoch $e1, no expiry (taken by designation)"
	check "... and lists both MSS nodes" both_listed "$n"
done
check "cluster status on mss-a marks the record as this node's" \
	contains "$(sbctl_in "$A" cluster status)" "(this node)"
check "cluster status --json gives the daemon's JSON" \
	test "$(sbctl_in "$B" --json cluster status | jq -r '.active_mss.node + " " + (.nodes | map(.node) | join(","))')" = "mss-a member-c,mss-a,mss-b"

out=$(sbctl_in "$C" cluster designate member-c --yes 2>&1); r=$?
check "designate on a member exits 1" test "$r" = 1
check "... member_node" contains "$out" "(member_node)"

# ---- designate mss-b: the role and the epoch move ----
out=$(sbctl_in "$B" cluster designate mss-b -y 2>&1); r=$?
check "designate mss-b on mss-b exits 0" test "$r" = 0
e2=$(sbctl_in "$B" --json cluster status | jq -r .epoch)
check "... at a larger epoch" test "$e2" -gt "$e1"
check "... which it prints" contains "$out" "designated mss-b as the active master secret server at epoch $e2"
check "health on mss-b now exits 0" health_is "$B" 0
check "mss-a steps down: health exits 10" wait_until 5 health_is "$A" 10
out=$(sbctl_in "$A" cluster status)
check "cluster status on mss-a: standby" contains "$out" "this node:     mss-a (mss), standby"
check "... the active MSS is mss-b at its address and epoch" \
	contains "$out" "active MSS:    mss-b at 127.0.0.1:$PB, epoch $e2, since "
check "... holding the lease" contains "$out" "lease:         held by mss-b, epoch $e2"
check "cluster status on mss-b: active at the new epoch" \
	contains "$(sbctl_in "$B" cluster status)" "this node:     mss-b (mss), active, epoch $e2"

# ---- a node that stopped reporting a minute ago ----
now=$(date +%s%3N)
sqlite3 -bail "$SB_DB" ".timeout 5000" "INSERT INTO sb_kv(key, value, version) VALUES (CAST('cluster/nodes/mss-gone' AS BLOB), CAST('{\"node\":\"mss-gone\",\"role\":\"mss\",\"state\":\"active\",\"epoch\":$e1,\"address\":\"127.0.0.1:1\",\"version\":\"0.0.9\",\"last_seen_ms\":$((now - 61000))}' AS BLOB), 1)"
out=$(sbctl_in "$B" cluster status)
check "four nodes (the member reports in too), one stale" contains "$out" "4 reported in, 1 stale (not seen for over 15s)"
check "the gone node's row: superseded and stale" \
	grep -Eq "^mss-gone +mss +active \(superseded\) +$e1 .* 0\.0\.9 +1m [0-9]+s ago \(stale\)$" <<<"$out"
check "the member's row" grep -Eq "^member-c +member +member " <<<"$out"
check "live nodes are not stale" test "$(grep -c '(stale)' <<<"$out")" = 1

# ---- no daemon ----
out=$("$SBCTL" -s "$T/nobody.sock" health 2>&1); r=$?
check "health without a daemon exits 3" test "$r" = 3
check "... saying it cannot connect" contains "$out" "(connect_failed)"
out=$("$SBCTL" -s "$T/nobody.sock" health --quiet 2>/dev/null); r=$?
check "health --quiet without a daemon exits 3, nothing on stdout" \
	test "$r:$out" = "3:"
check "... the error still on stderr, one line" \
	test "$("$SBCTL" -s "$T/nobody.sock" health --quiet 2>&1 >/dev/null | wc -l)" = 1
finish
