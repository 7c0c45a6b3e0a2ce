/*
 * Affiliate applications (see docs/api.md): list, create, import, read,
 * change and delete.
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "api/store_common.h"

#include "runtime/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GET /v1/apps */
void sb_handle_apps_list(struct sb_req *r)
{
	json_t *items = sb_api_scan_all(r, "app/"), *out, *it;
	size_t i;

	if (items == NULL)
		return;
	sb_req_audit(r, "app.list", 3, NULL, NULL);
	out = json_array();
	json_array_foreach(items, i, it)
	{
		const char *v = json_string_value(json_object_get(it, "value"));
		struct sb_app app;

		if (sb_app_parse((const uint8_t *)v, strlen(v), &app) != 0)
			continue;
		if (sb_api_app_role(r, &app) != ROLE_NONE)
			json_array_append_new(
				out,
				json_pack("{s:s, s:s, s:b, s:O}", "name",
					  app.name, "type",
					  sb_app_type_name(app.type), "enabled",
					  app.enabled, "description",
					  json_object_get(app.json,
							  "description")));
		sb_app_clear(&app);
	}
	json_decref(items);
	sb_reply_json(r, 200, json_pack("{s:o}", "apps", out));
}

/* Creates every application of the JSON array bodies in one batch (all or
 * none). On success *created is a new array of their names (the caller
 * decrefs it) and returns 0; otherwise replies (400, 409 app_exists, a
 * storage error) and returns -1 with *created NULL. */
static int create_apps(struct sb_req *r, json_t *bodies, json_t **created)
{
	size_t n = json_array_size(bodies), i, failed = 0;
	struct sb_batch_op *ops = calloc(n ? n : 1, sizeof(*ops));
	char **keys = calloc(n ? n : 1, sizeof(*keys));
	char **vals = calloc(n ? n : 1, sizeof(*vals));
	struct sb_api_error e;
	uint64_t now = sb_wall_ms();
	int ret = -1;
	json_t *b;

	*created = json_array();
	if (ops == NULL || keys == NULL || vals == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	json_array_foreach(bodies, i, b)
	{
		json_t *rec = sb_app_record_from_request(b, now, &e);
		const char *name;

		if (rec == NULL) {
			sb_reply_api_error(r, &e);
			goto done;
		}
		name = json_string_value(json_object_get(rec, "name"));
		for (size_t k = 0; k < i; k++)
			if (strcmp(keys[k] + 4, name) == 0) {
				sb_reply_error(r, 400, "bad_request",
					       "application %s appears twice",
					       name);
				json_decref(rec);
				goto done;
			}
		if (asprintf(&keys[i], "app/%s", name) < 0)
			keys[i] = NULL;
		vals[i] = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
		json_array_append_new(*created, json_string(name));
		json_decref(rec);
		if (keys[i] == NULL || vals[i] == NULL) {
			sb_reply_error(r, 500, "internal", "out of memory");
			goto done;
		}
		ops[i] = (struct sb_batch_op){SB_OP_PUT,
					      SB_PRE_ABSENT,
					      0,
					      keys[i],
					      (const uint8_t *)vals[i],
					      strlen(vals[i])};
	}
	if (sb_api_apply_batch(r, ops, n, &failed, &e,
			       "creating applications") != 0) {
		if (strcmp(e.code, "conflict") == 0 && failed < n)
			sb_reply_error(r, 409, "app_exists",
				       "an application named %s already "
				       "exists; nothing was created",
				       keys[failed] + 4);
		else
			sb_reply_api_error(r, &e);
		goto done;
	}
	ret = 0;
done:
	for (i = 0; keys && vals && i < n; i++) {
		free(keys[i]);
		free(vals[i]);
	}
	free(keys);
	free(vals);
	free(ops);
	if (ret != 0) {
		json_decref(*created);
		*created = NULL;
	}
	return ret;
}

/* POST /v1/apps */
void sb_handle_apps_create(struct sb_req *r)
{
	json_t *one, *created;
	const char *name =
		r->body ? json_string_value(json_object_get(r->body, "name"))
			: NULL;

	sb_req_audit(r, "app.create", 1, name, NULL);
	if (sb_api_global_role(r) < ROLE_AFFILIATE) {
		sb_api_forbid_global(r, "creating an application");
		return;
	}
	if (!sb_req_write_epoch(r))
		return;
	if (r->body == NULL) {
		sb_reply_error(r, 400, "bad_request",
			       "an application needs a JSON body");
		return;
	}
	one = json_pack("[O]", r->body);
	if (create_apps(r, one, &created) == 0) {
		struct sb_app app;
		char key[128];
		uint8_t *val = NULL;
		size_t len;
		uint64_t ver;
		struct sb_api_error e;

		snprintf(key, sizeof(key), "app/%s",
			 json_string_value(json_array_get(created, 0)));
		if (sb_api_storage_get(r, key, &val, &len, &ver, &e) == SB_OK &&
		    sb_app_parse(val, len, &app) == 0) {
			sb_info("request %s: uid %u created application %s",
				r->id, (unsigned)r->caller.uid, app.name);
			sb_reply_json(r, 201, sb_app_view(app.json));
			sb_app_clear(&app);
		} else {
			sb_reply_json(r, 201,
				      json_pack("{s:O}", "name",
						json_array_get(created, 0)));
		}
		free(val);
		json_decref(created);
	}
	json_decref(one);
}

/* POST /v1/apps/import */
void sb_handle_apps_import(struct sb_req *r)
{
	json_t *apps = r->body ? json_object_get(r->body, "apps") : NULL;
	json_t *created;

	sb_req_audit(r, "app.import", 1, NULL, NULL);
	if (sb_api_global_role(r) < ROLE_AFFILIATE) {
		sb_api_forbid_global(r, "importing applications");
		return;
	}
	if (!sb_req_write_epoch(r))
		return;
	if (!json_is_array(apps) || json_array_size(apps) == 0 ||
	    json_array_size(apps) > 1000) {
		sb_reply_error(r, 400, "bad_request",
			       "the body needs \"apps\": an array of 1..1000 "
			       "applications");
		return;
	}
	if (create_apps(r, apps, &created) == 0) {
		sb_info("request %s: uid %u imported %zu applications", r->id,
			(unsigned)r->caller.uid, json_array_size(created));
		sb_reply_json(r, 201, json_pack("{s:o}", "created", created));
	}
}

/* GET /v1/apps/{app} */
void sb_handle_app_get(struct sb_req *r)
{
	const char *name = r->params.value[0];
	struct sb_app app;

	sb_req_audit(r, "app.get", 3, name, NULL);
	if (sb_api_app_load(r, name, 1, &app, NULL) != 0)
		return;
	if (sb_api_app_role(r, &app) == ROLE_NONE)
		sb_api_forbid_app(r, &app, "reading the definition", ROLE_USER);
	else
		sb_reply_json(r, 200, sb_app_view(app.json));
	sb_app_clear(&app);
}

/* PATCH /v1/apps/{app} */
void sb_handle_app_update(struct sb_req *r)
{
	const char *name = r->params.value[0];
	static const char *const str_fields[] = {"description", "contact",
						 "user_group", "admin_group"};
	struct sb_api_error e;
	struct sb_app app;
	uint64_t version;
	json_t *rec, *v;
	char key[128], *val = NULL;
	int changed = 0, enable_change = -1;

	sb_req_audit(r, "app.update", 1, name, NULL);
	if (sb_api_global_role(r) < ROLE_AFFILIATE) {
		sb_api_forbid_global(r, "changing an application");
		return;
	}
	if (!sb_req_write_epoch(r))
		return;
	if (r->body == NULL || json_object_size(r->body) == 0) {
		sb_reply_error(r, 400, "bad_request",
			       "nothing to change: give description, contact, "
			       "user_group, admin_group or enabled");
		return;
	}
	if (sb_api_app_load(r, name, 1, &app, &version) != 0)
		return;
	rec = json_deep_copy(app.json);
	{
		const char *k;
		json_t *val_j;

		json_object_foreach(r->body, k, val_j)
		{
			int known = strcmp(k, "enabled") == 0;

			for (size_t i = 0; i < 4; i++)
				known |= strcmp(k, str_fields[i]) == 0;
			if (!known) {
				sb_reply_error(r, 400, "bad_request",
					       "field \"%s\" cannot be changed "
					       "(name, type and fields are "
					       "fixed at creation)",
					       k);
				goto done;
			}
		}
	}
	for (size_t i = 0; i < 4; i++) {
		v = json_object_get(r->body, str_fields[i]);
		if (v == NULL)
			continue;
		if (!json_is_string(v) || json_string_length(v) > 1024 ||
		    (i >= 2 && json_string_length(v) > 0 &&
		     !sb_valid_identity(json_string_value(v))) ||
		    (i == 2 && json_string_length(v) == 0)) {
			sb_reply_error(r, 400, "bad_request",
				       "field \"%s\" has an invalid value",
				       str_fields[i]);
			goto done;
		}
		json_object_set(rec, str_fields[i], v);
		changed = 1;
	}
	v = json_object_get(r->body, "enabled");
	if (v) {
		if (!json_is_boolean(v)) {
			sb_reply_error(
				r, 400, "bad_request",
				"field \"enabled\" must be true or false");
			goto done;
		}
		enable_change = json_is_true(v);
		json_object_set(rec, "enabled", v);
		changed = 1;
	}
	if (enable_change >= 0)
		sb_req_audit(r, enable_change ? "app.enable" : "app.disable", 1,
			     name, NULL);
	json_object_set_new(rec, "updated_at_ms",
			    json_integer((json_int_t)sb_wall_ms()));
	val = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	snprintf(key, sizeof(key), "app/%s", name);
	{
		struct sb_batch_op op = {
			SB_OP_PUT, SB_PRE_VERSION,	 version,
			key,	   (const uint8_t *)val, val ? strlen(val) : 0};

		if (val == NULL ||
		    sb_api_apply_batch(r, &op, 1, NULL, &e,
				       "updating the application") != 0) {
			if (val == NULL)
				sb_api_fail(&e, 500, "internal",
					    "out of memory");
			sb_reply_api_error(r, &e);
			goto done;
		}
	}
	(void)changed;
	sb_info("request %s: uid %u updated application %s", r->id,
		(unsigned)r->caller.uid, name);
	sb_reply_json(r, 200, sb_app_view(rec));
done:
	free(val);
	json_decref(rec);
	sb_app_clear(&app);
}

/* Adds a delete op for every key of items (from scan_all) to ops. */
static size_t add_deletes(json_t *items, struct sb_batch_op *ops, size_t n)
{
	json_t *it;
	size_t i;

	json_array_foreach(items, i, it) ops[n++] = (struct sb_batch_op){
		SB_OP_DELETE,
		SB_PRE_NONE,
		0,
		json_string_value(json_object_get(it, "key")),
		NULL,
		0};
	return n;
}

/* DELETE /v1/apps/{app}: the application, its mappings (and their index
 * entries) and its config store, in one batch. */
void sb_handle_app_delete(struct sb_req *r)
{
	const char *name = r->params.value[0];
	json_t *maps = NULL, *cfgs = NULL, *idx = json_array(), *it;
	struct sb_batch_op *ops = NULL;
	struct sb_api_error e;
	struct sb_app app;
	char prefix[160], key[128];
	size_t n = 0, i, total;

	sb_req_audit(r, "app.delete", 1, name, NULL);
	if (sb_api_global_role(r) < ROLE_AFFILIATE) {
		sb_api_forbid_global(r, "deleting an application");
		json_decref(idx);
		return;
	}
	if (!sb_req_write_epoch(r)) {
		json_decref(idx);
		return;
	}
	if (sb_api_app_load(r, name, 1, &app, NULL) != 0) {
		json_decref(idx);
		return;
	}
	snprintf(prefix, sizeof(prefix), "map/%s/", name);
	if ((maps = sb_api_scan_all(r, prefix)) == NULL)
		goto done;
	snprintf(prefix, sizeof(prefix), "cfg/%s/", name);
	if ((cfgs = sb_api_scan_all(r, prefix)) == NULL)
		goto done;
	json_array_foreach(maps, i, it)
	{
		const char *k = json_string_value(json_object_get(it, "key"));
		const char *ident = k + strlen("map/") + strlen(name) + 1;
		char *ik = NULL;

		if (asprintf(&ik, "umap/%s/%s", ident, name) >= 0) {
			json_array_append_new(idx,
					      json_pack("{s:s}", "key", ik));
			free(ik);
		}
	}
	total = json_array_size(maps) * 2 + json_array_size(cfgs) + 1;
	ops = calloc(total, sizeof(*ops));
	if (ops == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	n = add_deletes(maps, ops, n);
	n = add_deletes(idx, ops, n);
	n = add_deletes(cfgs, ops, n);
	snprintf(key, sizeof(key), "app/%s", name);
	ops[n++] = (struct sb_batch_op){SB_OP_DELETE, SB_PRE_NONE, 0,
					key,	      NULL,	   0};
	if (sb_api_apply_batch(r, ops, n, NULL, &e,
			       "deleting the application") != 0) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	sb_info("request %s: uid %u deleted application %s with %zu mappings "
		"and %zu config values",
		r->id, (unsigned)r->caller.uid, name, json_array_size(maps),
		json_array_size(cfgs));
	sb_reply_json(
		r, 200,
		json_pack("{s:s, s:I, s:I}", "deleted", name,
			  "mappings_deleted", (json_int_t)json_array_size(maps),
			  "config_deleted", (json_int_t)json_array_size(cfgs)));
done:
	free(ops);
	json_decref(maps);
	json_decref(cfgs);
	json_decref(idx);
	sb_app_clear(&app);
}
