# Helpers shared by the credential-store end-to-end tests (store_*.sh):
# real Unix users and groups, sbctl and the raw API run as each of them,
# and a look at the raw SQLite file. Sourced after testlib.sh and
# broker.sh; the test sets A (the broker's directory) before using `as`.

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root to create test users and run commands as them"
	exit 1
fi

# Tests may run in parallel (ctest -j): useradd and groupadd from two of
# them at once can race between the getent check and the add. One lock
# for all of them, and a second look when an add fails anyway (another
# test outside this lock created the same name).
STORE_USERS_LOCK=/tmp/sbtest-store-users.lock

# ensure_group NAME: creates the group unless it exists.
ensure_group() {
	(
		flock 9
		getent group "$1" >/dev/null || groupadd "$1" ||
			getent group "$1" >/dev/null
	) 9>"$STORE_USERS_LOCK"
}

# ensure_user NAME [GROUP...]: creates the user (no home, no login shell)
# unless it exists, and adds it to each GROUP.
ensure_user() {
	local u=$1 g
	shift
	(
		flock 9
		getent passwd "$u" >/dev/null ||
			useradd -M -N -s /usr/sbin/nologin "$u" ||
			getent passwd "$u" >/dev/null || exit 1
		for g in "$@"; do
			id -nG "$u" | tr ' ' '\n' | grep -qx "$g" ||
				usermod -a -G "$g" "$u" || exit 1
		done
	) 9>"$STORE_USERS_LOCK"
}

# as USER sbctl-args...: sbctl against the broker in $A, run as USER (its
# groups are those of the group database, as at login).
as() {
	local u=$1
	shift
	runuser -u "$u" -- "$SBCTL" -s "$A/sb.sock" "$@"
}

# run USER sbctl-args...: as `as`, keeping stdout and stderr together in
# OUT and the exit status in RC (stdin is passed on).
run() {
	OUT=$(as "$@" 2>&1)
	RC=$?
}

# run_notty USER sbctl-args...: as `run`, in a new session without a
# controlling terminal, so that a confirmation cannot be asked even when
# the test itself runs in one.
run_notty() {
	local u=$1
	shift
	OUT=$(setsid -w runuser -u "$u" -- "$SBCTL" -s "$A/sb.sock" "$@" \
		</dev/null 2>&1)
	RC=$?
}

# ok "what" USER sbctl-args...: passes when the command succeeds.
ok() {
	local what=$1
	shift
	run "$@"
	if [ "$RC" -eq 0 ]; then
		pass "$what"
	else
		fail "$what (exit $RC: $OUT)"
	fi
}

# refused "what" CODE USER sbctl-args...: passes when sbctl exits 1 and its
# error line ends with the API error code CODE.
refused() {
	local what=$1 code=$2
	shift 2
	run "$@"
	was_refused "$what" "$code"
}

# was_refused "what" CODE: the check of `refused` on the RC and OUT of the
# sbctl run just made (by run, or another helper that sets them).
was_refused() {
	if [ "$RC" -eq 1 ] && [[ "$OUT" == *"($2)"* ]]; then
		pass "$1"
	else
		fail "$1 (expected exit 1 with ($2); got exit $RC: $OUT)"
	fi
}

# raw_as USER METHOD PATH [BODY]: one raw API request to the broker in $A
# as USER; prints "STATUS CODE" (CODE: the error code, or - on success).
raw_as() {
	local u=$1 method=$2 path=$3 body=${4:-} out status code
	local args=(-s -X "$method" -w '\n%{http_code}' --unix-socket "$A/sb.sock")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	out=$(runuser -u "$u" -- curl "${args[@]}" "http://sb$path")
	status=${out##*$'\n'}
	code=$(printf '%s' "${out%$'\n'*}" | jq -r '.error.code // "-"' 2>/dev/null)
	echo "$status ${code:--}"
}

# db_count SQL-WHERE: rows of sb_kv matching the condition, read from the
# raw database file ($DB) with the sqlite3 CLI. Keys are BLOBs: compare
# with CAST('...' AS BLOB), or match text with CAST(key AS TEXT).
db_count() {
	sqlite3 "$DB" "SELECT count(*) FROM sb_kv WHERE $1;"
}
