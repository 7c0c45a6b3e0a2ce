/*
 * sbctl config ... and sbctl cache purge: the config store of config-store
 * applications and the daemon's cache (docs/api.md, "Config store" and
 * "Cache").
 */
#define _GNU_SOURCE
#include "sbctl_cmd.h"

#include "fileio.h"
#include "sbctl_output.h"
#include "sbctl_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Standard input holds one JSON object of values: up to 1000 of 4 KiB. */
#define STDIN_MAX ((size_t)8 << 20)

/* The config id of the command: --id, else "default". */
static const char *config_id(const struct sbctl_args *a)
{
	return a->id != NULL ? a->id : "default";
}

int sbctl_cmd_config_set(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	json_t *values = NULL, *body = NULL, *reply = NULL, *k;
	unsigned char *data = NULL;
	size_t len = 0, i;
	char path[256], err[512];
	int ret = SBCTL_EXIT_REFUSED;

	if (a->use_stdin) {
		if (sbctl_read_stream("standard input", STDIN_FILENO, STDIN_MAX,
				      &data, &len, err, sizeof(err)) == 0)
			values = sbctl_values_parse((const char *)data, len,
						    "the config values", err,
						    sizeof(err));
	} else {
		values = sbctl_pairs_parse(a->pos + 1, a->npos - 1, err,
					   sizeof(err));
		if (values == NULL)
			ret = SBCTL_EXIT_USAGE;
	}
	if (values == NULL) {
		sbctl_errorf("%s", err);
		goto done;
	}
	if ((body = json_pack("{s:O}", "values", values)) == NULL) {
		sbctl_errorf("out of memory");
		goto done;
	}
	snprintf(path, sizeof(path), "/v1/apps/%s/config/%s", a->name,
		 config_id(a));
	if ((ret = sbctl_call(x, "PUT", path, body, &reply)) != 0)
		goto done;
	if (a->json) {
		sbctl_print_json(stdout, reply);
	} else {
		fputs("set", stdout);
		json_array_foreach(json_object_get(reply, "set"), i, k)
		{
			fputs(i == 0 ? " " : ", ", stdout);
			sbctl_put_safe(stdout, json_string_value(k));
		}
		fputs(" in ", stdout);
		sbctl_put_safe(stdout, a->name);
		fputc('/', stdout);
		sbctl_put_safe(stdout, config_id(a));
		fputc('\n', stdout);
	}
done:
	if (data != NULL) {
		explicit_bzero(data, len);
		free(data);
	}
	json_decref(values);
	json_decref(body);
	json_decref(reply);
	return ret;
}

int sbctl_cmd_config_get(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	const char *key = a->npos >= 2 ? a->pos[1] : NULL;
	json_t *reply = NULL;
	char path[256];
	int ret;

	/* The parser checked app, id and key: nothing to escape. */
	snprintf(path, sizeof(path), "/v1/apps/%s/config/%s%s%s", a->name,
		 config_id(a), key ? "?key=" : "", key ? key : "");
	if ((ret = sbctl_call(x, "GET", path, NULL, &reply)) != 0)
		return ret;
	if (a->json)
		sbctl_print_json(stdout, reply);
	else
		sbctl_print_config(stdout, reply, key);
	json_decref(reply);
	return 0;
}

int sbctl_cmd_config_delete(struct sbctl_ctx *x)
{
	const struct sbctl_args *a = x->args;
	json_t *reply = NULL;
	char path[256];
	int ret;

	snprintf(path, sizeof(path), "/v1/apps/%s/config/%s/%s", a->name,
		 config_id(a), a->pos[1]);
	if ((ret = sbctl_call(x, "DELETE", path, NULL, &reply)) != 0)
		return ret;
	if (a->json) {
		sbctl_print_json(stdout, reply);
	} else {
		fputs("deleted ", stdout);
		sbctl_put_safe(stdout, a->pos[1]);
		fputs(" from ", stdout);
		sbctl_put_safe(stdout, a->name);
		fputc('/', stdout);
		sbctl_put_safe(stdout, config_id(a));
		fputc('\n', stdout);
	}
	json_decref(reply);
	return 0;
}

int sbctl_cmd_cache_purge(struct sbctl_ctx *x)
{
	const char *app = x->args->name;
	json_t *body, *reply = NULL;
	int ret;

	body = app ? json_pack("{s:s}", "app", app) : json_object();
	if (body == NULL) {
		sbctl_errorf("out of memory");
		return SBCTL_EXIT_REFUSED;
	}
	ret = sbctl_call(x, "POST", "/v1/cache/purge", body, &reply);
	json_decref(body);
	if (ret != 0)
		return ret;
	if (x->args->json) {
		sbctl_print_json(stdout, reply);
	} else if (app != NULL) {
		fputs("purged this node's credential cache for ", stdout);
		sbctl_put_safe(stdout, app);
		fputc('\n', stdout);
	} else {
		fputs("purged this node's credential cache\n", stdout);
	}
	json_decref(reply);
	return 0;
}
