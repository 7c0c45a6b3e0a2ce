/*
 * Fencing state and the hooks fencing plugins are started with: see
 * fence.h.
 */
#define _GNU_SOURCE
#include "cluster/fence.h"

#include "cluster/cluster.h"
#include "host/host.h"
#include "runtime/log.h"
#include "runtime/metrics.h"
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sb_fence {
	pthread_mutex_t lock;
	int state; /* enum sb_fence_state */
	uint64_t epoch;
	char reason[256];
	struct sb_fence_hooks hooks; /* arg is the daemon */
};

void sb_fence_state_changed(struct sb_daemon *d, int state, uint64_t epoch,
			    const char *reason)
{
	struct sb_fence *f = d->fence;
	int old;

	pthread_mutex_lock(&f->lock);
	old = f->state;
	f->state = state;
	f->epoch = state == SB_FENCE_ACTIVE ? epoch : 0;
	snprintf(f->reason, sizeof(f->reason), "%s", reason ? reason : "");
	pthread_mutex_unlock(&f->lock);
	sb_cluster_notify(d);
	if (old != state)
		sb_metrics_event(state == SB_FENCE_ACTIVE
					 ? SB_ME_FENCE_TO_ACTIVE
					 : SB_ME_FENCE_TO_STANDBY);
	if (old != state || state == SB_FENCE_ACTIVE)
		sb_info("fencing: now %s%s (epoch %llu): %s",
			state == SB_FENCE_ACTIVE ? "active" : "standby",
			old == state ? " again" : "", (unsigned long long)epoch,
			reason ? reason : "");
}

void sb_fence_view(struct sb_daemon *d, int *state, uint64_t *epoch)
{
	struct sb_fence *f = d->fence;

	pthread_mutex_lock(&f->lock);
	*state = f->state;
	*epoch = f->epoch;
	pthread_mutex_unlock(&f->lock);
}

/* ---- hooks: the fencing plugin reaches storage only through these ---- */

static void hook_state_changed(void *arg, int state, uint64_t epoch,
			       const char *reason)
{
	sb_fence_state_changed(arg, state, epoch, reason);
}

#define WITH_STORAGE(d, expr)                                                  \
	do {                                                                   \
		struct sb_generation *g_ = sb_gen_current(d);                  \
		int rc_;                                                       \
		if (g_ == NULL)                                                \
			return sb_error_set(err, SB_EUNAVAIL,                  \
					    "no storage (daemon stopping)");   \
		rc_ = (expr);                                                  \
		sb_gen_unref(g_);                                              \
		return rc_;                                                    \
	} while (0)

static int hook_lease_acquire(void *arg, const char *holder, uint32_t ttl_ms,
			      uint64_t *epoch, struct sb_error *err)
{
	WITH_STORAGE((struct sb_daemon *)arg,
		     store_lease_acquire(g_, holder, ttl_ms, epoch, err));
}

static int hook_lease_renew(void *arg, const char *holder, uint64_t epoch,
			    uint32_t ttl_ms, struct sb_error *err)
{
	WITH_STORAGE((struct sb_daemon *)arg,
		     store_lease_renew(g_, holder, epoch, ttl_ms, err));
}

static int hook_lease_release(void *arg, const char *holder, uint64_t epoch,
			      struct sb_error *err)
{
	WITH_STORAGE((struct sb_daemon *)arg,
		     store_lease_release(g_, holder, epoch, err));
}

static int hook_lease_read(void *arg, struct sb_lease_info *info,
			   struct sb_error *err)
{
	WITH_STORAGE((struct sb_daemon *)arg, store_read_lease(g_, info, err));
}

static int hook_fence_takeover(void *arg, const char *holder, uint32_t ttl_ms,
			       uint64_t *epoch, struct sb_error *err)
{
	WITH_STORAGE((struct sb_daemon *)arg,
		     store_fence_takeover(g_, holder, ttl_ms, epoch, err));
}

static const struct sb_fence_hooks fence_hooks_template = {
	.size = sizeof(struct sb_fence_hooks),
	.state_changed = hook_state_changed,
	.lease_acquire = hook_lease_acquire,
	.lease_renew = hook_lease_renew,
	.lease_release = hook_lease_release,
	.lease_read = hook_lease_read,
	.fence_takeover = hook_fence_takeover,
};

/* The store's view of the fencing state (see store_set_fence_view). */
static int store_view(void *arg, uint64_t *epoch)
{
	int state;

	sb_fence_view(arg, &state, epoch);
	return state;
}

/* The store saw the backend refuse a fenced write of generation wg at
 * epoch (see store_set_fence_refused). When this node is still active at
 * that epoch, another node has taken the fence: the fencing plugin is told
 * (ABI 1.2 op "superseded") with the lease as read now, so it steps down at
 * the first refused write. A plugin without the op (lease) finds out by
 * itself at its next renew, as before. */
static void store_refused(void *arg, struct sb_generation *wg, uint64_t epoch)
{
	struct sb_daemon *d = arg;
	struct sb_generation *g;
	struct sb_lease_info li;
	struct sb_error err;
	uint64_t cur;
	int state;

	sb_fence_view(d, &state, &cur);
	if (state != SB_FENCE_ACTIVE || cur != epoch)
		return; /* standby already, or a write of an earlier term */
	g = sb_gen_current(d);
	if (g == NULL)
		return;
	if (g->fencing_owned && g->fops && SB_OPS_HAS(g->fops, superseded)) {
		memset(&li, 0, sizeof(li));
		if (store_read_lease(wg, &li, &err) != SB_OK) {
			li.holder[0] = '\0';
			li.epoch = 0;
		}
		sb_warn("fencing: the SSO database refused a write at epoch "
			"%llu: %s holds the fence at epoch %llu",
			(unsigned long long)epoch,
			li.holder[0] ? li.holder : "(unknown)",
			(unsigned long long)li.epoch);
		g->fops->superseded(g->fencing.inst, epoch, li.holder,
				    li.epoch);
	}
	sb_gen_unref(g);
}

const struct sb_fence_hooks *sb_fence_hooks(struct sb_daemon *d)
{
	return &d->fence->hooks;
}

int sb_fence_init(struct sb_daemon *d)
{
	struct sb_fence *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	pthread_mutex_init(&f->lock, NULL);
	f->state = SB_FENCE_STANDBY;
	f->hooks = fence_hooks_template;
	f->hooks.arg = d;
	d->fence = f;
	store_set_fence_view(store_view, d);
	store_set_fence_refused(store_refused, d);
	return 0;
}

void sb_fence_destroy(struct sb_daemon *d)
{
	if (d->fence == NULL)
		return;
	store_set_fence_refused(NULL, NULL);
	store_set_fence_view(NULL, NULL);
	pthread_mutex_destroy(&d->fence->lock);
	free(d->fence);
	d->fence = NULL;
}
