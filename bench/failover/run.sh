#!/usr/bin/env bash
# The failover benchmark (issue 6, item 9): how long the cluster cannot
# take writes when the active master secret server dies. For each backend,
# a real cluster (two MSS nodes with the lease fencing plugin, a member,
# a PostgreSQL or Redis server: tests/integration/cluster/cluster_lib.sh) is started;
# then, RUNS times, the active MSS is SIGKILLed at a random point of its
# renew cycle and a client tries to write through the other node without
# pause until a write is acknowledged. The time from the SIGKILL to that
# acknowledgement is one sample; the killed node is restarted (it rejoins
# as a standby) before the next run, and the two nodes take turns.
#
# The same with keepalived fencing (issue 11): each MSS node is a host of
# its broker and a real keepalived in a network namespace of its own
# (unicast VRRP over a veth pair); the whole host is lost (SIGKILL of both
# daemons) and VRRP, not a lease, moves the role, at each advert_int given.
#
# The same with Pacemaker (issue 12): each MSS node is a Pacemaker +
# corosync node in network and mount namespaces of its own
# (tests/fixtures/pacemaker.sh, corosync token 1000 ms), running the broker
# as the OCF agent's promotable clone; the promoted node's whole stack is
# lost (kill -9 of corosync, Pacemaker and the broker) and Pacemaker
# promotes the other.
#
# Prints, per backend and TTL or advert_int: the samples, min / median /
# max, and the aim (lease: at most TTL + 1 s; keepalived at advert_int
# 0.1: median under 0.5 s, max under 1 s; at 1: max under 4.5 s, VRRP's
# own 3 adverts plus skew). See bench/failover/README.md.
#
# usage: bench/failover/run.sh [--runs N] [--backends "postgres redis"]
#                              [--ttl "1500 3000"] [--acquire-ms MS]
#                              [--fencing "lease keepalived pacemaker"]
#                              [--advert "1 0.1"] [--record]
#   --runs N        failovers per backend and TTL (10)
#   --backends L    postgres, redis or both (both)
#   --ttl L         lease ttl_ms values to measure ("1500"); the other lease
#                   settings are the plugin's defaults for that TTL unless
#                   --acquire-ms is given
#   --acquire-ms MS [fencing] acquire_interval_ms (default: ttl_ms / 3)
#   --fencing L     any of lease, keepalived, pacemaker (all three)
#   --advert L      keepalived advert_int values ("1 0.1"; below 1 s VRRP
#                   version 3)
#   --record        also write the output to
#                   bench/failover/results-DATE.txt
# Environment: SB_BUILD, an existing build directory; without it the script
# configures and builds ./build-bench-failover.
#
# Exit status 0 when every run failed over (whatever the figures).

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# SB_BUILD relative to the caller's directory (SB_BUILD=build, as
# bench/README.md writes it) is made absolute now: the daemon and its
# plugin directory are used from other directories later.
if [ -n "${SB_BUILD:-}" ]; then
	SB_BUILD=$(cd "$SB_BUILD" && pwd) || {
		echo "$(basename "$0"): SB_BUILD=$SB_BUILD is not a directory" >&2
		exit 1
	}
fi

RUNS=10
BACKENDS="postgres redis"
TTLS="1500"
ACQUIRE_MS=
RECORD=0
FENCINGS="lease keepalived pacemaker"
ADVERTS="1 0.1"
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift ;;
	--backends) BACKENDS=$2; shift ;;
	--ttl) TTLS=$2; shift ;;
	--acquire-ms) ACQUIRE_MS=$2; shift ;;
	--fencing) FENCINGS=$2; shift ;;
	--advert) ADVERTS=$2; shift ;;
	--record) RECORD=1 ;;
	-h|--help) sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 1 ;;
	esac
	shift
done

if [ -z "${SB_BUILD:-}" ]; then
	SB_BUILD=$src/build-bench-failover
	echo "building $SB_BUILD" >&2
	cmake -S "$src" -B "$SB_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		>/dev/null && cmake --build "$SB_BUILD" -j"$(nproc)" \
		--target secretbrokerd sbctl storage_postgres storage_redis \
		crypto_openssl fencing_lease fencing_keepalived fencing_pacemaker \
		>/dev/null || exit 1
fi
export SB_BUILD

if [ "$RECORD" = 1 ]; then
	out="$here/results-$(date +%F).txt"
	echo "recording to $out" >&2
	exec > >(tee "$out")
fi

SAMPLES=$(mktemp "${TMPDIR:-/tmp}/sbfailover.XXXXXX") || exit 1
trap 'rm -f "$SAMPLES"' EXIT

# first_write NODE RUN T0 LIMIT_MS: writes through NODE again and again,
# without pause, until one is acknowledged (201); prints the number of
# tries. Fails when none is within LIMIT_MS of T0 (ms since the epoch).
first_write() {
	local node=$1 run=$2 t0=$3 limit=$4 k=0 code
	while :; do
		k=$((k + 1))
		code=$(cl_put "$node" "bench$run-$k" "v" 2)
		[ "$code" = 201 ] && break
		if (($(now_ms) - t0 > limit)); then
			fail "run $run: no write through $node" >&2
			return 1
		fi
	done
	echo "$k"
}

# measure_pacemaker BACKEND: as measure, with a two-node Pacemaker cluster
# (tests/integration/pacemaker/pcmk_lib.sh); a run is kill -9 of the
# promoted node's stack, its restart and rejoin after the sample.
measure_pacemaker() {
	local backend=$1
	(
		. "$src/tests/lib/testlib.sh"
		. "$src/tests/lib/broker.sh"
		. "$src/tests/integration/pacemaker/pcmk_lib.sh"
		local act other t0 t1 i k samples=()
		pm_setup "$backend" mss1 mss2 >&2 || { fail "cluster setup"; exit 1; }
		for i in $(seq 1 "$RUNS"); do
			pm_wait_both_running 60 || { fail "both nodes not running"; exit 1; }
			act=$(cl_wait_active "" 30) || { fail "no active MSS"; exit 1; }
			other=$(cl_other_of "$act")
			cl_wait_health "$other" 429 20 ||
				{ fail "$other is not a standby"; exit 1; }
			t0=$(now_ms)
			pcmk_kill "$act"
			k=$(first_write "$other" "$i" "$t0" 60000) || exit 1
			t1=$(now_ms)
			samples+=($((t1 - t0)))
			printf '  run %2d: %s stack killed, first write through %s after %5d ms (%d tries)\n' \
				"$i" "$act" "$other" $((t1 - t0)) "$k"
			pcmk_start "$act" >&2 || { fail "restarting $act"; exit 1; }
			pm_cleanup
		done
		echo "$backend pacemaker - ${samples[*]}" >>"$SAMPLES"
	)
}

# One backend and fencing setting in a subshell of its own: its own
# cluster, torn down (by testlib's exit hooks) when it ends. FENCING is
# lease (PARAM: the TTL) or keepalived (PARAM: advert_int). Prints a line
# per run and appends "backend fencing param ms..." to $SAMPLES.
measure() {
	local backend=$1 fencing=$2 param=$3 ttl=1500
	(
		. "$src/tests/lib/testlib.sh"
		. "$src/tests/lib/broker.sh"
		CL_FENCING=$fencing
		if [ "$fencing" = lease ]; then
			ttl=$param
		else
			CL_KA_ADVERT=$param
		fi
		CL_TTL_MS=$ttl
		. "$src/tests/integration/cluster/cluster_lib.sh"
		local act other t0 t1 i k samples=()
		if [ -n "$ACQUIRE_MS" ]; then
			CL_LEASE_EXTRA="acquire_interval_ms = $ACQUIRE_MS"
		fi
		cl_setup "$backend" >&2 || { fail "cluster setup"; exit 1; }
		for i in $(seq 1 "$RUNS"); do
			act=$(cl_wait_active "" 20) || { fail "no active MSS"; exit 1; }
			if [ "$act" = mss1 ]; then other=mss2; else other=mss1; fi
			cl_wait_health "$other" 429 20 ||
				{ fail "$other is not a standby"; exit 1; }
			# A random point of the renew cycle (TTL / 3).
			sleep "$(awk -v r=$RANDOM -v t="$ttl" \
				'BEGIN { printf "%.3f", r / 32768 * t / 3000 }')"
			t0=$(now_ms)
			cl_crash "$act"
			k=$(first_write "$other" "$i" "$t0" $((ttl * 4 + 10000))) || exit 1
			t1=$(now_ms)
			samples+=($((t1 - t0)))
			printf '  run %2d: %s killed, first write through %s after %5d ms (%d tries)\n' \
				"$i" "$act" "$other" $((t1 - t0)) "$k"
			cl_boot "$act" >&2 || { fail "restarting $act"; exit 1; }
		done
		echo "$backend $fencing $param ${samples[*]}" >>"$SAMPLES"
	)
}

echo "# secretbroker failover benchmark, $(date -u +%FT%TZ)"
echo "# $(uname -srm), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# source $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$src" diff --quiet HEAD -- core plugins 2>/dev/null || echo ' (core or plugins modified)'), build $SB_BUILD"
echo "# time from SIGKILL of the active MSS (with keepalived or pacemaker: its whole host)"
echo "# to the first acknowledged write through the other MSS node ($RUNS runs per row)"
rc=0
for fencing in $FENCINGS; do
	case $fencing in
	lease) params=$TTLS ;;
	keepalived) params=$ADVERTS ;;
	pacemaker) params=- ;;
	*) echo "run.sh: unknown fencing $fencing (lease, keepalived or pacemaker)" >&2; exit 1 ;;
	esac
	for param in $params; do
		for backend in $BACKENDS; do
			case $fencing in
			lease) echo "## $backend, lease, ttl_ms $param, acquire_interval_ms ${ACQUIRE_MS:-$((param / 3))}" ;;
			keepalived) echo "## $backend, keepalived, advert_int $param" ;;
			pacemaker) echo "## $backend, pacemaker, corosync token 1000 ms, monitor 1 s promoted / 2 s unpromoted" ;;
			esac
			if [ "$fencing" = pacemaker ]; then
				measure_pacemaker "$backend"
			else
				measure "$backend" "$fencing" "$param"
			fi || {
				echo "## $backend $fencing $param: FAILED (see the messages above)"
				rc=1
			}
		done
	done
done

echo
printf '%-9s %-24s %5s %8s %9s %8s  %s\n' backend fencing runs min_ms median_ms max_ms aim
while read -r backend fencing param s; do
	if [ "$fencing" = lease ]; then
		what="lease ttl_ms $param"
		aim_med=0 aim_max=$((param + 1000))
		aim="max <= $aim_max"
	elif [ "$fencing" = pacemaker ]; then
		what="pacemaker token 1000"
		aim_med=0 aim_max=999999999
		aim="(no aim set)"
	else
		what="keepalived advert_int $param"
		case $param in
		0.*) aim_med=500 aim_max=1000; aim="median < 500, max < 1000" ;;
		*) aim_med=0 aim_max=4500; aim="max < 4500" ;;
		esac
	fi
	echo "$s" | tr ' ' '\n' | sort -n | awk -v b="$backend" -v w="$what" \
		-v am="$aim_med" -v ax="$aim_max" -v aim="$aim" '
		{ v[NR] = $1 }
		END {
			med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			ok = v[NR] <= ax && (am == 0 || med < am)
			printf "%-9s %-24s %5d %8d %9d %8d  %s%s\n", b, w, NR,
				v[1], med, v[NR], aim,
				ax >= 999999999 ? "" : (ok ? ": met" : ": MISSED")
		}'
done <"$SAMPLES"
exit $rc
