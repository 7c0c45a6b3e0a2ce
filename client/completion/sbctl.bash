# bash completion for sbctl(1), the secretbroker administration CLI.
# Completes the command words, each command's options (from the same
# lists as `sbctl COMMAND --help`; tests/packaging/completion.sh checks
# they agree), files for FILE arguments and --password-file, user and group
# names for --user, --user-group and --admin-group. It never calls the
# daemon. Works with or without the bash-completion package.

# _sbctl_subcommands GROUP: the second words of a command group.
_sbctl_subcommands() {
	case $1 in
	secret) echo "generate status backup hint restore rotate" ;;
	cluster) echo "status designate promote demote" ;;
	app) echo "create list show update enable disable delete import" ;;
	cred) echo "set get" ;;
	mapping) echo "list enable disable delete" ;;
	config) echo "set get delete" ;;
	cache) echo "purge" ;;
	ticket) echo "issue redeem" ;;
	esac
}

# _sbctl_options "GROUP SUB": the options of one command, besides the
# global ones.
_sbctl_options() {
	case $1 in
	"health ") echo "--quiet" ;;
	"secret backup") echo "--password-file --hint --force" ;;
	"secret restore") echo "--password-file" ;;
	"secret rotate") echo "--password-file --hint --force" ;;
	"cluster designate") echo "--yes" ;;
	"app create") echo "--type --fields --user-group --admin-group --description --contact" ;;
	"app update") echo "--user-group --admin-group --description --contact" ;;
	"app delete") echo "--yes" ;;
	"cred set") echo "--user --stdin" ;;
	"cred get") echo "--user --show-masked --no-cache" ;;
	"mapping list") echo "--app --user" ;;
	"mapping enable" | "mapping disable") echo "--user" ;;
	"mapping delete") echo "--user --yes" ;;
	"config set") echo "--id --stdin" ;;
	"config get" | "config delete") echo "--id" ;;
	esac
}

_sbctl() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=
	local global="-s --socket --json -h --help -V --version"
	local groups="status health secret cluster app cred mapping config cache ticket help"
	local i w group= sub= nargs=0 help=

	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	# The command words so far, skipping options and their values.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		-s | --socket | --password-file | --hint | --type | --fields | \
			--user-group | --admin-group | --description | --contact | \
			--user | --app | --id)
			((i++))
			continue
			;;
		-*) continue ;;
		esac
		if [[ -z $group && $w == help && -z $help ]]; then
			help=1
		elif [[ -z $group ]]; then
			group=$w
		elif [[ -z $sub && -n $(_sbctl_subcommands "$group") ]]; then
			sub=$w
		else
			((nargs++))
		fi
	done

	# The value of an option.
	case $prev in
	-s | --socket | --password-file)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return
		;;
	--type)
		mapfile -t COMPREPLY < <(compgen -W "individual group config-store" -- "$cur")
		return
		;;
	--user)
		mapfile -t COMPREPLY < <(compgen -u -- "$cur")
		return
		;;
	--user-group | --admin-group)
		mapfile -t COMPREPLY < <(compgen -g -- "$cur")
		return
		;;
	--hint | --fields | --description | --contact | --app | --id)
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_sbctl_options "$group $sub") $global" -- "$cur")
		return
	fi
	if [[ -z $group ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$groups" -- "$cur")
		return
	fi
	if [[ -z $sub && -n $(_sbctl_subcommands "$group") ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_sbctl_subcommands "$group")" -- "$cur")
		return
	fi
	[[ -n $help ]] && return
	# Arguments that are files.
	case "$group $sub" in
	"secret backup" | "secret hint" | "secret restore" | "secret rotate" | \
		"app import")
		if ((nargs == 0)); then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi
		;;
	esac
}
complete -F _sbctl sbctl
