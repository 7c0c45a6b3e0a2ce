#!/usr/bin/env bash
# The Debian packages end to end (issue 16, item 1), too slow for ctest
# (a whole build: about 1.5 minutes on 2 busy cores; 2.5 minutes in all):
#
#  1. copies the source tree (tracked and untracked files, not the build
#     directories) to a temporary directory and builds it with
#     `dpkg-buildpackage -us -uc -b`;
#  2. runs lintian on the result: any error fails; warnings are listed;
#  3. installs every package into a throwaway root: an overlay of this
#     machine's / with its writes going to a tmpfs, so dpkg --root, the
#     maintainer scripts (chrooted there) and the daemon change nothing
#     here; checks the user, the state directory, the conffile, the
#     enabled-not-started unit;
#  4. starts the daemon from the installed files as the secretbroker user,
#     generates a secret and does a lookup with the installed sbctl;
#  5. purges every package and lists what is left in the root: only the
#     system user (policy keeps it) and the state directory that holds the
#     master secret (the postrm keeps it on purge, docs/packaging.md); a
#     second root without a secret is purged down to the user alone.
#
# usage: scripts/package-test.sh [-k] [-o DIR]
#   -o DIR  keep the built .deb files in DIR
#   -k      keep the temporary directory (its path is printed)
# Needs root (mounts, chroot) and the packages of scripts/install-deps.sh.
set -u
umask 022
SRC=$(cd "$(dirname "$0")/.." && pwd)
OUTDIR= KEEP=
while getopts ko: opt; do
	case $opt in
	k) KEEP=1 ;;
	o) OUTDIR=$OPTARG ;;
	*) sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" -eq 0 ] || { echo "package-test: needs root (mount, chroot)" >&2; exit 1; }

PASSED=0 FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
fail() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
wait_until() {
	local deadline=$((SECONDS + $1)); shift
	while ! "$@" >/dev/null 2>&1; do
		((SECONDS >= deadline)) && return 1
		sleep 0.1
	done
}

W=$(mktemp -d /tmp/sbpkg.XXXXXX)
chmod 755 "$W"
MOUNTS=()
DAEMON_PID=
cleanup() {
	local i
	[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
	for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
		umount "${MOUNTS[$i]}" 2>/dev/null || umount -l "${MOUNTS[$i]}"
	done
	if [ -n "$KEEP" ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
start=$SECONDS

# ---- 1. build ----
VERSION=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
B=$W/secretbroker-$VERSION
mkdir -p "$B"
(cd "$SRC" && git ls-files -co --exclude-standard |
	grep -vE '^(build[^/]*|obj-[^/]*)/' | tar -cf - -T -) | tar -xf - -C "$B"
echo "# building $VERSION in $B"
if ! (cd "$B" && dpkg-buildpackage -us -uc -b >"$W/build.log" 2>&1); then
	tail -n 60 "$W/build.log"
	fail "dpkg-buildpackage -us -uc -b"
	exit 1
fi
pass "dpkg-buildpackage -us -uc -b ($((SECONDS - start)) s)"
mapfile -t DEBS < <(ls "$W"/*.deb | grep -v -- '-dbgsym_')
# Every binary package debian/control names, and nothing else.
mapfile -t PKGS < <(sed -n 's/^Package: //p' "$SRC/debian/control")
check "the ${#PKGS[@]} packages of debian/control built" test "${#DEBS[@]}" -eq "${#PKGS[@]}"
[ -z "$OUTDIR" ] || { mkdir -p "$OUTDIR" && cp "$W"/*.deb "$OUTDIR/"; }

# ---- 2. lintian ----
lintian --pedantic "$W"/*.changes >"$W/lintian.log" 2>&1
grep -E '^[EWIP]: ' "$W/lintian.log" | sed 's/^/    /'
check "lintian: no errors" bash -c "! grep -q '^E: ' '$W/lintian.log'"
echo "    lintian: $(grep -c '^W: ' "$W/lintian.log") warnings, $(grep -c '^I: ' "$W/lintian.log") info"

# ---- 3. a throwaway root ----
# new_root DIR: an overlay of / on DIR whose writes go to DIR.up (tmpfs).
new_root() {
	local r=$1
	mkdir -p "$r" "$r.up"
	mount -t tmpfs -o mode=755 tmpfs "$r.up" && MOUNTS+=("$r.up") || return 1
	mkdir -p "$r.up/upper" "$r.up/work"
	mount -t overlay overlay -o "lowerdir=/,upperdir=$r.up/upper,workdir=$r.up/work" "$r" &&
		MOUNTS+=("$r") || return 1
	# /proc for the daemon's own checks; /dev for /dev/null in scripts.
	mount -t proc proc "$r/proc" && MOUNTS+=("$r/proc") || return 1
	mount --bind /dev "$r/dev" && MOUNTS+=("$r/dev") || return 1
	# An empty /run, as on a booted system without systemd running.
	mount -t tmpfs -o mode=755 tmpfs "$r/run" && MOUNTS+=("$r/run") || return 1
}
# leftovers DIR: what the packages left in root DIR: the paths in its
# upper layer that this machine's / does not have, besides dpkg's and
# debconf's own bookkeeping.
leftovers() {
	local r=$1
	(cd "$r.up/upper" && find . -mindepth 1 \( -type f -o -type l -o -type d \) | sed 's|^\.||') |
		while read -r p; do
			[ -e "$p" ] || [ -L "$p" ] || echo "$p"
		done |
		grep -vE '^/var/lib/dpkg/|^/var/log/|^/var/cache/debconf/|^/etc/(passwd|group|shadow|gshadow|subuid|subgid)-?$|^/(proc|dev|run)(/|$)' |
		sort
}
# in_root DIR COMMAND...: COMMAND chrooted into DIR.
in_root() { local r=$1; shift; chroot "$r" "$@"; }
# has_user DIR: the system user secretbroker exists in root DIR.
has_user() { chroot "$1" getent passwd secretbroker >/dev/null; }

R=$W/root
check "a throwaway root (overlay of /)" new_root "$R"
if ! dpkg --root="$R" -i "${DEBS[@]}" >"$W/install.log" 2>&1; then
	cat "$W/install.log"
	fail "dpkg --root -i: every package installs"
	exit 1
fi
pass "dpkg --root -i: every package installs"
status=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Package} ${Status}\n' \
	"${PKGS[@]}" 2>&1)
check "all ${#PKGS[@]} are installed" test "$(grep -c 'install ok installed' <<<"$status")" -eq "${#PKGS[@]}"
check "the system user secretbroker exists" has_user "$R"
check "... with no login shell" bash -c "chroot '$R' getent passwd secretbroker | grep -q ':/usr/sbin/nologin$'"
st=$(in_root "$R" stat -c '%U:%G %a' /var/lib/secretbroker)
check "the state directory is secretbroker's, mode 700 (got $st)" test "$st" = "secretbroker:secretbroker 700"
check "/etc/secretbroker/secretbroker.ini is a conffile" bash -c \
	"dpkg-query --admindir='$R/var/lib/dpkg' -W -f='\${Conffiles}' secretbroker | grep -q /etc/secretbroker/secretbroker.ini"
check "the unit is enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/secretbrokerd.service"
check "... and nothing was started" bash -c "! pgrep -f '^/usr/sbin/secretbrokerd' >/dev/null"
for f in usr/share/man/man8/secretbrokerd.8.gz usr/share/man/man1/sbctl.1.gz \
	usr/share/man/man5/secretbroker.ini.5.gz usr/share/bash-completion/completions/sbctl \
	usr/lib/x86_64-linux-gnu/secretbroker/storage_postgres.so \
	usr/lib/x86_64-linux-gnu/secretbroker/storage_redis.so \
	usr/lib/x86_64-linux-gnu/secretbroker/fencing_keepalived.so \
	usr/include/secretbroker/plugin.h usr/lib/x86_64-linux-gnu/pkgconfig/secretbroker.pc; do
	check "installed: /$f" test -e "$R/$f"
done
check "pkg-config finds secretbroker" bash -c "chroot '$R' pkg-config --cflags --libs secretbroker | grep -q -- -lsecretbroker"
out=$(cd "$R/lib/systemd/system" && systemd-analyze verify --man=no --root="$R" secretbrokerd.service 2>&1)
check "systemd-analyze verify on the installed unit${out:+ (got: $out)}" test -z "$out"

# ---- 4. the installed daemon ----
# The runtime directory systemd would make (RuntimeDirectory=).
install -d -m 0750 -o secretbroker -g secretbroker "$R/run/secretbroker" 2>/dev/null ||
	in_root "$R" install -d -m 0750 -o secretbroker -g secretbroker /run/secretbroker
out=$(in_root "$R" chroot --userspec=secretbroker:secretbroker / \
	/usr/sbin/secretbrokerd -c /etc/secretbroker/secretbroker.ini -t 2>&1)
check "secretbrokerd -t on the installed configuration: configuration OK${out:+ ($out)}" \
	grep -q "configuration OK" <<<"$out"
chroot --userspec=secretbroker:secretbroker "$R" /usr/sbin/secretbrokerd \
	-c /etc/secretbroker/secretbroker.ini >"$W/daemon.log" 2>&1 &
DAEMON_PID=$!
SOCK=/run/secretbroker/secretbroker.sock
sbctl() { chroot "$R" /usr/bin/sbctl "$@"; }
# sbctl health exits 3 while it cannot connect.
answers() { sbctl health >/dev/null 2>&1; [ $? -ne 3 ]; }
if ! wait_until 30 answers; then
	fail "the installed daemon answers on $SOCK"
	cat "$W/daemon.log"
	exit 1
fi
pass "the installed daemon answers on $SOCK"
check "sbctl health: no secret yet (exit 12)" bash -c "chroot '$R' /usr/bin/sbctl health; [ \$? -eq 12 ]"
check "sbctl secret generate" sbctl secret generate
check "sbctl app create" sbctl app create crm --type individual \
	--fields user,password:masked --user-group root --admin-group root
check "sbctl app enable" sbctl app enable crm
check "sbctl cred set" bash -c "echo '{\"user\": \"crm_ext\", \"password\": \"Pkg-Pw-1\"}' | chroot '$R' /usr/bin/sbctl cred set crm --stdin"
out=$(sbctl cred get crm --show-masked 2>&1)
check "sbctl cred get: the lookup returns the values (got: $out)" grep -q "password: Pkg-Pw-1" <<<"$out"
st=$(in_root "$R" stat -c '%a %U:%G' "$SOCK")
check "the socket is 0660 secretbroker:secretbroker (got $st)" test "$st" = "660 secretbroker:secretbroker"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
check "the daemon stops on SIGTERM with exit 0" test "$rc" -eq 0
[ "$FAILED" -eq 0 ] || { echo "---- daemon log ----"; cat "$W/daemon.log"; }
rm -rf "$R/run/secretbroker"

# ---- 5. purge ----
if dpkg --root="$R" --purge "${PKGS[@]}" >"$W/purge.log" 2>&1; then
	pass "dpkg --root --purge: every package purges"
else
	cat "$W/purge.log"
	fail "dpkg --root --purge: every package purges"
fi
check "the postrm says why it keeps the state directory" grep -q "keeping /var/lib/secretbroker" "$W/purge.log"
left=$(leftovers "$R")
echo "$left" | sed 's/^/    left: /'
unexpected=$(grep -vE '^/var/lib/secretbroker(/|$)' <<<"$left" | sed '/^$/d')
check "nothing is left but the state directory with the secret${unexpected:+ (also: $unexpected)}" test -z "$unexpected"
check "... which holds the sealed secret" test -e "$R/var/lib/secretbroker/secret.sealed"
check "the system user stays (policy)" has_user "$R"

R2=$W/root2
new_root "$R2"
dpkg --root="$R2" -i "$W"/secretbroker_*.deb >"$W/install2.log" 2>&1
dpkg --root="$R2" --purge secretbroker >"$W/purge2.log" 2>&1
left=$(leftovers "$R2")
check "a node without a secret purges down to nothing${left:+ (left: $left)}" test -z "$left"
check "... but the system user" has_user "$R2"

echo "# $PASSED passed, $FAILED failed in $((SECONDS - start)) s"
[ "$FAILED" -eq 0 ]
