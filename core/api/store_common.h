/*
 * What the credential store's handlers (apps.c, mappings.c, lookup.c,
 * config_store.c, cache_admin.c) share: the caller's role towards an
 * application and the 403 replies naming it, reads of the SSO database
 * (through this thread's cache or not), batched writes, application
 * records, query parameters and prefix scans. All of it runs on the
 * request's worker thread and takes no lock shared with other threads.
 */
#ifndef SB_STORE_COMMON_H
#define SB_STORE_COMMON_H

#include "api/http.h"
#include "api/records.h"
#include "runtime/clock.h"
#include "host/host.h"
#include "store/store.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* What a caller is to one application, weakest first; each includes the
 * ones before it (docs/api.md, Roles). */
enum sb_app_role {
	ROLE_NONE = 0,
	ROLE_USER = 1,	    /* the app's user group */
	ROLE_APP_ADMIN = 2, /* the app's admin group */
	ROLE_AFFILIATE = 3, /* [access] sso_affiliate_admins */
	ROLE_SSO_ADMIN = 4, /* [access] sso_admins, root */
};

/* What a masked value reads as when it is not shown. */
#define MASK "********"

/* The role the caller has regardless of any application: ROLE_SSO_ADMIN,
 * ROLE_AFFILIATE or ROLE_NONE. */
int sb_api_global_role(struct sb_req *r);
/* The caller's role towards app (its global role when that is higher). */
int sb_api_app_role(struct sb_req *r, const struct sb_app *app);

/* Reply 403 forbidden: what (e.g. "creating an application") needs an
 * affiliate or SSO administrator. */
void sb_api_forbid_global(struct sb_req *r, const char *what);
/* Reply 403 forbidden: what of app needs role needed (ROLE_USER: its user
 * group; ROLE_APP_ADMIN or more: its admin group). */
void sb_api_forbid_app(struct sb_req *r, const struct sb_app *app,
		       const char *what, int needed);

/* Reads key from the SSO database (no cache). *val is malloc'ed, the
 * caller frees it. Returns SB_OK, SB_ENOTFOUND, or -1 with e. */
int sb_api_storage_get(struct sb_req *r, const char *key, uint8_t **val,
		       size_t *len, uint64_t *version, struct sb_api_error *e);
/* Reads key through this thread's cache unless bypass. *val is malloc'ed.
 * Returns SB_OK, SB_ENOTFOUND, or -1 with e. */
int sb_api_cached_get(struct sb_req *r, const char *key, int bypass,
		      uint8_t **val, size_t *len, struct sb_api_error *e);
/* Reads key through this thread's cache, which holds decode(raw record)
 * rather than the raw record, so a hit costs no JSON parse. Every cached
 * read of a key's prefix must use the same decode (map/: the lookup's
 * sb_map_decode; app/ records go through api/app_cache.c); the key is the
 * storage key, so writes still invalidate it. decode returns a malloc'ed
 * blob or NULL for a damaged record. On a hit *out is the cache's copy,
 * *borrowed 1: valid until the next call on this thread's cache, not
 * freed (the hot path copies nothing); otherwise *out is malloc'ed, the
 * caller frees it, *borrowed 0. Returns SB_OK, SB_ENOTFOUND, 1 for a
 * damaged record, or -1 with e. */
int sb_api_cached_decoded(struct sb_req *r, const char *key, int bypass,
			  void *(*decode)(const uint8_t *, size_t, size_t *),
			  void **out, size_t *out_len, int *borrowed,
			  struct sb_api_error *e);
/* Applies n ops in one batch at the request's write epoch and invalidates
 * every written key in every thread's cache. *failed (may be NULL) is the
 * index of the op that failed. Returns 0, or -1 with e (409 conflict, or
 * the storage error; what names the write in the message). */
int sb_api_apply_batch(struct sb_req *r, struct sb_batch_op *ops, size_t n,
		       size_t *failed, struct sb_api_error *e,
		       const char *what);

/* Loads application name into app (the caller clears it with
 * sb_app_clear). Read through the cache (app->json NULL) unless bypass or
 * version is wanted. Returns 0, or -1 having replied (404 no_such_app,
 * 500 record_damaged or a storage error). */
int sb_api_app_load(struct sb_req *r, const char *name, int bypass,
		    struct sb_app *app, uint64_t *version);

/* Query parameter key of the request into buf of len bytes; "" when
 * absent. Returns buf. */
const char *sb_api_query_param(struct sb_req *r, const char *key, char *buf,
			       size_t len);
/* 1 when query parameter key equals yes ("1" also accepts "true"). */
int sb_api_query_flag(struct sb_req *r, const char *key, const char *yes);

/* 1 when this node may encrypt; on a member that cannot reach the MSS
 * replies 503 mss_unavailable and returns 0. */
int sb_api_can_encrypt(struct sb_req *r);

/* The crypto plugin and this thread's record keys, for sealing and
 * opening values (borrowed: valid while the request lives). */
static inline struct sb_crypto_ctx sb_api_crypto_ctx(struct sb_req *r)
{
	struct sb_crypto_ctx cc = {r->gen->cops, r->gen->crypto.inst,
				   sb_req_record_keys(r)};
	return cc;
}

/* lookup.c: replies with identity's credentials for app (a loaded,
 * readable application that is not a config-store one), as GET
 * /v1/lookup/{app} does: 403 app_disabled, 404 no_mapping, 403
 * mapping_disabled, or 200 {"app", "identity", "values"} with masked
 * values shown only when show. The caller has checked the role and set the
 * audit record. Always replies. */
void sb_api_reply_credentials(struct sb_req *r, const struct sb_app *app,
			      const char *identity, int show, int bypass);

/* Records collected by a scan: items is an array of {"key", "value" (the
 * raw record as a string)}, owned by whoever started the scan. */
struct sb_api_collect {
	json_t *items;
	int truncated;
};

/* A store_scan callback appending each record to the struct sb_api_collect
 * at arg. Returns 0. */
int sb_api_collect_cb(void *arg, const char *key, const uint8_t *value,
		      size_t len, uint64_t version);
/* Every record under prefix (paged through the storage) as a new array
 * of {"key", "value"} the caller decrefs, or NULL having replied with the
 * storage error. */
json_t *sb_api_scan_all(struct sb_req *r, const char *prefix);

#endif
