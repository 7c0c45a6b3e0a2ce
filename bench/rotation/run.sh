#!/usr/bin/env bash
# The rotation benchmark (issue 13, item 9): on each backend (SQLite, and
# real PostgreSQL and Redis servers started here), with N records (10,000
# config values and 100 mappings by default) loaded through the API:
#
#   1. lookups for --duration seconds without a rotation: p50/p99;
#   2. a rotation at [secret] reencrypt_rate (--rate, default 2000) with
#      the same reader going: lookup p50/p99 during the re-encryption, and
#      records re-encrypted per second (first batch to retirement, from the
#      daemon's log);
#   3. a rotation with no rate limit (reencrypt_rate = 0) and no reader:
#      the most records per second the re-encryption does.
#
# The reader is tests/lib/rotation_data.py (one connection, closed loop,
# single-key config gets and lookups through the cache, every value
# checked); its latencies include its own Python overhead, the same in
# both rows, so compare the rows rather than with bench/lookup. The aim is
# lookup p99 during the rotation within 2x of p99 without it.
#
# usage: bench/rotation/run.sh [--backends "sqlite postgres redis"]
#                              [--records N] [--rate R] [--batch B]
#                              [--duration S]
#                              [--smoke] [--record]
#   --batch B  [secret] reencrypt_batch (200)
#   --smoke    1000 records, 1 s rows: checks that it runs (ctest -L bench)
#   --record   also write the output to bench/results/rotation-DATE.txt
# Environment: SB_BUILD, an existing build directory (else ./build-bench
# is configured and built). Exit status 0 when every rotation finished
# and no lookup failed (whatever the figures).
set -u
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
backends="sqlite postgres redis"
records=10000
rate=2000
batch=200
duration=5
record=0
while [ $# -gt 0 ]; do
	case $1 in
	--backends) backends=$2; shift 2 ;;
	--records) records=$2; shift 2 ;;
	--rate) rate=$2; shift 2 ;;
	--batch) batch=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--smoke) records=1000 duration=1; shift ;;
	--record) record=1; shift ;;
	*) echo "usage: see the head of $0" >&2; exit 2 ;;
	esac
done
if [ -z "${SB_BUILD:-}" ]; then
	SB_BUILD=$src/build-bench
	(umask 022 && cmake -S "$src" -B "$SB_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
		cmake --build "$SB_BUILD" -j2 >/dev/null) || exit 1
fi
export SB_BUILD
. "$src/tests/lib/testlib.sh"
. "$src/tests/lib/broker.sh"
. "$src/tests/lib/backend.sh"
DATA="python3 $src/tests/lib/rotation_data.py"
N_MAP=100
status=0
out=$(mktemp)

# log_ms NODE PATTERN: the time (ms since the epoch) of the last log line
# of NODE matching PATTERN.
log_ms() {
	local line
	line=$(grep -E "$2" "$1/broker.log" | tail -n 1) || return 1
	date -d "$(echo "$line" | cut -d' ' -f1 | sed 's/Z$//')Z" +%s%3N
}

# retired NODE MSID: the rotation to MSID is over.
retired() {
	[ "$(sbctl_in "$1" --json secret status |
		jq -r '"\(.msid) \(.previous_msid)"')" = "$2 null" ]
}

# rotate_and_wait NODE: rotates; prints "RECORDS SECONDS RATE" measured
# from the log, first batch to retirement.
rotate_and_wait() {
	local node=$1 msid t0 t1 n
	sbctl_in "$node" secret rotate "$node/rot-$RANDOM.sbk" \
		--password-file "$T/pw" >/dev/null || return 1
	msid=$(sbctl_in "$node" --json secret status | jq -r .msid)
	wait_until 600 retired "$node" "$msid" || return 1
	t0=$(log_ms "$node" "to $msid: starting at") || return 1
	t1=$(log_ms "$node" "every record is under master secret $msid") || return 1
	n=$(grep -E "to $msid: starting at" "$node/broker.log" | tail -n 1 |
		sed -E 's/.* of ([0-9]+) records\)/\1/')
	awk -v n="$n" -v ms=$((t1 - t0)) \
		'BEGIN { s = ms / 1000; printf "%d %.2f %.0f\n", n, s, (s > 0 ? n / s : 0) }'
}

# reader_start NODE / reader_stop: a reader until reader_stop; its summary
# is in $T/reader.json.
reader_start() {
	rm -f "$T/stop" "$T/reader.json" "$T/reader.json.ready"
	$DATA read "$1/sb.sock" "$records" $N_MAP "$T/stop" "$T/reader.json" &
	READER=$!
	wait_until 30 test -e "$T/reader.json.ready"
}
reader_stop() {
	touch "$T/stop"
	if ! wait "$READER"; then
		echo "the reader failed: $(cat "$T/reader.json" 2>/dev/null)" >&2
		status=1
	fi
}

printf '%-9s %-22s %8s %8s %10s %9s %9s\n' backend row records seconds "records/s" \
	"p50 us" "p99 us" | tee -a "$out"
for b in $backends; do
	T=$(make_tmpdir)
	on_exit backend_stop
	backend_start "$b" "$T/db" || { echo "$b: cannot start" >&2; status=1; continue; }
	A=$T/node
	broker_config "$A" "$BACKEND_STORAGE_INI
[broker]
log_level = info
[secret]
reencrypt_delay_s = 0
reencrypt_batch = $batch
reencrypt_rate = $rate"
	[ "$b" = sqlite ] || sed -i '/^path = /d' "$A/secretbroker.ini"
	broker_start "$A" || { status=1; continue; }
	(umask 077 && printf 'benchmark password\n' >"$T/pw")
	sbctl_in "$A" secret generate >/dev/null
	$DATA load "$A/sb.sock" "$records" $N_MAP || { status=1; continue; }

	reader_start "$A"
	sleep "$duration"
	reader_stop
	j=$(cat "$T/reader.json")
	printf '%-9s %-22s %8s %8s %10s %9s %9s\n' "$b" "lookups, no rotation" - - - \
		"$(echo "$j" | jq -r .p50_us)" "$(echo "$j" | jq -r .p99_us)" | tee -a "$out"

	reader_start "$A"
	r=$(rotate_and_wait "$A") || { status=1; r="- - -"; }
	reader_stop
	j=$(cat "$T/reader.json")
	read -r n s rps <<<"$r"
	printf '%-9s %-22s %8s %8s %10s %9s %9s\n' "$b" "rotation at $rate/s" "$n" "$s" "$rps" \
		"$(echo "$j" | jq -r .p50_us)" "$(echo "$j" | jq -r .p99_us)" | tee -a "$out"
	[ "$(echo "$j" | jq -r '.failed + .wrong')" = 0 ] || status=1

	ini_merge "$A/secretbroker.ini" "[secret]
reencrypt_rate = 0"
	kill -HUP "$(broker_pid "$A")"
	reloaded() { grep -q "configuration reloaded" "$A/broker.log"; }
	wait_until 20 reloaded ||
		{ echo "$b: the reload did not happen:" >&2; grep -A3 SIGHUP "$A/broker.log" >&2; status=1; }
	r=$(rotate_and_wait "$A") || { status=1; r="- - -"; }
	read -r n s rps <<<"$r"
	printf '%-9s %-22s %8s %8s %10s %9s %9s\n' "$b" "rotation, no limit" "$n" "$s" "$rps" - - |
		tee -a "$out"
	$DATA verify "$A/sb.sock" "$records" $N_MAP >/dev/null ||
		{ echo "$b: values differ after the rotations" >&2; status=1; }
	broker_stop "$A"
	backend_stop
done
echo "machine: $(nproc) CPUs, $(uname -r); records: $records config values + $N_MAP mappings; batch $batch" |
	tee -a "$out"
if [ $record = 1 ]; then
	mkdir -p "$src/bench/results"
	cp "$out" "$src/bench/results/rotation-$(date +%F).txt"
fi
rm -f "$out"
exit $status
