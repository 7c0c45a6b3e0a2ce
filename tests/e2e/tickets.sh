#!/usr/bin/env bash
# Single-use tickets (issue 17, item 4), on one storage backend (sqlite,
# postgres or redis: the argument; the server is started here): a user
# entitled to an application's credentials asks for a ticket with sbctl; a
# service in [access] ticket_redeemers redeems it once for them. Every
# refusal with its own code, each audited: a second redemption, an expired
# ticket, a ticket for another application, a redeemer outside the group,
# a malformed and an unknown ticket, a user without credentials or rights;
# 32 concurrent redeemers of one ticket, of which exactly one succeeds; the
# ticket itself in neither the database, the log nor the audit file.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"
. "$here/store_lib.sh"

BACKEND=${1:-sqlite}
RDG=sbtest_t_redeem # the ticket redeemers
USRG=sbtest_t_usr   # the applications' users
RED=sbtest_t_svc    # a trusted service
ALICE=sbtest_t_alice
BOB=sbtest_t_bob    # a user of crm without credentials
EVE=sbtest_t_eve    # in no group
for g in $RDG $USRG; do ensure_group $g || exit 1; done
ensure_user $RED $RDG || exit 1
ensure_user $ALICE $USRG || exit 1
ensure_user $BOB $USRG || exit 1
ensure_user $EVE || exit 1

T=$(make_tmpdir)
A=$T/node
DB=$A/sso.db
case $BACKEND in
sqlite) STORAGE="" ;;
postgres)
	bash "$here/../fixtures/postgres.sh" start "$T/pg.env" >/dev/null || exit 1
	on_exit "bash '$here/../fixtures/postgres.sh' stop '$T/pg.env'"
	on_exit "[ \$TESTS_FAILED -eq 0 ] || bash '$here/../fixtures/postgres.sh' log '$T/pg.env'"
	. "$T/pg.env"
	STORAGE="[storage]
plugin = postgres
conninfo = host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres sslmode=disable
schema = secretbroker"
	;;
redis)
	. "$here/../fixtures/redis.sh"
	redis_start "$T" redis || exit 1
	on_exit "redis_stop '$T' redis"
	on_exit "[ \$TESTS_FAILED -eq 0 ] || redis_log '$T' redis"
	STORAGE="[storage]
plugin = redis
host = 127.0.0.1
port = $(redis_port "$T" redis)
key_prefix = sb:"
	;;
*) echo "unknown backend $BACKEND (sqlite, postgres or redis)" >&2; exit 2 ;;
esac
broker_config "$A" "$STORAGE
[access]
ticket_redeemers = $RDG

[audit]
file = $A/audit.log
positive_level = 1
negative_level = 1"
if [ "$BACKEND" != sqlite ]; then
	# broker_config wrote the sqlite [storage]: replace the section.
	sed -i '/^\[storage\]/,/^$/{/^path = /d}' "$A/secretbroker.ini"
fi
broker_start "$A" || exit 1
check "root generates the master secret" as root secret generate
for app in crm hr; do
	as root app create $app --type individual \
		--fields user,password:masked --user-group $USRG >/dev/null &&
	as root app enable $app >/dev/null ||
		{ fail "creating application $app"; finish; exit; }
done
echo '{"user": "alice_ext", "password": "s3cret-crm"}' |
	as $ALICE cred set crm --stdin >/dev/null
echo '{"user": "alice_hr", "password": "s3cret-hr"}' |
	as $ALICE cred set hr --stdin >/dev/null

# Records of tickets long expired are swept by a later issue: two put
# straight into the database (sqlite only), one long expired, one not yet.
STALE="ticket/ff$(printf 'e%.0s' $(seq 1 62))"
FRESH="ticket/ff$(printf 'd%.0s' $(seq 1 62))"
if [ "$BACKEND" = sqlite ]; then
	sqlite3 "$DB" "INSERT INTO sb_kv VALUES (CAST('$STALE' AS BLOB),
		CAST('{\"app\":\"crm\",\"identity\":\"x\",\"expires_ms\":1000}' AS BLOB), 1);
		INSERT INTO sb_kv VALUES (CAST('$FRESH' AS BLOB),
		CAST('{\"app\":\"crm\",\"identity\":\"x\",\"expires_ms\":$(( $(date +%s) * 1000 + 600000 ))}' AS BLOB), 1);"
fi

# ---- issue ----
run $ALICE ticket issue crm
T1=$OUT
check "alice gets a ticket for crm" test "$RC" -eq 0
check "... 256 bits in hex" test "$(printf '%s' "$T1" | grep -Ecx '[0-9a-f]{64}')" = 1
if [ "$BACKEND" = sqlite ]; then
	check "the issue swept a ticket record expired long ago" \
		test "$(db_count "key = CAST('$STALE' AS BLOB)")" = 0
	check "... and kept one still valid" \
		test "$(db_count "key = CAST('$FRESH' AS BLOB)")" = 1
fi
run $ALICE --json ticket issue crm
check "--json: the ticket, app, identity, expiry" \
	test "$(echo "$OUT" | jq -r '"\(.app) \(.identity) \(.expires_in_s) \(.ticket|length)"')" = "crm $ALICE 60 64"
T1B=$(echo "$OUT" | jq -r .ticket)
check "... two tickets differ" test "$T1" != "$T1B"
refused "a user outside the app's group gets none" forbidden $EVE ticket issue crm
refused "a user without credentials gets none" no_mapping $BOB ticket issue crm
refused "no ticket for an application that does not exist" no_such_app $ALICE ticket issue nope
as root app create cfg --type config-store --user-group $USRG >/dev/null
as root app enable cfg >/dev/null
refused "no ticket for a config-store application" wrong_app_type $ALICE ticket issue cfg
as root app disable hr >/dev/null
refused "no ticket for a disabled application" app_disabled $ALICE ticket issue hr
as root app enable hr >/dev/null

# ---- redeem ----
redeem() { # USER APP TICKET: sbctl ticket redeem, the ticket on stdin
	OUT=$(printf '%s\n' "$3" | runuser -u "$1" -- "$SBCTL" -s "$A/sb.sock" \
		ticket redeem "$2" 2>&1)
	RC=$?
}
redeem_refused() { # WHAT CODE USER APP TICKET
	local what=$1 code=$2
	shift 2
	redeem "$@"
	was_refused "$what" "$code"
}
redeem_refused "alice may not redeem" not_a_redeemer $ALICE crm "$T1"
redeem_refused "root may not redeem either" not_a_redeemer root crm "$T1"
redeem_refused "a ticket for another application" ticket_wrong_app $RED hr "$T1"
redeem_refused "a malformed ticket" bad_ticket $RED crm "not-a-ticket"
redeem_refused "a ticket never issued" ticket_unknown $RED crm \
	"$(printf '%064d' 0)"
redeem $RED crm "$T1"
check "the service redeems alice's ticket" test "$RC" -eq 0
check "... for alice's credentials" contains "$OUT" "identity $ALICE"
check "... masked values in clear" contains "$OUT" "s3cret-crm"
redeem_refused "a second redemption" ticket_redeemed $RED crm "$T1"
out=$(printf '%s\n' "$T1B" | runuser -u $RED -- "$SBCTL" -s "$A/sb.sock" \
	--json ticket redeem crm)
check "--json redeem: the values" \
	test "$(echo "$out" | jq -r .values.password)" = s3cret-crm
check "sbctl ticket redeem without a ticket on stdin is a usage error" \
	bash -c "runuser -u $RED -- '$SBCTL' -s '$A/sb.sock' ticket redeem crm </dev/null 2>/dev/null; [ \$? -eq 2 ]"

# ---- 32 concurrent redeemers of one ticket ----
run $ALICE ticket issue crm
T2=$OUT
pids=()
for i in $(seq 1 32); do
	raw_as $RED POST /v1/tickets/redeem \
		"{\"ticket\": \"$T2\", \"app\": \"crm\"}" >"$T/race.$i" &
	pids+=($!)
done
wait "${pids[@]}" # not a bare wait: the broker is a child too
wins=$(cat "$T"/race.* | grep -c '^200 -$')
losses=$(cat "$T"/race.* | grep -c '^409 ticket_redeemed$')
check "32 concurrent redemptions: exactly one succeeds" test "$wins" = 1
check "... and the 31 others are told it was redeemed" test "$losses" = 31

# ---- expiry: [tickets] ttl_s, reloadable ----
ini_merge "$A/secretbroker.ini" "[tickets]
ttl_s = 1"
kill -HUP "$(broker_pid "$A")"
gen2() { [ "$(sbctl_in "$A" --json status | jq -r .config.generation)" = 2 ]; }
check "reload with [tickets] ttl_s = 1" wait_until 20 gen2
run $ALICE --json ticket issue crm
T3=$(echo "$OUT" | jq -r .ticket)
check "the ticket says it lives 1 s" test "$(echo "$OUT" | jq -r .expires_in_s)" = 1
issued=$(date +%s%3N)
past() { (($(date +%s%3N) > issued + 1500)); }
wait_until 10 past
redeem_refused "an expired ticket" ticket_expired $RED crm "$T3"
ini_merge "$A/secretbroker.ini" "[tickets]
ttl_s = 0"
out=$("$SECRETBROKERD" -c "$A/secretbroker.ini" -t 2>&1)
check "[tickets] ttl_s = 0 is an error naming it" contains "$out" "[tickets] ttl_s"
ini_merge "$A/secretbroker.ini" "[tickets]
ttl_s = 60
[access]
ticket_redeemers = sbtest_t_no_such_group"
out=$("$SECRETBROKERD" -c "$A/secretbroker.ini" -t 2>&1)
check "a ticket_redeemers group that does not exist is an error naming it" \
	contains "$out" '[access] ticket_redeemers: group "sbtest_t_no_such_group" does not exist'
ini_merge "$A/secretbroker.ini" "[access]
ticket_redeemers = $RDG"
check "... and the fixed file passes -t" "$SECRETBROKERD" -c "$A/secretbroker.ini" -t

# ---- what is stored and logged ----
if [ "$BACKEND" = sqlite ]; then
	check "the database holds ticket records" \
		test "$(db_count "CAST(key AS TEXT) LIKE 'ticket/%'")" -ge 4
	dump=$(sqlite3 "$DB" .dump)
	expect_fail "... but not the tickets themselves" \
		bash -c "printf '%s' \"\$1\" | grep -q -e '$T1' -e '$T2' -e '$T3'" _ "$dump"
fi
expect_fail "no ticket in the daemon's log" grep -q -e "$T1" -e "$T2" "$A/broker.log"
expect_fail "no ticket in the audit file" grep -q -e "$T1" -e "$T2" "$A/audit.log"
results=$(jq -r 'select(.operation == "ticket.redeem") | .result' "$A/audit.log" | sort -u | tr '\n' ' ')
for code in ok not_a_redeemer ticket_wrong_app ticket_redeemed ticket_expired ticket_unknown bad_ticket; do
	check "audited: ticket.redeem $code" contains "$results" "$code"
done
check "audited: a refused redeemer with the application it asked for" \
	test "$(jq -r 'select(.operation == "ticket.redeem" and .result == "not_a_redeemer") | .app' "$A/audit.log" | sort -u)" = crm
check "audited: a redemption with the identity it was for" \
	test "$(jq -r 'select(.operation == "ticket.redeem" and .result == "ok") | .target' "$A/audit.log" | sort -u)" = "$ALICE"
check "audited: ticket.issue ok for alice" \
	test "$(jq -r "select(.operation == \"ticket.issue\" and .result == \"ok\") | .target" "$A/audit.log" | sort -u)" = "$ALICE"
check "audited: ticket.issue refusals" \
	contains "$(jq -r 'select(.operation == "ticket.issue") | .result' "$A/audit.log" | sort -u | tr '\n' ' ')" "no_mapping"

broker_stop "$A" 2>/dev/null
expect_fail "no sanitizer report in any daemon's log" \
	grep -rqE "ERROR: (Address|Leak)Sanitizer|runtime error:" --include=broker.log "$T"
finish
