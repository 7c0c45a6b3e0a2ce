#!/usr/bin/env bash
# CPU instructions per lookup, the daemon beside nginx, counted by
# valgrind's callgrind: user-space instructions only (no kernel), but
# deterministic, so the figure does not move with other work on the
# machine the way req/s does. Use it to compare builds (a patch to the
# lookup path shows up here first); run.sh remains the throughput figure.
#
# usage: bench/lookup/instructions.sh [--requests N] [--keep]
#   --requests N  lookups counted per server (2000), after 200 uncounted
#   --keep        keep the callgrind files (printed) for callgrind_annotate
# Environment: SB_BUILD as for run.sh. Needs valgrind.

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
N=2000
KEEP=0
PIN=0
while [ $# -gt 0 ]; do
	case $1 in
	--requests) N=$2; shift ;;
	--keep) KEEP=1 ;;
	-h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "instructions.sh: unknown argument $1 (try --help)" >&2; exit 1 ;;
	esac
	shift
done
command -v valgrind >/dev/null || {
	echo "instructions.sh: needs valgrind (apt-get install valgrind)" >&2
	exit 1
}

. "$here/lib.sh"
lib_init || exit 1
OUT=$T
[ "$KEEP" = 1 ] && OUT=$(mktemp -d "${TMPDIR:-/tmp}/sbcallgrind.XXXXXX")

# callgrind_wrapper NAME [PROGRAM]: a script that runs PROGRAM (or its
# arguments) under callgrind, instrumentation off until callgrind_control
# switches it on; it execs, so its pid is the measured process's.
callgrind_wrapper() {
	cat >"$T/$1" <<EOF
#!/bin/sh
exec valgrind --tool=callgrind --instr-atstart=no \\
	--callgrind-out-file=$OUT/$1.%p ${2:-} "\$@"
EOF
	chmod +x "$T/$1"
}

# count NAME PID SOCKET PATH: instructions per request of N requests.
count() {
	local name=$1 pid=$2 sock=$3 path=$4 total f
	"$SBLOAD" -U "$sock" -p "$path" -c 1 -n 200 -t 120 >/dev/null || return 1
	callgrind_control -i on "$pid" >/dev/null 2>&1 || return 1
	"$SBLOAD" -U "$sock" -p "$path" -c 1 -n "$N" -t 300 >/dev/null || return 1
	callgrind_control -d "$pid" >/dev/null 2>&1 || return 1
	callgrind_control -i off "$pid" >/dev/null 2>&1
	f=$(ls "$OUT/$name.$pid".* 2>/dev/null | head -1)
	total=$(callgrind_annotate "$f" 2>/dev/null |
		awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	[ -n "$total" ] || return 1
	[ "$KEEP" = 1 ] && echo "  ($name: $f)" >&2
	echo $((total / N))
}

echo "instructions per request (callgrind, user space), $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
machine_facts
echo "request: GET $LOOKUP; $N requests over one connection"
echo

setup_daemon 2 || exit 1
lookup_size || exit 1
nginx_static_file "$BODY"

callgrind_wrapper cg-nginx
nginx_start 1 "master_process off;" "$T/cg-nginx" || exit 1
ng=$(count cg-nginx "$NGINX_PID" "$NG/nginx.sock" /lookup.json) || {
	echo "instructions.sh: counting nginx failed" >&2; exit 1; }
nginx_stop

callgrind_wrapper cg-daemon "$SECRETBROKERD"
real=$SECRETBROKERD
rows=()
for cache in on off; do
	SECRETBROKERD=$T/cg-daemon
	daemon_start 2 "$([ "$cache" = on ] && echo 60 || echo 0)" || exit 1
	SECRETBROKERD=$real
	n=$(count cg-daemon "$(broker_pid "$SB")" "$SB/sb.sock" "$LOOKUP") || {
		echo "instructions.sh: counting the daemon (cache $cache) failed" >&2
		exit 1
	}
	rows+=("secretbrokerd|$cache|$n")
done
daemon_stop

printf '%-16s %-5s %14s %12s\n' server cache 'instr/request' 'x nginx'
printf '%-16s %-5s %14s %12s\n' nginx - "$ng" 1.0
for row in "${rows[@]}"; do
	IFS='|' read -r s c n <<<"$row"
	printf '%-16s %-5s %14s %12s\n' "$s" "$c" "$n" \
		"$(awk -v a="$n" -v b="$ng" 'BEGIN { printf "%.1f", a / b }')"
done
