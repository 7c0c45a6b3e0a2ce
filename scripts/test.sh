#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds twice (warnings as
# errors; and with AddressSanitizer + UndefinedBehaviorSanitizer), and runs
# every test (unit, conformance against real SQLite/PostgreSQL/Redis
# servers the tests start, end-to-end against the real daemon, clusters
# with real keepalived and Pacemaker, fuzzers) in both.
# Run as root on Debian 12 (the tests create users and start servers).
#
# The two builds' suites run side by side: most of their time is spent in
# cluster tests waiting on leases, VRRP and Pacemaker, not on the CPU, and
# every fixture owns its ports, directories and network namespaces. Within
# one build the cluster tests still run one at a time (their
# RESOURCE_LOCK). SB_TEST_SERIAL=1 runs the builds one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
# The daemon refuses plugins that group or others may write (strict modes,
# docs/admin.md): build them 0755 whatever the caller's umask.
umask 022

scripts/install-deps.sh
jobs=$(nproc)
start=$SECONDS

build() { # BUILD_DIR CMAKE_ARGS...
	local dir=$1; shift
	echo "=== build $dir ($*)"
	cmake -S . -B "$dir" -DSB_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" 2>&1 | grep -Ev '^\[|^-- ' || true
	cmake --build "$dir" -j"$jobs" >/dev/null
}

# run_tests BUILD_DIR LOG: the build's whole ctest run into LOG; its status.
run_tests() {
	(cd "$1" && ctest --output-on-failure -j"$jobs" --timeout 600) >"$2" 2>&1
}

build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
build build-asan -DCMAKE_BUILD_TYPE=Debug -DSB_SANITIZE=ON
echo "=== built in $((SECONDS - start)) s"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
status=0
if [ "${SB_TEST_SERIAL:-0}" = 1 ]; then
	run_tests build "$logs/build.log" || status=1
	run_tests build-asan "$logs/build-asan.log" || status=1
else
	# Each build's tests see the ASan options; only the ASan build reads them.
	run_tests build "$logs/build.log" &
	normal=$!
	run_tests build-asan "$logs/build-asan.log" &
	asan=$!
	wait $normal || status=1
	wait $asan || status=1
fi
for b in build build-asan; do
	echo "=== test $b"
	cat "$logs/$b.log"
done
echo "=== whole suite (both builds) in $((SECONDS - start)) s"
exit $status
