/*
 * The storage layer (see storage.h). For now each function forwards to
 * the plugin op unchanged, so behaviour is exactly what the call sites
 * did before; the point is that this file is the only caller of ->sops.
 */
#include "storage.h"

#include "plugin_loader.h"

void store_bind(struct sb_generation *g)
{
	g->sops = sb_plugin_storage(&g->storage.plugin);
}

int store_get_record(struct sb_generation *g, const char *key, uint8_t **value,
		     size_t *value_len, uint64_t *version, struct sb_error *err)
{
	return g->sops->get(g->storage.inst, key, value, value_len, version,
			    err);
}

int store_scan(struct sb_generation *g, const char *prefix, const char *after,
	       size_t limit, sb_scan_cb cb, void *arg, char *last_key,
	       struct sb_error *err)
{
	return g->sops->scan(g->storage.inst, prefix, after, limit, cb, arg,
			     last_key, err);
}

int store_batch_apply(struct sb_generation *g, const struct sb_batch *batch,
		      struct sb_error *err)
{
	return g->sops->batch_apply(g->storage.inst, batch, err);
}

int store_lease_acquire(struct sb_generation *g, const char *holder,
			uint32_t ttl_ms, uint64_t *epoch, struct sb_error *err)
{
	return g->sops->lease_acquire(g->storage.inst, holder, ttl_ms, epoch,
				      err);
}

int store_lease_renew(struct sb_generation *g, const char *holder,
		      uint64_t epoch, uint32_t ttl_ms, struct sb_error *err)
{
	return g->sops->lease_renew(g->storage.inst, holder, epoch, ttl_ms,
				    err);
}

int store_lease_release(struct sb_generation *g, const char *holder,
			uint64_t epoch, struct sb_error *err)
{
	return g->sops->lease_release(g->storage.inst, holder, epoch, err);
}

int store_read_lease(struct sb_generation *g, struct sb_lease_info *info,
		     struct sb_error *err)
{
	return g->sops->lease_read(g->storage.inst, info, err);
}

int store_fence_takeover(struct sb_generation *g, const char *holder,
			 uint32_t ttl_ms, uint64_t *epoch, struct sb_error *err)
{
	return g->sops->fence_takeover(g->storage.inst, holder, ttl_ms, epoch,
				       err);
}
