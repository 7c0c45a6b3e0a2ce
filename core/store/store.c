/*
 * The storage layer (see store.h): the only caller of the storage plugin's
 * ops.
 */
#include "store/store.h"

#include "host/plugin_loader.h"

#include "runtime/clock.h"
#include "runtime/metrics.h"
#include "runtime/status.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* The ops table of g's storage plugin. */
#define SOPS(g) sb_plugin_storage(&(g)->storage.plugin)

/* Registered once at start by cluster/fence.c; read on every write. */
static _Atomic(store_fence_view_fn) fence_view_fn;
static void *_Atomic fence_view_arg;

void store_set_fence_view(store_fence_view_fn fn, void *arg)
{
	atomic_store(&fence_view_arg, arg);
	atomic_store(&fence_view_fn, fn);
}

static _Atomic(store_fence_refused_fn) fence_refused_fn;
static void *_Atomic fence_refused_arg;

void store_set_fence_refused(store_fence_refused_fn fn, void *arg)
{
	atomic_store(&fence_refused_arg, arg);
	atomic_store(&fence_refused_fn, fn);
}

int store_fence_view(uint64_t *epoch)
{
	store_fence_view_fn fn = atomic_load(&fence_view_fn);

	*epoch = 0;
	if (fn == NULL)
		return SB_FENCE_STANDBY;
	return fn(atomic_load(&fence_view_arg), epoch);
}

/* The enum store_reach of the last plugin call (see store.h). */
static atomic_int reach;

/* Records the outcome rc of a plugin call of op, begun at started_us
 * (sb_mono_us), that reached the storage, counts it for the metrics and
 * returns rc. Relaxed: one store on the lookup path, and health needs no
 * ordering with anything else. */
static inline int noted(enum sb_metric_store_op op, uint64_t started_us, int rc)
{
	sb_metrics_store(op, rc, sb_mono_us() - started_us);
	atomic_store_explicit(&reach,
			      rc == SB_EUNAVAIL || rc == SB_ETIMEOUT
				      ? STORE_REACH_UNREACHABLE
				      : STORE_REACH_OK,
			      memory_order_relaxed);
	return rc;
}

int store_reachability(void)
{
	return atomic_load_explicit(&reach, memory_order_relaxed);
}

int store_get_record(struct sb_generation *g, const char *key, uint8_t **value,
		     size_t *value_len, uint64_t *version, struct sb_error *err)
{
	uint64_t t0 = sb_mono_us();

	return noted(SB_MS_GET, t0,
		     SOPS(g)->get(g->storage.inst, key, value, value_len,
				  version, err));
}

int store_scan(struct sb_generation *g, const char *prefix, const char *after,
	       size_t limit, sb_scan_cb cb, void *arg, char *last_key,
	       struct sb_error *err)
{
	uint64_t t0 = sb_mono_us();

	return noted(SB_MS_SCAN, t0,
		     SOPS(g)->scan(g->storage.inst, prefix, after, limit, cb,
				   arg, last_key, err));
}

int store_batch_apply(struct sb_generation *g, struct store_fencing fencing,
		      const struct sb_batch *batch, struct sb_error *err)
{
	struct sb_batch stamped = *batch;
	uint64_t view_epoch, t0;
	int rc;

	stamped.epoch = 0;
	if (fencing.fenced) {
		if (store_fence_view(&view_epoch) != SB_FENCE_ACTIVE)
			return sb_error_set(err, SB_EFENCED, STORE_STANDBY_MSG);
		stamped.epoch = fencing.epoch ? fencing.epoch : view_epoch;
	}
	t0 = sb_mono_us();
	rc = noted(SB_MS_BATCH, t0,
		   SOPS(g)->batch_apply(g->storage.inst, &stamped, err));
	if (rc == SB_EFENCED && stamped.epoch != 0) {
		store_fence_refused_fn fn = atomic_load(&fence_refused_fn);

		if (fn)
			fn(atomic_load(&fence_refused_arg), g, stamped.epoch);
	}
	return rc;
}

int store_error_to_api(struct sb_api_error *e, int status,
		       const struct sb_error *err, const char *what)
{
	const char *m = err && err->msg[0] ? err->msg : sb_status_name(status);

	switch (status) {
	case SB_EUNAVAIL:
	case SB_ETIMEOUT:
		/* A write whose commit the backend never confirmed: the
		 * client must read back before retrying. Plugins say so in
		 * their message ("may or may not have been applied"). */
		if (strstr(m, "may or may not have"))
			return sb_api_fail(e, 503, "outcome_unknown",
					   "the SSO database did not confirm "
					   "the write while %s, which may or "
					   "may not have been applied: %s",
					   what, m);
		return sb_api_fail(e, 503, "storage_unavailable",
				   "SSO database unavailable while %s: %s",
				   what, m);
	case SB_EFENCED:
		if (strcmp(m, STORE_STANDBY_MSG) == 0)
			return sb_api_fail(e, 409, "fenced",
					   "write refused while %s: this node "
					   "is no longer the active master "
					   "secret server",
					   what);
		return sb_api_fail(e, 409, "fenced",
				   "write refused while %s: a newer master "
				   "secret server holds the fencing epoch (%s)",
				   what, m);
	case SB_ECONFLICT:
		return sb_api_fail(e, 409, "conflict",
				   "concurrent change while %s: %s", what, m);
	default:
		return sb_api_fail(e, 500, "storage_error",
				   "SSO database error while %s: %s", what, m);
	}
}

int store_put_record(struct sb_generation *g, struct store_fencing fencing,
		     const char *key, const char *value, size_t value_len,
		     struct sb_error *err)
{
	struct sb_batch_op op = {
		SB_OP_PUT, SB_PRE_NONE, 0, key, (const uint8_t *)value,
		value_len};
	struct sb_batch b = {&op, 1, 0, NULL, NULL};

	return store_batch_apply(g, fencing, &b, err);
}

int store_commit_secret(struct sb_generation *g, struct store_fencing fencing,
			const char *msid, const char *current,
			const char *check, struct sb_error *err)
{
	char key[SB_KEY_MAX + 1];
	struct sb_batch_op ops[2];
	struct sb_batch b = {ops, 2, 0, NULL, NULL};

	if ((size_t)snprintf(key, sizeof(key), "secret/check/%s", msid) >=
	    sizeof(key))
		return sb_error_set(err, SB_EINVAL, "MSID too long for a key");
	ops[0] = (struct sb_batch_op){SB_OP_PUT,
				      SB_PRE_ABSENT,
				      0,
				      "secret/current",
				      (const uint8_t *)current,
				      strlen(current)};
	ops[1] = (struct sb_batch_op){
		SB_OP_PUT, SB_PRE_ABSENT,	   0,
		key,	   (const uint8_t *)check, strlen(check)};
	return store_batch_apply(g, fencing, &b, err);
}

/* The answer for a storage plugin without the lease ops (they may be NULL):
 * lease fencing cannot run on it. Returns SB_ENOTSUP. */
static int no_lease_op(struct sb_generation *g, const char *op,
		       struct sb_error *err)
{
	return sb_error_set(err, SB_ENOTSUP,
			    "storage plugin %s has no %s op: lease fencing "
			    "needs a storage with leases",
			    g->storage.plugin.desc->name, op);
}

int store_lease_acquire(struct sb_generation *g, const char *holder,
			uint32_t ttl_ms, uint64_t *epoch, struct sb_error *err)
{
	if (!SB_OPS_HAS(SOPS(g), lease_acquire))
		return no_lease_op(g, "lease_acquire", err);
	uint64_t t0 = sb_mono_us();

	return noted(SB_MS_LEASE_ACQUIRE, t0,
		     SOPS(g)->lease_acquire(g->storage.inst, holder, ttl_ms,
					    epoch, err));
}

int store_lease_renew(struct sb_generation *g, const char *holder,
		      uint64_t epoch, uint32_t ttl_ms, struct sb_error *err)
{
	if (!SB_OPS_HAS(SOPS(g), lease_renew))
		return no_lease_op(g, "lease_renew", err);
	uint64_t t0 = sb_mono_us();

	return noted(SB_MS_LEASE_RENEW, t0,
		     SOPS(g)->lease_renew(g->storage.inst, holder, epoch,
					  ttl_ms, err));
}

int store_lease_release(struct sb_generation *g, const char *holder,
			uint64_t epoch, struct sb_error *err)
{
	if (!SB_OPS_HAS(SOPS(g), lease_release))
		return no_lease_op(g, "lease_release", err);
	uint64_t t0 = sb_mono_us();

	return noted(
		SB_MS_LEASE_RELEASE, t0,

		SOPS(g)->lease_release(g->storage.inst, holder, epoch, err));
}

int store_read_lease(struct sb_generation *g, struct sb_lease_info *info,
		     struct sb_error *err)
{
	if (!SB_OPS_HAS(SOPS(g), lease_read))
		return no_lease_op(g, "lease_read", err);
	uint64_t t0 = sb_mono_us();

	return noted(SB_MS_LEASE_READ, t0,
		     SOPS(g)->lease_read(g->storage.inst, info, err));
}

int store_fence_takeover(struct sb_generation *g, const char *holder,
			 uint32_t ttl_ms, uint64_t *epoch, struct sb_error *err)
{
	if (!SB_OPS_HAS(SOPS(g), fence_takeover))
		return no_lease_op(g, "fence_takeover", err);
	uint64_t t0 = sb_mono_us();

	return noted(SB_MS_FENCE_TAKEOVER, t0,
		     SOPS(g)->fence_takeover(g->storage.inst, holder, ttl_ms,
					     epoch, err));
}
