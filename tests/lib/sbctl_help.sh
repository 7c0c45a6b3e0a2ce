# What sbctl's own help says it accepts, for the tests that check the man
# page and the shell completion against it (tests/packaging/).

# sbctl_commands SBCTL: the commands of `SBCTL --help`, one a line
# ("status", "secret backup", ...), from its "  WORD [WORD] ARGS  text"
# lines between "Commands:" and "Global options:".
sbctl_commands() {
	"$1" --help | sed -n '/^Commands:/,/^Global options:/p' |
		sed -n 's/^  \([a-z]\+\)\( [a-z]\+\)\?\( .*\)\?$/\1\2/p' |
		sed 's/ \+$//' | sort -u
}

# sbctl_help_options: the options in the help text on stdin ("-s",
# "--socket", ...), one a line, from its "  -s, --socket PATH   text"
# lines up to the description.
sbctl_help_options() {
	grep -E '^  -' | sed -E 's/^  (.*[^ ])  +.*$/\1/' |
		grep -oE -- '(^|[ ,])--?[a-zA-Z][a-z-]*' | tr -d ' ,' | sort -u
}
