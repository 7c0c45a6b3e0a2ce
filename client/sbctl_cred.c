/*
 * sbctl cred ... and sbctl mapping ...: credential mappings and lookups
 * (docs/api.md, "Credential mappings" and "Lookup"). Credential values are
 * typed on the terminal or read from standard input, never taken from the
 * command line; every buffer that held one is wiped.
 */
#define _GNU_SOURCE
#include "sbctl_cmd.h"

#include "fileio.h"
#include "password.h"
#include "sbctl_output.h"
#include "sbctl_store.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The daemon takes values of at most 4096 bytes; one more byte for the
 * NUL, and a longer answer is refused at the prompt. */
#define VALUE_MAX (4096 + 1)
/* Standard input holds one small JSON object. */
#define STDIN_MAX ((size_t)1 << 20)

/* Writes the name of the user running sbctl into buf: the identity the
 * daemon sees through SO_PEERCRED. Returns 0, or -1 after saying why. */
static int own_user_name(char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];
	uid_t uid = geteuid();

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) != 0 || res == NULL) {
		sbctl_errorf("uid %u has no user name; give the identity "
			     "with --user",
			     (unsigned)uid);
		return -1;
	}
	if (!sb_client_valid_identity(pw.pw_name) ||
	    strlen(pw.pw_name) >= len) {
		sbctl_errorf("user name \"%s\" is not one the credential store "
			     "takes; give the identity with --user",
			     pw.pw_name);
		return -1;
	}
	snprintf(buf, len, "%s", pw.pw_name);
	return 0;
}

/* Reads the credential values as one JSON object from standard input.
 * Returns the values object, or NULL after saying why. */
static json_t *values_from_stdin(void)
{
	unsigned char *data = NULL;
	size_t len = 0;
	char err[512];
	json_t *values = NULL;

	if (sbctl_read_stream("standard input", STDIN_FILENO, STDIN_MAX, &data,
			      &len, err, sizeof(err)) == -1 ||
	    (values = sbctl_values_parse((const char *)data, len,
					 "the credentials", err,
					 sizeof(err))) == NULL)
		sbctl_errorf("%s", err);
	if (data != NULL) {
		explicit_bzero(data, len);
		free(data);
	}
	return values;
}

/* Asks for the value of every field of app on the terminal, in order:
 * masked ones without echo and twice. Returns the values object, or NULL
 * after saying why. */
static json_t *values_from_tty(const json_t *app, const char *identity)
{
	const json_t *fields = json_object_get(app, "fields"), *f;
	json_t *values = json_object(), *ret = NULL;
	char *val = NULL, prompt[256], again[160], what[128], header[200];
	char err[512];
	size_t i;

	if (values == NULL || (val = malloc(VALUE_MAX)) == NULL) {
		sbctl_errorf("out of memory");
		goto done;
	}
	if (json_array_size(fields) == 0) {
		sbctl_errorf("application %s has no credential fields",
			     json_string_value(json_object_get(app, "name")));
		goto done;
	}
	snprintf(header, sizeof(header), "Credentials of %s for %s\n", identity,
		 json_string_value(json_object_get(app, "name")));
	json_array_foreach(fields, i, f)
	{
		const char *label =
			json_string_value(json_object_get(f, "label"));
		int masked = json_is_true(json_object_get(f, "masked"));

		if (label == NULL) {
			sbctl_errorf("the daemon sent a field without a label");
			goto done;
		}
		snprintf(prompt, sizeof(prompt),
			 "%s%s%s: ", i == 0 ? header : "", label,
			 masked ? " (hidden)" : "");
		snprintf(again, sizeof(again), "%s again: ", label);
		snprintf(what, sizeof(what), "value of %s", label);
		if (sbctl_tty_prompt(prompt, masked ? again : NULL, what,
				     "give the values as JSON with --stdin",
				     masked ? SBCTL_TTY_NO_ECHO
					    : SBCTL_TTY_ALLOW_EMPTY,
				     val, VALUE_MAX, err, sizeof(err)) == -1) {
			sbctl_errorf("%s", err);
			goto done;
		}
		if (json_object_set_new(values, label, json_string(val)) ==
		    -1) {
			sbctl_errorf("the value of %s is not valid UTF-8",
				     label);
			goto done;
		}
		explicit_bzero(val, VALUE_MAX);
	}
	ret = values;
	values = NULL;
done:
	if (val != NULL) {
		explicit_bzero(val, VALUE_MAX);
		free(val);
	}
	json_decref(values);
	return ret;
}

int sbctl_cmd_cred_set(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	json_t *app = NULL, *values = NULL, *body = NULL, *reply = NULL;
	char path[256], self[80];
	const char *identity = a->user, *type;
	int ret;

	/* The definition first: it says the fields to ask for and whose
	 * mapping a group application has, and a missing or forbidden
	 * application is reported before anything is typed. */
	snprintf(path, sizeof(path), "/v1/apps/%s", a->name);
	if ((ret = sbctl_call(x, "GET", path, NULL, &app)) != 0)
		return ret;
	ret = SBCTL_EXIT_REFUSED;
	type = json_string_value(json_object_get(app, "type"));
	if (type != NULL && strcmp(type, "config-store") == 0) {
		sbctl_errorf("application %s is a config-store application: "
			     "set its values with 'sbctl config set'",
			     a->name);
		goto done;
	}
	if (identity == NULL && type != NULL && strcmp(type, "group") == 0)
		identity =
			json_string_value(json_object_get(app, "user_group"));
	if (identity == NULL) {
		if (own_user_name(self, sizeof(self)) == -1)
			goto done;
		identity = self;
	}
	if (!sb_client_valid_identity(identity)) {
		sbctl_errorf("the daemon sent an invalid user group for %s",
			     a->name);
		goto done;
	}
	values = a->use_stdin ? values_from_stdin()
			      : values_from_tty(app, identity);
	if (values == NULL)
		goto done;
	if ((body = json_pack("{s:O}", "values", values)) == NULL) {
		sbctl_errorf("out of memory");
		goto done;
	}
	snprintf(path, sizeof(path), "/v1/apps/%s/mappings/%s", a->name,
		 identity);
	if ((ret = sbctl_call(x, "PUT", path, body, &reply)) != 0)
		goto done;
	if (a->json) {
		sbctl_print_json(stdout, reply);
	} else {
		fputs("stored the credentials of ", stdout);
		sbctl_put_safe(stdout, identity);
		fputs(" for application ", stdout);
		sbctl_put_safe(stdout, a->name);
		fprintf(stdout, " (%s, %s)\n",
			json_is_true(json_object_get(reply, "created"))
				? "new mapping"
				: "replaced",
			json_is_false(json_object_get(reply, "enabled"))
				? "disabled"
				: "enabled");
	}
done:
	json_decref(app);
	json_decref(values);
	json_decref(body);
	json_decref(reply);
	return ret;
}

int sbctl_cmd_cred_get(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	struct sb_client_error e;
	json_t *reply = NULL;
	unsigned flags = 0;
	int ret;

	if (a->show_masked)
		flags |= SB_CLIENT_LOOKUP_SHOW_MASKED;
	if (a->no_cache)
		flags |= SB_CLIENT_LOOKUP_NO_CACHE;
	ret = sb_client_lookup_ex(x->client, a->name, a->user, flags, &reply,
				  &e);
	if ((ret = sbctl_report(x, ret, &e, &reply)) != 0)
		return ret;
	if (a->json)
		sbctl_print_json(stdout, reply);
	else
		sbctl_print_values(stdout, reply);
	json_decref(reply);
	return 0;
}

int sbctl_cmd_mapping_list(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	json_t *reply = NULL;
	char path[256];
	int ret;

	if (a->app != NULL)
		snprintf(path, sizeof(path), "/v1/apps/%s/mappings", a->app);
	else if (a->user != NULL)
		snprintf(path, sizeof(path), "/v1/mappings?user=%s", a->user);
	else
		snprintf(path, sizeof(path), "/v1/mappings");
	if ((ret = sbctl_call(x, "GET", path, NULL, &reply)) != 0)
		return ret;
	if (a->json)
		sbctl_print_json(stdout, reply);
	else
		sbctl_print_mappings(stdout, reply);
	json_decref(reply);
	return 0;
}

/* Prints "<done> the credentials of U for application A" or, with --json,
 * the reply. */
static void print_mapping_done(struct sbctl_ctx *x, const json_t *reply,
			       const char *done)
{
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
		return;
	}
	fprintf(stdout, "%s the credentials of ", done);
	sbctl_put_safe(stdout, x->args->user);
	fputs(" for application ", stdout);
	sbctl_put_safe(stdout, x->args->name);
	fputc('\n', stdout);
}

static int set_mapping_enabled(struct sbctl_ctx *x, int enabled)
{
	json_t *body = json_pack("{s:b}", "enabled", enabled), *reply = NULL;
	char path[256];
	int ret = SBCTL_EXIT_REFUSED;

	if (body == NULL) {
		sbctl_errorf("out of memory");
		return ret;
	}
	snprintf(path, sizeof(path), "/v1/apps/%s/mappings/%s", x->args->name,
		 x->args->user);
	if ((ret = sbctl_call(x, "PATCH", path, body, &reply)) == 0)
		print_mapping_done(x, reply, enabled ? "enabled" : "disabled");
	json_decref(body);
	json_decref(reply);
	return ret;
}

int sbctl_cmd_mapping_enable(struct sbctl_ctx *x)
{
	return set_mapping_enabled(x, 1);
}

int sbctl_cmd_mapping_disable(struct sbctl_ctx *x)
{
	return set_mapping_enabled(x, 0);
}

int sbctl_cmd_mapping_delete(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	json_t *reply = NULL;
	char path[256], question[256], what[200];
	int ret;

	snprintf(question, sizeof(question),
		 "Delete the credentials of %s for application %s?", a->user,
		 a->name);
	snprintf(what, sizeof(what), "delete the credentials of %s for %s",
		 a->user, a->name);
	if ((ret = sbctl_confirm(x, question, what)) != 0)
		return ret;
	snprintf(path, sizeof(path), "/v1/apps/%s/mappings/%s", a->name,
		 a->user);
	if ((ret = sbctl_call(x, "DELETE", path, NULL, &reply)) == 0)
		print_mapping_done(x, reply, "deleted");
	json_decref(reply);
	return ret;
}
