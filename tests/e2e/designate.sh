#!/usr/bin/env bash
# ENTSSO's "designating a new master secret server manually", for clusters
# without automatic failover: fencing plugin manual, two MSS nodes on one
# SSO database. Designation moves the role and the fencing epoch; the
# deposed node steps down by itself and its writes are refused by the
# storage; restarts keep the designation.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

T=$(make_tmpdir)
export SB_DB=$T/sso.db
FENCE=$'[fencing]\nplugin = manual\ncheck_interval_ms = 200'
A=$T/mss-a
B=$T/mss-b
broker_config "$A" "$FENCE"
broker_config "$B" "$FENCE"
printf 'correct horse battery\n' >"$T/pw"
chmod 600 "$T/pw"

health() { api "$1" GET /v1/health | cut -d' ' -f1; }
designate() { api "$1" POST /v1/cluster/designate "{\"node\":\"$(basename "$1")\"}"; }

broker_start "$A" || exit 1
check "a node starts as standby until designated" test "$(health "$A")" = 503
out=$(sbctl_in "$A" secret generate 2>&1)
check "standby refuses generate, saying it is not active" contains "$out" "not_active"
r=$(designate "$A")
check "designate A: 200" test "${r%% *}" = 200
check "A generates the secret" sbctl_in "$A" secret generate
check "A is active" test "$(health "$A")" = 200
sbctl_in "$A" secret backup "$T/s.sbk" --password-file "$T/pw" >/dev/null
epoch_a=$(api "$A" GET /v1/cluster | cut -d' ' -f2- | jq -r .epoch)
check "cluster/mss names A" test "$(api "$A" GET /v1/cluster | cut -d' ' -f2- | jq -r .active_mss.node)" = mss-a

broker_start "$B" || exit 1
sbctl_in "$B" secret restore "$T/s.sbk" --password-file "$T/pw" >/dev/null
check "B holds the secret and is standby (429)" test "$(health "$B")" = 429
r=$(api "$B" POST /v1/apps '{"name":"x","type":"config-store","user_group":"root"}')
check "a write on the standby is refused" test "${r%% *}" = 503
check "... naming the active node" contains "$r" "mss-a"

r=$(designate "$A")
r=$(api "$B" POST /v1/cluster/designate '{"node":"mss-a"}')
check "designating another node from B is refused (run it on that node)" test "${r%% *}" = 400

r=$(designate "$B")
check "designate B: 200" test "${r%% *}" = 200
epoch_b=$(echo "${r#* }" | jq -r .epoch)
check "B's epoch is larger than A's" test "$epoch_b" -gt "$epoch_a"
check "A steps down by itself" wait_until 5 bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' --unix-socket $A/sb.sock http://sb/v1/health)\" = 429 ]"
check "cluster/mss names B" test "$(api "$B" GET /v1/cluster | cut -d' ' -f2- | jq -r .active_mss.node)" = mss-b
r=$(api "$B" POST /v1/apps '{"name":"x","type":"config-store","user_group":"root"}')
check "writes go through B" test "${r%% *}" = 201
r=$(api "$A" PATCH /v1/apps/x '{"enabled":true}')
check "the deposed A refuses writes, naming B" contains "$r" "mss-b"

broker_stop "$A"; broker_start "$A" || exit 1
check "a restarted deposed node stays standby" test "$(health "$A")" = 429
broker_stop "$B"; broker_start "$B" || exit 1
check "a restarted designated node is active again" test "$(health "$B")" = 200
check "... at a new, larger epoch" test "$(api "$B" GET /v1/cluster | cut -d' ' -f2- | jq -r .epoch)" -gt "$epoch_b"
r=$(api "$B" PATCH /v1/apps/x '{"enabled":true}')
check "and writes again" test "${r%% *}" = 200
finish
