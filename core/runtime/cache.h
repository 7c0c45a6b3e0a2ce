/*
 * The per-node credential cache (ENTSSO's): storage values — which are
 * encrypted records, never plaintext — kept for a configurable time so a
 * lookup usually costs no storage read.
 *
 * Each request thread owns its own struct sb_cache, so the read path takes
 * no lock. Invalidation crosses threads through struct sb_cache_inval: a
 * write bumps the counter of its key's stripe, a purge bumps the global
 * counter, and an entry filled under older counters is a miss.
 */
#ifndef SB_CACHE_H
#define SB_CACHE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SB_CACHE_STRIPES 256

struct sb_cache_inval {
	atomic_uint_fast64_t global;
	atomic_uint_fast64_t stripe[SB_CACHE_STRIPES];
};

struct sb_cache;

/* A cache of at most max_entries entries. NULL on ENOMEM. */
struct sb_cache *sb_cache_new(size_t max_entries);
void sb_cache_free(struct sb_cache *c);

/* Looks key up. On a fresh hit returns 1 and points *value and *len at the
 * cache's copy (valid until the next call on this cache). Returns 0 on a
 * miss, an expired entry or an invalidated one. */
int sb_cache_get(struct sb_cache *c, const struct sb_cache_inval *inv,
		 const char *key, uint64_t now_ms, const uint8_t **value,
		 size_t *len);

/* Stores a copy of value for ttl_ms. The invalidation counters must be
 * read (sb_cache_snapshot) BEFORE the storage read that produced value,
 * so a write racing with the read invalidates the entry. */
struct sb_cache_stamp {
	uint64_t global, stripe;
};
void sb_cache_snapshot(const struct sb_cache_inval *inv, const char *key,
		       struct sb_cache_stamp *stamp);
void sb_cache_put(struct sb_cache *c, const char *key, const uint8_t *value,
		  size_t len, uint64_t now_ms, uint64_t ttl_ms,
		  const struct sb_cache_stamp *stamp);

/* Marks key stale on every thread's cache. */
void sb_cache_invalidate(struct sb_cache_inval *inv, const char *key);
/* Marks everything stale on every thread's cache. */
void sb_cache_invalidate_all(struct sb_cache_inval *inv);

#endif
