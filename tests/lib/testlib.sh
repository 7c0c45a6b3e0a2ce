# Shared helpers for the shell-driven end-to-end tests.
#
# Each test script sources this file, calls its checks through `check`, and
# ends with `finish`, which prints "N passed, N failed" and exits non-zero
# on any failure. Fixtures register their teardown with `on_exit`.

set -u
# Config files the tests write must not be group-writable: the daemon
# refuses them (strict modes, docs/admin.md).
umask 022
TESTS_PASSED=0
TESTS_FAILED=0
_EXIT_HOOKS=()

on_exit() { _EXIT_HOOKS+=("$*"); }
_run_exit_hooks() {
	local i
	for ((i = ${#_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${_EXIT_HOOKS[$i]}" || true
	done
}
trap _run_exit_hooks EXIT

pass() { TESTS_PASSED=$((TESTS_PASSED + 1)); echo "ok - $*"; }
fail() { TESTS_FAILED=$((TESTS_FAILED + 1)); echo "not ok - $*"; }

# check "description" command...: passes when the command succeeds.
check() {
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# expect_fail "description" command...: passes when the command fails.
expect_fail() {
	local what=$1; shift
	if "$@"; then fail "$what (unexpectedly succeeded)"; else pass "$what"; fi
}

# contains HAYSTACK NEEDLE: true when NEEDLE occurs in HAYSTACK (and says
# what it saw otherwise).
contains() {
	case "$1" in
	*"$2"*) return 0 ;;
	*) echo "    expected to find: $2" >&2
	   echo "    in: $1" >&2
	   return 1 ;;
	esac
}

# wait_until TIMEOUT_S command...: polls the command every 50 ms.
wait_until() {
	local deadline=$((SECONDS + $1)); shift
	while ! "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then return 1; fi
		sleep 0.05
	done
}

finish() {
	echo "$TESTS_PASSED passed, $TESTS_FAILED failed"
	[ "$TESTS_FAILED" -eq 0 ]
}

# free_tcp_port: prints a port on 127.0.0.1 that nothing listens on now.
free_tcp_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 20000))
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
	done
	echo "$port"
}

# One root directory per test script, created here in the main shell so
# its removal at exit is registered there (make_tmpdir runs in a command
# substitution, whose own exit hooks would be lost). KEEP_TMP keeps it.
SB_TEST_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/sbtest.XXXXXX")
chmod 755 "$SB_TEST_ROOT"
[ -n "${KEEP_TMP:-}" ] || on_exit "rm -rf '$SB_TEST_ROOT'"

# A fresh temporary directory below SB_TEST_ROOT.
make_tmpdir() {
	local d
	d=$(mktemp -d "$SB_TEST_ROOT/t.XXXXXX")
	chmod 755 "$d"
	echo "$d"
}
