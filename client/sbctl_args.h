/*
 * sbctl's command line: the table of commands and the parser that turns
 * argv into a struct sbctl_args. Adding a command is a row in the table
 * (sbctl_args.c), an id below and a handler in sbctl.c.
 */
#ifndef SBCTL_ARGS_H
#define SBCTL_ARGS_H

#include <stdio.h>

enum sbctl_cmd_id {
	SBCTL_CMD_STATUS,
	SBCTL_CMD_SECRET_GENERATE,
	SBCTL_CMD_SECRET_STATUS,
	SBCTL_CMD_SECRET_BACKUP,
	SBCTL_CMD_SECRET_HINT,
	SBCTL_CMD_SECRET_RESTORE,
	SBCTL_CMD_COUNT
};

/* Options a command accepts besides the global ones (-s, --json, --help). */
#define SBCTL_OPT_PASSWORD_FILE 0x1u
#define SBCTL_OPT_HINT		0x2u
#define SBCTL_OPT_FORCE		0x4u

struct sbctl_command {
	enum sbctl_cmd_id id;
	const char *group; /* "secret", or NULL for a top-level command */
	const char *name;
	const char *args; /* positional arguments for the usage line, or NULL */
	int nargs;	  /* how many positional arguments it takes */
	unsigned opts;	  /* SBCTL_OPT_* it accepts */
	const char *summary; /* one line for the command list */
	const char *help;    /* the paragraph for its --help */
};

/* The parsed command line. Strings point into argv. */
struct sbctl_args {
	const struct sbctl_command *cmd; /* NULL for help on all or a group */
	const char *group;  /* with help and no cmd: the group asked about */
	const char *socket; /* -s, or NULL: libsecretbroker's default */
	const char *file;   /* the FILE argument of backup, hint, restore */
	const char *password_file;
	const char *hint;
	int json, force, help, version;
};

/* The command table and its size. */
extern const struct sbctl_command sbctl_commands[];
extern const size_t sbctl_ncommands;

/*
 * Parses argv (which getopt may reorder). Options may come before or after
 * the command words; "--" ends them. "sbctl help [COMMAND...]" is
 * "sbctl [COMMAND...] --help". Returns 0 with a filled (a help or version
 * request sets help or version, with cmd or group saying for what when
 * given), or -1 with err holding one line about the usage error.
 * Not reentrant (getopt).
 */
int sbctl_args_parse(int argc, char **argv, struct sbctl_args *a, char *err,
		     size_t errlen);

/* Prints the help a asks for: a command's, a group's, or the whole list. */
void sbctl_print_help(FILE *f, const struct sbctl_args *a);

/* Prints the one-line usage for a's command (or the general one). */
void sbctl_print_usage(FILE *f, const struct sbctl_args *a);

#endif
