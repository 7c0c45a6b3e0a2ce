/*
 * Credential mappings (see docs/api.md): the mappings of an application
 * or of a user, and setting, reading, enabling and deleting one.
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "api/store_common.h"

#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {"app", "identity", "enabled", "updated_at"} of mapping record rec
 * (borrowed), as a new JSON object. */
static json_t *mapping_summary(const char *app, const char *identity,
			       json_t *rec)
{
	char when[32];

	sb_iso_time((uint64_t)json_integer_value(
			    json_object_get(rec, "updated_at_ms")),
		    when, sizeof(when));
	return json_pack("{s:s, s:s, s:b, s:s}", "app", app, "identity",
			 identity, "enabled",
			 json_is_true(json_object_get(rec, "enabled")),
			 "updated_at", when);
}

/* GET /v1/apps/{app}/mappings */
void sb_handle_mappings_of_app(struct sb_req *r)
{
	const char *name = r->params.value[0];
	json_t *items, *out, *it;
	struct sb_app app;
	char prefix[160];
	size_t i;

	sb_req_audit(r, "mapping.list", 3, name, NULL);
	if (sb_api_app_load(r, name, 1, &app, NULL) != 0)
		return;
	if (sb_api_app_role(r, &app) < ROLE_APP_ADMIN) {
		sb_api_forbid_app(r, &app, "listing the mappings",
				  ROLE_APP_ADMIN);
		sb_app_clear(&app);
		return;
	}
	snprintf(prefix, sizeof(prefix), "map/%s/", name);
	items = sb_api_scan_all(r, prefix);
	if (items) {
		out = json_array();
		json_array_foreach(items, i, it)
		{
			const char *k =
				json_string_value(json_object_get(it, "key"));
			const char *v =
				json_string_value(json_object_get(it, "value"));
			json_t *rec = json_loads(v, 0, NULL);

			if (rec)
				json_array_append_new(
					out, mapping_summary(name,
							     k + strlen(prefix),
							     rec));
			json_decref(rec);
		}
		json_decref(items);
		sb_reply_json(r, 200, json_pack("{s:o}", "mappings", out));
	}
	sb_app_clear(&app);
}

/* 1 when the caller is in the admin group of at least one application. */
static int administers_any_app(struct sb_req *r)
{
	json_t *items = NULL, *it;
	struct sb_api_collect c = {json_array(), 0};
	struct sb_error err;
	int found = 0;
	size_t i;

	if (store_scan(r->gen, "app/", NULL, 0, sb_api_collect_cb, &c, NULL,
		       &err) != SB_OK) {
		json_decref(c.items);
		return 0;
	}
	items = c.items;
	json_array_foreach(items, i, it)
	{
		const char *v = json_string_value(json_object_get(it, "value"));
		struct sb_app app;

		if (sb_app_parse((const uint8_t *)v, strlen(v), &app) != 0)
			continue;
		found = app.admin_group[0] &&
			sb_caller_in_named_group(r, app.admin_group);
		sb_app_clear(&app);
		if (found)
			break;
	}
	json_decref(items);
	return found;
}

/* GET /v1/mappings?user=U */
void sb_handle_mappings_of_user(struct sb_req *r)
{
	char user[80], prefix[160], key[160];
	json_t *items, *out, *it;
	int self, global;
	size_t i;

	sb_api_query_param(r, "user", user, sizeof(user));
	if (user[0] == '\0')
		snprintf(user, sizeof(user), "%s", sb_caller_name(r));
	sb_req_audit(r, "mapping.list", 3, NULL, user);
	if (!sb_valid_identity(user)) {
		sb_reply_error(r, 400, "bad_request",
			       "user must be a user name");
		return;
	}
	self = strcmp(user, sb_caller_name(r)) == 0;
	global = sb_api_global_role(r) >= ROLE_AFFILIATE;
	/* Someone else's list: administrators only. Application
	 * administrators pass here and see only their applications' rows. */
	if (!self && !global && !administers_any_app(r)) {
		sb_reply_error(r, 403, "forbidden",
			       "listing the mappings of %s requires being %s, "
			       "an application administrator, or an SSO or "
			       "affiliate administrator",
			       user, user);
		return;
	}
	snprintf(prefix, sizeof(prefix), "umap/%s/", user);
	if ((items = sb_api_scan_all(r, prefix)) == NULL)
		return;
	out = json_array();
	json_array_foreach(items, i, it)
	{
		const char *appname =
			json_string_value(json_object_get(it, "key")) +
			strlen(prefix);
		struct sb_app app;
		struct sb_api_error e;
		uint8_t *val = NULL;
		size_t len;
		uint64_t ver;
		char akey[128];
		json_t *rec;

		snprintf(akey, sizeof(akey), "app/%s", appname);
		if (sb_api_storage_get(r, akey, &val, &len, &ver, &e) != SB_OK)
			continue;
		if (sb_app_parse(val, len, &app) != 0) {
			free(val);
			continue;
		}
		free(val);
		val = NULL;
		if (global || (self && sb_api_app_role(r, &app) >= ROLE_USER) ||
		    sb_api_app_role(r, &app) >= ROLE_APP_ADMIN) {
			snprintf(key, sizeof(key), "map/%s/%s", appname, user);
			if (sb_api_storage_get(r, key, &val, &len, &ver, &e) ==
				    SB_OK &&
			    (rec = json_loadb((char *)val, len, 0, NULL))) {
				json_array_append_new(
					out,
					mapping_summary(appname, user, rec));
				json_decref(rec);
			}
			free(val);
		}
		sb_app_clear(&app);
	}
	json_decref(items);
	sb_reply_json(r, 200, json_pack("{s:o}", "mappings", out));
}

/* Checks identity for app: a group app's only mapping is its user group. */
static int identity_fits(struct sb_req *r, const struct sb_app *app,
			 const char *identity)
{
	if (!sb_valid_identity(identity)) {
		sb_reply_error(r, 400, "bad_request",
			       "\"%s\" is not a valid identity", identity);
		return 0;
	}
	if (app->type == SB_APP_CONFIG_STORE) {
		sb_reply_error(r, 400, "wrong_app_type",
			       "application %s is a config-store application: "
			       "it has no credential mappings",
			       app->name);
		return 0;
	}
	if (app->type == SB_APP_GROUP &&
	    strcmp(identity, app->user_group) != 0) {
		sb_reply_error(r, 400, "bad_request",
			       "application %s is a group application: its one "
			       "mapping belongs to its user group '%s'",
			       app->name, app->user_group);
		return 0;
	}
	return 1;
}

/* May the caller act on identity's own mapping of app as that identity? */
static int is_self(struct sb_req *r, const struct sb_app *app,
		   const char *identity, int role)
{
	if (role < ROLE_USER)
		return 0;
	if (app->type == SB_APP_GROUP)
		return strcmp(identity, app->user_group) == 0;
	return strcmp(identity, sb_caller_name(r)) == 0;
}

/* PUT /v1/apps/{app}/mappings/{identity} {"values": {...}, "enabled"?} */
void sb_handle_mapping_set(struct sb_req *r)
{
	const char *name = r->params.value[0];
	const char *identity = r->params.value[1];
	struct sb_crypto_ctx cc;
	struct sb_api_error e;
	struct sb_app app;
	json_t *values, *sealed = NULL, *rec = NULL, *old = NULL, *en;
	char mkey[160], ukey[160], *mval = NULL;
	uint8_t *oval = NULL;
	size_t olen = 0;
	uint64_t over = 0, now = sb_wall_ms();
	int role, rc;

	sb_req_audit(r, "mapping.set", 2, name, identity);
	if (sb_api_app_load(r, name, 1, &app, NULL) != 0)
		return;
	role = sb_api_app_role(r, &app);
	if (role < ROLE_APP_ADMIN && !(is_self(r, &app, identity, role) &&
				       app.type == SB_APP_INDIVIDUAL)) {
		sb_api_forbid_app(
			r, &app,
			role < ROLE_USER ? "setting credentials"
			: app.type == SB_APP_GROUP
				? "setting the group's credentials"
				: "setting another identity's credentials",
			role >= ROLE_USER ? ROLE_APP_ADMIN : ROLE_USER);
		goto done;
	}
	if (!identity_fits(r, &app, identity) || !sb_req_write_epoch(r))
		goto done;
	values = r->body ? json_object_get(r->body, "values") : NULL;
	en = r->body ? json_object_get(r->body, "enabled") : NULL;
	if (!json_is_object(values) || (en && !json_is_boolean(en))) {
		sb_reply_error(r, 400, "bad_request",
			       "the body needs \"values\": an object of the "
			       "application's fields (and an optional boolean "
			       "\"enabled\")");
		goto done;
	}
	if (en && role < ROLE_APP_ADMIN) {
		sb_reply_error(r, 403, "forbidden",
			       "only the administrators of %s may enable or "
			       "disable a mapping",
			       name);
		goto done;
	}
	{
		const char *k;
		json_t *v;

		json_object_foreach(values, k, v)
		{
			size_t f;

			for (f = 0; f < app.n_fields; f++)
				if (strcmp(app.fields[f].label, k) == 0)
					break;
			if (f == app.n_fields) {
				sb_reply_error(
					r, 400, "bad_request",
					"application %s has no field \"%s\"",
					name, k);
				goto done;
			}
		}
	}
	if (!sb_api_can_encrypt(r))
		goto done;
	cc = sb_api_crypto_ctx(r);
	sealed = json_array();
	for (size_t f = 0; f < app.n_fields; f++) {
		json_t *v = json_object_get(values, app.fields[f].label), *s;

		if (!json_is_string(v) ||
		    json_string_length(v) > SB_VALUE_LEN_MAX) {
			sb_reply_error(r, 400, "bad_request",
				       "field \"%s\" of %s needs a string "
				       "value of at most %d bytes",
				       app.fields[f].label, name,
				       SB_VALUE_LEN_MAX);
			goto done;
		}
		s = sb_value_seal(&cc, "map", name, identity,
				  app.fields[f].label, json_string_value(v),
				  json_string_length(v), &e);
		if (s == NULL) {
			sb_reply_api_error(r, &e);
			goto done;
		}
		json_array_append_new(sealed, s);
	}
	snprintf(mkey, sizeof(mkey), "map/%s/%s", name, identity);
	snprintf(ukey, sizeof(ukey), "umap/%s/%s", identity, name);
	rc = sb_api_storage_get(r, mkey, &oval, &olen, &over, &e);
	if (rc != SB_OK && rc != SB_ENOTFOUND) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	if (rc == SB_OK)
		old = json_loadb((char *)oval, olen, 0, NULL);
	rec = json_pack(
		"{s:b, s:s, s:O, s:I, s:I, s:I}", "enabled",
		en ? json_is_true(en)
		   : (old ? json_is_true(json_object_get(old, "enabled")) : 1),
		"msid", cc.keys->msid[0], "fields", sealed, "created_at_ms",
		old ? json_integer_value(json_object_get(old, "created_at_ms"))
		    : (json_int_t)now,
		"updated_at_ms", (json_int_t)now, "epoch",
		(json_int_t)r->write_epoch);
	mval = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	if (mval == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	{
		struct sb_batch_op ops[2] = {
			{SB_OP_PUT, old ? SB_PRE_VERSION : SB_PRE_ABSENT, over,
			 mkey, (const uint8_t *)mval, strlen(mval)},
			{SB_OP_PUT, SB_PRE_NONE, 0, ukey, (const uint8_t *)"{}",
			 2},
		};

		if (sb_api_apply_batch(r, ops, 2, NULL, &e,
				       "storing the mapping") != 0) {
			sb_reply_api_error(r, &e);
			goto done;
		}
	}
	sb_reply_json(r, old ? 200 : 201,
		      json_pack("{s:s, s:s, s:b, s:b}", "app", name, "identity",
				identity, "enabled",
				json_is_true(json_object_get(rec, "enabled")),
				"created", old == NULL));
done:
	free(oval);
	free(mval);
	json_decref(old);
	json_decref(rec);
	json_decref(sealed);
	sb_app_clear(&app);
}

/* Decrypts a mapping record into {"label": value...}; masked fields are
 * MASK unless show_masked. Returns NULL having filled e. */
static json_t *mapping_values(struct sb_req *r, const struct sb_app *app,
			      const char *identity, json_t *rec,
			      int show_masked, struct sb_api_error *e)
{
	struct sb_crypto_ctx cc = sb_api_crypto_ctx(r);
	const char *msid = json_string_value(json_object_get(rec, "msid"));
	json_t *fields = json_object_get(rec, "fields");
	json_t *out = json_object();

	if (json_array_size(fields) != app->n_fields) {
		json_decref(out);
		sb_api_fail(e, 500, "record_damaged",
			    "the mapping %s/%s does not match the "
			    "application's fields",
			    app->name, identity);
		return NULL;
	}
	for (size_t f = 0; f < app->n_fields; f++) {
		char *pt = NULL;
		size_t len = 0;

		if (app->fields[f].masked && !show_masked) {
			json_object_set_new(out, app->fields[f].label,
					    json_string(MASK));
			continue;
		}
		if (sb_value_open(&cc, "map", app->name, identity,
				  app->fields[f].label, msid,
				  json_string_value(json_array_get(fields, f)),
				  &pt, &len, e) != 0) {
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, app->fields[f].label,
				    json_stringn(pt, len));
		explicit_bzero(pt, len);
		free(pt);
	}
	return out;
}

/* The labels of app's masked fields, as a new JSON array. */
static json_t *masked_labels(const struct sb_app *app)
{
	json_t *a = json_array();

	for (size_t f = 0; f < app->n_fields; f++)
		if (app->fields[f].masked)
			json_array_append_new(
				a, json_string(app->fields[f].label));
	return a;
}

/* Loads map/<app>/<identity> from storage (the cache's map/ entries are
 * the lookup's decoded form). Returns the record, or NULL having replied
 * (404 no_mapping or a storage error). */
static json_t *mapping_load(struct sb_req *r, const char *app,
			    const char *identity, uint64_t *version)
{
	struct sb_api_error e;
	char key[160];
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t ver;
	json_t *rec;
	int rc;

	snprintf(key, sizeof(key), "map/%s/%s", app, identity);
	rc = sb_api_storage_get(r, key, &val, &len, version ? version : &ver,
				&e);
	if (rc == SB_ENOTFOUND) {
		sb_reply_error(r, 404, "no_mapping",
			       "%s has no credentials for application %s",
			       identity, app);
		return NULL;
	}
	if (rc != SB_OK) {
		sb_reply_api_error(r, &e);
		return NULL;
	}
	rec = json_loadb((char *)val, len, 0, NULL);
	free(val);
	if (rec == NULL)
		sb_reply_error(r, 500, "record_damaged",
			       "the mapping %s/%s is damaged", app, identity);
	return rec;
}

/* GET /v1/apps/{app}/mappings/{identity}[?show_masked=1] */
void sb_handle_mapping_get(struct sb_req *r)
{
	const char *name = r->params.value[0];
	const char *identity = r->params.value[1];
	struct sb_api_error e;
	struct sb_app app;
	json_t *rec = NULL, *values;
	int role, self, show;

	sb_req_audit(r, "mapping.get", 3, name, identity);
	if (sb_api_app_load(r, name, 1, &app, NULL) != 0)
		return;
	role = sb_api_app_role(r, &app);
	self = is_self(r, &app, identity, role);
	if (role < ROLE_APP_ADMIN && !self) {
		sb_api_forbid_app(r, &app,
				  "reading another identity's credentials",
				  ROLE_APP_ADMIN);
		goto done;
	}
	if (!identity_fits(r, &app, identity))
		goto done;
	if ((rec = mapping_load(r, name, identity, NULL)) == NULL)
		goto done;
	show = sb_api_query_flag(r, "show_masked", "1");
	values = mapping_values(r, &app, identity, rec, show, &e);
	if (values == NULL) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	sb_reply_json(r, 200,
		      json_pack("{s:s, s:s, s:b, s:o, s:o}", "app", name,
				"identity", identity, "enabled",
				json_is_true(json_object_get(rec, "enabled")),
				"values", values, "masked",
				masked_labels(&app)));
done:
	json_decref(rec);
	sb_app_clear(&app);
}

/* PATCH /v1/apps/{app}/mappings/{identity} {"enabled"} */
void sb_handle_mapping_update(struct sb_req *r)
{
	const char *name = r->params.value[0];
	const char *identity = r->params.value[1];
	json_t *en = r->body ? json_object_get(r->body, "enabled") : NULL;
	struct sb_api_error e;
	struct sb_app app;
	uint64_t ver = 0;
	char key[160], *out = NULL;
	json_t *rec = NULL;

	sb_req_audit(r,
		     json_is_false(en) ? "mapping.disable" : "mapping.enable",
		     2, name, identity);
	if (sb_api_app_load(r, name, 1, &app, NULL) != 0)
		return;
	if (sb_api_app_role(r, &app) < ROLE_APP_ADMIN) {
		sb_api_forbid_app(r, &app, "enabling or disabling a mapping",
				  ROLE_APP_ADMIN);
		goto done;
	}
	if (!sb_req_write_epoch(r))
		goto done;
	if (!json_is_boolean(en)) {
		sb_reply_error(r, 400, "bad_request",
			       "the body needs a boolean \"enabled\"");
		goto done;
	}
	snprintf(key, sizeof(key), "map/%s/%s", name, identity);
	if ((rec = mapping_load(r, name, identity, &ver)) == NULL)
		goto done;
	json_object_set(rec, "enabled", en);
	json_object_set_new(rec, "updated_at_ms",
			    json_integer((json_int_t)sb_wall_ms()));
	json_object_set_new(rec, "epoch",
			    json_integer((json_int_t)r->write_epoch));
	out = json_dumps(rec, JSON_COMPACT);
	{
		struct sb_batch_op op = {
			SB_OP_PUT, SB_PRE_VERSION,	 ver,
			key,	   (const uint8_t *)out, out ? strlen(out) : 0};

		if (out == NULL ||
		    sb_api_apply_batch(r, &op, 1, NULL, &e,
				       "updating the mapping") != 0) {
			if (out == NULL)
				sb_api_fail(&e, 500, "internal",
					    "out of memory");
			sb_reply_api_error(r, &e);
			goto done;
		}
	}
	sb_reply_json(r, 200, mapping_summary(name, identity, rec));
done:
	free(out);
	json_decref(rec);
	sb_app_clear(&app);
}

/* DELETE /v1/apps/{app}/mappings/{identity} */
void sb_handle_mapping_delete(struct sb_req *r)
{
	const char *name = r->params.value[0];
	const char *identity = r->params.value[1];
	struct sb_api_error e;
	struct sb_app app;
	char mkey[160], ukey[160];

	sb_req_audit(r, "mapping.delete", 2, name, identity);
	if (sb_api_app_load(r, name, 1, &app, NULL) != 0)
		return;
	if (sb_api_app_role(r, &app) < ROLE_APP_ADMIN) {
		sb_api_forbid_app(r, &app, "deleting a mapping",
				  ROLE_APP_ADMIN);
		goto done;
	}
	if (!sb_req_write_epoch(r))
		goto done;
	snprintf(mkey, sizeof(mkey), "map/%s/%s", name, identity);
	snprintf(ukey, sizeof(ukey), "umap/%s/%s", identity, name);
	{
		json_t *rec = mapping_load(r, name, identity, NULL);

		if (rec == NULL)
			goto done; /* replied: no_mapping or storage error */
		json_decref(rec);
	}
	{
		struct sb_batch_op ops[2] = {
			{SB_OP_DELETE, SB_PRE_NONE, 0, mkey, NULL, 0},
			{SB_OP_DELETE, SB_PRE_NONE, 0, ukey, NULL, 0},
		};

		if (sb_api_apply_batch(r, ops, 2, NULL, &e,
				       "deleting the mapping") != 0) {
			sb_reply_api_error(r, &e);
			goto done;
		}
	}
	sb_reply_json(r, 200, json_pack("{s:b}", "deleted", 1));
done:
	sb_app_clear(&app);
}
