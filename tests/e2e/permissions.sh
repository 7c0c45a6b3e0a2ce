#!/usr/bin/env bash
# Only members of [access] sso_admins (and root) may run secret commands;
# everyone else gets 403 with a clear message on every one of them. Real
# users and groups, created here, run the real sbctl.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

if [ "$(id -u)" -ne 0 ]; then
	echo "needs root to create test users"; exit 1
fi
ensure_group() { getent group "$1" >/dev/null || groupadd "$1"; }
ensure_user() { # USER [GROUP]
	getent passwd "$1" >/dev/null || useradd -M -N -s /usr/sbin/nologin "$1"
	[ -z "${2:-}" ] || usermod -a -G "$2" "$1"
}
ensure_group sbtest_admins
ensure_user sbtest_admin sbtest_admins
ensure_user sbtest_user

T=$(make_tmpdir)
A=$T/node
broker_config "$A" "
[access]
sso_admins = sbtest_admins"
broker_start "$A" || exit 1
printf 'correct horse battery\n' >"$T/pw"
chmod 600 "$T/pw"
mkdir -m 777 "$T/out"
# Each user has their own private copy of the password file.
for u in sbtest_admin sbtest_user; do
	install -m 600 -o "$u" "$T/pw" "$T/out/pw.$u"
done

as() { local u=$1; shift; runuser -u "$u" -- "$SBCTL" -s "$A/sb.sock" "$@"; }

refused() { # USER args...: exit 1 and a 403 message naming the group
	local u=$1; shift
	local out rc
	out=$(as "$u" "$@" 2>&1); rc=$?
	[ "$rc" -eq 1 ] && contains "$out" "forbidden" && contains "$out" "sbtest_admins"
}

check "root generates the first secret" "$SBCTL" -s "$A/sb.sock" secret generate
"$SBCTL" -s "$A/sb.sock" secret backup "$T/root.sbk" --password-file "$T/pw" >/dev/null
chmod 644 "$T/root.sbk"

for cmd in "secret status" "secret generate" "secret backup $T/out/u.sbk --password-file $T/out/pw.sbtest_user" "secret restore $T/root.sbk --password-file $T/out/pw.sbtest_user"; do
	# shellcheck disable=SC2086
	check "non-admin refused: $cmd" refused sbtest_user $cmd
done
check "non-admin wrote no backup file" test ! -e "$T/out/u.sbk"

# The raw API says the same, with the stable code.
r=$(runuser -u sbtest_user -- curl -s -w '\n%{http_code}' --unix-socket "$A/sb.sock" http://sb/v1/secret)
check "raw API: 403" test "${r##*$'\n'}" = 403
check "raw API: JSON error code forbidden" test "$(echo "${r%$'\n'*}" | jq -r .error.code)" = forbidden

# Anyone local may read health and status (they hold no secret).
check "non-admin may read status" as sbtest_user status
check "non-admin may read a hint" as sbtest_user secret hint "$T/root.sbk"

# Members of the group may.
check "admin group member: secret status" as sbtest_admin secret status
check "admin group member: backup" as sbtest_admin secret backup "$T/out/a.sbk" --password-file "$T/out/pw.sbtest_admin"
check "admin's backup file is 0600 and theirs" test "$(stat -c '%a %U' "$T/out/a.sbk")" = "600 sbtest_admin"
check "admin group member: restore" as sbtest_admin secret restore "$T/out/a.sbk" --password-file "$T/out/pw.sbtest_admin"
finish
