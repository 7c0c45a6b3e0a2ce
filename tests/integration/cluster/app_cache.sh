#!/usr/bin/env bash
# cluster.app_cache.BACKEND: application definitions cached on one node
# follow changes made on another (issue 14 item 2).
#
# Two MSS nodes and a member on a real PostgreSQL or Redis server
# (cluster_lib.sh). The member has its credential cache off, so every
# lookup reads the mapping from the database, while the application
# definition comes from its per-thread application cache, checked against
# the application generation ([cache] app_check_ms, default 1000 ms) that
# every application change writes in the same batch. The application is
# disabled, enabled again and deleted through mss1; after each change the
# member's plain lookups (no cache=bypass) must show it. Each wait allows
# far more than the documented bound (the machine may be loaded); without
# the generation the member would keep its cached definition for an hour
# and the waits would fail. On Redis, redis-cli MONITOR also shows that
# 100 lookups on the member read the mapping 100 times and the
# application not at all (one storage read per uncached lookup).
#
#   app_cache.sh postgres|redis      (SB_BUILD: the build directory)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../lib/testlib.sh"
. "$here/../../lib/broker.sh"
. "$here/cluster_lib.sh"

backend=${1:?usage: app_cache.sh postgres|redis}
cl_setup "$backend" || { fail "cluster setup on $backend"; finish; exit 1; }

# lookup_code NODE: the status and error code of a plain lookup of the
# caller's (root's) own credentials, e.g. "200 -" or "403 app_disabled".
lookup_code() {
	local out
	out=$(cl_api "$1" GET "/v1/lookup/$CL_APP?show_masked=1")
	echo "${out%% *} $(jq -r '.error.code // "-"' <<<"${out#* }" 2>/dev/null)"
}
# warm NODE: several lookups, so each request thread cached the app.
warm() {
	local i
	for i in 1 2 3 4 5 6; do lookup_code "$1" >/dev/null; done
}
# seen NODE EXPECTED: true once a lookup on NODE answers EXPECTED.
seen() { [ "$(lookup_code "$1")" = "$2" ]; }

check "a mapping written through mss1" test "$(cl_put mss1 root pw1)" = 201
check "looked up on the member" test "$(lookup_code member1)" = "200 -"
out=$(cl_api member1 GET "/v1/lookup/$CL_APP?show_masked=1")
check "... with its value" contains "$out" '"password":"pw1"'
warm member1

# One storage read per uncached lookup: on Redis, MONITOR shows every key
# the member reads while it answers 100 lookups (credential cache off).
if [ "$backend" = redis ]; then
	mon=$CL_DIR/monitor.log
	redis-cli -p "$CL_REDIS_PORT" MONITOR >"$mon" 2>&1 &
	monpid=$!
	on_exit "kill $monpid 2>/dev/null"
	wait_until 10 grep -q '^OK' "$mon" || fail "redis-cli MONITOR did not start"
	urls=()
	for i in $(seq 1 100); do
		urls+=("http://sb/v1/lookup/$CL_APP?show_masked=1")
	done
	n200=$(curl -s --max-time 60 --unix-socket "$CL_DIR/member1/sb.sock" \
		-o /dev/null -w '%{http_code}\n' "${urls[@]}" | grep -c '^200$')
	check "100 lookups on the member answered" test "$n200" = 100
	redis-cli -p "$CL_REDIS_PORT" ECHO app-cache-monitor-end >/dev/null
	wait_until 10 grep -q app-cache-monitor-end "$mon" ||
		fail "MONITOR never showed the end marker"
	kill "$monpid" 2>/dev/null
	# The EVALSHA lines only: MONITOR also lists each script's calls.
	maps=$(grep '"EVALSHA"' "$mon" | grep -c "\"map/$CL_APP/root\"")
	apps=$(grep '"EVALSHA"' "$mon" | grep -c "\"app/$CL_APP\"")
	echo "MONITOR: $maps reads of map/$CL_APP/root, $apps of app/$CL_APP"
	check "each lookup read the mapping" test "$maps" -ge 100
	check "... and not the application: one storage read per lookup" \
		test "$apps" -le 2
fi

r=$(cl_api mss1 PATCH "/v1/apps/$CL_APP" '{"enabled": false}')
check "the application disabled on mss1" test "${r%% *}" = 200
check "the member sees it disabled" wait_until 20 seen member1 "403 app_disabled"
check "mss2 sees it too" wait_until 20 seen mss2 "403 app_disabled"
warm member1

r=$(cl_api mss1 PATCH "/v1/apps/$CL_APP" '{"enabled": true}')
check "the application enabled again on mss1" test "${r%% *}" = 200
check "the member serves it again" wait_until 20 seen member1 "200 -"
warm member1

r=$(cl_api mss1 DELETE "/v1/apps/$CL_APP")
check "the application deleted on mss1" test "${r%% *}" = 200 -o "${r%% *}" = 204
check "the member sees it gone" wait_until 20 seen member1 "404 no_such_app"

cl_finish
