#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs secretbroker on
# the embedded default (SQLite + OpenSSL + single node) with its config and
# state under ./run, then shows it working. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "built: build/core/secretbrokerd, build/client/sbctl, build/plugins/*.so"

run=$top/run
mkdir -p "$run"
chmod 700 "$run"
if [ -f "$run/secretbrokerd.pid" ] && kill -0 "$(cat "$run/secretbrokerd.pid")" 2>/dev/null; then
	kill -TERM "$(cat "$run/secretbrokerd.pid")"
	while kill -0 "$(cat "$run/secretbrokerd.pid")" 2>/dev/null; do sleep 0.1; done
fi
if [ ! -f "$run/secretbroker.ini" ]; then
	cat >"$run/secretbroker.ini" <<INI
[broker]
state_dir = state
plugin_dir = $top/build/plugins
node_name = quickstart

[listen]
socket = sb.sock
socket_mode = 0660

[storage]
plugin = sqlite
path = sso.db

[crypto]
plugin = openssl

[fencing]
plugin = none
INI
fi
build/core/secretbrokerd -c "$run/secretbroker.ini" -t
build/core/secretbrokerd -c "$run/secretbroker.ini" >>"$run/secretbrokerd.log" 2>&1 &
echo $! >"$run/secretbrokerd.pid"
for _ in $(seq 100); do [ -S "$run/sb.sock" ] && break; sleep 0.1; done

sbctl() { build/client/sbctl -s "$run/sb.sock" "$@"; }
set -x
sbctl status
sbctl secret status || sbctl secret generate
sbctl secret status
# An affiliate application, a credential mapping for the caller, a lookup.
sbctl app show demo >/dev/null 2>&1 ||
	sbctl app create demo --type individual --fields user,password:masked \
		--user-group "$(id -gn)" --description "quick start demo"
sbctl app enable demo
echo '{"user": "alice", "password": "correct horse"}' | sbctl cred set demo --stdin
sbctl cred get demo
sbctl cred get demo --show-masked
set +x
echo
echo "secretbrokerd is running (pid $(cat "$run/secretbrokerd.pid"), log $run/secretbrokerd.log)."
echo "Try:   build/client/sbctl -s $run/sb.sock secret backup my.backup --hint 'where the password is'"
echo "Stop:  kill \$(cat $run/secretbrokerd.pid)"
