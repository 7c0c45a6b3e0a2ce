/*
 * sbctl app ...: affiliate applications (docs/api.md, "Applications").
 * Each command is one request; the daemon decides who may do what.
 */
#define _GNU_SOURCE
#include "sbctl_cmd.h"

#include "fileio.h"
#include "sbctl_output.h"
#include "sbctl_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An import of the daemon's largest batch (1000 applications) fits in a
 * few MiB; a larger file is the wrong file. */
#define IMPORT_FILE_MAX ((size_t)16 << 20)

/* Sets key to the string value in obj unless value is NULL. Returns 0, or
 * -1 (not UTF-8, out of memory) after saying so. */
static int set_opt_string(json_t *obj, const char *key, const char *value,
			  const char *option)
{
	if (value == NULL)
		return 0;
	if (json_object_set_new(obj, key, json_string(value)) == -1) {
		sbctl_errorf("%s: the value is not valid UTF-8", option);
		return -1;
	}
	return 0;
}

/* Sets the optional string members an application body can take from
 * the command line. */
static int set_app_strings(json_t *body, const struct sbctl_args *a)
{
	if (set_opt_string(body, "user_group", a->user_group, "--user-group") ==
		    -1 ||
	    set_opt_string(body, "admin_group", a->admin_group,
			   "--admin-group") == -1 ||
	    set_opt_string(body, "description", a->description,
			   "--description") == -1 ||
	    set_opt_string(body, "contact", a->contact, "--contact") == -1)
		return -1;
	return 0;
}

int sbctl_cmd_app_create(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	json_t *body = NULL, *fields = NULL, *reply = NULL;
	int ret = SBCTL_EXIT_REFUSED;
	char err[512];

	if (a->fields != NULL && a->type != NULL &&
	    strcmp(a->type, "config-store") == 0) {
		sbctl_errorf("--fields: a config-store application has no "
			     "fields (it holds key/values: 'sbctl config set "
			     "APP KEY=VALUE'); leave out --fields");
		return SBCTL_EXIT_USAGE;
	}
	if (a->fields != NULL &&
	    (fields = sbctl_fields_parse(a->fields, err, sizeof(err))) ==
		    NULL) {
		sbctl_errorf("%s", err);
		return SBCTL_EXIT_USAGE;
	}
	body = json_pack("{s:s, s:s}", "name", a->name, "type", a->type);
	if (body == NULL || set_app_strings(body, a) == -1 ||
	    (fields != NULL && json_object_set(body, "fields", fields) == -1)) {
		if (body == NULL)
			sbctl_errorf("--type: the value is not valid UTF-8");
		goto done;
	}
	if ((ret = sbctl_call(x, "POST", "/v1/apps", body, &reply)) != 0)
		goto done;
	if (a->json) {
		sbctl_print_json(stdout, reply);
	} else {
		fputs("created application ", stdout);
		sbctl_put_safe(stdout, a->name);
		fputs(" (", stdout);
		sbctl_put_safe(stdout, json_string_value(
					       json_object_get(reply, "type")));
		fputs("); it is disabled until 'sbctl app enable ", stdout);
		sbctl_put_safe(stdout, a->name);
		fputs("'\n", stdout);
	}
done:
	json_decref(body);
	json_decref(fields);
	json_decref(reply);
	return ret;
}

int sbctl_cmd_app_list(struct sbctl_ctx *x)
{
	json_t *reply = NULL;
	int ret;

	if ((ret = sbctl_call(x, "GET", "/v1/apps", NULL, &reply)) != 0)
		return ret;
	if (x->args->json)
		sbctl_print_json(stdout, reply);
	else
		sbctl_print_apps(stdout, reply);
	json_decref(reply);
	return 0;
}

int sbctl_cmd_app_show(struct sbctl_ctx *x)
{
	json_t *reply = NULL;
	char path[128];
	int ret;

	/* The parser checked the name: plain characters, nothing to escape. */
	snprintf(path, sizeof(path), "/v1/apps/%s", x->args->name);
	if ((ret = sbctl_call(x, "GET", path, NULL, &reply)) != 0)
		return ret;
	if (x->args->json)
		sbctl_print_json(stdout, reply);
	else
		sbctl_print_app(stdout, reply);
	json_decref(reply);
	return 0;
}

/* PATCH /v1/apps/{name} with body; done says what happened, for the
 * line printed on success ("updated", "enabled", ...). */
static int patch_app(struct sbctl_ctx *x, const json_t *body, const char *done)
{
	json_t *reply = NULL;
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "/v1/apps/%s", x->args->name);
	if ((ret = sbctl_call(x, "PATCH", path, body, &reply)) != 0)
		return ret;
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else {
		fprintf(stdout, "%s application ", done);
		sbctl_put_safe(stdout, x->args->name);
		fputc('\n', stdout);
	}
	json_decref(reply);
	return 0;
}

int sbctl_cmd_app_update(struct sbctl_ctx *x)
{
	json_t *body = json_object();
	int ret = SBCTL_EXIT_REFUSED;

	if (body == NULL) {
		sbctl_errorf("out of memory");
		return ret;
	}
	if (set_app_strings(body, x->args) == 0)
		ret = patch_app(x, body, "updated");
	json_decref(body);
	return ret;
}

static int set_enabled(struct sbctl_ctx *x, int enabled)
{
	json_t *body = json_pack("{s:b}", "enabled", enabled);
	int ret = SBCTL_EXIT_REFUSED;

	if (body == NULL)
		sbctl_errorf("out of memory");
	else
		ret = patch_app(x, body, enabled ? "enabled" : "disabled");
	json_decref(body);
	return ret;
}

int sbctl_cmd_app_enable(struct sbctl_ctx *x)
{
	return set_enabled(x, 1);
}

int sbctl_cmd_app_disable(struct sbctl_ctx *x)
{
	return set_enabled(x, 0);
}

int sbctl_cmd_app_delete(struct sbctl_ctx *x)
{
	const char *name = x->args->name;
	json_t *reply = NULL;
	char path[128], question[256], what[128];
	int ret;

	snprintf(question, sizeof(question),
		 "Delete application %s with all its credential mappings and "
		 "config values?",
		 name);
	snprintf(what, sizeof(what), "delete application %s", name);
	if ((ret = sbctl_confirm(x, question, what)) != 0)
		return ret;
	snprintf(path, sizeof(path), "/v1/apps/%s", name);
	if ((ret = sbctl_call(x, "DELETE", path, NULL, &reply)) != 0)
		return ret;
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else {
		fputs("deleted application ", stdout);
		sbctl_put_safe(stdout, name);
		fprintf(stdout,
			" with %lld credential mappings and %lld config "
			"values\n",
			(long long)json_integer_value(
				json_object_get(reply, "mappings_deleted")),
			(long long)json_integer_value(
				json_object_get(reply, "config_deleted")));
	}
	json_decref(reply);
	return 0;
}

int sbctl_cmd_app_import(struct sbctl_ctx *x)
{
	const char *path = x->args->file;
	unsigned char *data = NULL;
	json_t *body = NULL, *reply = NULL, *name;
	size_t len = 0, i;
	char err[512];
	int ret = SBCTL_EXIT_REFUSED;

	if (sbctl_read_file("import file", path, IMPORT_FILE_MAX, &data, &len,
			    err, sizeof(err)) == -1 ||
	    (body = sbctl_import_body((const char *)data, len, path, err,
				      sizeof(err))) == NULL) {
		sbctl_errorf("%s", err);
		goto done;
	}
	/* All or nothing is the daemon's: a refusal names the application
	 * at fault and nothing was created. */
	if ((ret = sbctl_call(x, "POST", "/v1/apps/import", body, &reply)) != 0)
		goto done;
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else {
		json_t *created = json_object_get(reply, "created");

		fprintf(stdout, "created %zu applications (disabled):",
			json_array_size(created));
		json_array_foreach(created, i, name)
		{
			fputc(' ', stdout);
			sbctl_put_safe(stdout, json_string_value(name));
		}
		fputc('\n', stdout);
	}
done:
	free(data);
	json_decref(body);
	json_decref(reply);
	return ret;
}
