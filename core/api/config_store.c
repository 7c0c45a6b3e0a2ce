/*
 * The config store of config-store applications (see docs/api.md):
 * set, read and delete encrypted key/values under a config id.
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "api/store_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads config-store application name into app (the caller clears it)
 * when the caller has role need (what names the operation in a refusal)
 * and, below application administrator, the application is enabled.
 * Returns 0, or -1 having replied and cleared app. */
static int config_app(struct sb_req *r, const char *name, int need,
		      const char *what, struct sb_app *app)
{
	int role;

	if (sb_api_app_load(r, name, need < ROLE_APP_ADMIN ? 0 : 1, app,
			    NULL) != 0)
		return -1;
	role = sb_api_app_role(r, app);
	if (role < need) {
		sb_api_forbid_app(r, app, what, need);
		goto fail;
	}
	if (app->type != SB_APP_CONFIG_STORE) {
		sb_reply_error(
			r, 400, "wrong_app_type",
			"application %s is not a config-store application",
			name);
		goto fail;
	}
	if (role < ROLE_APP_ADMIN && !app->enabled) {
		sb_reply_error(r, 403, "app_disabled",
			       "application %s is disabled", name);
		goto fail;
	}
	return 0;
fail:
	sb_app_clear(app);
	return -1;
}

/* PUT /v1/apps/{app}/config/{id} {"values": {...}} */
void sb_handle_config_set(struct sb_req *r)
{
	const char *name = r->params.value[0];
	const char *id = r->params.value[1];
	json_t *values = r->body ? json_object_get(r->body, "values") : NULL;
	json_t *recs = json_array(), *set = json_array(), *v;
	struct sb_batch_op *ops = NULL;
	struct sb_crypto_ctx cc;
	struct sb_api_error e;
	struct sb_app app;
	char **keys = NULL;
	size_t n = 0, i;
	const char *k;

	sb_req_audit(r, "config.set", 2, name, id);
	if (config_app(r, name, ROLE_APP_ADMIN, "changing the config store",
		       &app) != 0)
		goto out;
	if (!sb_req_write_epoch(r))
		goto done;
	if (!sb_valid_name(id) || !json_is_object(values) ||
	    json_object_size(values) == 0 || json_object_size(values) > 1000) {
		sb_reply_error(
			r, 400, "bad_request",
			"the body needs \"values\": an object of 1..1000 "
			"string values, under a valid config id");
		goto done;
	}
	if (!sb_api_can_encrypt(r))
		goto done;
	cc = sb_api_crypto_ctx(r);
	n = json_object_size(values);
	ops = calloc(n, sizeof(*ops));
	keys = calloc(n, sizeof(*keys));
	if (ops == NULL || keys == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	i = 0;
	json_object_foreach(values, k, v)
	{
		json_t *sealed, *rec;

		if (!sb_valid_name(k) || !json_is_string(v) ||
		    json_string_length(v) > SB_VALUE_LEN_MAX) {
			sb_reply_error(r, 400, "bad_request",
				       "config key \"%s\" needs a valid name "
				       "and a string value of at most %d bytes",
				       k, SB_VALUE_LEN_MAX);
			goto done;
		}
		sealed = sb_value_seal(&cc, "cfg", name, id, k,
				       json_string_value(v),
				       json_string_length(v), &e);
		if (sealed == NULL) {
			sb_reply_api_error(r, &e);
			goto done;
		}
		rec = json_pack("{s:s, s:o, s:I, s:I}", "msid",
				cc.keys->msid[0], "value", sealed,
				"updated_at_ms", (json_int_t)sb_wall_ms(),
				"epoch", (json_int_t)r->write_epoch);
		{
			char *dump = json_dumps(rec, JSON_COMPACT);

			json_array_append_new(recs,
					      json_string(dump ? dump : ""));
			free(dump);
		}
		json_decref(rec);
		if (asprintf(&keys[i], "cfg/%s/%s/%s", name, id, k) < 0) {
			keys[i] = NULL;
			sb_reply_error(r, 500, "internal", "out of memory");
			goto done;
		}
		ops[i] = (struct sb_batch_op){
			SB_OP_PUT,
			SB_PRE_NONE,
			0,
			keys[i],
			(const uint8_t *)json_string_value(
				json_array_get(recs, i)),
			json_string_length(json_array_get(recs, i))};
		json_array_append_new(set, json_string(k));
		i++;
	}
	if (sb_api_apply_batch(r, ops, n, NULL, &e, "storing config values") !=
	    0) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	sb_reply_json(r, 200,
		      json_pack("{s:s, s:s, s:O}", "app", name, "id", id, "set",
				set));
done:
	for (i = 0; keys && i < n; i++)
		free(keys[i]);
	free(keys);
	free(ops);
	sb_app_clear(&app);
out:
	json_decref(recs);
	json_decref(set);
}

/* Adds one decrypted config record to out. Returns 0 or -1 with e. */
static int config_add_value(struct sb_req *r, const char *app, const char *id,
			    const char *k, const char *raw, size_t raw_len,
			    json_t *out, struct sb_api_error *e)
{
	struct sb_crypto_ctx cc = sb_api_crypto_ctx(r);
	json_t *rec = json_loadb(raw, raw_len, 0, NULL);
	char *pt = NULL;
	size_t len = 0;
	int rc;

	if (rec == NULL)
		return sb_api_fail(e, 500, "record_damaged",
				   "config value %s/%s/%s is damaged", app, id,
				   k);
	rc = sb_value_open(&cc, "cfg", app, id, k,
			   json_string_value(json_object_get(rec, "msid")),
			   json_string_value(json_object_get(rec, "value")),
			   &pt, &len, e);
	json_decref(rec);
	if (rc != 0)
		return -1;
	json_object_set_new(out, k, json_stringn(pt, len));
	explicit_bzero(pt, len);
	free(pt);
	return 0;
}

/* GET /v1/apps/{app}/config/{id}[?key=K] */
void sb_handle_config_get(struct sb_req *r)
{
	const char *name = r->params.value[0];
	const char *id = r->params.value[1];
	char key[80], skey[256];
	struct sb_api_error e;
	struct sb_app app;
	json_t *out = json_object();

	sb_req_audit(r, "config.get", 3, name, id);
	if (config_app(r, name, ROLE_USER, "reading the config store", &app) !=
	    0)
		goto out;
	sb_api_query_param(r, "key", key, sizeof(key));
	if (!sb_valid_name(id) || (key[0] && !sb_valid_name(key))) {
		sb_reply_error(r, 400, "bad_request",
			       "invalid config id or key");
		goto done;
	}
	if (key[0]) {
		uint8_t *val = NULL;
		size_t len = 0;
		int rc;

		snprintf(skey, sizeof(skey), "cfg/%s/%s/%s", name, id, key);
		rc = sb_api_cached_get(r, skey,
				       sb_api_query_flag(r, "cache", "bypass"),
				       &val, &len, &e);
		if (rc == SB_ENOTFOUND) {
			sb_reply_error(r, 404, "no_such_key",
				       "config %s/%s has no key %s", name, id,
				       key);
			goto done;
		}
		if (rc != SB_OK ||
		    config_add_value(r, name, id, key, (char *)val, len, out,
				     &e) != 0) {
			free(val);
			sb_reply_api_error(r, &e);
			goto done;
		}
		free(val);
	} else {
		json_t *items, *it;
		size_t i;

		snprintf(skey, sizeof(skey), "cfg/%s/%s/", name, id);
		if ((items = sb_api_scan_all(r, skey)) == NULL)
			goto done;
		json_array_foreach(items, i, it)
		{
			const char *k =
				json_string_value(json_object_get(it, "key"));
			json_t *raw = json_object_get(it, "value");

			if (config_add_value(r, name, id, k + strlen(skey),
					     json_string_value(raw),
					     json_string_length(raw), out,
					     &e) != 0) {
				json_decref(items);
				sb_reply_api_error(r, &e);
				goto done;
			}
		}
		json_decref(items);
		if (json_object_size(out) == 0) {
			sb_reply_error(r, 404, "no_such_config",
				       "application %s has no config values "
				       "under id %s",
				       name, id);
			goto done;
		}
	}
	sb_reply_json(r, 200,
		      json_pack("{s:s, s:s, s:O}", "app", name, "id", id,
				"values", out));
done:
	sb_app_clear(&app);
out:
	json_decref(out);
}

/* DELETE /v1/apps/{app}/config/{id}/{key} */
void sb_handle_config_delete(struct sb_req *r)
{
	const char *name = r->params.value[0];
	const char *id = r->params.value[1];
	const char *k = r->params.value[2];
	struct sb_api_error e;
	struct sb_app app;
	char skey[256];
	uint8_t *val = NULL;
	size_t len;
	uint64_t ver;
	int rc;

	sb_req_audit(r, "config.delete", 2, name, id);
	if (config_app(r, name, ROLE_APP_ADMIN, "changing the config store",
		       &app) != 0)
		return;
	if (!sb_req_write_epoch(r))
		goto done;
	snprintf(skey, sizeof(skey), "cfg/%s/%s/%s", name, id, k);
	rc = sb_api_storage_get(r, skey, &val, &len, &ver, &e);
	free(val);
	if (rc == SB_ENOTFOUND) {
		sb_reply_error(r, 404, "no_such_key",
			       "config %s/%s has no key %s", name, id, k);
		goto done;
	}
	if (rc == SB_OK) {
		struct sb_batch_op op = {SB_OP_DELETE, SB_PRE_NONE, 0,
					 skey,	       NULL,	    0};

		rc = sb_api_apply_batch(r, &op, 1, NULL, &e,
					"deleting the config value");
	}
	if (rc != SB_OK) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	sb_reply_json(r, 200, json_pack("{s:s}", "deleted", k));
done:
	sb_app_clear(&app);
}
