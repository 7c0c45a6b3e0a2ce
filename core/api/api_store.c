/*
 * API routes of the credential store (see docs/api.md): affiliate
 * applications, credential mappings, lookups, the config store and the
 * cache. Handlers run on a request thread; the lookup path reads through
 * the thread's own cache of encrypted records and takes no shared lock.
 */
#define _GNU_SOURCE
#include "api/http.h"

#include "runtime/cache.h"
#include "host/host.h"
#include "runtime/log.h"
#include "store/store.h"
#include "cluster/member.h"
#include "api/records.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum role {
	ROLE_NONE = 0,
	ROLE_USER = 1,	    /* the app's user group */
	ROLE_APP_ADMIN = 2, /* the app's admin group */
	ROLE_AFFILIATE = 3, /* [access] sso_affiliate_admins */
	ROLE_SSO_ADMIN = 4, /* [access] sso_admins, root */
};

#define MASK "********"

/* Role the caller has regardless of any application. */
static int global_role(struct sb_req *r)
{
	if (sb_caller_is_admin(r))
		return ROLE_SSO_ADMIN;
	if (sb_caller_in_group(&r->caller,
			       r->gen->conf->sso_affiliate_admins_gid))
		return ROLE_AFFILIATE;
	return ROLE_NONE;
}

static int app_role(struct sb_req *r, const struct sb_app *app)
{
	int g = global_role(r);

	if (g != ROLE_NONE)
		return g;
	if (sb_caller_in_named_group(r, app->admin_group))
		return ROLE_APP_ADMIN;
	if (sb_caller_in_named_group(r, app->user_group))
		return ROLE_USER;
	return ROLE_NONE;
}

static void forbid_global(struct sb_req *r, const char *what)
{
	const struct sb_conf *c = r->gen->conf;

	sb_reply_error(
		r, 403, "forbidden",
		"%s requires an SSO affiliate administrator (group '%s') or "
		"SSO administrator (group '%s'); uid %u (%s) is neither",
		what,
		c->sso_affiliate_admins ? c->sso_affiliate_admins
					: "(not configured)",
		c->sso_admins ? c->sso_admins : "(root only)",
		(unsigned)r->caller.uid, sb_caller_name(r));
}

static void forbid_app(struct sb_req *r, const struct sb_app *app,
		       const char *what, int needed)
{
	if (needed >= ROLE_APP_ADMIN)
		sb_reply_error(
			r, 403, "forbidden",
			"%s of application %s requires its administrators' "
			"group '%s' (or an SSO or affiliate administrator); "
			"uid %u (%s) is not a member",
			what, app->name,
			app->admin_group[0] ? app->admin_group : "(none)",
			(unsigned)r->caller.uid, sb_caller_name(r));
	else
		sb_reply_error(r, 403, "forbidden",
			       "%s of application %s requires its users' group "
			       "'%s'; uid %u (%s) is not a member",
			       what, app->name, app->user_group,
			       (unsigned)r->caller.uid, sb_caller_name(r));
}

/* ---- storage helpers ---- */

static int storage_get(struct sb_req *r, const char *key, uint8_t **val,
		       size_t *len, uint64_t *version, struct sb_api_error *e)
{
	struct sb_error err = {{0}};
	int rc = store_get_record(r->gen, key, val, len, version, &err);

	if (rc == SB_OK || rc == SB_ENOTFOUND)
		return rc;
	return store_error_to_api(e, rc, &err, "reading the SSO database");
}

/* Reads key through this thread's cache unless bypass. *val is malloc'ed.
 * Returns SB_OK, SB_ENOTFOUND, or -1 with e. */
static int cached_get(struct sb_req *r, const char *key, int bypass,
		      uint8_t **val, size_t *len, struct sb_api_error *e)
{
	uint64_t ttl = r->gen->conf->cache_timeout_ms, now, version;
	struct sb_cache_stamp stamp;
	const uint8_t *hit;
	size_t hit_len;
	int rc;

	if (ttl == 0 || bypass)
		return storage_get(r, key, val, len, &version, e);
	now = sb_mono_ms();
	if (sb_cache_get(r->local->cache, &r->d->cache_inval, key, now, &hit,
			 &hit_len)) {
		*val = malloc(hit_len + 1);
		if (*val == NULL)
			return sb_api_fail(e, 500, "internal", "out of memory");
		memcpy(*val, hit, hit_len);
		*len = hit_len;
		return SB_OK;
	}
	sb_cache_snapshot(&r->d->cache_inval, key, &stamp);
	rc = storage_get(r, key, val, len, &version, e);
	if (rc == SB_OK)
		sb_cache_put(r->local->cache, key, *val, *len, now, ttl,
			     &stamp);
	return rc;
}

/* Reads key through this thread's cache, which holds decode(raw record)
 * rather than the raw record, so a hit costs no JSON parse. Every cached
 * read of a key's prefix must use the same decode (app/: decode_app,
 * map/: decode_map); the key is the storage key, so writes still
 * invalidate it. decode returns a malloc'ed blob or NULL for a damaged
 * record. *out is malloc'ed (a copy on a hit). Returns SB_OK,
 * SB_ENOTFOUND, 1 for a damaged record, or -1 with e. */
static int cached_decoded(struct sb_req *r, const char *key, int bypass,
			  void *(*decode)(const uint8_t *, size_t, size_t *),
			  void **out, size_t *out_len, struct sb_api_error *e)
{
	uint64_t ttl = r->gen->conf->cache_timeout_ms, now = 0, version;
	struct sb_cache_stamp stamp;
	const uint8_t *hit;
	uint8_t *raw = NULL;
	size_t hit_len, raw_len = 0;
	int rc;

	if (ttl && !bypass) {
		now = sb_mono_ms();
		if (sb_cache_get(r->local->cache, &r->d->cache_inval, key, now,
				 &hit, &hit_len)) {
			*out = malloc(hit_len);
			if (*out == NULL)
				return sb_api_fail(e, 500, "internal",
						   "out of memory");
			memcpy(*out, hit, hit_len);
			*out_len = hit_len;
			return SB_OK;
		}
		sb_cache_snapshot(&r->d->cache_inval, key, &stamp);
	}
	rc = storage_get(r, key, &raw, &raw_len, &version, e);
	if (rc != SB_OK)
		return rc;
	*out = decode(raw, raw_len, out_len);
	free(raw);
	if (*out == NULL)
		return 1;
	if (ttl && !bypass)
		sb_cache_put(r->local->cache, key, *out, *out_len, now, ttl,
			     &stamp);
	return SB_OK;
}

/* An app record as a struct sb_app without its JSON (app records hold no
 * secret). */
static void *decode_app(const uint8_t *raw, size_t len, size_t *out_len)
{
	struct sb_app *app = malloc(sizeof(*app));

	if (app == NULL || sb_app_parse(raw, len, app) != 0) {
		free(app);
		return NULL;
	}
	json_decref(app->json);
	app->json = NULL;
	/* Only the fields in use: the cache holds up to max_entries of these
	 * per thread. */
	*out_len = offsetof(struct sb_app, fields) +
		   app->n_fields * sizeof(app->fields[0]);
	return app;
}

/* A mapping record as the lookup needs it: still sealed, base64 decoded. */
struct map_rec {
	int enabled;
	char msid[SB_MSID_MAX + 1];
	size_t n_fields;
	size_t off[SB_FIELDS_MAX], len[SB_FIELDS_MAX]; /* into blob */
	uint8_t blob[];
};

static void *decode_map(const uint8_t *raw, size_t len, size_t *out_len)
{
	json_t *rec = json_loadb((const char *)raw, len, 0, NULL);
	json_t *fields = json_object_get(rec, "fields"), *f;
	const char *msid = json_string_value(json_object_get(rec, "msid"));
	struct map_rec *m = NULL;
	size_t i, total = 0;

	if (rec == NULL || msid == NULL || strlen(msid) > SB_MSID_MAX ||
	    !json_is_array(fields) || json_array_size(fields) > SB_FIELDS_MAX)
		goto done;
	json_array_foreach(fields, i, f)
	{
		if (!json_is_string(f))
			goto done;
		total += json_string_length(f) / 4 * 3 + 1;
	}
	m = calloc(1, sizeof(*m) + total);
	if (m == NULL)
		goto done;
	m->enabled = json_is_true(json_object_get(rec, "enabled"));
	snprintf(m->msid, sizeof(m->msid), "%s", msid);
	m->n_fields = json_array_size(fields);
	total = 0;
	json_array_foreach(fields, i, f)
	{
		uint8_t *b;
		size_t bl;

		if (sb_b64_decode(json_string_value(f), &b, &bl) != 0) {
			free(m);
			m = NULL;
			goto done;
		}
		memcpy(m->blob + total, b, bl);
		free(b);
		m->off[i] = total;
		m->len[i] = bl;
		total += bl;
	}
	*out_len = sizeof(*m) + total;
done:
	json_decref(rec);
	return m;
}

/* Applies a batch (unfenced: credentials may be written on any node) and
 * invalidates every written key in every thread's cache. */
static int apply_batch(struct sb_req *r, struct sb_batch_op *ops, size_t n,
		       size_t *failed, struct sb_api_error *e, const char *what)
{
	struct sb_batch b = {ops, n, 0, NULL, failed};
	struct sb_error err = {{0}};
	int rc = store_batch_apply(r->gen, sb_req_write_fencing(r), &b, &err);

	for (size_t i = 0; i < n; i++)
		sb_cache_invalidate(&r->d->cache_inval, ops[i].key);
	if (rc == SB_OK)
		return 0;
	if (rc == SB_ECONFLICT)
		return sb_api_fail(
			e, 409, "conflict",
			"%s: changed concurrently by another request; retry",
			what);
	return store_error_to_api(e, rc, &err, what);
}

/* Loads application name into app. Returns 0, or -1 having replied (404
 * no_such_app, or a storage error). Read through the cache (neither
 * version nor bypass), app->json is NULL. */
static int app_load(struct sb_req *r, const char *name, int bypass,
		    struct sb_app *app, uint64_t *version)
{
	struct sb_api_error e;
	char key[128];
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t ver = 0;
	int rc;

	snprintf(key, sizeof(key), "app/%s", name);
	if (version == NULL && !bypass) {
		void *blob = NULL;
		size_t blen;

		rc = cached_decoded(r, key, 0, decode_app, &blob, &blen, &e);
		if (rc == SB_OK) {
			memset(app, 0, sizeof(*app)); /* json NULL */
			memcpy(app, blob, blen);
			free(blob);
			return 0;
		}
		if (rc == 1) {
			sb_reply_error(
				r, 500, "record_damaged",
				"the record of application %s is damaged",
				name);
			return -1;
		}
	} else {
		rc = storage_get(r, key, &val, &len, &ver, &e);
	}
	if (rc == SB_ENOTFOUND) {
		sb_reply_error(r, 404, "no_such_app",
			       "no affiliate application named %s", name);
		return -1;
	}
	if (rc != SB_OK) {
		sb_reply_api_error(r, &e);
		return -1;
	}
	rc = sb_app_parse(val, len, app);
	free(val);
	if (rc != 0) {
		sb_reply_error(r, 500, "record_damaged",
			       "the record of application %s is damaged", name);
		return -1;
	}
	if (version)
		*version = ver;
	return 0;
}

/* Query parameter key of the request into buf; "" when absent. */
static const char *query_param(struct sb_req *r, const char *key, char *buf,
			       size_t len)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params;
	const char *v;

	buf[0] = '\0';
	if (q == NULL || evhttp_parse_query_str(q, &params) != 0)
		return buf;
	v = evhttp_find_header(&params, key);
	if (v)
		snprintf(buf, len, "%s", v);
	evhttp_clear_headers(&params);
	return buf;
}

static int query_flag(struct sb_req *r, const char *key, const char *yes)
{
	char buf[32];

	query_param(r, key, buf, sizeof(buf));
	return strcmp(buf, yes) == 0 ||
	       (strcmp(yes, "1") == 0 && strcmp(buf, "true") == 0);
}

/* A member refuses to encrypt while it cannot reach the MSS: the secret it
 * holds may have been replaced meanwhile. Replies 503 and returns 0. */
static int can_encrypt(struct sb_req *r)
{
	if (r->gen->conf->role != SB_ROLE_MEMBER || sb_member_can_encrypt(r->d))
		return 1;
	sb_reply_error(
		r, 503, "mss_unavailable",
		"this member node cannot reach the master secret server: it "
		"serves lookups with the secret it holds, but refuses to "
		"encrypt new values until the MSS is back");
	return 0;
}

static struct sb_crypto_ctx crypto_ctx(struct sb_req *r)
{
	struct sb_crypto_ctx cc = {r->gen->cops, r->gen->crypto.inst,
				   sb_req_record_keys(r)};
	return cc;
}

/* ---- scans ---- */

struct collect {
	json_t *items; /* array of {"key", "value" (raw string)} */
	int truncated;
};

static int collect_cb(void *arg, const char *key, const uint8_t *value,
		      size_t len, uint64_t version)
{
	struct collect *c = arg;

	(void)version;
	json_array_append_new(c->items,
			      json_pack("{s:s, s:s%}", "key", key, "value",
					(const char *)value, len));
	return 0;
}

/* Every record under prefix (paged through the storage), or NULL having
 * replied with the storage error. */
static json_t *scan_all(struct sb_req *r, const char *prefix)
{
	struct collect c = {json_array(), 0};
	char last[SB_KEY_MAX + 1] = "", after[SB_KEY_MAX + 1] = "";
	struct sb_error err = {{0}};
	struct sb_api_error e;
	size_t before;
	int rc;

	for (;;) {
		before = json_array_size(c.items);
		rc = store_scan(r->gen, prefix, after, 500, collect_cb, &c,
				last, &err);
		if (rc != SB_OK) {
			json_decref(c.items);
			store_error_to_api(&e, rc, &err,
					   "scanning the SSO database");
			sb_reply_api_error(r, &e);
			return NULL;
		}
		if (json_array_size(c.items) - before < 500 || last[0] == '\0')
			break;
		memcpy(after, last, sizeof(after));
	}
	return c.items;
}

/* ---- applications ---- */

/* GET /v1/apps */
static void apps_list(struct sb_req *r)
{
	json_t *items = scan_all(r, "app/"), *out, *it;
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
		if (app_role(r, &app) != ROLE_NONE)
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
	if (apply_batch(r, ops, n, &failed, &e, "creating applications") != 0) {
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
static void apps_create(struct sb_req *r)
{
	json_t *one, *created;
	const char *name =
		r->body ? json_string_value(json_object_get(r->body, "name"))
			: NULL;

	sb_req_audit(r, "app.create", 1, name, NULL);
	if (global_role(r) < ROLE_AFFILIATE) {
		forbid_global(r, "creating an application");
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
		if (storage_get(r, key, &val, &len, &ver, &e) == SB_OK &&
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
static void apps_import(struct sb_req *r)
{
	json_t *apps = r->body ? json_object_get(r->body, "apps") : NULL;
	json_t *created;

	sb_req_audit(r, "app.import", 1, NULL, NULL);
	if (global_role(r) < ROLE_AFFILIATE) {
		forbid_global(r, "importing applications");
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
static void app_get(struct sb_req *r, const char *name)
{
	struct sb_app app;

	sb_req_audit(r, "app.get", 3, name, NULL);
	if (app_load(r, name, 1, &app, NULL) != 0)
		return;
	if (app_role(r, &app) == ROLE_NONE)
		forbid_app(r, &app, "reading the definition", ROLE_USER);
	else
		sb_reply_json(r, 200, sb_app_view(app.json));
	sb_app_clear(&app);
}

/* PATCH /v1/apps/{app} */
static void app_update(struct sb_req *r, const char *name)
{
	static const char *const str_fields[] = {"description", "contact",
						 "user_group", "admin_group"};
	struct sb_api_error e;
	struct sb_app app;
	uint64_t version;
	json_t *rec, *v;
	char key[128], *val = NULL;
	int changed = 0, enable_change = -1;

	sb_req_audit(r, "app.update", 1, name, NULL);
	if (global_role(r) < ROLE_AFFILIATE) {
		forbid_global(r, "changing an application");
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
	if (app_load(r, name, 1, &app, &version) != 0)
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
		    apply_batch(r, &op, 1, NULL, &e,
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
static void app_delete(struct sb_req *r, const char *name)
{
	json_t *maps = NULL, *cfgs = NULL, *idx = json_array(), *it;
	struct sb_batch_op *ops = NULL;
	struct sb_api_error e;
	struct sb_app app;
	char prefix[160], key[128];
	size_t n = 0, i, total;

	sb_req_audit(r, "app.delete", 1, name, NULL);
	if (global_role(r) < ROLE_AFFILIATE) {
		forbid_global(r, "deleting an application");
		json_decref(idx);
		return;
	}
	if (!sb_req_write_epoch(r)) {
		json_decref(idx);
		return;
	}
	if (app_load(r, name, 1, &app, NULL) != 0) {
		json_decref(idx);
		return;
	}
	snprintf(prefix, sizeof(prefix), "map/%s/", name);
	if ((maps = scan_all(r, prefix)) == NULL)
		goto done;
	snprintf(prefix, sizeof(prefix), "cfg/%s/", name);
	if ((cfgs = scan_all(r, prefix)) == NULL)
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
	if (apply_batch(r, ops, n, NULL, &e, "deleting the application") != 0) {
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

/* ---- mappings ---- */

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
static void mappings_of_app(struct sb_req *r, const char *name)
{
	json_t *items, *out, *it;
	struct sb_app app;
	char prefix[160];
	size_t i;

	sb_req_audit(r, "mapping.list", 3, name, NULL);
	if (app_load(r, name, 1, &app, NULL) != 0)
		return;
	if (app_role(r, &app) < ROLE_APP_ADMIN) {
		forbid_app(r, &app, "listing the mappings", ROLE_APP_ADMIN);
		sb_app_clear(&app);
		return;
	}
	snprintf(prefix, sizeof(prefix), "map/%s/", name);
	items = scan_all(r, prefix);
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
	struct collect c = {json_array(), 0};
	struct sb_error err;
	int found = 0;
	size_t i;

	if (store_scan(r->gen, "app/", NULL, 0, collect_cb, &c, NULL, &err) !=
	    SB_OK) {
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
static void mappings_of_user(struct sb_req *r)
{
	char user[80], prefix[160], key[160];
	json_t *items, *out, *it;
	int self, global;
	size_t i;

	query_param(r, "user", user, sizeof(user));
	if (user[0] == '\0')
		snprintf(user, sizeof(user), "%s", sb_caller_name(r));
	sb_req_audit(r, "mapping.list", 3, NULL, user);
	if (!sb_valid_identity(user)) {
		sb_reply_error(r, 400, "bad_request",
			       "user must be a user name");
		return;
	}
	self = strcmp(user, sb_caller_name(r)) == 0;
	global = global_role(r) >= ROLE_AFFILIATE;
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
	if ((items = scan_all(r, prefix)) == NULL)
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
		if (storage_get(r, akey, &val, &len, &ver, &e) != SB_OK)
			continue;
		if (sb_app_parse(val, len, &app) != 0) {
			free(val);
			continue;
		}
		free(val);
		val = NULL;
		if (global || (self && app_role(r, &app) >= ROLE_USER) ||
		    app_role(r, &app) >= ROLE_APP_ADMIN) {
			snprintf(key, sizeof(key), "map/%s/%s", appname, user);
			if (storage_get(r, key, &val, &len, &ver, &e) ==
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
static void mapping_set(struct sb_req *r, const char *name,
			const char *identity)
{
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
	if (app_load(r, name, 1, &app, NULL) != 0)
		return;
	role = app_role(r, &app);
	if (role < ROLE_APP_ADMIN && !(is_self(r, &app, identity, role) &&
				       app.type == SB_APP_INDIVIDUAL)) {
		forbid_app(r, &app,
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
	if (!can_encrypt(r))
		goto done;
	cc = crypto_ctx(r);
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
	rc = storage_get(r, mkey, &oval, &olen, &over, &e);
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

		if (apply_batch(r, ops, 2, NULL, &e, "storing the mapping") !=
		    0) {
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
	struct sb_crypto_ctx cc = crypto_ctx(r);
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
	rc = storage_get(r, key, &val, &len, version ? version : &ver, &e);
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
static void mapping_get(struct sb_req *r, const char *name,
			const char *identity)
{
	struct sb_api_error e;
	struct sb_app app;
	json_t *rec = NULL, *values;
	int role, self, show;

	sb_req_audit(r, "mapping.get", 3, name, identity);
	if (app_load(r, name, 1, &app, NULL) != 0)
		return;
	role = app_role(r, &app);
	self = is_self(r, &app, identity, role);
	if (role < ROLE_APP_ADMIN && !self) {
		forbid_app(r, &app, "reading another identity's credentials",
			   ROLE_APP_ADMIN);
		goto done;
	}
	if (!identity_fits(r, &app, identity))
		goto done;
	if ((rec = mapping_load(r, name, identity, NULL)) == NULL)
		goto done;
	show = query_flag(r, "show_masked", "1");
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
static void mapping_update(struct sb_req *r, const char *name,
			   const char *identity)
{
	json_t *en = r->body ? json_object_get(r->body, "enabled") : NULL;
	struct sb_api_error e;
	struct sb_app app;
	uint64_t ver = 0;
	char key[160], *out = NULL;
	json_t *rec = NULL;

	sb_req_audit(r,
		     json_is_false(en) ? "mapping.disable" : "mapping.enable",
		     2, name, identity);
	if (app_load(r, name, 1, &app, NULL) != 0)
		return;
	if (app_role(r, &app) < ROLE_APP_ADMIN) {
		forbid_app(r, &app, "enabling or disabling a mapping",
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

		if (out == NULL || apply_batch(r, &op, 1, NULL, &e,
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
static void mapping_delete(struct sb_req *r, const char *name,
			   const char *identity)
{
	struct sb_api_error e;
	struct sb_app app;
	char mkey[160], ukey[160];

	sb_req_audit(r, "mapping.delete", 2, name, identity);
	if (app_load(r, name, 1, &app, NULL) != 0)
		return;
	if (app_role(r, &app) < ROLE_APP_ADMIN) {
		forbid_app(r, &app, "deleting a mapping", ROLE_APP_ADMIN);
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

		if (apply_batch(r, ops, 2, NULL, &e, "deleting the mapping") !=
		    0) {
			sb_reply_api_error(r, &e);
			goto done;
		}
	}
	sb_reply_json(r, 200, json_pack("{s:b}", "deleted", 1));
done:
	sb_app_clear(&app);
}

/* ---- lookup ---- */

/* Appends s (len bytes, valid UTF-8) to buf as a JSON string. */
static void json_quote(struct evbuffer *buf, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t from = 0;

	evbuffer_add(buf, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		evbuffer_add(buf, s + from, i - from);
		/* The short escapes jansson writes, so replies read alike. */
		switch (ch) {
		case '"':
		case '\\': esc[1] = (char)ch; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default: esc[1] = 'u';
		}
		evbuffer_add(buf, esc, esc[1] == 'u' ? 6 : 2);
		from = i + 1;
	}
	evbuffer_add(buf, s + from, len - from);
	evbuffer_add(buf, "\"", 1);
}

static void json_quote_str(struct evbuffer *buf, const char *s)
{
	json_quote(buf, s, strlen(s));
}

/* GET /v1/lookup/{app}[?show_masked=1][&user=U][&cache=bypass]
 * The hot path: one parse of the query, the app and mapping read through
 * the thread cache in decoded form, the reply written without jansson. */
static void lookup(struct sb_req *r, const char *name)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params = {0};
	const char *v;
	char user[SB_NAME_MAX + 2] = "", key[160];
	struct sb_api_error e;
	struct sb_app app = {0};
	struct sb_crypto_ctx cc;
	struct map_rec *m = NULL;
	struct evbuffer *out = NULL;
	const char *identity;
	int role, bypass = 0, show = 0, rc;
	size_t mlen;

	if (q && evhttp_parse_query_str(q, &params) == 0) {
		v = evhttp_find_header(&params, "cache");
		bypass = v && strcmp(v, "bypass") == 0;
		v = evhttp_find_header(&params, "show_masked");
		show = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
		v = evhttp_find_header(&params, "user");
		if (v)
			snprintf(user, sizeof(user), "%s", v);
		evhttp_clear_headers(&params);
	}
	sb_req_audit(r, "lookup", 3, name, NULL);
	if (app_load(r, name, bypass, &app, NULL) != 0)
		return;
	role = app_role(r, &app);
	if (role < ROLE_USER) {
		forbid_app(r, &app, "looking up credentials", ROLE_USER);
		goto done;
	}
	if (app.type == SB_APP_CONFIG_STORE) {
		sb_reply_error(r, 400, "wrong_app_type",
			       "application %s is a config-store application: "
			       "read it with GET /v1/apps/%s/config/ID",
			       name, name);
		goto done;
	}
	if (user[0] && !sb_valid_identity(user)) {
		sb_reply_error(r, 400, "bad_request",
			       "user must be a user or group name (1..64 "
			       "characters of A-Z a-z 0-9 . _ - @)");
		goto done;
	}
	if (user[0] && role < ROLE_APP_ADMIN) {
		forbid_app(r, &app, "looking up another identity's credentials",
			   ROLE_APP_ADMIN);
		goto done;
	}
	identity = user[0]		      ? user
		   : app.type == SB_APP_GROUP ? app.user_group
					      : sb_caller_name(r);
	snprintf(r->audit.target, sizeof(r->audit.target), "%s", identity);
	if (!app.enabled) {
		sb_reply_error(r, 403, "app_disabled",
			       "application %s is disabled", name);
		goto done;
	}
	snprintf(key, sizeof(key), "map/%s/%s", name, identity);
	rc = cached_decoded(r, key, bypass, decode_map, (void **)&m, &mlen, &e);
	if (rc == SB_ENOTFOUND) {
		sb_reply_error(r, 404, "no_mapping",
			       "%s has no credentials for application %s",
			       identity, name);
		goto done;
	}
	if (rc == 1 || (rc == SB_OK && m->n_fields != app.n_fields)) {
		sb_reply_error(r, 500, "record_damaged",
			       "the mapping %s/%s is damaged or does not match "
			       "the application's fields",
			       name, identity);
		goto done;
	}
	if (rc != SB_OK) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	if (!m->enabled) {
		sb_reply_error(
			r, 403, "mapping_disabled",
			"the credentials of %s for application %s are disabled",
			identity, name);
		goto done;
	}
	out = evbuffer_new();
	if (out == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	cc = crypto_ctx(r);
	evbuffer_add(out, "{\"app\":", 7);
	json_quote_str(out, name);
	evbuffer_add(out, ",\"identity\":", 12);
	json_quote_str(out, identity);
	evbuffer_add(out, ",\"values\":{", 11);
	for (size_t f = 0; f < app.n_fields; f++) {
		char *pt = NULL;
		size_t len = 0;

		if (f)
			evbuffer_add(out, ",", 1);
		json_quote_str(out, app.fields[f].label);
		evbuffer_add(out, ":", 1);
		if (app.fields[f].masked && !show) {
			json_quote_str(out, MASK);
			continue;
		}
		if (sb_value_open_raw(&cc, "map", app.name, identity,
				      app.fields[f].label, m->msid,
				      m->blob + m->off[f], m->len[f], &pt, &len,
				      &e) != 0) {
			sb_reply_api_error(r, &e);
			goto done;
		}
		json_quote(out, pt, len);
		explicit_bzero(pt, len);
		free(pt);
	}
	evbuffer_add(out, "}}\n", 3);
	sb_reply_buffer(r, 200, out);
done:
	if (out)
		evbuffer_free(out); /* chains wiped by the daemon's free */
	if (m) {
		explicit_bzero(m, mlen);
		free(m);
	}
	sb_app_clear(&app);
}

/* ---- config store ---- */

static int config_app(struct sb_req *r, const char *name, int need,
		      const char *what, struct sb_app *app)
{
	int role;

	if (app_load(r, name, need < ROLE_APP_ADMIN ? 0 : 1, app, NULL) != 0)
		return -1;
	role = app_role(r, app);
	if (role < need) {
		forbid_app(r, app, what, need);
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
static void config_set(struct sb_req *r, const char *name, const char *id)
{
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
	if (!can_encrypt(r))
		goto done;
	cc = crypto_ctx(r);
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
	if (apply_batch(r, ops, n, NULL, &e, "storing config values") != 0) {
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
	struct sb_crypto_ctx cc = crypto_ctx(r);
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
static void config_get(struct sb_req *r, const char *name, const char *id)
{
	char key[80], skey[256];
	struct sb_api_error e;
	struct sb_app app;
	json_t *out = json_object();

	sb_req_audit(r, "config.get", 3, name, id);
	if (config_app(r, name, ROLE_USER, "reading the config store", &app) !=
	    0)
		goto out;
	query_param(r, "key", key, sizeof(key));
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
		rc = cached_get(r, skey, query_flag(r, "cache", "bypass"), &val,
				&len, &e);
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
		if ((items = scan_all(r, skey)) == NULL)
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
static void config_delete(struct sb_req *r, const char *name, const char *id,
			  const char *k)
{
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
	rc = storage_get(r, skey, &val, &len, &ver, &e);
	free(val);
	if (rc == SB_ENOTFOUND) {
		sb_reply_error(r, 404, "no_such_key",
			       "config %s/%s has no key %s", name, id, k);
		goto done;
	}
	if (rc == SB_OK) {
		struct sb_batch_op op = {SB_OP_DELETE, SB_PRE_NONE, 0,
					 skey,	       NULL,	    0};

		rc = apply_batch(r, &op, 1, NULL, &e,
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

/* POST /v1/cache/purge {"app"?} */
static void cache_purge(struct sb_req *r)
{
	const char *name =
		r->body ? json_string_value(json_object_get(r->body, "app"))
			: NULL;

	sb_req_audit(r, "cache.purge", 2, name, NULL);
	if (name) {
		struct sb_app app;

		if (app_load(r, name, 1, &app, NULL) != 0)
			return;
		if (app_role(r, &app) < ROLE_APP_ADMIN) {
			forbid_app(r, &app, "purging the cache",
				   ROLE_APP_ADMIN);
			sb_app_clear(&app);
			return;
		}
		sb_app_clear(&app);
	} else if (!sb_require_admin(r)) {
		return;
	}
	/* Entries are not indexed by application: purging one application
	 * purges all, which only costs storage reads. */
	sb_cache_invalidate_all(&r->d->cache_inval);
	sb_reply_json(r, 200,
		      json_pack("{s:s}", "purged", name ? name : "all"));
}

/* ---- routing ---- */

/* Splits path (after "/v1/") into at most max segments; returns how many,
 * or -1 when a segment is empty or there are too many. */
static int split_path(char *path, char **seg, int max)
{
	int n = 0;
	char *p = path, *slash;

	while (*p) {
		if (n == max)
			return -1;
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (*p == '\0')
			return -1;
		seg[n++] = p;
		if (!slash)
			break;
		p = slash + 1;
		if (*p == '\0')
			return -1; /* trailing slash */
	}
	return n;
}

int sb_api_store_dispatch(struct sb_req *r)
{
	char path[sizeof(r->path)];
	char *s[6];
	int n, m = r->method;

	if (strncmp(r->path, "/v1/", 4) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s", r->path + 4);
	n = split_path(path, s, 6);
	if (n < 1)
		return 0;
	if (n == 1 && strcmp(s[0], "apps") == 0) {
		if (m == EVHTTP_REQ_GET)
			apps_list(r);
		else if (m == EVHTTP_REQ_POST)
			apps_create(r);
		else
			return -1;
		return 1;
	}
	if (n == 1 && strcmp(s[0], "mappings") == 0) {
		if (m != EVHTTP_REQ_GET)
			return -1;
		mappings_of_user(r);
		return 1;
	}
	if (n == 2 && strcmp(s[0], "cache") == 0 &&
	    strcmp(s[1], "purge") == 0) {
		if (m != EVHTTP_REQ_POST)
			return -1;
		cache_purge(r);
		return 1;
	}
	if (n == 2 && strcmp(s[0], "lookup") == 0) {
		if (m != EVHTTP_REQ_GET)
			return -1;
		lookup(r, s[1]);
		return 1;
	}
	if (strcmp(s[0], "apps") != 0 || n < 2)
		return 0;
	if (n == 2 && strcmp(s[1], "import") == 0) {
		if (m != EVHTTP_REQ_POST)
			return -1;
		apps_import(r);
		return 1;
	}
	if (!sb_valid_name(s[1])) {
		sb_reply_error(r, 400, "bad_request",
			       "\"%s\" is not a valid application name", s[1]);
		return 1;
	}
	if (n == 2) {
		if (m == EVHTTP_REQ_GET)
			app_get(r, s[1]);
		else if (m == EVHTTP_REQ_PATCH)
			app_update(r, s[1]);
		else if (m == EVHTTP_REQ_DELETE)
			app_delete(r, s[1]);
		else
			return -1;
		return 1;
	}
	if (strcmp(s[2], "mappings") == 0) {
		if (n == 3) {
			if (m != EVHTTP_REQ_GET)
				return -1;
			mappings_of_app(r, s[1]);
			return 1;
		}
		if (n != 4)
			return 0;
		if (!sb_valid_identity(s[3])) {
			sb_reply_error(r, 400, "bad_request",
				       "\"%s\" is not a valid identity", s[3]);
			return 1;
		}
		if (m == EVHTTP_REQ_PUT)
			mapping_set(r, s[1], s[3]);
		else if (m == EVHTTP_REQ_GET)
			mapping_get(r, s[1], s[3]);
		else if (m == EVHTTP_REQ_PATCH)
			mapping_update(r, s[1], s[3]);
		else if (m == EVHTTP_REQ_DELETE)
			mapping_delete(r, s[1], s[3]);
		else
			return -1;
		return 1;
	}
	if (strcmp(s[2], "config") == 0 && (n == 4 || n == 5)) {
		if (!sb_valid_name(s[3]) || (n == 5 && !sb_valid_name(s[4]))) {
			sb_reply_error(r, 400, "bad_request",
				       "config ids and keys are 1..64 "
				       "characters of A-Z a-z 0-9 . _ -");
			return 1;
		}
		if (n == 4 && m == EVHTTP_REQ_PUT)
			config_set(r, s[1], s[3]);
		else if (n == 4 && m == EVHTTP_REQ_GET)
			config_get(r, s[1], s[3]);
		else if (n == 5 && m == EVHTTP_REQ_DELETE)
			config_delete(r, s[1], s[3], s[4]);
		else
			return -1;
		return 1;
	}
	return 0;
}
