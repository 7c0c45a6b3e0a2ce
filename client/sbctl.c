/*
 * sbctl: the administration CLI of secretbrokerd. A thin client of the API
 * (docs/api.md): every command is one or two requests through
 * libsecretbroker; the only local work is prompting for passwords and
 * credential values, and reading and writing files (backups, imports),
 * which the daemon never does for a client. The secret commands are here,
 * the credential store's in sbctl_app.c, sbctl_cred.c and sbctl_config.c,
 * health and the cluster's in sbctl_cluster.c.
 *
 * Exit status: 0 success, 1 the daemon refused or another error, 2 usage,
 * 3 cannot connect to the daemon; sbctl health also 10 standby, 11 member,
 * 12 no master secret and 13 an MSS whose SSO database is unreachable
 * (sbctl_cmd.h).
 */
#define _GNU_SOURCE
#include <secretbroker/client.h>

#include "base64.h"
#include "fileio.h"
#include "password.h"
#include "sbctl_args.h"
#include "sbctl_cmd.h"
#include "sbctl_output.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SB_VERSION
#define SB_VERSION "0"
#endif

/* A backup file is a few hundred bytes and the daemon takes none over
 * 64 KiB: a larger file is the wrong file, said here rather than by a 413. */
#define BACKUP_FILE_MAX ((size_t)64 << 10)

typedef int (*command_fn)(struct sbctl_ctx *);

/*
 * jansson's allocator for the whole process: every block is wiped before it
 * is freed, so the copies jansson makes of a password or a credential value
 * (in request and reply objects) leave nothing behind.
 */
static void *wiping_malloc(size_t n)
{
	return malloc(n);
}

static void wiping_free(void *p)
{
	if (p == NULL)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

/* Gets the password for cmd into pw: from --password-file, else from the
 * terminal (twice when confirm). Returns 0 or prints why and returns -1. */
static int get_password(struct sbctl_ctx *x, int confirm, char *pw,
			size_t pwlen)
{
	char err[512];
	int r;

	if (x->args->password_file != NULL)
		r = sbctl_password_from_file(x->args->password_file, pw, pwlen,
					     err, sizeof(err));
	else
		r = sbctl_password_prompt("Backup password: ",
					  confirm ? "Backup password again: "
						  : NULL,
					  pw, pwlen, err, sizeof(err));
	if (r != 0)
		sbctl_errorf("%s", err);
	return r;
}

/* Reads the backup file named on the command line and returns its base64
 * encoding (the caller frees it), or NULL after saying why. */
static char *read_backup_b64(const char *path)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char err[512], *b64 = NULL;

	if (sbctl_read_file("backup file", path, BACKUP_FILE_MAX, &data, &len,
			    err, sizeof(err)) == -1) {
		sbctl_errorf("%s", err);
		return NULL;
	}
	if (len == 0)
		sbctl_errorf("backup file %s is empty", path);
	else if ((b64 = sbctl_b64_encode(data, len)) == NULL)
		sbctl_errorf("cannot encode backup file %s: out of memory",
			     path);
	free(data);
	return b64;
}

static int cmd_status(struct sbctl_ctx *x)
{
	json_t *reply = NULL;
	int ret;

	if ((ret = sbctl_call(x, "GET", "/v1/status", NULL, &reply)) != 0)
		return ret;
	if (x->args->json)
		sbctl_print_json(stdout, reply);
	else
		sbctl_print_status(stdout, reply);
	json_decref(reply);
	return 0;
}

static int cmd_secret_status(struct sbctl_ctx *x)
{
	json_t *reply = NULL;
	int ret;

	if ((ret = sbctl_call(x, "GET", "/v1/secret", NULL, &reply)) != 0)
		return ret;
	if (x->args->json)
		sbctl_print_json(stdout, reply);
	else
		sbctl_print_secret(stdout, reply);
	json_decref(reply);
	return 0;
}

static int cmd_secret_generate(struct sbctl_ctx *x)
{
	json_t *body = NULL, *reply = NULL;
	int ret = SBCTL_EXIT_REFUSED;

	if ((body = json_object()) == NULL) {
		sbctl_errorf("out of memory");
		goto done;
	}
	if ((ret = sbctl_call(x, "POST", "/v1/secret/generate", body,
			      &reply)) != 0)
		goto done;
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else {
		fputs("generated master secret ", stdout);
		sbctl_put_safe(stdout, json_string_value(
					       json_object_get(reply, "msid")));
		fputs("\nWARNING: no backup of it exists yet; run 'sbctl "
		      "secret "
		      "backup FILE' now\n",
		      stdout);
	}
	ret = 0;
done:
	json_decref(body);
	json_decref(reply);
	return ret;
}

/* Asks the daemon for a backup blob at path (POST, with the password and
 * hint) and writes it to the command's FILE, atomically and 0600. On
 * success *reply is the daemon's reply without the blob and *where the
 * file's real path (both the caller's). Returns 0 or an exit status after
 * saying why; FILE is then not written. */
static int write_backup(struct sbctl_ctx *x, const char *path, json_t **reply,
			char **where)
{
	const struct sbctl_args *a = x->args;
	struct sbctl_atomic_file af = {.fd = -1};
	int ret = SBCTL_EXIT_REFUSED, opened = 0;
	char pw[SBCTL_PASSWORD_MAX], err[512];
	json_t *body = NULL;
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	const char *b64;

	*reply = NULL;
	*where = NULL;
	explicit_bzero(pw, sizeof(pw));
	/* The temp file first: a FILE that exists or a directory we cannot
	 * write is reported before any password is typed, and before the
	 * daemon records a backup that would never reach the disk. */
	if (sbctl_atomic_open(&af, a->file, a->force, err, sizeof(err)) == -1) {
		sbctl_errorf("%s", err);
		goto done;
	}
	opened = 1;
	if (get_password(x, 1, pw, sizeof(pw)) == -1)
		goto done;
	body = json_pack("{s:s}", "password", pw);
	explicit_bzero(pw, sizeof(pw));
	if (body == NULL ||
	    (a->hint != NULL &&
	     json_object_set_new(body, "hint", json_string(a->hint)) == -1)) {
		sbctl_errorf(
			"cannot build the request (out of memory, or a hint "
			"that is not UTF-8)");
		goto done;
	}
	if ((ret = sbctl_call(x, "POST", path, body, reply)) != 0)
		goto done;
	ret = SBCTL_EXIT_REFUSED;
	b64 = json_string_value(json_object_get(*reply, "blob"));
	if (b64 == NULL || sbctl_b64_decode(b64, &blob, &blob_len) == -1 ||
	    blob_len == 0) {
		sbctl_errorf(
			"secretbrokerd at %s sent a backup reply without a "
			"valid base64 \"blob\"; nothing was written to %s",
			sb_client_socket_path(x->client), a->file);
		goto done;
	}
	if (sbctl_atomic_commit(&af, blob, blob_len, err, sizeof(err)) == -1) {
		sbctl_errorf("%s", err);
		goto done;
	}
	json_object_del(*reply, "blob");
	*where = realpath(a->file, NULL);
	ret = 0;
done:
	explicit_bzero(pw, sizeof(pw));
	if (opened)
		sbctl_atomic_abort(&af);
	if (ret != 0) {
		json_decref(*reply);
		*reply = NULL;
	}
	json_decref(body);
	free(blob);
	return ret;
}

static int cmd_secret_backup(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	json_t *reply = NULL;
	char *where = NULL;
	int ret;

	if ((ret = write_backup(x, "/v1/secret/backup", &reply, &where)) != 0)
		return ret;
	if (a->json) {
		json_object_set_new(reply, "file",
				    json_string(where ? where : a->file));
		sbctl_print_json(stdout, reply);
	} else {
		fputs("wrote the backup of master secret ", stdout);
		sbctl_put_safe(stdout, json_string_value(
					       json_object_get(reply, "msid")));
		fputs(" to ", stdout);
		sbctl_put_safe(stdout, where ? where : a->file);
		fputc('\n', stdout);
	}
	json_decref(reply);
	free(where);
	return 0;
}

/* sbctl secret rotate FILE: the backup of the new secret is on disk before
 * the commit makes it current; a failure before that changes nothing. */
static int cmd_secret_rotate(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	json_t *prep = NULL, *body = NULL, *reply = NULL;
	char *where = NULL;
	const char *msid;
	int ret;

	if ((ret = write_backup(x, "/v1/secret/rotate", &prep, &where)) != 0)
		return ret;
	ret = SBCTL_EXIT_REFUSED;
	msid = json_string_value(json_object_get(prep, "msid"));
	if (msid == NULL || (body = json_pack("{s:s}", "msid", msid)) == NULL) {
		sbctl_errorf("secretbrokerd sent no \"msid\" for the new "
			     "secret; nothing was rotated");
		goto done;
	}
	if ((ret = sbctl_call(x, "POST", "/v1/secret/rotate/commit", body,
			      &reply)) != 0) {
		fprintf(stderr, "sbctl: the rotation was not committed: the "
				"master secret is unchanged, and the backup "
				"in ");
		sbctl_put_safe(stderr, where ? where : a->file);
		fprintf(stderr, " is of no use\n");
		goto done;
	}
	if (a->json) {
		json_object_set_new(reply, "file",
				    json_string(where ? where : a->file));
		sbctl_print_json(stdout, reply);
	} else {
		fputs("wrote the backup of new master secret ", stdout);
		sbctl_put_safe(stdout, msid);
		fputs(" to ", stdout);
		sbctl_put_safe(stdout, where ? where : a->file);
		fputs("\nmaster secret ", stdout);
		sbctl_put_safe(stdout, msid);
		fputs(" is current; ", stdout);
		sbctl_put_safe(stdout, json_string_value(json_object_get(
					       reply, "previous_msid")));
		fprintf(stdout,
			" is kept until %lld records are re-encrypted "
			"('sbctl secret status')\nrestore this backup on the "
			"other master secret server nodes\n",
			(long long)json_integer_value(
				json_object_get(reply, "records")));
	}
	ret = 0;
done:
	json_decref(prep);
	json_decref(body);
	json_decref(reply);
	free(where);
	return ret;
}

static int cmd_secret_hint(struct sbctl_ctx *x)
{
	json_t *body = NULL, *reply = NULL;
	char *b64;
	const char *hint;
	int ret = SBCTL_EXIT_REFUSED;

	if ((b64 = read_backup_b64(x->args->file)) == NULL)
		return SBCTL_EXIT_REFUSED;
	if ((body = json_pack("{s:s}", "blob", b64)) == NULL) {
		sbctl_errorf("out of memory");
		goto done;
	}
	if ((ret = sbctl_call(x, "POST", "/v1/secret/hint", body, &reply)) != 0)
		goto done;
	hint = json_string_value(json_object_get(reply, "hint"));
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else if (hint == NULL || hint[0] == '\0') {
		fprintf(stderr, "sbctl: backup file ");
		sbctl_put_safe(stderr, x->args->file);
		fprintf(stderr, " has no hint\n");
	} else {
		sbctl_put_safe(stdout, hint);
		fputc('\n', stdout);
	}
	ret = 0;
done:
	free(b64);
	json_decref(body);
	json_decref(reply);
	return ret;
}

static int cmd_secret_restore(struct sbctl_ctx *x)
{
	json_t *body = NULL, *reply = NULL;
	char *b64, pw[SBCTL_PASSWORD_MAX];
	const char *prev;
	int ret = SBCTL_EXIT_REFUSED;

	explicit_bzero(pw, sizeof(pw));
	if ((b64 = read_backup_b64(x->args->file)) == NULL)
		return SBCTL_EXIT_REFUSED;
	if (get_password(x, 0, pw, sizeof(pw)) == -1)
		goto done;
	body = json_pack("{s:s, s:s}", "blob", b64, "password", pw);
	explicit_bzero(pw, sizeof(pw));
	if (body == NULL) {
		sbctl_errorf("out of memory");
		goto done;
	}
	if ((ret = sbctl_call(x, "POST", "/v1/secret/restore", body, &reply)) !=
	    0)
		goto done;
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else {
		prev = json_string_value(
			json_object_get(reply, "previous_msid"));
		fputs("restored master secret ", stdout);
		sbctl_put_safe(stdout, json_string_value(
					       json_object_get(reply, "msid")));
		fputs(" on this node", stdout);
		if (prev != NULL) {
			fputs(" (previous MSID ", stdout);
			sbctl_put_safe(stdout, prev);
			fputc(')', stdout);
		}
		fputc('\n', stdout);
	}
	ret = 0;
done:
	explicit_bzero(pw, sizeof(pw));
	free(b64);
	json_decref(body);
	json_decref(reply);
	return ret;
}

static const command_fn handlers[SBCTL_CMD_COUNT] = {
	[SBCTL_CMD_STATUS] = cmd_status,
	[SBCTL_CMD_HEALTH] = sbctl_cmd_health,
	[SBCTL_CMD_SECRET_GENERATE] = cmd_secret_generate,
	[SBCTL_CMD_SECRET_STATUS] = cmd_secret_status,
	[SBCTL_CMD_SECRET_BACKUP] = cmd_secret_backup,
	[SBCTL_CMD_SECRET_HINT] = cmd_secret_hint,
	[SBCTL_CMD_SECRET_RESTORE] = cmd_secret_restore,
	[SBCTL_CMD_SECRET_ROTATE] = cmd_secret_rotate,
	[SBCTL_CMD_CLUSTER_STATUS] = sbctl_cmd_cluster_status,
	[SBCTL_CMD_CLUSTER_DESIGNATE] = sbctl_cmd_cluster_designate,
	[SBCTL_CMD_CLUSTER_PROMOTE] = sbctl_cmd_cluster_promote,
	[SBCTL_CMD_CLUSTER_DEMOTE] = sbctl_cmd_cluster_demote,
	[SBCTL_CMD_APP_CREATE] = sbctl_cmd_app_create,
	[SBCTL_CMD_APP_LIST] = sbctl_cmd_app_list,
	[SBCTL_CMD_APP_SHOW] = sbctl_cmd_app_show,
	[SBCTL_CMD_APP_UPDATE] = sbctl_cmd_app_update,
	[SBCTL_CMD_APP_ENABLE] = sbctl_cmd_app_enable,
	[SBCTL_CMD_APP_DISABLE] = sbctl_cmd_app_disable,
	[SBCTL_CMD_APP_DELETE] = sbctl_cmd_app_delete,
	[SBCTL_CMD_APP_IMPORT] = sbctl_cmd_app_import,
	[SBCTL_CMD_CRED_SET] = sbctl_cmd_cred_set,
	[SBCTL_CMD_CRED_GET] = sbctl_cmd_cred_get,
	[SBCTL_CMD_MAPPING_LIST] = sbctl_cmd_mapping_list,
	[SBCTL_CMD_MAPPING_ENABLE] = sbctl_cmd_mapping_enable,
	[SBCTL_CMD_MAPPING_DISABLE] = sbctl_cmd_mapping_disable,
	[SBCTL_CMD_MAPPING_DELETE] = sbctl_cmd_mapping_delete,
	[SBCTL_CMD_CONFIG_SET] = sbctl_cmd_config_set,
	[SBCTL_CMD_CONFIG_GET] = sbctl_cmd_config_get,
	[SBCTL_CMD_CONFIG_DELETE] = sbctl_cmd_config_delete,
	[SBCTL_CMD_CACHE_PURGE] = sbctl_cmd_cache_purge,
	[SBCTL_CMD_TICKET_ISSUE] = sbctl_cmd_ticket_issue,
	[SBCTL_CMD_TICKET_REDEEM] = sbctl_cmd_ticket_redeem,
};

int main(int argc, char **argv)
{
	struct sbctl_args a;
	struct sb_client_error e;
	struct sbctl_ctx x = {.args = &a};
	char err[512];
	int ret;

	json_set_alloc_funcs(wiping_malloc, wiping_free);
	if (sbctl_args_parse(argc, argv, &a, err, sizeof(err)) == -1) {
		sbctl_errorf("%s", err);
		sbctl_print_usage(stderr, &a);
		fprintf(stderr, "Try 'sbctl --help'.\n");
		return SBCTL_EXIT_USAGE;
	}
	if (a.version) {
		printf("sbctl %s\n", SB_VERSION);
		return 0;
	}
	if (a.help) {
		sbctl_print_help(stdout, &a);
		return 0;
	}
	if ((x.client = sb_client_new(a.socket, &e)) == NULL) {
		sbctl_errorf("%s", e.message);
		return SBCTL_EXIT_USAGE;
	}
	ret = handlers[a.cmd->id](&x);
	sb_client_free(x.client);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		sbctl_errorf("cannot write the output: %m");
		if (ret == 0)
			ret = SBCTL_EXIT_REFUSED;
	}
	return ret;
}
