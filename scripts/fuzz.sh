#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] [TARGET...]: builds the libFuzzer harnesses of
# tests/fuzz with clang (-fsanitize=fuzzer,address,undefined) in
# $SB_FUZZ_BUILD_DIR (default build-fuzz) and runs each target (default:
# all of them) for SECONDS (default 60), starting from its seed corpus
# (tests/fuzz/corpus/TARGET) and the regressions (tests/fuzz/regressions/
# TARGET). Fails on the first crash, leak, timeout or out-of-memory, and
# says where the input that did it was kept: copy it into
# tests/fuzz/regressions/TARGET/ once fixed, so fuzz.replay.TARGET replays
# it in every build. docs/fuzzing.md.
set -euo pipefail
umask 022 # the daemon refuses group- or world-writable plugins
src=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http api backup config import)
build=${SB_FUZZ_BUILD_DIR:-$src/build-fuzz}
jobs=${SB_FUZZ_JOBS:-$(nproc)}
case $secs in '' | *[!0-9]*)
	echo "fuzz.sh: SECONDS must be a whole number, not '$secs'" >&2
	exit 2
	;;
esac

echo "fuzz: building in $build"
mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DSB_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/fuzz-configure.log" 2>&1 ||
	{ cat "$build/fuzz-configure.log"; exit 1; }
cmake --build "$build" -j"$jobs" --target fuzzers >"$build/fuzz-build.log" 2>&1 ||
	{ tail -50 "$build/fuzz-build.log"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/sbfuzz-run.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/fuzz_$t
	[ -x "$bin" ] || { echo "fuzz: no target $t" >&2; exit 2; }
	mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
	log=$work/$t/log
	echo "fuzz: $t for ${secs}s"
	# The first corpus directory receives what the run finds; the tree's
	# own directories are only read.
	if "$bin" -max_total_time="$secs" -timeout=30 -rss_limit_mb=2560 \
		-max_len=16384 -print_final_stats=1 \
		-artifact_prefix="$work/$t/artifacts/" \
		"$work/$t/corpus" "$src/tests/fuzz/corpus/$t" \
		"$src/tests/fuzz/regressions/$t" >"$log" 2>&1; then
		grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$log" |
			sed "s/^/fuzz: $t /" || true
	else
		status=1
		keep=${SB_FUZZ_ARTIFACTS:-$src/fuzz-artifacts}/$t
		mkdir -p "$keep"
		cp "$work/$t/artifacts/"* "$keep/" 2>/dev/null || true
		echo "fuzz: $t FAILED; the log ends:" >&2
		tail -60 "$log" >&2
		echo "fuzz: the input is kept in $keep/ (add it to" \
			"tests/fuzz/regressions/$t/ with the fix)" >&2
	fi
done
[ $status -eq 0 ] && echo "fuzz: all ${#targets[@]} targets clean"
exit $status
