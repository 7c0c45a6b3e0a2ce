#!/usr/bin/env bash
# Bash completion for sbctl (issue 16, item 5): the command words and each
# command's options it offers are exactly those `sbctl --help` and `sbctl
# COMMAND --help` list (so the two cannot drift apart); FILE arguments
# complete file names, --user user names, --user-group group names,
# --type the three types. Runs the completion function as bash would.
here=$(dirname "$0")
. "$here/../lib/testlib.sh"
: "${SB_BUILD:?SB_BUILD must name the build directory}"
SBCTL=$SB_BUILD/client/sbctl
. "$here/../lib/sbctl_help.sh"
. "$here/../../client/completion/sbctl.bash"

# complete_words WORD...: what _sbctl offers for the last WORD, sorted,
# one a line.
complete_words() {
	COMP_WORDS=(sbctl "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_sbctl
	printf '%s\n' "${COMPREPLY[@]}" | sort -u | sed '/^$/d'
}
# same "what" EXPECTED GOT: two word lists are equal.
same() {
	local what=$1 exp got
	exp=$(echo "$2" | tr ' ' '\n' | sed '/^$/d' | sort -u)
	got=$(echo "$3" | tr ' ' '\n' | sed '/^$/d' | sort -u)
	if [ "$exp" = "$got" ]; then
		pass "$what"
	else
		fail "$what"
		diff <(echo "$exp") <(echo "$got") | sed 's/^/    /' >&2
	fi
}

# The commands, from sbctl --help: "  secret backup FILE  ..." lines.
commands=$(sbctl_commands "$SBCTL")
check "sbctl --help lists commands" test "$(echo "$commands" | wc -l)" -ge 20
groups=$(echo "$commands" | cut -d' ' -f1 | sort -u)
same "the first words are the command groups (and help)" \
	"$groups help" "$(complete_words "")"
for g in $groups; do
	subs=$(echo "$commands" | awk -v g="$g" '$1 == g && NF == 2 { print $2 }')
	[ -n "$subs" ] || continue
	same "sbctl $g: its subcommands" "$subs" "$(complete_words "$g" "")"
done
global=$("$SBCTL" --help | sed -n '/^Global options:/,$p' | sbctl_help_options)
while read -r c; do
	# shellcheck disable=SC2086
	opts=$("$SBCTL" $c --help 2>&1 | sbctl_help_options)
	# shellcheck disable=SC2086
	same "sbctl $c: its options" "$opts" "$(complete_words $c -)"
done <<<"$commands"
check "the global options include --socket and --json" contains "$global" "--json"

T=$(make_tmpdir)
mkdir -p "$T/d" && : >"$T/d/backup.sbk"
got=$(complete_words secret restore "$T/d/ba")
check "secret restore FILE completes file names" test "$got" = "$T/d/backup.sbk"
got=$(complete_words secret backup --password-file "$T/d/b")
check "--password-file completes file names" test "$got" = "$T/d/backup.sbk"
got=$(complete_words app import "$T/d/")
check "app import FILE completes file names" contains "$got" "$T/d/backup.sbk"
got=$(complete_words app create x --type "")
same "--type offers the three types" "individual group config-store" "$got"
got=$(complete_words cred get crm --user roo)
check "--user completes user names" contains "$got" root
got=$(complete_words app create x --user-group roo)
check "--user-group completes group names" contains "$got" root
got=$(complete_words -s /run/x.sock --json sec)
check "options before the command are skipped" test "$got" = secret
got=$(complete_words help sec)
check "help COMMAND completes the command" test "$got" = secret
got=$(complete_words cred get crm "")
check "no file names where an application name goes" test -z "$got"
finish
