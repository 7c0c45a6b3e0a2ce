# Fixture for a real secretbrokerd: one directory with its config, state
# directory and log; started in the foreground in the background, ready when
# its API answers; its log printed when a test fails.
#
# Needs SB_BUILD (the build directory: daemon, sbctl, plugins).

: "${SB_BUILD:?SB_BUILD must name the build directory}"
SECRETBROKERD="$SB_BUILD/core/secretbrokerd"
SBCTL="$SB_BUILD/client/sbctl"
SB_PLUGIN_DIR="$SB_BUILD/plugins"

# broker_config DIR [extra INI text]: writes DIR/secretbroker.ini for the
# embedded default (sqlite + openssl + none) with state under DIR. The
# extra text is merged in (ini_merge): its keys replace the default's.
broker_config() {
	local dir=$1 extra=${2:-}
	mkdir -p "$dir"
	cat >"$dir/secretbroker.ini" <<INI
[broker]
state_dir = $dir/state
plugin_dir = $SB_PLUGIN_DIR
node_name = $(basename "$dir")
threads = 2
log_level = debug

[listen]
socket = $dir/sb.sock
socket_mode = 0666

[storage]
plugin = sqlite
path = ${SB_DB:-$dir/sso.db}

[crypto]
plugin = openssl

[fencing]
plugin = none
INI
	[ -z "$extra" ] || ini_merge "$dir/secretbroker.ini" "$extra"
}

# ini_merge FILE TEXT: sets each key of the INI TEXT in FILE: a key its
# section already has is replaced where it is, another is added at the end
# of its section, a new section at the end of the file. (The daemon refuses
# a key set twice in one section, so appending is not enough.)
ini_merge() {
	python3 - "$1" "$2" <<'PY'
import re, sys

path, extra = sys.argv[1], sys.argv[2]
lines = open(path).read().splitlines()


def key_of(line):
    s = line.strip()
    if not s or s[0] in ';#[' or '=' not in s:
        return None
    return s.split('=', 1)[0].strip().lower()


def section_of(line):
    m = re.match(r'^\s*\[(.*)\]\s*$', line)
    return m.group(1).strip().lower() if m else None


section = ''
for line in extra.splitlines():
    if section_of(line) is not None:
        section = section_of(line)
        continue
    key = key_of(line)
    if key is None:
        continue
    cur, where, end = '', None, None
    for i, l in enumerate(lines):
        if section_of(l) is not None:
            cur = section_of(l)
        elif cur == section and key_of(l) == key:
            where = i
        if cur == section and l.strip():
            end = i
    if where is not None:
        lines[where] = line
    elif end is not None:
        lines.insert(end + 1, line)
    else:
        lines += ['', '[%s]' % section, line]
open(path, 'w').write('\n'.join(lines) + '\n')
PY
}

# broker_start DIR: starts the daemon on DIR/secretbroker.ini, waits until
# it answers /v1/health (any status), registers its teardown.
broker_start() {
	local dir=$1
	: >"$dir/broker.log.offset"
	"$SECRETBROKERD" -c "$dir/secretbroker.ini" >>"$dir/broker.log" 2>&1 &
	echo $! >"$dir/broker.pid"
	on_exit "broker_stop '$dir'"
	on_exit "broker_log_on_failure '$dir'"
	if ! wait_until 20 broker_answers "$dir"; then
		echo "broker in $dir did not become ready; its log:" >&2
		cat "$dir/broker.log" >&2
		return 1
	fi
}

broker_answers() {
	local dir=$1
	kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null || return 1
	curl -s -o /dev/null --unix-socket "$dir/sb.sock" http://sb/v1/health
}

broker_pid() { cat "$1/broker.pid"; }

# broker_stop DIR: SIGTERM, wait for the exit, return its status.
broker_stop() {
	local dir=$1 pid rc=0
	[ -f "$dir/broker.pid" ] || return 0
	pid=$(cat "$dir/broker.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null || rc=$?
	fi
	rm -f "$dir/broker.pid"
	return $rc
}

broker_log_on_failure() {
	local dir=$1
	if [ "$TESTS_FAILED" -gt 0 ] && [ -f "$dir/broker.log" ]; then
		echo "---- log of the broker in $dir ----" >&2
		tail -n 200 "$dir/broker.log" >&2
	fi
}

# sbctl_in DIR args...: runs sbctl against the broker in DIR.
sbctl_in() {
	local dir=$1; shift
	"$SBCTL" -s "$dir/sb.sock" "$@"
}

# api DIR METHOD PATH [BODY]: raw API call; prints "STATUS BODY".
api() {
	local dir=$1 method=$2 path=$3 body=${4:-}
	local args=(-s -X "$method" -w '\n%{http_code}' --unix-socket "$dir/sb.sock")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	local out
	out=$(curl "${args[@]}" "http://sb$path")
	echo "${out##*$'\n'} ${out%$'\n'*}"
}
