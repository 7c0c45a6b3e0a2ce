#!/usr/bin/env bash
# cluster.tickets.BACKEND: single-use tickets across the nodes of a lease
# cluster and across a failover (issue 17, item 5).
#
# Two MSS nodes (lease fencing) and a member on a real PostgreSQL or Redis
# server; [access] ticket_redeemers (a group) and tls_ticket_redeemers (a
# certificate identity, tried over mutual TLS) set on every node by a
# reload. A ticket
# issued on the member is redeemed on the active MSS, and refused as
# redeemed on the member; one ticket raced by 32 redeemers, half on the
# active MSS and half on the member, is redeemed exactly once; after
# mss1 is SIGKILLed and mss2 takes over, a ticket issued on mss1 before
# the failover is redeemed on mss2 (once), and one redeemed on mss1 before
# it stays redeemed.
#
#   tickets.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/../../e2e/store_lib.sh"
. "$here/cluster_lib.sh"

backend=${1:?usage: tickets.sh postgres|redis}
RDG=sbtest_c_redeem
RED=sbtest_c_svc
ensure_group $RDG && ensure_user $RED $RDG || exit 1
cl_setup "$backend" || { fail "cluster setup on $backend"; finish; exit 1; }

# Every node learns who may redeem, by a reload.
gen_is() { # NODE N
	[ "$("$SBCTL" -s "$CL_DIR/$1/sb.sock" --json status | jq -r .config.generation)" = "$2" ]
}
for n in mss1 mss2 member1; do
	before=$("$SBCTL" -s "$CL_DIR/$n/sb.sock" --json status | jq -r .config.generation)
	ini_merge "$CL_DIR/$n/secretbroker.ini" "[access]
ticket_redeemers = $RDG
tls_ticket_redeemers = member1"
	kill -HUP "$(cat "$CL_DIR/$n/broker.pid")"
	check "$n reloads with ticket_redeemers" wait_until 20 gen_is $n $((before + 1))
done
check "root's credentials of $CL_APP" test "$(cl_put mss1 root "root-pw")" = 201

# issue NODE: a ticket for root's credentials, asked on NODE (printed).
issue() {
	cl_api "$1" POST /v1/tickets "{\"app\": \"$CL_APP\"}" |
		sed -n 's/^201 //p' | jq -r .ticket
}
# redeem NODE TICKET: as the trusted service; prints "STATUS CODE-or-PW".
redeem() {
	local out
	out=$(runuser -u $RED -- curl -s -X POST -w '\n%{http_code}' --max-time 20 \
		-H 'Content-Type: application/json' \
		--data-binary "{\"ticket\": \"$2\", \"app\": \"$CL_APP\"}" \
		--unix-socket "$CL_DIR/$1/sb.sock" http://sb/v1/tickets/redeem)
	echo "${out##*$'\n'} $(printf '%s' "${out%$'\n'*}" |
		jq -r '.error.code // .values.password')"
}

# redeem_tls NODE AS TICKET: over NODE's mutual-TLS listener with the
# certificate of AS; prints "STATUS CODE-or-PW".
redeem_tls() {
	local addr out
	addr=$(sed -n 's/^address = //p' "$CL_DIR/$1/secretbroker.ini")
	out=$(curl -s -X POST -w '\n%{http_code}' --max-time 20 \
		--cacert "$CL_DIR/pki/ca.crt" --cert "$CL_DIR/pki/$2.crt" \
		--key "$CL_DIR/pki/$2.key" -H 'Content-Type: application/json' \
		--data-binary "{\"ticket\": \"$3\", \"app\": \"$CL_APP\"}" \
		"https://$addr/v1/tickets/redeem")
	echo "${out##*$'\n'} $(printf '%s' "${out%$'\n'*}" |
		jq -r '.error.code // .values.password')"
}
T0=$(issue mss1)
check "over TLS, an identity outside tls_ticket_redeemers may not redeem" \
	test "$(redeem_tls mss1 mss2 "$T0")" = "403 not_a_redeemer"
check "over TLS, the listed identity redeems" \
	test "$(redeem_tls mss1 member1 "$T0")" = "200 root-pw"
check "... once" test "$(redeem_tls mss1 member1 "$T0")" = "409 ticket_redeemed"

T1=$(issue member1)
check "a ticket issued on the member" test ${#T1} -eq 64
check "... redeemed on the active MSS" test "$(redeem mss1 "$T1")" = "200 root-pw"
check "... then refused on the member" test "$(redeem member1 "$T1")" = "409 ticket_redeemed"
check "... and on the standby MSS" test "$(redeem mss2 "$T1")" = "409 ticket_redeemed"

T2=$(issue mss1)
pids=()
for i in $(seq 1 32); do
	node=mss1
	((i % 2)) && node=member1
	redeem $node "$T2" >"$CL_DIR/race.$i" &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the brokers are children too
wins=$(cat "$CL_DIR"/race.* | grep -c '^200 root-pw$')
losses=$(cat "$CL_DIR"/race.* | grep -c '^409 ticket_redeemed$')
check "32 redeemers on two nodes: exactly one succeeds" test "$wins" = 1
check "... the 31 others are told it was redeemed" test "$losses" = 31

# ---- across a failover ----
T3=$(issue mss1)
T4=$(issue mss1)
check "before the failover, T4 is redeemed on mss1" test "$(redeem mss1 "$T4")" = "200 root-pw"
cl_kill mss1
new=$(cl_wait_active mss1 $((CL_TTL_MS / 1000 + 15)))
check "mss2 takes over" test "$new" = mss2
check "a ticket issued on mss1 is redeemed on mss2 after the failover" \
	test "$(redeem mss2 "$T3")" = "200 root-pw"
check "... once" test "$(redeem member1 "$T3")" = "409 ticket_redeemed"
check "the ticket redeemed on mss1 stays redeemed on mss2" \
	test "$(redeem mss2 "$T4")" = "409 ticket_redeemed"
T5=$(issue mss2)
check "the new MSS issues tickets" test "$(redeem member1 "$T5")" = "200 root-pw"

cl_finish
