/* Credential cache: see cache.h. */
#include "runtime/cache.h"
#include "runtime/metrics.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *next;
	uint64_t hash;
	uint64_t expires_ms;
	struct sb_cache_stamp stamp;
	size_t len;
	uint8_t *value;
	char key[];
};

struct sb_cache {
	size_t nbuckets; /* power of two */
	size_t count, max;
	struct entry **buckets;
};

/* FNV-1a: short keys, no adversary controls what is cached. */
static uint64_t key_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

struct sb_cache *sb_cache_new(size_t max_entries)
{
	struct sb_cache *c = calloc(1, sizeof(*c));
	size_t n = 64;

	if (c == NULL)
		return NULL;
	while (n < max_entries)
		n <<= 1;
	c->nbuckets = n;
	c->max = max_entries;
	c->buckets = calloc(n, sizeof(*c->buckets));
	if (c->buckets == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void entry_free(struct entry *e)
{
	/* Encrypted records, but wipe anyway: cheap and tidy. */
	explicit_bzero(e->value, e->len);
	free(e->value);
	free(e);
}

void sb_cache_free(struct sb_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(c->buckets);
	free(c);
}

void sb_cache_snapshot(const struct sb_cache_inval *inv, const char *key,
		       struct sb_cache_stamp *stamp)
{
	uint64_t h = key_hash(key);

	stamp->global =
		atomic_load_explicit(&inv->global, memory_order_acquire);
	stamp->stripe = atomic_load_explicit(&inv->stripe[h % SB_CACHE_STRIPES],
					     memory_order_acquire);
}

static int stamp_current(const struct sb_cache_inval *inv, uint64_t h,
			 const struct sb_cache_stamp *s)
{
	return s->global == atomic_load_explicit(&inv->global,
						 memory_order_acquire) &&
	       s->stripe ==
		       atomic_load_explicit(&inv->stripe[h % SB_CACHE_STRIPES],
					    memory_order_acquire);
}

int sb_cache_get(struct sb_cache *c, const struct sb_cache_inval *inv,
		 const char *key, uint64_t now_ms, const uint8_t **value,
		 size_t *len)
{
	uint64_t h = key_hash(key);
	struct entry *e;

	for (e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next) {
		if (e->hash != h || strcmp(e->key, key) != 0)
			continue;
		if (now_ms >= e->expires_ms ||
		    !stamp_current(inv, h, &e->stamp))
			break;
		*value = e->value;
		*len = e->len;
		sb_metrics_event(SB_ME_CACHE_HIT);
		return 1;
	}
	sb_metrics_event(SB_ME_CACHE_MISS);
	return 0;
}

/* Drops one bucket's chain when the cache is full: cheap, and with a
 * uniform hash it evicts roughly at random, which is good enough for a
 * cache whose entries all expire within a short timeout anyway. */
static void evict_some(struct sb_cache *c, uint64_t h)
{
	for (size_t i = 0; i < c->nbuckets && c->count >= c->max; i++) {
		size_t b = (h + i) & (c->nbuckets - 1);
		struct entry *e = c->buckets[b], *next;

		c->buckets[b] = NULL;
		for (; e; e = next) {
			next = e->next;
			entry_free(e);
			c->count--;
		}
	}
}

void sb_cache_put(struct sb_cache *c, const char *key, const uint8_t *value,
		  size_t len, uint64_t now_ms, uint64_t ttl_ms,
		  const struct sb_cache_stamp *stamp)
{
	uint64_t h = key_hash(key);
	struct entry **pp = &c->buckets[h & (c->nbuckets - 1)], *e;
	size_t klen = strlen(key);

	for (; *pp; pp = &(*pp)->next) {
		if ((*pp)->hash == h && strcmp((*pp)->key, key) == 0) {
			e = *pp;
			*pp = e->next;
			entry_free(e);
			c->count--;
			break;
		}
	}
	if (c->count >= c->max)
		evict_some(c, h);
	e = malloc(sizeof(*e) + klen + 1);
	if (e == NULL)
		return;
	e->value = malloc(len ? len : 1);
	if (e->value == NULL) {
		free(e);
		return;
	}
	memcpy(e->value, value, len);
	memcpy(e->key, key, klen + 1);
	e->len = len;
	e->hash = h;
	e->expires_ms = now_ms + ttl_ms;
	e->stamp = *stamp;
	pp = &c->buckets[h & (c->nbuckets - 1)];
	e->next = *pp;
	*pp = e;
	c->count++;
}

void sb_cache_invalidate(struct sb_cache_inval *inv, const char *key)
{
	atomic_fetch_add_explicit(
		&inv->stripe[key_hash(key) % SB_CACHE_STRIPES], 1,
		memory_order_acq_rel);
}

void sb_cache_invalidate_all(struct sb_cache_inval *inv)
{
	atomic_fetch_add_explicit(&inv->global, 1, memory_order_acq_rel);
}
