#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds twice (warnings as
# errors; and with AddressSanitizer + UndefinedBehaviorSanitizer), and runs
# every test (unit, conformance against real SQLite/PostgreSQL/Redis
# servers the tests start, end-to-end against the real daemon) in both.
# Run as root on Debian 12 (the tests create users and start servers).
set -euo pipefail
cd "$(dirname "$0")/.."
# The daemon refuses plugins that group or others may write (strict modes,
# docs/admin.md): build them 0755 whatever the caller's umask.
umask 022

scripts/install-deps.sh
jobs=$(nproc)
status=0

run_suite() { # BUILD_DIR CMAKE_ARGS...
	local dir=$1; shift
	echo "=== build $dir ($*)"
	cmake -S . -B "$dir" -DSB_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j"$jobs" 2>&1 | grep -Ev '^\[|^-- ' || true
	cmake --build "$dir" -j"$jobs" >/dev/null
	echo "=== test $dir"
	(cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 600) || status=1
}

run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DSB_SANITIZE=ON
exit $status
