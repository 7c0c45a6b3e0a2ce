#!/usr/bin/env bash
# The man pages (issue 16, item 2), built by CMake from docs/man/*.scd:
# sbctl(1) names every command of `sbctl --help` and every option of each
# `sbctl COMMAND --help`; secretbroker.ini(5) names every section and key
# of conf/secretbroker.ini, every key the daemon accepts (the *_keys
# tables of core/runtime/config.c) and every plugin setting (the
# plugin_settings tables of plugins/); secretbrokerd(8) every option of
# `secretbrokerd -h`. So none of them can drift from the code. They render
# without warnings and `cmake --install` puts them under share/man.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
. "$here/../lib/sbctl_help.sh"
: "${SB_BUILD:?SB_BUILD must name the build directory}"
SRC=$(cd "$here/../.." && pwd)
MAN=$SB_BUILD/docs/man
SBCTL=$SB_BUILD/client/sbctl

for p in sbctl.1 secretbrokerd.8 secretbroker.ini.5; do
	check "$p is built" test -s "$MAN/$p"
done

# text PAGE: the page's roff without font escapes, "\-" as "-".
text() { sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\(.\{2\}//g' "$MAN/$1"; }
# names PAGE WORD...: every WORD appears in PAGE (as a word: not inside
# a longer name); the missing ones are listed.
names() {
	local page=$1 w missing=() t
	shift
	t=$(text "$page")
	for w in "$@"; do
		grep -qE -- "(^|[^a-zA-Z0-9_-])$(printf '%s' "$w" | sed 's/[][\.*^$]/\\&/g')([^a-zA-Z0-9_]|$)" <<<"$t" ||
			missing+=("$w")
	done
	[ ${#missing[@]} -eq 0 ] || { echo "    missing from $page: ${missing[*]}" >&2; return 1; }
}

# ---- sbctl(1) ----
commands=$(sbctl_commands "$SBCTL")
check "sbctl --help lists at least 20 commands" test "$(echo "$commands" | wc -l)" -ge 20
mapfile -t cmds <<<"$commands"
check "sbctl(1) names every command" names sbctl.1 "${cmds[@]}"
while read -r c; do
	# shellcheck disable=SC2086
	mapfile -t opts < <("$SBCTL" $c --help 2>&1 | sbctl_help_options)
	check "sbctl(1) names every option of sbctl $c" names sbctl.1 "${opts[@]}"
done <<<"$commands"
check "sbctl(1) names SECRETBROKER_SOCKET" names sbctl.1 SECRETBROKER_SOCKET
for code in 0 1 2 3 10 11 12 13; do
	check "sbctl(1) gives exit status $code" grep -qF "*$code*" "$SRC/docs/man/sbctl.1.scd"
done

# ---- secretbroker.ini(5) ----
# Keys and sections of the example file, commented-out keys included.
mapfile -t ini_keys < <(sed -n 's/^;\?\([a-z_]\+\) *=.*/\1/p' "$SRC/conf/secretbroker.ini" | sort -u)
mapfile -t ini_sections < <(sed -n 's/^\(\[[a-z]\+\]\)$/\1/p' "$SRC/conf/secretbroker.ini" | sort -u)
check "conf/secretbroker.ini has keys" test "${#ini_keys[@]}" -ge 30
check "secretbroker.ini(5) names every key of conf/secretbroker.ini" names secretbroker.ini.5 "${ini_keys[@]}"
check "secretbroker.ini(5) names every section" names secretbroker.ini.5 "${ini_sections[@]}"
# Keys the daemon accepts: the *_keys[] tables of config.c.
mapfile -t core_keys < <(python3 - "$SRC/core/runtime/config.c" <<'PY'
import re, sys
src = open(sys.argv[1]).read()
for m in re.finditer(r'static const char \*const \w+_keys\[\] = \{(.*?)\};', src, re.S):
    for k in re.findall(r'"([a-z_]+)"', m.group(1)):
        print(k)
PY
)
check "config.c has key tables" test "${#core_keys[@]}" -ge 25
check "secretbroker.ini(5) names every key config.c accepts" names secretbroker.ini.5 "${core_keys[@]}"
# Every plugin's settings.
for f in "$SRC"/plugins/*/*/*.c; do
	grep -q 'plugin_settings\[\] = {' "$f" || continue
	mapfile -t pk < <(sed -n '/plugin_settings\[\] = {/,/};/p' "$f" | grep -o '"[a-z_]*"' | tr -d '"')
	[ ${#pk[@]} -gt 0 ] || continue
	check "secretbroker.ini(5) names every setting of ${f#"$SRC"/}" names secretbroker.ini.5 "${pk[@]}"
done

# ---- secretbrokerd(8) ----
mapfile -t dopts < <("$SB_BUILD/core/secretbrokerd" -h | grep -oE -- '^  -[a-zA-Z]' | tr -d ' ')
check "secretbrokerd -h lists options" test "${#dopts[@]}" -ge 3
check "secretbrokerd(8) names every option" names secretbrokerd.8 "${dopts[@]}" -h -V
check "secretbrokerd(8) names the signals and notify messages" names secretbrokerd.8 SIGHUP SIGTERM READY=1 RELOADING=1 STOPPING=1 WATCHDOG=1

# ---- rendering and install ----
if command -v man >/dev/null; then
	for p in sbctl.1 secretbrokerd.8 secretbroker.ini.5; do
		w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$MAN/$p" 2>&1 >/dev/null)
		check "$p renders without warnings${w:+ (got: $w)}" test -z "$w"
	done
fi
T=$(make_tmpdir)
cmake --install "$SB_BUILD" --prefix "$T/inst" >"$T/install.log" 2>&1
check "cmake --install succeeds" test $? -eq 0
for p in man1/sbctl.1 man8/secretbrokerd.8 man5/secretbroker.ini.5; do
	check "installed: share/man/$p" test -s "$T/inst/share/man/$p"
done
check "installed: the bash completion" test -s "$T/inst/share/bash-completion/completions/sbctl"
finish
