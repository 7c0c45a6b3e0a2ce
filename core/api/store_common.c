/*
 * What the credential store's handlers share (store_common.h): the
 * caller's role, the refusals naming it, reads through the thread's cache,
 * batched writes, application records, query parameters and scans.
 */
#define _GNU_SOURCE
#include "api/store_common.h"

#include "api/app_cache.h"
#include "api/reply_format.h"

#include "runtime/cache.h"
#include "runtime/log.h"
#include "store/store.h"
#include "cluster/member.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Role the caller has regardless of any application. */
int sb_api_global_role(struct sb_req *r)
{
	if (sb_caller_is_admin(r))
		return ROLE_SSO_ADMIN;
	if (sb_caller_in_group(&r->caller,
			       r->gen->conf->sso_affiliate_admins_gid))
		return ROLE_AFFILIATE;
	return ROLE_NONE;
}

/* See store_common.h. */
int sb_api_app_role(struct sb_req *r, const struct sb_app *app)
{
	int g = sb_api_global_role(r);

	if (g != ROLE_NONE)
		return g;
	if (sb_caller_in_named_group(r, app->admin_group))
		return ROLE_APP_ADMIN;
	if (sb_caller_in_named_group(r, app->user_group))
		return ROLE_USER;
	return ROLE_NONE;
}

/* See store_common.h. */
void sb_api_forbid_global(struct sb_req *r, const char *what)
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

/* See store_common.h. */
void sb_api_forbid_app(struct sb_req *r, const struct sb_app *app,
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

/* See store_common.h. */
int sb_api_storage_get(struct sb_req *r, const char *key, uint8_t **val,
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
int sb_api_cached_get(struct sb_req *r, const char *key, int bypass,
		      uint8_t **val, size_t *len, struct sb_api_error *e)
{
	uint64_t ttl = r->gen->conf->cache_timeout_ms, now, version;
	struct sb_cache_stamp stamp;
	const uint8_t *hit;
	size_t hit_len;
	int rc;

	if (ttl == 0 || bypass)
		return sb_api_storage_get(r, key, val, len, &version, e);
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
	rc = sb_api_storage_get(r, key, val, len, &version, e);
	if (rc == SB_OK)
		sb_cache_put(r->local->cache, key, *val, *len, now, ttl,
			     &stamp);
	return rc;
}

/* Reads key through this thread's cache, which holds decode(raw record)
 * rather than the raw record, so a hit costs no JSON parse. Every cached
 * read of a key's prefix must use the same decode (map/: sb_map_decode;
 * app/ records go through api/app_cache.c); the key is the storage key,
 * so writes still invalidate it. decode returns a malloc'ed blob or NULL
 * for a damaged record. On a hit *out is the cache's copy and *borrowed
 * 1 (valid until the next call on this thread's cache; not freed);
 * otherwise *out is malloc'ed and *borrowed 0. Returns SB_OK,
 * SB_ENOTFOUND, 1 for a damaged record, or -1 with e. */
int sb_api_cached_decoded(struct sb_req *r, const char *key, int bypass,
			  void *(*decode)(const uint8_t *, size_t, size_t *),
			  void **out, size_t *out_len, int *borrowed,
			  struct sb_api_error *e)
{
	uint64_t ttl = r->gen->conf->cache_timeout_ms, now = 0, version;
	struct sb_cache_stamp stamp;
	const uint8_t *hit;
	uint8_t *raw = NULL;
	size_t hit_len, raw_len = 0;
	int rc;

	*borrowed = 0;
	if (ttl && !bypass) {
		now = sb_mono_ms();
		if (sb_cache_get(r->local->cache, &r->d->cache_inval, key, now,
				 &hit, &hit_len)) {
			*out = (void *)(uintptr_t)hit;
			*out_len = hit_len;
			*borrowed = 1;
			return SB_OK;
		}
		sb_cache_snapshot(&r->d->cache_inval, key, &stamp);
	}
	rc = sb_api_storage_get(r, key, &raw, &raw_len, &version, e);
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

/* Applies a batch (unfenced: credentials may be written on any node) and
 * invalidates every written key in every thread's cache. */
int sb_api_apply_batch(struct sb_req *r, struct sb_batch_op *ops, size_t n,
		       size_t *failed, struct sb_api_error *e, const char *what)
{
	struct sb_batch_op *all = NULL;
	char gen[SB_APP_GEN_BUF];
	size_t n_all, at = 0;
	struct sb_batch b = {ops, n, 0, NULL, &at};
	struct sb_error err = {{0}};
	int rc;

	/* An application change also writes the application generation, in
	 * the same batch, so other nodes drop their cached definitions. */
	if (sb_app_gen_append(ops, n, gen, &all, &n_all, e) != 0)
		return -1;
	if (all) {
		b.ops = all;
		b.n_ops = n_all;
	}
	rc = store_batch_apply(r->gen, sb_req_write_fencing(r), &b, &err);
	free(all);
	for (size_t i = 0; i < n; i++)
		sb_cache_invalidate(&r->d->cache_inval, ops[i].key);
	if (failed && rc == SB_ECONFLICT)
		*failed = at < n ? at : 0;
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
int sb_api_app_load(struct sb_req *r, const char *name, int bypass,
		    struct sb_app *app, uint64_t *version)
{
	struct sb_api_error e;
	char key[128];
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t ver = 0;
	int rc;

	sb_str_join(key, sizeof(key), "app/", name, NULL);
	if (version == NULL && !bypass) {
		rc = sb_app_cache_load(r, key, app, &e);
		if (rc == SB_OK)
			return 0;
		if (rc == 1) {
			sb_reply_error(
				r, 500, "record_damaged",
				"the record of application %s is damaged",
				name);
			return -1;
		}
	} else {
		rc = sb_api_storage_get(r, key, &val, &len, &ver, &e);
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
const char *sb_api_query_param(struct sb_req *r, const char *key, char *buf,
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

/* See store_common.h. */
int sb_api_query_flag(struct sb_req *r, const char *key, const char *yes)
{
	char buf[32];

	sb_api_query_param(r, key, buf, sizeof(buf));
	return strcmp(buf, yes) == 0 ||
	       (strcmp(yes, "1") == 0 && strcmp(buf, "true") == 0);
}

/* A member refuses to encrypt while it cannot reach the MSS: the secret it
 * holds may have been replaced meanwhile. Replies 503 and returns 0. */
int sb_api_can_encrypt(struct sb_req *r)
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

/* See store_common.h. */
int sb_api_collect_cb(void *arg, const char *key, const uint8_t *value,
		      size_t len, uint64_t version)
{
	struct sb_api_collect *c = arg;

	(void)version;
	json_array_append_new(c->items,
			      json_pack("{s:s, s:s%}", "key", key, "value",
					(const char *)value, len));
	return 0;
}

/* Every record under prefix (paged through the storage), or NULL having
 * replied with the storage error. */
json_t *sb_api_scan_all(struct sb_req *r, const char *prefix)
{
	struct sb_api_collect c = {json_array(), 0};
	char last[SB_KEY_MAX + 1] = "", after[SB_KEY_MAX + 1] = "";
	struct sb_error err = {{0}};
	struct sb_api_error e;
	size_t before;
	int rc;

	for (;;) {
		before = json_array_size(c.items);
		rc = store_scan(r->gen, prefix, after, 500, sb_api_collect_cb,
				&c, last, &err);
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
