/*
 * sbctl's command line: the table of commands and the parser that turns
 * argv into a struct sbctl_args. Adding a command is a row in the table
 * (sbctl_args.c), an id below and a handler in sbctl.c's table.
 */
#ifndef SBCTL_ARGS_H
#define SBCTL_ARGS_H

#include <stdio.h>

enum sbctl_cmd_id {
	SBCTL_CMD_STATUS,
	SBCTL_CMD_HEALTH,
	SBCTL_CMD_SECRET_GENERATE,
	SBCTL_CMD_SECRET_STATUS,
	SBCTL_CMD_SECRET_BACKUP,
	SBCTL_CMD_SECRET_HINT,
	SBCTL_CMD_SECRET_RESTORE,
	SBCTL_CMD_SECRET_ROTATE,
	SBCTL_CMD_CLUSTER_STATUS,
	SBCTL_CMD_CLUSTER_DESIGNATE,
	SBCTL_CMD_CLUSTER_PROMOTE,
	SBCTL_CMD_CLUSTER_DEMOTE,
	SBCTL_CMD_APP_CREATE,
	SBCTL_CMD_APP_LIST,
	SBCTL_CMD_APP_SHOW,
	SBCTL_CMD_APP_UPDATE,
	SBCTL_CMD_APP_ENABLE,
	SBCTL_CMD_APP_DISABLE,
	SBCTL_CMD_APP_DELETE,
	SBCTL_CMD_APP_IMPORT,
	SBCTL_CMD_CRED_SET,
	SBCTL_CMD_CRED_GET,
	SBCTL_CMD_MAPPING_LIST,
	SBCTL_CMD_MAPPING_ENABLE,
	SBCTL_CMD_MAPPING_DISABLE,
	SBCTL_CMD_MAPPING_DELETE,
	SBCTL_CMD_CONFIG_SET,
	SBCTL_CMD_CONFIG_GET,
	SBCTL_CMD_CONFIG_DELETE,
	SBCTL_CMD_CACHE_PURGE,
	SBCTL_CMD_TICKET_ISSUE,
	SBCTL_CMD_TICKET_REDEEM,
	SBCTL_CMD_COUNT
};

/* Options a command accepts besides the global ones (-s, --json, --help). */
#define SBCTL_OPT_PASSWORD_FILE 0x1u
#define SBCTL_OPT_HINT		0x2u
#define SBCTL_OPT_FORCE		0x4u
#define SBCTL_OPT_TYPE		0x8u
#define SBCTL_OPT_FIELDS	0x10u
#define SBCTL_OPT_USER_GROUP	0x20u
#define SBCTL_OPT_ADMIN_GROUP	0x40u
#define SBCTL_OPT_DESCRIPTION	0x80u
#define SBCTL_OPT_CONTACT	0x100u
#define SBCTL_OPT_YES		0x200u
#define SBCTL_OPT_USER		0x400u
#define SBCTL_OPT_APP		0x800u
#define SBCTL_OPT_ID		0x1000u
#define SBCTL_OPT_STDIN		0x2000u
#define SBCTL_OPT_SHOW_MASKED	0x4000u
#define SBCTL_OPT_NO_CACHE	0x8000u
#define SBCTL_OPT_QUIET		0x10000u

/* The longest node name the daemon accepts ([broker] node_name). */
#define SBCTL_NODE_NAME_MAX 200

/* What the positional arguments are, for the checks the parser makes. */
#define SBCTL_POS_APP 0x1u /* the first is an application name */
#define SBCTL_POS_KEY 0x2u /* the second is a config key */

struct sbctl_command {
	enum sbctl_cmd_id id;
	/* "secret", "app", ..., or NULL for a top-level command */
	const char *group;
	const char *name;
	const char *args; /* positional arguments for the usage line, or NULL */
	int min_args;	  /* how many positional arguments it takes: */
	int max_args;	  /* from min to max, max -1 for any number */
	unsigned pos;	  /* SBCTL_POS_* */
	unsigned opts;	  /* SBCTL_OPT_* it accepts */
	unsigned required;   /* SBCTL_OPT_* it needs */
	const char *summary; /* one line for the command list */
	const char *help;    /* the paragraph for its --help */
};

/* The parsed command line. Strings point into argv. */
struct sbctl_args {
	const struct sbctl_command *cmd; /* NULL for help on all or a group */
	const char *group;  /* with help and no cmd: the group asked about */
	const char *socket; /* -s, or NULL: libsecretbroker's default */
	/* The positional arguments after the command words. */
	char **pos;
	int npos;
	/* pos[0] when there is one: the FILE of backup, hint, restore and
	 * import, the APP or NAME of the store commands, the NODE of cluster
	 * designate. */
	const char *file;
	const char *name;
	const char *password_file;
	const char *hint;
	const char *type, *fields, *user_group, *admin_group, *description,
		*contact, *user, *app, *id;
	unsigned seen; /* SBCTL_OPT_* given on the command line */
	int json, force, yes, use_stdin, show_masked, no_cache, quiet, help,
		version;
};

/* The command table and its size. */
extern const struct sbctl_command sbctl_commands[];
extern const size_t sbctl_ncommands;

/*
 * Parses argv (which getopt may reorder). Options may come before or after
 * the command words; "--" ends them. "sbctl help [COMMAND...]" is
 * "sbctl [COMMAND...] --help". Checks what can be checked without the
 * daemon: the number of arguments, the options a command takes and needs,
 * names that go into request paths (application, user, config id and key).
 * Returns 0 with a filled (a help or version request sets help or version,
 * with cmd or group saying for what when given), or -1 with err holding one
 * line about the usage error. Not reentrant (getopt).
 */
int sbctl_args_parse(int argc, char **argv, struct sbctl_args *a, char *err,
		     size_t errlen);

/* Prints the help a asks for: a command's, a group's, or the whole list. */
void sbctl_print_help(FILE *f, const struct sbctl_args *a);

/* Prints the one-line usage for a's command (or the general one). */
void sbctl_print_usage(FILE *f, const struct sbctl_args *a);

#endif
