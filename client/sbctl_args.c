/* sbctl's command table and argument parser: see sbctl_args.h. */
#define _GNU_SOURCE
#include "sbctl_args.h"

#include <secretbroker/client.h>

#include <getopt.h>
#include <stdarg.h>
#include <string.h>
#include <sys/un.h>

#define ALL_ANY (-1)

const struct sbctl_command sbctl_commands[] = {
	{.id = SBCTL_CMD_STATUS,
	 .name = "status",
	 .summary = "show the daemon's version, role, plugins and config",
	 .help = "Shows the daemon's version and uptime, its node name and "
		 "role, the fencing state and epoch, the loaded plugins with "
		 "their versions, the configuration file and generation, and "
		 "the result of the last reload (SIGHUP) with its errors and "
		 "the keys that need a restart."},
	{.id = SBCTL_CMD_HEALTH,
	 .name = "health",
	 .opts = SBCTL_OPT_QUIET,
	 .summary = "is this node the active MSS? (exit status for scripts)",
	 .help = "Asks the daemon for its health (GET /v1/health, which "
		 "never touches the SSO database) and prints its status, "
		 "node, role and fencing epoch. The exit status tells it to "
		 "scripts and cluster managers (keepalived's vrrp_script, "
		 "Pacemaker monitors): 0 the active master secret server, 10 "
		 "a standby master secret server, 11 a member node, 12 a node "
		 "that holds no master secret, 13 a master secret server "
		 "(active or standby) whose last call to the SSO database "
		 "found it unreachable, 3 cannot connect, 1 any other "
		 "failure. With --quiet nothing is printed on standard output "
		 "(errors still go to standard error). Anyone who can open "
		 "the socket may run it."},
	{.id = SBCTL_CMD_SECRET_GENERATE,
	 .group = "secret",
	 .name = "generate",
	 .summary = "generate the first master secret",
	 .help = "Generates the master secret on this node and prints its id "
		 "(MSID). Refused when a secret exists. Back it up at once "
		 "with 'sbctl secret backup FILE'. Needs membership of the "
		 "sso_admins group (or root)."},
	{.id = SBCTL_CMD_SECRET_STATUS,
	 .group = "secret",
	 .name = "status",
	 .summary = "show the secret's MSID, age, backup state and role",
	 .help = "Shows the master secret's id (MSID), when it was created "
		 "and its age, whether a backup was ever made (with a warning "
		 "while none has been) and this node's role. Needs membership "
		 "of the sso_admins group (or root)."},
	{.id = SBCTL_CMD_SECRET_BACKUP,
	 .group = "secret",
	 .name = "backup",
	 .args = "FILE",
	 .min_args = 1,
	 .max_args = 1,
	 .opts = SBCTL_OPT_PASSWORD_FILE | SBCTL_OPT_HINT | SBCTL_OPT_FORCE,
	 .summary = "write the secret, encrypted with a password, to FILE",
	 .help = "Asks the daemon for a backup of the master secret encrypted "
		 "with a password, and writes it to FILE (mode 0600, "
		 "atomically). The password is asked twice on the terminal "
		 "without echo, unless --password-file gives it. The hint is "
		 "stored in clear in the file ('sbctl secret hint FILE' shows "
		 "it). An existing FILE is only replaced with --force. Needs "
		 "membership of the sso_admins group (or root)."},
	{.id = SBCTL_CMD_SECRET_HINT,
	 .group = "secret",
	 .name = "hint",
	 .args = "FILE",
	 .min_args = 1,
	 .max_args = 1,
	 .summary = "print the password hint stored in a backup FILE",
	 .help = "Prints the password hint stored in clear in the backup "
		 "FILE. No password is needed."},
	{.id = SBCTL_CMD_SECRET_RESTORE,
	 .group = "secret",
	 .name = "restore",
	 .args = "FILE",
	 .min_args = 1,
	 .max_args = 1,
	 .opts = SBCTL_OPT_PASSWORD_FILE,
	 .summary = "restore the master secret on this node from FILE",
	 .help = "Sends the backup FILE and its password to the daemon, which "
		 "installs the master secret on this node and seals it. The "
		 "password is asked once on the terminal without echo, unless "
		 "--password-file gives it. A wrong password, a damaged or "
		 "foreign file, and a backup that does not belong to this SSO "
		 "database are each refused and nothing changes. Needs "
		 "membership of the sso_admins group (or root)."},
	{.id = SBCTL_CMD_SECRET_ROTATE,
	 .group = "secret",
	 .name = "rotate",
	 .args = "FILE",
	 .min_args = 1,
	 .max_args = 1,
	 .opts = SBCTL_OPT_PASSWORD_FILE | SBCTL_OPT_HINT | SBCTL_OPT_FORCE,
	 .summary = "back up a new secret to FILE, then make it current",
	 .help = "Generates a new master secret on the active master secret "
		 "server and writes its backup (the new secret and the "
		 "current one, encrypted with a password) to FILE (mode "
		 "0600, atomically) before the new secret becomes current; "
		 "without the backup there is no rotation. Then the daemon "
		 "re-encrypts every credential in the background (see 'sbctl "
		 "secret status') and retires the old secret once all are "
		 "done. The password is asked twice on the terminal without "
		 "echo, unless --password-file gives it. Restore FILE on "
		 "every other master secret server node. A standby or a "
		 "member node refuses, naming the active one. Needs "
		 "membership of the sso_admins group (or root)."},

	{.id = SBCTL_CMD_CLUSTER_STATUS,
	 .group = "cluster",
	 .name = "status",
	 .summary = "show the active MSS, the lease and the nodes",
	 .help = "Shows the cluster as this node sees it: this node's role, "
		 "fencing state and epoch, and the time left before it "
		 "fences itself unless its lease is renewed; the active "
		 "master secret server recorded in the SSO database (node, "
		 "address, epoch, since when); the fencing lease as the "
		 "storage holds it (holder, epoch, time left); and every "
		 "node that has reported in, with its role, state, epoch, "
		 "address, version and when it last did, marked stale when "
		 "not seen for more than 15 seconds. Any user who can open "
		 "the socket may run it."},
	{.id = SBCTL_CMD_CLUSTER_DESIGNATE,
	 .group = "cluster",
	 .name = "designate",
	 .args = "NODE",
	 .min_args = 1,
	 .max_args = 1,
	 .opts = SBCTL_OPT_YES,
	 .summary = "make NODE the active MSS (run it on NODE)",
	 .help = "Makes NODE the active master secret server (ENTSSO's "
		 "'designate a new master secret server manually'), in a "
		 "cluster whose fencing plugin takes orders (manual) rather "
		 "than electing the master secret server by itself (lease: "
		 "refused, automatic_failover). Run it against NODE's own "
		 "daemon: a daemon refuses to designate another node "
		 "(wrong_node). NODE takes a new, larger fencing epoch and "
		 "records itself in the SSO database; the node active before "
		 "steps down by itself, and the storage refuses its writes "
		 "from then on. Asks for confirmation on the terminal unless "
		 "--yes. Needs membership of the sso_admins group (or root)."},
	{.id = SBCTL_CMD_CLUSTER_PROMOTE,
	 .group = "cluster",
	 .name = "promote",
	 .summary = "make this node the active MSS (for resource agents)",
	 .help = "Makes the node whose daemon answers the active master "
		 "secret server, as 'cluster designate' does for that node, "
		 "without asking: what a cluster manager's resource agent "
		 "runs on the node it promotes (the pacemaker fencing "
		 "plugin's OCF agent). The node takes a new, larger fencing "
		 "epoch and records itself in the SSO database; on a node "
		 "that is active already it only records itself again. "
		 "Refused (automatic_failover) with a fencing plugin that "
		 "elects the master secret server by itself. Needs "
		 "membership of the sso_admins group (or root)."},
	{.id = SBCTL_CMD_CLUSTER_DEMOTE,
	 .group = "cluster",
	 .name = "demote",
	 .summary = "make this node a standby MSS (for resource agents)",
	 .help = "Makes the node whose daemon answers a standby master "
		 "secret server: it refuses writes at once and releases its "
		 "fencing lease. A standby node answers the same. What a "
		 "cluster manager's resource agent runs on the node it "
		 "demotes. Refused (automatic_failover) with a fencing "
		 "plugin that elects the master secret server by itself. "
		 "Needs membership of the sso_admins group (or root)."},

	{.id = SBCTL_CMD_APP_CREATE,
	 .group = "app",
	 .name = "create",
	 .args = "NAME",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .opts = SBCTL_OPT_TYPE | SBCTL_OPT_FIELDS | SBCTL_OPT_USER_GROUP |
		 SBCTL_OPT_ADMIN_GROUP | SBCTL_OPT_DESCRIPTION |
		 SBCTL_OPT_CONTACT,
	 .required = SBCTL_OPT_TYPE | SBCTL_OPT_USER_GROUP,
	 .summary = "create an affiliate application (disabled)",
	 .help = "Creates the affiliate application NAME. Its name, type and "
		 "fields are fixed at creation. --type individual: each user "
		 "has their own credentials; group: one set of credentials for "
		 "the whole user group; config-store: encrypted key/values "
		 "instead of credentials (no --fields). --fields lists the "
		 "fields of the credentials in order, the first being the "
		 "external user name; ':masked' marks a field whose value is "
		 "hidden unless asked for, e.g. --fields user,password:masked. "
		 "Members of the --user-group look up and set their own "
		 "credentials; members of the --admin-group manage everyone's. "
		 "A new application is disabled: enable it with 'sbctl app "
		 "enable NAME'. Needs an SSO affiliate administrator."},
	{.id = SBCTL_CMD_APP_LIST,
	 .group = "app",
	 .name = "list",
	 .summary = "list the applications you may see",
	 .help = "Lists the affiliate applications with their type, state "
		 "and description: all of them for SSO and affiliate "
		 "administrators, for anyone else those whose user or "
		 "administrators' group they are in."},
	{.id = SBCTL_CMD_APP_SHOW,
	 .group = "app",
	 .name = "show",
	 .args = "NAME",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .summary = "show an application's definition",
	 .help = "Shows the application NAME: type, state, description, "
		 "contact, its groups, its fields (masked or not) and when it "
		 "was created and last changed. Needs membership of its user "
		 "or administrators' group, or an SSO or affiliate "
		 "administrator."},
	{.id = SBCTL_CMD_APP_UPDATE,
	 .group = "app",
	 .name = "update",
	 .args = "NAME",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .opts = SBCTL_OPT_DESCRIPTION | SBCTL_OPT_CONTACT |
		 SBCTL_OPT_USER_GROUP | SBCTL_OPT_ADMIN_GROUP,
	 .summary = "change an application's description, contact or groups",
	 .help = "Changes what is given of the application's description, "
		 "contact, user group and administrators' group (an empty "
		 "--admin-group \"\" removes it). Name, type and fields cannot "
		 "change. Needs an SSO affiliate administrator."},
	{.id = SBCTL_CMD_APP_ENABLE,
	 .group = "app",
	 .name = "enable",
	 .args = "NAME",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .summary = "enable an application",
	 .help = "Enables the application NAME: lookups of its credentials "
		 "are served. Needs an SSO affiliate administrator."},
	{.id = SBCTL_CMD_APP_DISABLE,
	 .group = "app",
	 .name = "disable",
	 .args = "NAME",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .summary = "disable an application",
	 .help = "Disables the application NAME: every lookup of its "
		 "credentials is refused (app_disabled) until it is enabled "
		 "again; nothing is deleted. Needs an SSO affiliate "
		 "administrator."},
	{.id = SBCTL_CMD_APP_DELETE,
	 .group = "app",
	 .name = "delete",
	 .args = "NAME",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .opts = SBCTL_OPT_YES,
	 .summary = "delete an application with its mappings and config",
	 .help = "Deletes the application NAME together with all its "
		 "credential mappings and its config store, at once. Asks for "
		 "confirmation on the terminal unless --yes is given; without "
		 "a terminal and without --yes it refuses. Needs an SSO "
		 "affiliate administrator."},
	{.id = SBCTL_CMD_APP_IMPORT,
	 .group = "app",
	 .name = "import",
	 .args = "FILE.json",
	 .min_args = 1,
	 .max_args = 1,
	 .summary = "create the applications defined in a JSON file",
	 .help = "Creates every application defined in FILE.json, which "
		 "holds {\"apps\": [...]} or a bare array of application "
		 "definitions as the API takes them (name, type, fields, "
		 "user_group, admin_group, description, contact). All or "
		 "nothing: one invalid or existing application and none is "
		 "created. Needs an SSO affiliate administrator."},

	{.id = SBCTL_CMD_CRED_SET,
	 .group = "cred",
	 .name = "set",
	 .args = "APP",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .opts = SBCTL_OPT_USER | SBCTL_OPT_STDIN,
	 .summary = "set credentials (prompted, or JSON on stdin)",
	 .help = "Stores the credentials of a user for the application APP: "
		 "your own by default (for a group application, those of its "
		 "user group), another identity's with --user (application "
		 "administrators). The value of each field is asked on the "
		 "terminal, masked fields without echo and twice; with --stdin "
		 "they are read as one JSON object from standard input, e.g. "
		 "{\"user\": \"bob\", \"password\": \"...\"}. Values are never "
		 "taken from the command line."},
	{.id = SBCTL_CMD_CRED_GET,
	 .group = "cred",
	 .name = "get",
	 .args = "APP",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .opts = SBCTL_OPT_USER | SBCTL_OPT_SHOW_MASKED | SBCTL_OPT_NO_CACHE,
	 .summary = "look up credentials",
	 .help = "Looks up your credentials for the application APP, as an "
		 "application would (for a group application, those of its "
		 "user group). Masked fields show as ******** unless "
		 "--show-masked is given. --user looks up another identity's "
		 "(application administrators). --no-cache bypasses the "
		 "daemon's cache of encrypted records for this lookup. A "
		 "disabled application or mapping is refused with its own "
		 "code (app_disabled, mapping_disabled)."},

	{.id = SBCTL_CMD_MAPPING_LIST,
	 .group = "mapping",
	 .name = "list",
	 .opts = SBCTL_OPT_APP | SBCTL_OPT_USER,
	 .summary = "list the credential mappings of an app or a user",
	 .help = "Lists credential mappings with their state and when they "
		 "last changed: with --app APP every mapping of that "
		 "application (its administrators), with --user U the "
		 "mappings of that user (U, or an administrator: application "
		 "administrators see their applications' only), with neither "
		 "your own."},
	{.id = SBCTL_CMD_MAPPING_ENABLE,
	 .group = "mapping",
	 .name = "enable",
	 .args = "APP",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .opts = SBCTL_OPT_USER,
	 .required = SBCTL_OPT_USER,
	 .summary = "enable a user's credentials for an application",
	 .help = "Enables the credentials of --user U (for a group "
		 "application, its user group) for the application APP. "
		 "Needs the application's administrators' group."},
	{.id = SBCTL_CMD_MAPPING_DISABLE,
	 .group = "mapping",
	 .name = "disable",
	 .args = "APP",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .opts = SBCTL_OPT_USER,
	 .required = SBCTL_OPT_USER,
	 .summary = "disable a user's credentials for an application",
	 .help = "Disables the credentials of --user U for the application "
		 "APP: their lookups are refused (mapping_disabled) until the "
		 "mapping is enabled again; nothing is deleted. Needs the "
		 "application's administrators' group."},
	{.id = SBCTL_CMD_MAPPING_DELETE,
	 .group = "mapping",
	 .name = "delete",
	 .args = "APP",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .opts = SBCTL_OPT_USER | SBCTL_OPT_YES,
	 .required = SBCTL_OPT_USER,
	 .summary = "delete a user's credentials for an application",
	 .help = "Deletes the credentials of --user U for the application "
		 "APP. Asks for confirmation on the terminal unless --yes is "
		 "given; without a terminal and without --yes it refuses. "
		 "Needs the application's administrators' group."},

	{.id = SBCTL_CMD_CONFIG_SET,
	 .group = "config",
	 .name = "set",
	 .args = "APP [KEY=VALUE...]",
	 .min_args = 1,
	 .max_args = ALL_ANY,
	 .pos = SBCTL_POS_APP,
	 .opts = SBCTL_OPT_ID | SBCTL_OPT_STDIN,
	 .summary = "set config values of a config-store application",
	 .help = "Stores the KEY=VALUE pairs, encrypted, in the config store "
		 "of the config-store application APP under the id --id "
		 "(default \"default\"); other keys keep their values. With "
		 "--stdin the pairs are read as one JSON object from standard "
		 "input instead, e.g. {\"url\": \"...\", \"token\": \"...\"}, "
		 "which keeps them out of the command line. Needs the "
		 "application's administrators' group."},
	{.id = SBCTL_CMD_CONFIG_GET,
	 .group = "config",
	 .name = "get",
	 .args = "APP [KEY]",
	 .min_args = 1,
	 .max_args = 2,
	 .pos = SBCTL_POS_APP | SBCTL_POS_KEY,
	 .opts = SBCTL_OPT_ID,
	 .summary = "print config values of a config-store application",
	 .help = "Prints the config values stored under --id (default "
		 "\"default\") for the config-store application APP, one "
		 "KEY=VALUE per line, or only the value of KEY. Needs the "
		 "application's user or administrators' group."},
	{.id = SBCTL_CMD_CONFIG_DELETE,
	 .group = "config",
	 .name = "delete",
	 .args = "APP KEY",
	 .min_args = 2,
	 .max_args = 2,
	 .pos = SBCTL_POS_APP | SBCTL_POS_KEY,
	 .opts = SBCTL_OPT_ID,
	 .summary = "delete a config value",
	 .help = "Deletes KEY from the config store of the application APP "
		 "under --id (default \"default\"). Needs the application's "
		 "administrators' group."},

	{.id = SBCTL_CMD_CACHE_PURGE,
	 .group = "cache",
	 .name = "purge",
	 .args = "[APP]",
	 .min_args = 0,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .summary = "empty this node's credential cache",
	 .help = "Empties the daemon's cache of encrypted records on this "
		 "node, so that the next lookups read the SSO database: for "
		 "every application (an SSO administrator), or for APP (its "
		 "administrators). Writes made on this node invalidate the "
		 "cache by themselves; this is for changes made elsewhere."},

	{.id = SBCTL_CMD_TICKET_ISSUE,
	 .group = "ticket",
	 .name = "issue",
	 .args = "APP",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .summary = "get a single-use ticket for your credentials of an app",
	 .help = "Asks for a ticket for your credentials of the application "
		 "APP (for a group application, its user group's) and prints "
		 "it on one line: hand it to a trusted service, which redeems "
		 "it once for those credentials within [tickets] ttl_s "
		 "seconds (60 by default). Needs the application's users' "
		 "group and an enabled mapping."},
	{.id = SBCTL_CMD_TICKET_REDEEM,
	 .group = "ticket",
	 .name = "redeem",
	 .args = "APP",
	 .min_args = 1,
	 .max_args = 1,
	 .pos = SBCTL_POS_APP,
	 .summary = "redeem a ticket (read from stdin) for credentials",
	 .help = "Reads a ticket from the first line of standard input (never "
		 "from the command line: it is as good as the credentials "
		 "until redeemed or expired) and redeems it for the "
		 "credentials of the application APP it was issued for, "
		 "masked values in clear. A ticket redeems once; a second "
		 "redemption (ticket_redeemed), an expired ticket "
		 "(ticket_expired), a ticket for another application "
		 "(ticket_wrong_app) and an unknown one (ticket_unknown) are "
		 "refused. Needs the [access] ticket_redeemers group (or a "
		 "certificate identity in tls_ticket_redeemers)."},
};
const size_t sbctl_ncommands =
	sizeof(sbctl_commands) / sizeof(sbctl_commands[0]);

enum {
	OPT_JSON = 256,
	OPT_PASSWORD_FILE,
	OPT_HINT,
	OPT_FORCE,
	OPT_TYPE,
	OPT_FIELDS,
	OPT_USER_GROUP,
	OPT_ADMIN_GROUP,
	OPT_DESCRIPTION,
	OPT_CONTACT,
	OPT_YES,
	OPT_USER,
	OPT_APP,
	OPT_ID,
	OPT_STDIN,
	OPT_SHOW_MASKED,
	OPT_NO_CACHE,
	OPT_QUIET,
};

static const struct option long_options[] = {
	{"socket", required_argument, NULL, 's'},
	{"json", no_argument, NULL, OPT_JSON},
	{"password-file", required_argument, NULL, OPT_PASSWORD_FILE},
	{"hint", required_argument, NULL, OPT_HINT},
	{"force", no_argument, NULL, OPT_FORCE},
	{"type", required_argument, NULL, OPT_TYPE},
	{"fields", required_argument, NULL, OPT_FIELDS},
	{"user-group", required_argument, NULL, OPT_USER_GROUP},
	{"admin-group", required_argument, NULL, OPT_ADMIN_GROUP},
	{"description", required_argument, NULL, OPT_DESCRIPTION},
	{"contact", required_argument, NULL, OPT_CONTACT},
	{"yes", no_argument, NULL, OPT_YES},
	{"user", required_argument, NULL, OPT_USER},
	{"app", required_argument, NULL, OPT_APP},
	{"id", required_argument, NULL, OPT_ID},
	{"stdin", no_argument, NULL, OPT_STDIN},
	{"show-masked", no_argument, NULL, OPT_SHOW_MASKED},
	{"no-cache", no_argument, NULL, OPT_NO_CACHE},
	{"quiet", no_argument, NULL, OPT_QUIET},
	{"help", no_argument, NULL, 'h'},
	{"version", no_argument, NULL, 'V'},
	{NULL, 0, NULL, 0},
};

/* The command-specific options: their bit, spelling in usage lines and
 * help line. In the order usage lines show them. */
struct opt_doc {
	unsigned bit;
	const char *name;  /* "--type" */
	const char *usage; /* "--type TYPE" */
	const char *help;  /* may hold "\n" + indent for a second line */
};

static const struct opt_doc opt_docs[] = {
	{SBCTL_OPT_TYPE, "--type", "--type TYPE",
	 "individual, group or config-store"},
	{SBCTL_OPT_FIELDS, "--fields", "--fields LIST",
	 "the fields in order, e.g. user,password:masked"},
	{SBCTL_OPT_USER_GROUP, "--user-group", "--user-group G",
	 "the Unix group of the application's users"},
	{SBCTL_OPT_ADMIN_GROUP, "--admin-group", "--admin-group G",
	 "the Unix group of its administrators"},
	{SBCTL_OPT_DESCRIPTION, "--description", "--description D",
	 "a description"},
	{SBCTL_OPT_CONTACT, "--contact", "--contact C", "whom to ask about it"},
	{SBCTL_OPT_APP, "--app", "--app APP", "the application"},
	{SBCTL_OPT_USER, "--user", "--user U",
	 "the user (for a group application: its user group)"},
	{SBCTL_OPT_ID, "--id", "--id ID",
	 "the config id (default \"default\")"},
	{SBCTL_OPT_STDIN, "--stdin", "--stdin",
	 "read the values as one JSON object from standard input"},
	{SBCTL_OPT_SHOW_MASKED, "--show-masked", "--show-masked",
	 "show masked values in clear"},
	{SBCTL_OPT_NO_CACHE, "--no-cache", "--no-cache",
	 "bypass the daemon's cache for this lookup"},
	{SBCTL_OPT_YES, "--yes", "--yes", "do not ask for confirmation"},
	{SBCTL_OPT_QUIET, "--quiet", "--quiet",
	 "print nothing on stdout: the exit status tells"},
	{SBCTL_OPT_PASSWORD_FILE, "--password-file", "--password-file F",
	 "read the password from the first line of F\n"
	 "                         (a file group or others can read is "
	 "refused)"},
	{SBCTL_OPT_HINT, "--hint", "--hint TEXT",
	 "store TEXT in clear in the backup as a password hint"},
	{SBCTL_OPT_FORCE, "--force", "--force", "replace FILE if it exists"},
};
#define N_OPT_DOCS (sizeof(opt_docs) / sizeof(opt_docs[0]))

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

static const struct opt_doc *opt_doc(unsigned bit)
{
	for (size_t i = 0; i < N_OPT_DOCS; i++)
		if (opt_docs[i].bit == bit)
			return &opt_docs[i];
	return NULL;
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

/* Records one command-specific option: its value (when it takes one) and
 * that it was given. */
static void take(struct sbctl_args *a, unsigned bit, const char **slot)
{
	a->seen |= bit;
	if (slot != NULL)
		*slot = optarg;
}

/* Reads the options into a. Returns 0, or -1 with err set. */
static int parse_options(int argc, char **argv, struct sbctl_args *a, char *err,
			 size_t errlen)
{
	int opt;

	/* optind 0 makes glibc's getopt start afresh, also when called again
	 * (the unit tests do). ':' first: report a missing value ourselves. */
	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":s:hVy", long_options, NULL)) !=
	       -1) {
		switch (opt) {
		case 's': a->socket = optarg; break;
		case OPT_JSON: a->json = 1; break;
		case OPT_PASSWORD_FILE:
			take(a, SBCTL_OPT_PASSWORD_FILE, &a->password_file);
			break;
		case OPT_HINT: take(a, SBCTL_OPT_HINT, &a->hint); break;
		case OPT_FORCE:
			take(a, SBCTL_OPT_FORCE, NULL);
			a->force = 1;
			break;
		case OPT_TYPE: take(a, SBCTL_OPT_TYPE, &a->type); break;
		case OPT_FIELDS: take(a, SBCTL_OPT_FIELDS, &a->fields); break;
		case OPT_USER_GROUP:
			take(a, SBCTL_OPT_USER_GROUP, &a->user_group);
			break;
		case OPT_ADMIN_GROUP:
			take(a, SBCTL_OPT_ADMIN_GROUP, &a->admin_group);
			break;
		case OPT_DESCRIPTION:
			take(a, SBCTL_OPT_DESCRIPTION, &a->description);
			break;
		case OPT_CONTACT:
			take(a, SBCTL_OPT_CONTACT, &a->contact);
			break;
		case 'y':
		case OPT_YES:
			take(a, SBCTL_OPT_YES, NULL);
			a->yes = 1;
			break;
		case OPT_USER: take(a, SBCTL_OPT_USER, &a->user); break;
		case OPT_APP: take(a, SBCTL_OPT_APP, &a->app); break;
		case OPT_ID: take(a, SBCTL_OPT_ID, &a->id); break;
		case OPT_STDIN:
			take(a, SBCTL_OPT_STDIN, NULL);
			a->use_stdin = 1;
			break;
		case OPT_SHOW_MASKED:
			take(a, SBCTL_OPT_SHOW_MASKED, NULL);
			a->show_masked = 1;
			break;
		case OPT_NO_CACHE:
			take(a, SBCTL_OPT_NO_CACHE, NULL);
			a->no_cache = 1;
			break;
		case OPT_QUIET:
			take(a, SBCTL_OPT_QUIET, NULL);
			a->quiet = 1;
			break;
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
	return 0;
}

/* Checks the names that go into request paths, so that a typo is a usage
 * error here rather than a request for some other path. */
static int check_names(const struct sbctl_args *a, const char *name, char *err,
		       size_t errlen)
{
	const struct sbctl_command *c = a->cmd;

	if ((c->pos & SBCTL_POS_APP) && a->npos >= 1 &&
	    !sb_client_valid_name(a->pos[0]))
		return usage_error(err, errlen,
				   "'%s': \"%s\" is not an application name "
				   "(1..64 characters of A-Z a-z 0-9 . _ -)",
				   name, a->pos[0]);
	if ((c->pos & SBCTL_POS_KEY) && a->npos >= 2 &&
	    !sb_client_valid_name(a->pos[1]))
		return usage_error(err, errlen,
				   "'%s': \"%s\" is not a config key (1..64 "
				   "characters of A-Z a-z 0-9 . _ -)",
				   name, a->pos[1]);
	if (a->app != NULL && !sb_client_valid_name(a->app))
		return usage_error(err, errlen,
				   "'%s': --app \"%s\" is not an application "
				   "name (1..64 characters of A-Z a-z 0-9 . _ "
				   "-)",
				   name, a->app);
	if (a->user != NULL && !sb_client_valid_identity(a->user))
		return usage_error(err, errlen,
				   "'%s': --user \"%s\" is not a user or group "
				   "name (1..64 characters of A-Z a-z 0-9 . _ "
				   "- @)",
				   name, a->user);
	if (a->id != NULL && !sb_client_valid_name(a->id))
		return usage_error(err, errlen,
				   "'%s': --id \"%s\" is not a config id "
				   "(1..64 characters of A-Z a-z 0-9 . _ -)",
				   name, a->id);
	return 0;
}

/* What a command needs beyond its table row. */
static int check_command(const struct sbctl_args *a, const char *name,
			 char *err, size_t errlen)
{
	switch (a->cmd->id) {
	case SBCTL_CMD_APP_UPDATE:
		if ((a->seen &
		     (SBCTL_OPT_DESCRIPTION | SBCTL_OPT_CONTACT |
		      SBCTL_OPT_USER_GROUP | SBCTL_OPT_ADMIN_GROUP)) == 0)
			return usage_error(err, errlen,
					   "'%s' needs something to change: "
					   "--description, --contact, "
					   "--user-group or --admin-group",
					   name);
		break;
	case SBCTL_CMD_MAPPING_LIST:
		if (a->app != NULL && a->user != NULL)
			return usage_error(err, errlen,
					   "'%s' takes --app or --user, not "
					   "both",
					   name);
		break;
	case SBCTL_CMD_CONFIG_SET:
		if (a->use_stdin && a->npos > 1)
			return usage_error(err, errlen,
					   "'%s' takes KEY=VALUE arguments or "
					   "--stdin, not both",
					   name);
		if (!a->use_stdin && a->npos < 2)
			return usage_error(err, errlen,
					   "'%s' needs KEY=VALUE arguments or "
					   "--stdin",
					   name);
		break;
	case SBCTL_CMD_HEALTH:
		/* --json prints the body; --quiet promises to print nothing. */
		if (a->quiet && a->json)
			return usage_error(err, errlen,
					   "'%s' takes --quiet or --json, not "
					   "both",
					   name);
		break;
	case SBCTL_CMD_CLUSTER_DESIGNATE:
		/* The daemon's [broker] node_name is 1..200 bytes: a longer
		 * NODE cannot name any node. */
		if (strlen(a->pos[0]) > SBCTL_NODE_NAME_MAX)
			return usage_error(err, errlen,
					   "'%s': NODE is longer than the %d "
					   "bytes a node name may have",
					   name, SBCTL_NODE_NAME_MAX);
		break;
	default: break;
	}
	return 0;
}

int sbctl_args_parse(int argc, char **argv, struct sbctl_args *a, char *err,
		     size_t errlen)
{
	char **words;
	int nwords;
	char name[64];
	const struct sbctl_command *c;
	unsigned extra;

	memset(a, 0, sizeof(*a));
	if (parse_options(argc, argv, a, err, errlen) == -1)
		return -1;
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
	if (nwords < c->min_args)
		return usage_error(err, errlen, "'%s' needs %s", name, c->args);
	if (c->max_args >= 0 && nwords > c->max_args)
		return usage_error(err, errlen,
				   "too many arguments for '%s': '%s'", name,
				   words[c->max_args]);
	a->pos = words;
	a->npos = nwords;
	if (nwords >= 1)
		a->file = a->name = words[0];
	for (int i = 0; i < nwords; i++)
		if (words[i][0] == '\0')
			return usage_error(err, errlen,
					   "'%s' needs %s, not an empty string",
					   name, c->args);
	if ((extra = a->seen & ~c->opts) != 0) {
		const struct opt_doc *d = opt_doc(extra & -extra);

		return usage_error(err, errlen, "%s does not apply to '%s'",
				   d ? d->name : "an option", name);
	}
	if ((extra = c->required & ~a->seen) != 0) {
		const struct opt_doc *d = opt_doc(extra & -extra);

		return usage_error(err, errlen, "'%s' needs %s", name,
				   d ? d->usage : "an option");
	}
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
	if (check_names(a, name, err, errlen) == -1)
		return -1;
	return check_command(a, name, err, errlen);
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
	char name[64], word[64];
	int col;

	col = fprintf(f, "usage: sbctl [-s SOCKET] [--json] %s",
		      full_name(c, name, sizeof(name)));
	if (c->args != NULL)
		usage_word(f, &col, c->args);
	for (size_t i = 0; i < N_OPT_DOCS; i++) {
		const struct opt_doc *d = &opt_docs[i];

		if (!(c->opts & d->bit))
			continue;
		if (c->required & d->bit)
			snprintf(word, sizeof(word), "%s", d->usage);
		else
			snprintf(word, sizeof(word), "[%s]", d->usage);
		usage_word(f, &col, word);
	}
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
	const char *prev_group = NULL;

	for (size_t i = 0; i < sbctl_ncommands; i++) {
		const struct sbctl_command *c = &sbctl_commands[i];
		char line[96];

		if (group != NULL &&
		    (c->group == NULL || strcmp(c->group, group) != 0))
			continue;
		/* A blank line between groups keeps the long list legible;
		 * the top-level commands (no group) are one group. */
		if (group == NULL && i > 0 &&
		    ((c->group == NULL) != (prev_group == NULL) ||
		     (c->group != NULL && strcmp(c->group, prev_group) != 0)))
			fputc('\n', f);
		prev_group = c->group;
		snprintf(line, sizeof(line), "%s%s%s",
			 full_name(c, name, sizeof(name)), c->args ? " " : "",
			 c->args ? c->args : "");
		if (strlen(line) > 22)
			fprintf(f, "  %s\n  %-22s %s\n", line, "", c->summary);
		else
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
		for (size_t i = 0; i < N_OPT_DOCS; i++)
			if (c->opts & opt_docs[i].bit)
				fprintf(f, "  %-22s %s\n", opt_docs[i].usage,
					opt_docs[i].help);
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
		   "daemon; 'health' also exits 10 standby,\n11 member, 12 "
		   "no master secret, 13 MSS with its SSO database "
		   "unreachable.\n");
}
