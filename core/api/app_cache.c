/* Application definitions cached per request thread: see app_cache.h. */
#define _GNU_SOURCE
#include "api/app_cache.h"

#include "api/store_common.h"
#include "host/daemon.h"
#include "runtime/cache.h"
#include "runtime/log.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* How long a cached definition lives at most: the generation, not this,
 * is what keeps it right; this only bounds an entry nobody asks for. */
#define APP_CACHE_TTL_MS (3600 * 1000ULL)

/* A cached definition: the thread's epoch when it was read, then the
 * struct sb_app up to its last field in use. */
struct cached_app {
	uint64_t epoch;
	struct sb_app app;
};

/* Reads the application generation when this thread last did so more than
 * app_check_ms ago, bumping the thread's epoch when it changed. Returns 1
 * when the thread's cached definitions may be used, 0 when not (the
 * generation has never been read: the storage failed). A failed read
 * keeps the definitions already cached in use until the next check, as
 * the credential cache serves during a storage outage. */
static int app_gen_check(struct sb_req *r, uint64_t now)
{
	struct sb_local *l = r->local;
	struct sb_error err = {{0}};
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t version;
	int rc;

	if (l->app_gen.known &&
	    now - l->app_gen.checked_ms < r->gen->conf->cache_app_check_ms)
		return 1;
	rc = store_get_record(r->gen, SB_APP_GEN_KEY, &val, &len, &version,
			      &err);
	if (rc != SB_OK && rc != SB_ENOTFOUND) {
		sb_debug("application cache: cannot read %s: %s",
			 SB_APP_GEN_KEY,
			 err.msg[0] ? err.msg : sb_status_name(rc));
		if (l->app_gen.known)
			l->app_gen.checked_ms = now;
		return l->app_gen.known;
	}
	if (rc == SB_ENOTFOUND)
		len = 0;
	/* A token longer than the buffer is never equal: always a change. */
	if (!l->app_gen.known || len > sizeof(l->app_gen.token) ||
	    len != l->app_gen.len ||
	    (len > 0 && memcmp(val, l->app_gen.token, len) != 0)) {
		l->app_gen.epoch++;
		l->app_gen.len = len <= sizeof(l->app_gen.token) ? len : 0;
		if (len > 0 && len <= sizeof(l->app_gen.token))
			memcpy(l->app_gen.token, val, len);
	}
	l->app_gen.known = 1;
	l->app_gen.checked_ms = now;
	free(val);
	return 1;
}

/* See app_cache.h. */
int sb_app_cache_load(struct sb_req *r, const char *key, struct sb_app *app,
		      struct sb_api_error *e)
{
	struct sb_cache_inval *inv = &r->d->cache_inval;
	struct sb_cache_stamp stamp;
	struct cached_app *c = NULL;
	const uint8_t *hit;
	uint8_t *raw = NULL;
	size_t hit_len, raw_len = 0, used;
	uint64_t now = 0, epoch = 0, version;
	int usable = 0, ret = -1, rc;

	if (r->gen->conf->cache_app_check_ms > 0) {
		now = sb_mono_ms();
		usable = app_gen_check(r, now);
	}
	if (usable) {
		epoch = r->local->app_gen.epoch;
		if (sb_cache_get(r->local->cache, inv, key, now, &hit,
				 &hit_len) &&
		    hit_len >= offsetof(struct cached_app, app.fields) &&
		    hit_len <= sizeof(*c) &&
		    ((const struct cached_app *)(const void *)hit)->epoch ==
			    epoch) {
			memset(app, 0, sizeof(*app)); /* json NULL */
			memcpy(app, hit + offsetof(struct cached_app, app),
			       hit_len - offsetof(struct cached_app, app));
			return SB_OK;
		}
		/* Before the read: a write racing with it invalidates. */
		sb_cache_snapshot(inv, key, &stamp);
	}
	rc = sb_api_storage_get(r, key, &raw, &raw_len, &version, e);
	if (rc != SB_OK) {
		ret = rc;
		goto done;
	}
	if (sb_app_parse(raw, raw_len, app) != 0) {
		ret = 1;
		goto done;
	}
	json_decref(app->json);
	app->json = NULL;
	ret = SB_OK;
	if (!usable)
		goto done;
	c = malloc(sizeof(*c));
	if (c == NULL)
		goto done; /* not cached: the lookup goes on */
	c->epoch = epoch;
	c->app = *app;
	/* Only the fields in use: up to max_entries of these per thread. */
	used = offsetof(struct cached_app, app.fields) +
	       app->n_fields * sizeof(app->fields[0]);
	sb_cache_put(r->local->cache, key, (const uint8_t *)c, used, now,
		     APP_CACHE_TTL_MS, &stamp);
done:
	free(c);
	free(raw);
	return ret;
}

/* See app_cache.h. */
int sb_app_gen_append(const struct sb_batch_op *ops, size_t n, char *buf,
		      struct sb_batch_op **out, size_t *n_out,
		      struct sb_api_error *e)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];
	struct sb_batch_op *all;
	size_t i;

	*out = NULL;
	*n_out = n;
	for (i = 0; i < n; i++)
		if (strncmp(ops[i].key, "app/", 4) == 0)
			break;
	if (i == n)
		return 0;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return sb_api_fail(e, 500, "internal",
				   "no random bytes for the application "
				   "generation");
	all = calloc(n + 1, sizeof(*all));
	if (all == NULL)
		return sb_api_fail(e, 500, "internal", "out of memory");
	memcpy(all, ops, n * sizeof(*ops));
	memcpy(buf, "{\"token\":\"", 10);
	for (i = 0; i < sizeof(rnd); i++) {
		buf[10 + 2 * i] = hex[rnd[i] >> 4];
		buf[11 + 2 * i] = hex[rnd[i] & 15];
	}
	memcpy(buf + 10 + 2 * sizeof(rnd), "\"}", 3);
	all[n].type = SB_OP_PUT;
	all[n].precondition = SB_PRE_NONE;
	all[n].key = SB_APP_GEN_KEY;
	all[n].value = (const uint8_t *)buf;
	all[n].value_len = strlen(buf);
	*out = all;
	*n_out = n + 1;
	return 0;
}
