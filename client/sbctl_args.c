/* sbctl's command table and argument parser: see sbctl_args.h. */
#define _GNU_SOURCE
#include "sbctl_args.h"

#include <secretbroker/client.h>

#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <sys/un.h>

const struct sbctl_command sbctl_commands[] = {
	{SBCTL_CMD_STATUS, NULL, "status", NULL, 0, 0,
	 "show the daemon's version, role, plugins and config",
	 "Shows the daemon's version and uptime, its node name and role, the "
	 "fencing state and epoch, the loaded plugins with their versions, "
	 "the configuration file and generation, and the result of the last "
	 "reload (SIGHUP) with its errors and the keys that need a restart."},
	{SBCTL_CMD_SECRET_GENERATE, "secret", "generate", NULL, 0, 0,
	 "generate the first master secret",
	 "Generates the master secret on this node and prints its id (MSID). "
	 "Refused when a secret exists. Back it up at once with "
	 "'sbctl secret backup FILE'. Needs membership of the sso_admins "
	 "group (or root)."},
	{SBCTL_CMD_SECRET_STATUS, "secret", "status", NULL, 0, 0,
	 "show the secret's MSID, age, backup state and role",
	 "Shows the master secret's id (MSID), when it was created and its "
	 "age, whether a backup was ever made (with a warning while none "
	 "has been) and this node's role. Needs membership of the "
	 "sso_admins group (or root)."},
	{SBCTL_CMD_SECRET_BACKUP, "secret", "backup", "FILE", 1,
	 SBCTL_OPT_PASSWORD_FILE | SBCTL_OPT_HINT | SBCTL_OPT_FORCE,
	 "write the secret, encrypted with a password, to FILE",
	 "Asks the daemon for a backup of the master secret encrypted with a "
	 "password, and writes it to FILE (mode 0600, atomically). The "
	 "password is asked twice on the terminal without echo, unless "
	 "--password-file gives it. The hint is stored in clear in the file "
	 "('sbctl secret hint FILE' shows it). An existing FILE is only "
	 "replaced with --force. Needs membership of the sso_admins group "
	 "(or root)."},
	{SBCTL_CMD_SECRET_HINT, "secret", "hint", "FILE", 1, 0,
	 "print the password hint stored in a backup FILE",
	 "Prints the password hint stored in clear in the backup FILE. No "
	 "password is needed."},
	{SBCTL_CMD_SECRET_RESTORE, "secret", "restore", "FILE", 1,
	 SBCTL_OPT_PASSWORD_FILE,
	 "restore the master secret on this node from FILE",
	 "Sends the backup FILE and its password to the daemon, which "
	 "installs the master secret on this node and seals it. The password "
	 "is asked once on the terminal without echo, unless --password-file "
	 "gives it. A wrong password, a damaged or foreign file, and a backup "
	 "that does not belong to this SSO database are each refused and "
	 "nothing changes. Needs membership of the sso_admins group "
	 "(or root)."},
};
const size_t sbctl_ncommands =
	sizeof(sbctl_commands) / sizeof(sbctl_commands[0]);

enum {
	OPT_JSON = 256,
	OPT_PASSWORD_FILE,
	OPT_HINT,
	OPT_FORCE,
};

static const struct option long_options[] = {
	{"socket", required_argument, NULL, 's'},
	{"json", no_argument, NULL, OPT_JSON},
	{"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	{"hint", required_argument, NULL, OPT_HINT},
	{"force", no_argument, NULL, OPT_FORCE},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

static int usage_error(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int usage_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int is_group(const char *word)
{
	for (size_t i = 0; i < sbctl_ncommands; i++)
		if (sbctl_commands[i].group != NULL &&
		    strcmp(sbctl_commands[i].group, word) == 0)
			return 1;
	return 0;
}

static const struct sbctl_command *find_command(const char *group,
						const char *name)
{
	for (size_t i = 0; i < sbctl_ncommands; i++) {
		const struct sbctl_command *c = &sbctl_commands[i];

		if ((group == NULL) != (c->group == NULL))
			continue;
		if (group != NULL && strcmp(group, c->group) != 0)
			continue;
		if (strcmp(name, c->name) == 0)
			return c;
	}
	return NULL;
}

/* Writes "secret backup" or "status" into buf. */
static const char *full_name(const struct sbctl_command *c, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s%s", c->group ? c->group : "",
		 c->group ? " " : "", c->name);
	return buf;
}

/* The text of the option getopt just refused, for the message. */
static const char *bad_option(char **argv)
{
	static char shortopt[3];

	if (optopt != 0 && optopt < 256) {
		snprintf(shortopt, sizeof(shortopt), "-%c", optopt);
		return shortopt;
	}
	return argv[optind - 1];
}

int sbctl_args_parse(int argc, char **argv, struct sbctl_args *a, char *err,
		     size_t errlen)
{
	char **words;
	int nwords, opt, seen_pwfile = 0, seen_hint = 0;
	char name[64];
	const struct sbctl_command *c;

	memset(a, 0, sizeof(*a));
	/* optind 0 makes glibc's getopt start afresh, also when called again
	 * (the unit tests do). ':' first: report a missing value ourselves. */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":s:hV", long_options, NULL)) !=
	       -1) {
		switch (opt) {
		case 's': a->socket = optarg; break;
		case OPT_JSON: a->json = 1; break;
		case OPT_PASSWORD_FILE:
			a->password_file = optarg;
			seen_pwfile = 1;
			break;
		case OPT_HINT:
			a->hint = optarg;
			seen_hint = 1;
			break;
		case OPT_FORCE: a->force = 1; break;
		case 'h': a->help = 1; break;
		case 'V': a->version = 1; break;
		case ':':
			return usage_error(err, errlen,
					   "option %s needs a value",
					   bad_option(argv));
		default:
			return usage_error(err, errlen, "unknown option %s",
					   bad_option(argv));
		}
	}
	/* getopt has moved every non-option to the end, in order. */
	words = argv + optind;
	nwords = argc - optind;
	if (nwords > 0 && strcmp(words[0], "help") == 0) {
		a->help = 1;
		words++;
		nwords--;
	}
	if (nwords == 0) {
		if (a->help || a->version)
			return 0;
		return usage_error(err, errlen, "no command given");
	}
	if (is_group(words[0])) {
		a->group = words[0];
		if (nwords == 1) {
			if (a->help)
				return 0;
			return usage_error(err, errlen,
					   "'%s' needs a command; see 'sbctl "
					   "%s --help'",
					   words[0], words[0]);
		}
		c = find_command(words[0], words[1]);
		if (c == NULL)
			return usage_error(err, errlen,
					   "unknown command '%s %s'; see "
					   "'sbctl %s --help'",
					   words[0], words[1], words[0]);
		words += 2;
		nwords -= 2;
	} else {
		c = find_command(NULL, words[0]);
		if (c == NULL)
			return usage_error(err, errlen,
					   "unknown command '%s'; see 'sbctl "
					   "--help'",
					   words[0]);
		words++;
		nwords--;
	}
	a->cmd = c;
	if (a->help || a->version)
		return 0;
	full_name(c, name, sizeof(name));
	if (nwords < c->nargs)
		return usage_error(err, errlen, "'%s' needs %s", name, c->args);
	if (nwords > c->nargs)
		return usage_error(err, errlen,
				   "too many arguments for '%s': '%s'", name,
				   words[c->nargs]);
	if (c->nargs == 1)
		a->file = words[0];
	if (seen_pwfile && !(c->opts & SBCTL_OPT_PASSWORD_FILE))
		return usage_error(err, errlen,
				   "--password-file does not apply to '%s'",
				   name);
	if (seen_hint && !(c->opts & SBCTL_OPT_HINT))
		return usage_error(err, errlen, "--hint does not apply to '%s'",
				   name);
	if (a->force && !(c->opts & SBCTL_OPT_FORCE))
		return usage_error(err, errlen,
				   "--force does not apply to '%s'", name);
	if (a->socket != NULL) {
		struct sockaddr_un sun;

		if (a->socket[0] == '\0')
			return usage_error(err, errlen,
					   "-s needs a socket path, not an "
					   "empty string");
		if (strlen(a->socket) >= sizeof(sun.sun_path))
			return usage_error(err, errlen,
					   "socket path %s is longer than the "
					   "%zu bytes a Unix socket path may "
					   "have",
					   a->socket, sizeof(sun.sun_path) - 1);
	}
	if (a->password_file != NULL && a->password_file[0] == '\0')
		return usage_error(err, errlen,
				   "--password-file needs a file name");
	if (a->file != NULL && a->file[0] == '\0')
		return usage_error(err, errlen,
				   "'%s' needs %s, not an empty string", name,
				   c->args);
	return 0;
}

/* Prints word after a space, or on a new line indented under the command
 * when the line would pass 80 columns. */
static void usage_word(FILE *f, int *col, const char *word)
{
	int w = (int)strlen(word);

	if (*col + 1 + w > 80) {
		*col = fprintf(f, "\n%13s", "") - 1;
	}
	*col += fprintf(f, " %s", word);
}

static void print_command_usage(FILE *f, const struct sbctl_command *c)
{
	char name[64];
	int col;

	col = fprintf(f, "usage: sbctl [-s SOCKET] [--json] %s",
		      full_name(c, name, sizeof(name)));
	if (c->args != NULL)
		usage_word(f, &col, c->args);
	if (c->opts & SBCTL_OPT_PASSWORD_FILE)
		usage_word(f, &col, "[--password-file F]");
	if (c->opts & SBCTL_OPT_HINT)
		usage_word(f, &col, "[--hint TEXT]");
	if (c->opts & SBCTL_OPT_FORCE)
		usage_word(f, &col, "[--force]");
	fputc('\n', f);
}

void sbctl_print_usage(FILE *f, const struct sbctl_args *a)
{
	if (a != NULL && a->cmd != NULL)
		print_command_usage(f, a->cmd);
	else
		fprintf(f,
			"usage: sbctl [-s SOCKET] [--json] COMMAND [ARGS]\n");
}

/* Prints text wrapped at 76 columns with the given indent. */
static void print_wrapped(FILE *f, const char *text, int indent)
{
	int col = 0;

	while (*text) {
		size_t w = strcspn(text, " ");

		if (col > 0 && col + 1 + (int)w > 76) {
			fputc('\n', f);
			col = 0;
		}
		if (col == 0) {
			fprintf(f, "%*s", indent, "");
			col = indent;
		} else {
			fputc(' ', f);
			col++;
		}
		fwrite(text, 1, w, f);
		col += (int)w;
		text += w;
		while (*text == ' ')
			text++;
	}
	if (col > 0)
		fputc('\n', f);
}

static void print_command_list(FILE *f, const char *group)
{
	char name[64];

	for (size_t i = 0; i < sbctl_ncommands; i++) {
		const struct sbctl_command *c = &sbctl_commands[i];
		char line[96];

		if (group != NULL &&
		    (c->group == NULL || strcmp(c->group, group) != 0))
			continue;
		snprintf(line, sizeof(line), "%s%s%s",
			 full_name(c, name, sizeof(name)), c->args ? " " : "",
			 c->args ? c->args : "");
		fprintf(f, "  %-22s %s\n", line, c->summary);
	}
}

static void print_global_options(FILE *f)
{
	fprintf(f,
		"Global options:\n"
		"  -s, --socket PATH      the daemon's socket (default: "
		"$" SB_CLIENT_SOCKET_ENV ",\n"
		"                         else " SB_CLIENT_DEFAULT_SOCKET ")\n"
		"  --json                 print the daemon's JSON reply\n"
		"  -h, --help             show help; 'sbctl COMMAND --help' "
		"for one command\n"
		"  -V, --version          print sbctl's version\n");
}

void sbctl_print_help(FILE *f, const struct sbctl_args *a)
{
	const struct sbctl_command *c = a ? a->cmd : NULL;

	if (c != NULL) {
		print_command_usage(f, c);
		fputc('\n', f);
		print_wrapped(f, c->help, 0);
		if (c->opts)
			fprintf(f, "\nOptions:\n");
		if (c->opts & SBCTL_OPT_PASSWORD_FILE)
			fprintf(f, "  --password-file F      read the password "
				   "from the first line of F\n"
				   "                         (a file group or "
				   "others can read is refused)\n");
		if (c->opts & SBCTL_OPT_HINT)
			fprintf(f,
				"  --hint TEXT            store TEXT in clear "
				"in the backup as a password hint\n");
		if (c->opts & SBCTL_OPT_FORCE)
			fprintf(f,
				"  --force                replace FILE if it "
				"exists\n");
		fputc('\n', f);
		print_global_options(f);
		return;
	}
	if (a != NULL && a->group != NULL) {
		fprintf(f,
			"usage: sbctl [-s SOCKET] [--json] %s COMMAND "
			"[ARGS]\n\nCommands:\n",
			a->group);
		print_command_list(f, a->group);
		fprintf(f, "\n");
		print_global_options(f);
		return;
	}
	fprintf(f, "usage: sbctl [-s SOCKET] [--json] COMMAND [ARGS]\n\n"
		   "Administers secretbrokerd through its API on a Unix "
		   "socket.\n\nCommands:\n");
	print_command_list(f, NULL);
	fprintf(f, "\n");
	print_global_options(f);
	fprintf(f, "\nExit status: 0 success, 1 the daemon refused or an error "
		   "occurred,\n2 usage error, 3 cannot connect to the "
		   "daemon.\n");
}
