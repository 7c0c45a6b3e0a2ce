/* unit.client.args: sbctl's command-line parser (client/sbctl_args.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbctl_args.h"

#define MAX_ARGS 24

/* getopt permutes argv and the parser keeps pointers into it, so each case
 * gets its own writable copy that lives until the next parse. */
static char *argv_copy[MAX_ARGS + 1];
static char err[256];

static int parse(struct sbctl_args *a, ...)
{
	va_list ap;
	int argc = 0;
	const char *s;

	for (int i = 0; i < MAX_ARGS; i++) {
		free(argv_copy[i]);
		argv_copy[i] = NULL;
	}
	argv_copy[argc++] = strdup("sbctl");
	va_start(ap, a);
	while ((s = va_arg(ap, const char *)) != NULL && argc < MAX_ARGS)
		argv_copy[argc++] = strdup(s);
	va_end(ap);
	argv_copy[argc] = NULL;
	err[0] = '\0';
	return sbctl_args_parse(argc, argv_copy, a, err, sizeof(err));
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_ARGS; i++) {
		free(argv_copy[i]);
		argv_copy[i] = NULL;
	}
	return 0;
}

static void test_status_plain(void **state)
{
	struct sbctl_args a;

	(void)state;
	assert_int_equal(parse(&a, "status", NULL), 0);
	assert_non_null(a.cmd);
	assert_int_equal(a.cmd->id, SBCTL_CMD_STATUS);
	assert_null(a.socket);
	assert_int_equal(a.json, 0);
	assert_int_equal(a.help, 0);
}

static void test_global_options_before_and_after(void **state)
{
	struct sbctl_args a;

	(void)state;
	assert_int_equal(
		parse(&a, "-s", "/tmp/x.sock", "--json", "status", NULL), 0);
	assert_string_equal(a.socket, "/tmp/x.sock");
	assert_int_equal(a.json, 1);
	assert_int_equal(parse(&a, "secret", "status", "--json", "--socket",
			       "/tmp/y.sock", NULL),
			 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_SECRET_STATUS);
	assert_string_equal(a.socket, "/tmp/y.sock");
	assert_int_equal(a.json, 1);
	assert_int_equal(parse(&a, "--socket=/tmp/z.sock", "status", NULL), 0);
	assert_string_equal(a.socket, "/tmp/z.sock");
}

static void test_backup_full(void **state)
{
	struct sbctl_args a;

	(void)state;
	assert_int_equal(parse(&a, "secret", "backup", "/tmp/b.sbk",
			       "--password-file", "/tmp/pw", "--hint",
			       "the usual, reversed", "--force", NULL),
			 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_SECRET_BACKUP);
	assert_string_equal(a.file, "/tmp/b.sbk");
	assert_string_equal(a.password_file, "/tmp/pw");
	assert_string_equal(a.hint, "the usual, reversed");
	assert_int_equal(a.force, 1);
	/* An empty hint is a hint the user chose to leave empty. */
	assert_int_equal(parse(&a, "secret", "backup", "f", "--hint", "", NULL),
			 0);
	assert_string_equal(a.hint, "");
	/* A value that looks like an option is still the value. */
	assert_int_equal(
		parse(&a, "secret", "backup", "f", "--hint", "-x", NULL), 0);
	assert_string_equal(a.hint, "-x");
	/* "--" ends the options: a file named like one. */
	assert_int_equal(parse(&a, "secret", "backup", "--", "--force", NULL),
			 0);
	assert_string_equal(a.file, "--force");
	assert_int_equal(a.force, 0);
}

static void test_hint_restore_generate(void **state)
{
	struct sbctl_args a;

	(void)state;
	assert_int_equal(parse(&a, "secret", "hint", "b.sbk", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_SECRET_HINT);
	assert_string_equal(a.file, "b.sbk");
	assert_int_equal(parse(&a, "secret", "restore", "b.sbk",
			       "--password-file", "pw", NULL),
			 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_SECRET_RESTORE);
	assert_string_equal(a.password_file, "pw");
	assert_int_equal(parse(&a, "secret", "generate", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_SECRET_GENERATE);
	assert_null(a.file);
}

static void test_help_forms(void **state)
{
	struct sbctl_args a;

	(void)state;
	assert_int_equal(parse(&a, "--help", NULL), 0);
	assert_int_equal(a.help, 1);
	assert_null(a.cmd);
	assert_null(a.group);
	assert_int_equal(parse(&a, "secret", "-h", NULL), 0);
	assert_int_equal(a.help, 1);
	assert_null(a.cmd);
	assert_string_equal(a.group, "secret");
	/* Help on a command needs none of its arguments. */
	assert_int_equal(parse(&a, "secret", "backup", "--help", NULL), 0);
	assert_int_equal(a.help, 1);
	assert_int_equal(a.cmd->id, SBCTL_CMD_SECRET_BACKUP);
	assert_int_equal(parse(&a, "help", "secret", "restore", NULL), 0);
	assert_int_equal(a.help, 1);
	assert_int_equal(a.cmd->id, SBCTL_CMD_SECRET_RESTORE);
	assert_int_equal(parse(&a, "help", NULL), 0);
	assert_int_equal(a.help, 1);
	assert_int_equal(parse(&a, "-V", NULL), 0);
	assert_int_equal(a.version, 1);
}

/* Each usage error fails with a message naming what is wrong. */
static void expect_error(const char *needle, int rc)
{
	assert_int_equal(rc, -1);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_usage_errors(void **state)
{
	struct sbctl_args a;

	(void)state;
	expect_error("no command", parse(&a, NULL));
	expect_error("no command", parse(&a, "--json", NULL));
	expect_error("unknown command 'frobnicate'",
		     parse(&a, "frobnicate", NULL));
	expect_error("'secret' needs a command", parse(&a, "secret", NULL));
	expect_error("unknown command 'secret frobnicate'",
		     parse(&a, "secret", "frobnicate", NULL));
	expect_error("needs FILE", parse(&a, "secret", "rotate", NULL));
	expect_error("needs FILE", parse(&a, "secret", "backup", NULL));
	expect_error("needs FILE", parse(&a, "secret", "hint", NULL));
	expect_error("needs FILE", parse(&a, "secret", "restore", "", NULL));
	expect_error("too many arguments",
		     parse(&a, "secret", "hint", "a", "b", NULL));
	expect_error("too many arguments for 'status': 'extra'",
		     parse(&a, "status", "extra", NULL));
	expect_error("--force does not apply to 'secret restore'",
		     parse(&a, "secret", "restore", "f", "--force", NULL));
	expect_error("--hint does not apply to 'secret restore'",
		     parse(&a, "secret", "restore", "f", "--hint", "h", NULL));
	expect_error(
		"--password-file does not apply to 'secret hint'",
		parse(&a, "secret", "hint", "f", "--password-file", "p", NULL));
	expect_error("--password-file does not apply to 'status'",
		     parse(&a, "status", "--password-file", "p", NULL));
	expect_error("--password-file needs a file name",
		     parse(&a, "secret", "restore", "f", "--password-file", "",
			   NULL));
	expect_error("unknown option --bogus",
		     parse(&a, "status", "--bogus", NULL));
	expect_error("unknown option -x", parse(&a, "-x", "status", NULL));
	expect_error("option -s needs a value",
		     parse(&a, "status", "-s", NULL));
	expect_error("option --hint needs a value",
		     parse(&a, "secret", "backup", "f", "--hint", NULL));
	expect_error("empty string", parse(&a, "-s", "", "status", NULL));
	/* Longer than sun_path: refused here, not as a connect failure. */
	{
		char longpath[200];

		memset(longpath, 'a', sizeof(longpath) - 1);
		longpath[0] = '/';
		longpath[sizeof(longpath) - 1] = '\0';
		expect_error("longer than",
			     parse(&a, "-s", longpath, "status", NULL));
	}
}

/* health and cluster: NODE is taken as given (node names are free text in
 * the daemon's config), but never empty and never longer than a node name
 * may be; --yes is designate's only option. */
static void test_cluster_commands(void **state)
{
	struct sbctl_args a;
	char longname[SBCTL_NODE_NAME_MAX + 2];

	(void)state;
	assert_int_equal(parse(&a, "health", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_HEALTH);
	assert_int_equal(parse(&a, "--json", "health", NULL), 0);
	assert_int_equal(a.json, 1);
	assert_int_equal(a.quiet, 0);
	assert_int_equal(parse(&a, "health", "--quiet", NULL), 0);
	assert_int_equal(a.quiet, 1);
	assert_int_equal(parse(&a, "--quiet", "health", NULL), 0);
	assert_int_equal(a.quiet, 1);
	assert_int_equal(parse(&a, "cluster", "status", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_CLUSTER_STATUS);
	assert_int_equal(
		parse(&a, "cluster", "designate", "sso 2.example", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_CLUSTER_DESIGNATE);
	assert_string_equal(a.name, "sso 2.example");
	assert_int_equal(a.yes, 0);
	assert_int_equal(parse(&a, "cluster", "designate", "-y", "mss-b", NULL),
			 0);
	assert_int_equal(a.yes, 1);
	assert_string_equal(a.name, "mss-b");
	assert_int_equal(
		parse(&a, "cluster", "designate", "mss-b", "--yes", NULL), 0);
	assert_int_equal(a.yes, 1);
	memset(longname, 'n', SBCTL_NODE_NAME_MAX);
	longname[SBCTL_NODE_NAME_MAX] = '\0';
	assert_int_equal(parse(&a, "cluster", "designate", longname, NULL), 0);
	/* For resource agents: this node, no argument, no question. */
	assert_int_equal(parse(&a, "cluster", "promote", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_CLUSTER_PROMOTE);
	assert_int_equal(parse(&a, "--json", "cluster", "demote", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_CLUSTER_DEMOTE);
	assert_int_equal(a.json, 1);

	expect_error("'cluster' needs a command", parse(&a, "cluster", NULL));
	expect_error("unknown command 'cluster elect'",
		     parse(&a, "cluster", "elect", NULL));
	expect_error("too many arguments for 'cluster promote'",
		     parse(&a, "cluster", "promote", "mss-b", NULL));
	expect_error("--yes does not apply to 'cluster demote'",
		     parse(&a, "cluster", "demote", "--yes", NULL));
	expect_error("'cluster designate' needs NODE",
		     parse(&a, "cluster", "designate", NULL));
	expect_error("needs NODE, not an empty string",
		     parse(&a, "cluster", "designate", "", NULL));
	expect_error("too many arguments for 'cluster designate'",
		     parse(&a, "cluster", "designate", "a", "b", NULL));
	longname[SBCTL_NODE_NAME_MAX] = 'n';
	longname[SBCTL_NODE_NAME_MAX + 1] = '\0';
	expect_error("longer than the 200 bytes",
		     parse(&a, "cluster", "designate", longname, NULL));
	expect_error("--yes does not apply to 'cluster status'",
		     parse(&a, "cluster", "status", "--yes", NULL));
	expect_error("--yes does not apply to 'health'",
		     parse(&a, "health", "-y", NULL));
	expect_error("--force does not apply to 'cluster designate'",
		     parse(&a, "cluster", "designate", "x", "--force", NULL));
	expect_error("too many arguments for 'health'",
		     parse(&a, "health", "now", NULL));
	expect_error("'health' takes --quiet or --json, not both",
		     parse(&a, "health", "--quiet", "--json", NULL));
	expect_error("--quiet does not apply to 'status'",
		     parse(&a, "status", "--quiet", NULL));
}

/* Help text fits 80 columns and lists every command of the table. */
static void test_help_text(void **state)
{
	struct sbctl_args a;
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(parse(&a, "--help", NULL), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	sbctl_print_help(f, &a);
	for (size_t i = 0; i < sbctl_ncommands; i++) {
		struct sbctl_args one = {.cmd = &sbctl_commands[i], .help = 1};

		sbctl_print_help(f, &one);
	}
	fclose(f);
	assert_non_null(strstr(buf, "secret backup FILE"));
	assert_non_null(strstr(buf, "secret restore FILE"));
	assert_non_null(strstr(buf, "--password-file F"));
	assert_non_null(strstr(buf, "app create NAME --type TYPE"));
	assert_non_null(strstr(buf, "config set APP [KEY=VALUE...]"));
	assert_non_null(strstr(buf, "--show-masked"));
	assert_non_null(strstr(buf, "cluster designate NODE [--yes]"));
	assert_non_null(strstr(buf, "12 no master secret"));
	assert_non_null(strstr(buf, "Exit status"));
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save))
		if (strlen(line) > 80)
			fail_msg("help line over 80 columns: %s", line);
	free(buf);
}

static void test_app_commands(void **state)
{
	struct sbctl_args a;

	(void)state;
	assert_int_equal(parse(&a, "app", "create", "crm", "--type",
			       "individual", "--fields", "user,password:masked",
			       "--user-group", "crm_u", "--admin-group",
			       "crm_a", "--description", "the CRM", "--contact",
			       "ops@example", NULL),
			 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_APP_CREATE);
	assert_string_equal(a.name, "crm");
	assert_string_equal(a.type, "individual");
	assert_string_equal(a.fields, "user,password:masked");
	assert_string_equal(a.user_group, "crm_u");
	assert_string_equal(a.admin_group, "crm_a");
	assert_string_equal(a.description, "the CRM");
	assert_string_equal(a.contact, "ops@example");
	assert_int_equal(parse(&a, "app", "list", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_APP_LIST);
	assert_int_equal(a.npos, 0);
	assert_int_equal(parse(&a, "app", "show", "crm", "--json", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_APP_SHOW);
	assert_int_equal(a.json, 1);
	/* An empty --admin-group removes the group. */
	assert_int_equal(
		parse(&a, "app", "update", "crm", "--admin-group", "", NULL),
		0);
	assert_string_equal(a.admin_group, "");
	assert_int_equal(parse(&a, "app", "enable", "crm", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_APP_ENABLE);
	assert_int_equal(parse(&a, "app", "disable", "crm", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_APP_DISABLE);
	assert_int_equal(parse(&a, "app", "delete", "crm", NULL), 0);
	assert_int_equal(a.yes, 0);
	assert_int_equal(parse(&a, "app", "delete", "crm", "-y", NULL), 0);
	assert_int_equal(a.yes, 1);
	assert_int_equal(parse(&a, "app", "delete", "--yes", "crm", NULL), 0);
	assert_int_equal(a.yes, 1);
	assert_int_equal(parse(&a, "app", "import", "apps.json", NULL), 0);
	assert_string_equal(a.file, "apps.json");
}

static void test_cred_mapping_commands(void **state)
{
	struct sbctl_args a;

	(void)state;
	assert_int_equal(parse(&a, "cred", "set", "crm", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_CRED_SET);
	assert_null(a.user);
	assert_int_equal(a.use_stdin, 0);
	assert_int_equal(parse(&a, "cred", "set", "crm", "--user",
			       "alice@EXAMPLE", "--stdin", NULL),
			 0);
	assert_string_equal(a.user, "alice@EXAMPLE");
	assert_int_equal(a.use_stdin, 1);
	assert_int_equal(parse(&a, "cred", "get", "crm", "--show-masked",
			       "--no-cache", "--user", "bob", NULL),
			 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_CRED_GET);
	assert_int_equal(a.show_masked, 1);
	assert_int_equal(a.no_cache, 1);
	assert_int_equal(parse(&a, "mapping", "list", "--app", "crm", NULL), 0);
	assert_string_equal(a.app, "crm");
	assert_int_equal(parse(&a, "mapping", "list", "--user", "bob", NULL),
			 0);
	assert_string_equal(a.user, "bob");
	assert_int_equal(parse(&a, "mapping", "list", NULL), 0);
	assert_int_equal(
		parse(&a, "mapping", "disable", "crm", "--user", "bob", NULL),
		0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_MAPPING_DISABLE);
	assert_int_equal(
		parse(&a, "mapping", "enable", "crm", "--user", "bob", NULL),
		0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_MAPPING_ENABLE);
	assert_int_equal(parse(&a, "mapping", "delete", "crm", "--user", "bob",
			       "--yes", NULL),
			 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_MAPPING_DELETE);
	assert_int_equal(a.yes, 1);
}

static void test_config_cache_commands(void **state)
{
	struct sbctl_args a;

	(void)state;
	assert_int_equal(parse(&a, "config", "set", "cfg", "url=https://x",
			       "token=", "--id", "prod", NULL),
			 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_CONFIG_SET);
	assert_int_equal(a.npos, 3);
	assert_string_equal(a.pos[1], "url=https://x");
	assert_string_equal(a.pos[2], "token=");
	assert_string_equal(a.id, "prod");
	assert_int_equal(parse(&a, "config", "set", "cfg", "--stdin", NULL), 0);
	assert_int_equal(a.use_stdin, 1);
	assert_int_equal(parse(&a, "config", "get", "cfg", NULL), 0);
	assert_int_equal(a.npos, 1);
	assert_null(a.id);
	assert_int_equal(parse(&a, "config", "get", "cfg", "url", NULL), 0);
	assert_string_equal(a.pos[1], "url");
	assert_int_equal(
		parse(&a, "config", "delete", "cfg", "url", "--id", "x", NULL),
		0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_CONFIG_DELETE);
	assert_int_equal(parse(&a, "cache", "purge", NULL), 0);
	assert_int_equal(a.cmd->id, SBCTL_CMD_CACHE_PURGE);
	assert_null(a.name);
	assert_int_equal(parse(&a, "cache", "purge", "crm", NULL), 0);
	assert_string_equal(a.name, "crm");
}

static void test_store_usage_errors(void **state)
{
	struct sbctl_args a;

	(void)state;
	expect_error(
		"'app create' needs --type TYPE",
		parse(&a, "app", "create", "x", "--user-group", "g", NULL));
	expect_error("'app create' needs --user-group G",
		     parse(&a, "app", "create", "x", "--type", "group", NULL));
	expect_error("needs NAME", parse(&a, "app", "show", NULL));
	expect_error("too many arguments for 'app show': 'b'",
		     parse(&a, "app", "show", "a", "b", NULL));
	expect_error("\"a/b\" is not an application name",
		     parse(&a, "app", "show", "a/b", NULL));
	expect_error("\"..\" is not an application name",
		     parse(&a, "app", "enable", "..", NULL));
	expect_error("'app update' needs something to change",
		     parse(&a, "app", "update", "crm", NULL));
	expect_error(
		"--type does not apply to 'app update'",
		parse(&a, "app", "update", "crm", "--type", "group", NULL));
	expect_error("--yes does not apply to 'app enable'",
		     parse(&a, "app", "enable", "crm", "--yes", NULL));
	expect_error("--stdin does not apply to 'cred get'",
		     parse(&a, "cred", "get", "crm", "--stdin", NULL));
	expect_error("--show-masked does not apply to 'cred set'",
		     parse(&a, "cred", "set", "crm", "--show-masked", NULL));
	/* Credentials never come from argv: no such argument exists. */
	expect_error("too many arguments for 'cred set': 'password=x'",
		     parse(&a, "cred", "set", "crm", "password=x", NULL));
	expect_error(
		"--user \"bob smith\" is not a user or group name",
		parse(&a, "cred", "get", "crm", "--user", "bob smith", NULL));
	expect_error("'mapping disable' needs --user U",
		     parse(&a, "mapping", "disable", "crm", NULL));
	expect_error("'mapping list' takes --app or --user, not both",
		     parse(&a, "mapping", "list", "--app", "a", "--user", "u",
			   NULL));
	expect_error("--app \"a b\" is not an application name",
		     parse(&a, "mapping", "list", "--app", "a b", NULL));
	expect_error("'config set' needs KEY=VALUE arguments or --stdin",
		     parse(&a, "config", "set", "cfg", NULL));
	expect_error("not both",
		     parse(&a, "config", "set", "cfg", "k=v", "--stdin", NULL));
	expect_error("\"k/x\" is not a config key",
		     parse(&a, "config", "get", "cfg", "k/x", NULL));
	expect_error("needs APP KEY",
		     parse(&a, "config", "delete", "cfg", NULL));
	expect_error("--id \"a b\" is not a config id",
		     parse(&a, "config", "get", "cfg", "--id", "a b", NULL));
	expect_error("too many arguments for 'cache purge'",
		     parse(&a, "cache", "purge", "a", "b", NULL));
	expect_error("'app' needs a command", parse(&a, "app", NULL));
	expect_error("unknown command 'cred delete'",
		     parse(&a, "cred", "delete", "x", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_status_plain, teardown),
		cmocka_unit_test_teardown(test_global_options_before_and_after,
					  teardown),
		cmocka_unit_test_teardown(test_backup_full, teardown),
		cmocka_unit_test_teardown(test_hint_restore_generate, teardown),
		cmocka_unit_test_teardown(test_help_forms, teardown),
		cmocka_unit_test_teardown(test_usage_errors, teardown),
		cmocka_unit_test_teardown(test_help_text, teardown),
		cmocka_unit_test_teardown(test_app_commands, teardown),
		cmocka_unit_test_teardown(test_cred_mapping_commands, teardown),
		cmocka_unit_test_teardown(test_config_cache_commands, teardown),
		cmocka_unit_test_teardown(test_store_usage_errors, teardown),
		cmocka_unit_test_teardown(test_cluster_commands, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
