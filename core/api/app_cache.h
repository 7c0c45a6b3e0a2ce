/*
 * Application definitions cached per request thread, so a lookup that
 * misses the credential cache reads one record (the mapping), not two.
 *
 * Every batch that writes an app/ record also writes SB_APP_GEN_KEY, a
 * fresh random token (the application generation). A request thread reads
 * that key at most every [cache] app_check_ms; when it differs from what
 * the thread saw last, every definition the thread cached is stale. So a
 * change made on another node is seen by a request that starts more than
 * app_check_ms after it committed; a change on this node at once (the
 * batch invalidates the key on every thread, as for the credential cache).
 */
#ifndef SB_APP_CACHE_H
#define SB_APP_CACHE_H

#include "api/http.h"
#include "api/records.h"
#include "runtime/api_error.h"
#include "store/store.h"

#include <stddef.h>

#define SB_APP_GEN_KEY "meta/app_generation"

/* Reads the application record at key ("app/NAME") into app through this
 * thread's application cache (app->json NULL), or straight from the SSO
 * database when app_check_ms is 0. Returns SB_OK, SB_ENOTFOUND, 1 for a
 * damaged record, or -1 with e (a storage error). */
int sb_app_cache_load(struct sb_req *r, const char *key, struct sb_app *app,
		      struct sb_api_error *e);

/* When any of the n ops writes an app/ record, returns in *out a new
 * array (the caller frees it) of the n ops plus a put of a fresh
 * SB_APP_GEN_KEY token written to buf (SB_APP_GEN_BUF bytes, which must
 * outlive the batch), and *n_out = n + 1; otherwise *out = NULL and *n_out
 * = n. Returns 0, or -1 with e (out of memory, no random bytes). */
#define SB_APP_GEN_BUF 64
int sb_app_gen_append(const struct sb_batch_op *ops, size_t n, char *buf,
		      struct sb_batch_op **out, size_t *n_out,
		      struct sb_api_error *e);

#endif
