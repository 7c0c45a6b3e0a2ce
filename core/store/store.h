/*
 * The storage layer: the only code that calls the storage plugin's ops
 * (the ops table of g->storage). Everything else in core goes through these
 * functions, so batching, the fencing epoch stamped on writes, retries and the
 * mapping of plugin errors can live in one place.
 *
 * Each function takes the generation whose storage instance is used (the
 * caller holds a reference) and returns the plugin's SB_* status
 * unchanged; err is filled by the plugin. Ownership of out-parameters is
 * as documented for the matching op in include/secretbroker/plugin.h.
 */
#ifndef SB_STORE_H
#define SB_STORE_H

#include "host/daemon.h"

#include <secretbroker/plugin.h>

#include <stddef.h>
#include <stdint.h>

/* The fencing view the store stamps writes from: returns SB_FENCE_* and
 * sets *epoch (0 unless active). cluster/fence.c registers it at start
 * (fn NULL: unregister); until then the node is standby. */
typedef int (*store_fence_view_fn)(void *arg, uint64_t *epoch);
void store_set_fence_view(store_fence_view_fn fn, void *arg);
int store_fence_view(uint64_t *epoch);

/* Reads one record; *value is the plugin's allocation (caller frees as
 * for sops->get). */
int store_get_record(struct sb_generation *g, const char *key, uint8_t **value,
		     size_t *value_len, uint64_t *version,
		     struct sb_error *err);

/* Calls cb for keys under prefix sorting after `after` (NULL: from the
 * start), at most limit (0: no limit); last_key as for sops->scan. */
int store_scan(struct sb_generation *g, const char *prefix, const char *after,
	       size_t limit, sb_scan_cb cb, void *arg, char *last_key,
	       struct sb_error *err);

/* Applies batch atomically. The batch stays the caller's. */
int store_batch_apply(struct sb_generation *g, const struct sb_batch *batch,
		      struct sb_error *err);

/* The store's fencing lease (see sops->lease_*). */
int store_lease_acquire(struct sb_generation *g, const char *holder,
			uint32_t ttl_ms, uint64_t *epoch, struct sb_error *err);
int store_lease_renew(struct sb_generation *g, const char *holder,
		      uint64_t epoch, uint32_t ttl_ms, struct sb_error *err);
int store_lease_release(struct sb_generation *g, const char *holder,
			uint64_t epoch, struct sb_error *err);
int store_read_lease(struct sb_generation *g, struct sb_lease_info *info,
		     struct sb_error *err);
int store_fence_takeover(struct sb_generation *g, const char *holder,
			 uint32_t ttl_ms, uint64_t *epoch,
			 struct sb_error *err);

#endif
