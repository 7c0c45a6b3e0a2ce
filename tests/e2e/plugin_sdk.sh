#!/usr/bin/env bash
# For plugin authors: install the project into a fresh prefix, build a
# plugin out of tree against the installed header through pkg-config, and
# run the installed daemon with it.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/broker.sh"

T=$(make_tmpdir)
P=$T/prefix
check "cmake --install into a fresh prefix" \
	bash -c "cmake --install '$SB_BUILD' --prefix '$P' >'$T/install.log' 2>&1"
export PKG_CONFIG_PATH=$P/lib/pkgconfig
check "pkg-config finds secretbroker" pkg-config --exists secretbroker
plugindir=$(pkg-config --variable=plugindir secretbroker)
check "the plugins are installed where pkg-config says" test -f "$plugindir/storage_sqlite.so"
cflags=$(pkg-config --cflags secretbroker)
# shellcheck disable=SC2086
check "an out-of-tree plugin builds against the installed header alone" \
	cc -std=c11 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden \
	   $cflags -o "$T/fencing_sdk.so" "$here/sdk_fencing.c"
mkdir -p "$T/plugins"
cp "$plugindir"/*.so "$T/fencing_sdk.so" "$T/plugins/"

A=$T/node
SB_PLUGIN_DIR=$T/plugins broker_config "$A" $'[fencing]\nplugin = sdk'
sed -i "s|^plugin_dir = .*|plugin_dir = $T/plugins|" "$A/secretbroker.ini"
SECRETBROKERD=$P/sbin/secretbrokerd
SBCTL=$P/bin/sbctl
check "the installed daemon accepts the configuration" contains "$("$SECRETBROKERD" -c "$A/secretbroker.ini" -t 2>&1)" "configuration OK"
broker_start "$A" || exit 1
check "the installed sbctl generates a secret" sbctl_in "$A" secret generate
check "the sdk plugin made the node active" test "$(api "$A" GET /v1/health | cut -d' ' -f1)" = 200
check "status names the sdk plugin" contains "$(sbctl_in "$A" status)" "fencing  sdk 1.0.0"
finish
