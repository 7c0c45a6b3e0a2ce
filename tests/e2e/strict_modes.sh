#!/usr/bin/env bash
# Loose permissions (issue 15, item 4): the daemon refuses a plugin
# directory, plugin file or config file that anyone but root or its own
# user can change (sshd's StrictModes), and a directory above them that
# others can write; at start, on -t and on SIGHUP (the running generation
# stays). Each message names the path, its mode and its owner.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

T=$(make_tmpdir)
A=$T/node
mkdir -p "$T/plugins"
cp "$SB_PLUGIN_DIR"/*.so "$T/plugins/"
chmod 755 "$T/plugins" "$T/plugins"/*.so
broker_config "$A"
sed -i "s|^plugin_dir = .*|plugin_dir = $T/plugins|" "$A/secretbroker.ini"
INI=$A/secretbroker.ini
RULE="must be owned by root or the daemon's user (uid $(id -u)) and not writable by group or others"

# refused WHAT EXPECTED...: -t and a start both fail, and both say each
# EXPECTED text.
refused() {
	local out rc
	out=$("$SECRETBROKERD" -c "$INI" -t 2>&1); rc=$?
	[ "$rc" -ne 0 ] || { echo "    -t accepted it" >&2; return 1; }
	for e in "$@"; do contains "$out" "$e" || return 1; done
	out=$(timeout 10 "$SECRETBROKERD" -c "$INI" 2>&1); rc=$?
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { echo "    started (rc $rc)" >&2; return 1; }
	for e in "$@"; do contains "$out" "$e" || return 1; done
}

out=$("$SECRETBROKERD" -c "$INI" -t 2>&1)
check "a correct setup passes -t" contains "$out" "configuration OK"

chmod 777 "$T/plugins"
check "a world-writable plugin directory is refused, with its mode and owner" \
	refused "bad ownership or modes for plugin directory $T/plugins (mode 0777, owner uid 0): $RULE"
chmod 755 "$T/plugins"

chmod 775 "$T/plugins/storage_sqlite.so"
check "a group-writable plugin file is refused" \
	refused "bad ownership or modes for plugin file $T/plugins/storage_sqlite.so (mode 0775, owner uid 0)"
chmod 755 "$T/plugins/storage_sqlite.so"

chown 65534 "$T/plugins/crypto_openssl.so"
check "a plugin file owned by another user is refused" \
	refused "bad ownership or modes for plugin file $T/plugins/crypto_openssl.so (mode 0755, owner uid 65534)"
chown 0 "$T/plugins/crypto_openssl.so"

chown 65534 "$T/plugins"
check "a plugin directory owned by another user is refused" \
	refused "plugin directory $T/plugins (mode 0755, owner uid 65534)"
chown 0 "$T/plugins"

chmod 666 "$INI"
check "a world-writable config file is refused" \
	refused "bad ownership or modes for config file $INI (mode 0666, owner uid 0): $RULE"
chmod 620 "$INI"
check "a group-writable config file is refused" refused "config file $INI (mode 0620"
chmod 644 "$INI"

# A directory above the plugin directory that others can write (not
# sticky): they could rename the plugin directory away and put their own.
mkdir -p "$T/open/plugins"
cp "$T/plugins"/*.so "$T/open/plugins/"
chmod 755 "$T/open/plugins"
chmod 777 "$T/open"
sed -i "s|^plugin_dir = .*|plugin_dir = $T/open/plugins|" "$INI"
check "a world-writable directory above the plugin directory is refused" \
	refused "bad ownership or modes for directory $T/open above plugin directory $T/open/plugins (mode 0777"
# Sticky and root's (as /tmp): nobody else can move what root owns there.
chmod 1777 "$T/open"
out=$("$SECRETBROKERD" -c "$INI" -t 2>&1)
check "a root-owned sticky directory above it is accepted" contains "$out" "configuration OK"
sed -i "s|^plugin_dir = .*|plugin_dir = $T/plugins|" "$INI"

# A plugin reached through a symbolic link is checked where it really is.
mkdir -p "$T/real" "$T/linked"
cp "$T/plugins"/*.so "$T/linked/"
mv "$T/linked/storage_sqlite.so" "$T/real/"
ln -s "$T/real/storage_sqlite.so" "$T/linked/storage_sqlite.so"
chmod 755 "$T/linked"
chmod 757 "$T/real"
sed -i "s|^plugin_dir = .*|plugin_dir = $T/linked|" "$INI"
check "the real directory of a symlinked plugin is checked" \
	refused "directory $T/real above plugin file $T/real/storage_sqlite.so (mode 0757"
sed -i "s|^plugin_dir = .*|plugin_dir = $T/plugins|" "$INI"

# ---- a correct setup starts; a reload onto a loose one is refused ----
broker_start "$A" || exit 1
sbctl_in "$A" secret generate >/dev/null
gen() { sbctl_in "$A" --json status | jq -r .config.generation; }
check "a correct setup starts (generation 1)" test "$(gen)" = 1

# reload_refused EXPECTED: SIGHUP is logged as not reloading with EXPECTED,
# generation 1 keeps serving.
reload_refused() {
	local before
	before=$(grep -c "has errors, not reloading" "$A/broker.log")
	kill -HUP "$(broker_pid "$A")"
	wait_until 10 bash -c "[ \$(grep -c 'has errors, not reloading' '$A/broker.log') -gt $before ]" || {
		echo "    no 'not reloading' line" >&2; return 1; }
	contains "$(cat "$A/broker.log")" "config file $INI has errors, not reloading" || return 1
	contains "$(cat "$A/broker.log")" "$1" || return 1
	[ "$(gen)" = 1 ] || { echo "    generation $(gen)" >&2; return 1; }
	sbctl_in "$A" secret status >/dev/null
}

chmod 666 "$INI"
check "SIGHUP with a world-writable config: refused, generation 1 serves" \
	reload_refused "config file $INI (mode 0666, owner uid 0)"
chmod 644 "$INI"
chmod 777 "$T/plugins"
check "SIGHUP with a world-writable plugin directory: refused" \
	reload_refused "plugin directory $T/plugins (mode 0777"
chmod 755 "$T/plugins"
kill -HUP "$(broker_pid "$A")"
check "a reload once the modes are right installs generation 2" \
	wait_until 10 bash -c "[ \"\$($SBCTL -s $A/sb.sock --json status | jq -r .config.generation)\" = 2 ]"
finish
