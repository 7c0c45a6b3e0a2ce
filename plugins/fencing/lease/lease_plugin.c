/*
 * The "lease" fencing plugin: a node is the active master secret server
 * while it holds the storage backend's lease, and steps down by itself,
 * on its own clock, before that lease can expire on the backend.
 *
 * [fencing] settings: ttl_ms, renew_interval_ms, self_fence_ms,
 * acquire_interval_ms (see lease_settings.c and docs/fencing-lease.md).
 *
 * promote: NULL, the lease decides. demote: steps down at once, releases
 * the lease and tries no acquire for one TTL, so that another MSS node
 * takes it (a graceful handover, e.g. before maintenance or for
 * `sbctl cluster designate`); after that TTL the node competes again, so
 * a cluster whose other nodes are all down does not stay without an
 * active node.
 *
 * This file: the descriptor and the sb_fencing_ops entry points. The
 * threads and transitions are in lease_loop.c.
 */
#include "lease.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS_PER_MS 1000000LL

/* Frees an instance whose threads are not running. */
static void ls_free(struct ls_instance *li, int n_mutexes, int cond)
{
	if (cond)
		pthread_cond_destroy(&li->cond);
	if (n_mutexes > 2)
		pthread_mutex_destroy(&li->lock);
	if (n_mutexes > 1)
		pthread_mutex_destroy(&li->tlock);
	if (n_mutexes > 0)
		pthread_mutex_destroy(&li->control);
	free(li);
}

/* Accepts the host and the [fencing] section (cfg may be NULL: every
 * default). Sets *out to a new instance the caller closes with ls_close. */
static int ls_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct ls_instance *li = NULL;
	struct ls_settings set;
	pthread_condattr_t ca;
	int n_mutexes = 0, ret = SB_ERR, rc;

	*out = NULL;
	if (host == NULL ||
	    host->size < offsetof(struct sb_host, node_name) +
				 sizeof(host->node_name) ||
	    host->node_name == NULL || host->node_name[0] == '\0')
		return sb_error_set(
			err, SB_EINVAL,
			"fencing/lease: the host gives no node name");
	/* The lease holder is the node name; the storage contract keeps
	 * 255 bytes of it (struct sb_lease_info.holder). */
	if (strlen(host->node_name) >
	    sizeof(((struct sb_lease_info *)0)->holder) - 1)
		return sb_error_set(
			err, SB_EINVAL,
			"fencing/lease: node name \"%.40s...\" is "
			"longer than the 255 bytes a lease holder may "
			"have",
			host->node_name);
	rc = ls_settings_read(host, cfg, &set, err);
	if (rc != SB_OK)
		return rc;
	li = calloc(1, sizeof(*li));
	if (li == NULL)
		return sb_error_set(err, SB_ENOMEM,
				    "fencing/lease: out of memory");
	if (pthread_mutex_init(&li->control, NULL) != 0)
		goto fail;
	n_mutexes++;
	if (pthread_mutex_init(&li->tlock, NULL) != 0)
		goto fail;
	n_mutexes++;
	if (pthread_mutex_init(&li->lock, NULL) != 0)
		goto fail;
	n_mutexes++;
	/* Timed waits on the monotonic clock: a wall clock step must not
	 * make the watchdog sleep through the deadline. */
	if (pthread_condattr_init(&ca) != 0)
		goto fail;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&li->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc != 0)
		goto fail;
	li->host = host;
	li->set = set;
	li->state = SB_FENCE_STANDBY;
	snprintf(li->note, sizeof(li->note), "not started");
	*out = li;
	return SB_OK;
fail:
	ret = sb_error_set(err, SB_ERR,
			   "fencing/lease: cannot set up the instance's locks");
	ls_free(li, n_mutexes, 0);
	return ret;
}

static void ls_close(void *inst)
{
	struct ls_instance *li = inst;

	if (li == NULL)
		return;
	ls_free(li, 3, 1);
}

/* Starts the threads with hooks (valid until stop returns) and waits for
 * the first acquire try, at most one TTL. Fails when the hooks lack what
 * the plugin needs, or when the storage backend has no usable lease. */
static int ls_start(void *inst, const struct sb_fence_hooks *hooks,
		    struct sb_error *err)
{
	struct ls_instance *li = inst;
	const char *name = li->host->node_name;
	struct timespec ts;
	int ret = SB_ERR, rc;

	if (hooks == NULL ||
	    hooks->size < offsetof(struct sb_fence_hooks, lease_release) +
				  sizeof(hooks->lease_release) ||
	    hooks->state_changed == NULL || hooks->lease_acquire == NULL ||
	    hooks->lease_renew == NULL || hooks->lease_release == NULL)
		return sb_error_set(err, SB_EINVAL,
				    "fencing/lease: the core gave no "
				    "state_changed, lease_acquire, lease_renew "
				    "or lease_release hook");
	pthread_mutex_lock(&li->control);
	if (li->started) {
		ret = sb_error_set(err, SB_EINVAL,
				   "fencing/lease: already started");
		goto done;
	}
	pthread_mutex_lock(&li->lock);
	li->hooks = hooks;
	li->stopping = 0;
	li->watchdog_exit = 0;
	li->first_done = 0;
	li->fatal_rc = SB_OK;
	li->fatal_msg[0] = '\0';
	li->state = SB_FENCE_STANDBY;
	li->epoch = 0;
	li->next_acquire_ns = 0;
	li->holdoff_ns = 0;
	li->release_epoch = 0;
	li->last_rc = SB_OK;
	li->last_err[0] = '\0';
	snprintf(li->note, sizeof(li->note), "standby, acquiring the lease");
	pthread_mutex_unlock(&li->lock);
	li->host->log(li->host, SB_LOG_INFO,
		      "node %s: lease fencing, ttl %u ms, renew every %u ms, "
		      "self-fence after %u ms, acquire every %u ms",
		      name, li->set.ttl_ms, li->set.renew_interval_ms,
		      li->set.self_fence_ms, li->set.acquire_interval_ms);
	if (ls_threads_start(li) != 0) {
		li->hooks = NULL;
		ret = sb_error_set(err, SB_ERR,
				   "fencing/lease: node %s: cannot start the "
				   "lease thread",
				   name);
		goto done;
	}
	li->started = 1;

	/* Bounded: the first try normally answers within the storage's
	 * timeouts; if not, the node simply stays standby meanwhile. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += li->set.ttl_ms / 1000;
	ts.tv_nsec += (long)(li->set.ttl_ms % 1000) * NS_PER_MS;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&li->lock);
	while (!li->first_done && li->fatal_rc == SB_OK) {
		rc = pthread_cond_timedwait(&li->cond, &li->lock, &ts);
		if (rc != 0)
			break;
	}
	rc = li->fatal_rc;
	pthread_mutex_unlock(&li->lock);
	if (rc != SB_OK) {
		ls_threads_stop(li);
		li->started = 0;
		li->hooks = NULL;
		ret = sb_error_set(
			err, rc,
			"fencing/lease: node %s cannot use the storage "
			"backend's lease: %s",
			name, li->fatal_msg);
		goto done;
	}
	ret = SB_OK;
done:
	pthread_mutex_unlock(&li->control);
	return ret;
}

/* Stops the threads; if active, steps down (state_changed first, so the
 * core stops writing before another node can get the lease) and releases
 * the lease. Ends with state_changed(STANDBY, "stopped"); no hook after. */
static void ls_stop(void *inst)
{
	struct ls_instance *li = inst;
	const struct sb_fence_hooks *hooks;
	uint64_t epoch;
	int told;

	pthread_mutex_lock(&li->control);
	if (!li->started)
		goto done;
	ls_threads_stop(li);
	hooks = li->hooks;
	epoch = ls_step_down_now(li, "stopped", &told);
	if (epoch != 0)
		ls_release(li, epoch, "stopping");
	pthread_mutex_lock(&li->lock);
	snprintf(li->note, sizeof(li->note), "stopped");
	li->hooks = NULL;
	li->started = 0;
	pthread_mutex_unlock(&li->lock);
	/* Said even when already on standby, as the none plugin does: the
	 * core's record then always ends on "stopped". */
	if (!told)
		hooks->state_changed(hooks->arg, SB_FENCE_STANDBY, 0,
				     "stopped");
done:
	pthread_mutex_unlock(&li->control);
}

static int ls_status(void *inst, struct sb_fence_status *out)
{
	struct ls_instance *li = inst;
	int64_t now = ls_now_ns();

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&li->lock);
	out->state = li->state;
	out->epoch = li->epoch;
	if (li->state == SB_FENCE_ACTIVE) {
		int64_t left = (li->deadline_ns - now) / NS_PER_MS;
		long long ago = (long long)((now - li->renewed_ns) / NS_PER_MS);

		/* 0 until the watchdog, about to act, steps down. */
		out->lease_left_ms = left > 0 ? left : 0;
		if (li->last_rc == SB_OK)
			snprintf(out->detail, sizeof(out->detail),
				 "holding lease, epoch %llu, renewed %lld ms "
				 "ago",
				 (unsigned long long)li->epoch, ago);
		else
			snprintf(out->detail, sizeof(out->detail),
				 "holding lease, epoch %llu, renewed %lld ms "
				 "ago, renew failing: %.120s",
				 (unsigned long long)li->epoch, ago,
				 li->last_err);
	} else {
		out->lease_left_ms = -1;
		if (li->started && now < li->holdoff_ns)
			snprintf(out->detail, sizeof(out->detail),
				 "standby, demoted: not acquiring for %lld ms "
				 "more",
				 (long long)((li->holdoff_ns - now) /
					     NS_PER_MS));
		else
			snprintf(out->detail, sizeof(out->detail), "%s",
				 li->note);
	}
	pthread_mutex_unlock(&li->lock);
	return SB_OK;
}

/* Steps down now, releases the lease, and tries no acquire for one TTL
 * (see the top of this file). SB_OK also when already on standby (the
 * hold-off applies); SB_EINVAL when not started. */
static int ls_demote(void *inst, struct sb_error *err)
{
	struct ls_instance *li = inst;
	uint64_t epoch;
	char reason[128];
	int told, ret = SB_ERR;

	pthread_mutex_lock(&li->control);
	if (!li->started) {
		ret = sb_error_set(err, SB_EINVAL,
				   "fencing/lease: node %s: not started",
				   li->host->node_name);
		goto done;
	}
	pthread_mutex_lock(&li->lock);
	li->holdoff_ns = ls_now_ns() + li->set.ttl_ms * NS_PER_MS;
	pthread_cond_broadcast(&li->cond);
	pthread_mutex_unlock(&li->lock);
	snprintf(reason, sizeof(reason),
		 "demoted by the administrator: lease released, not acquiring "
		 "for %u ms",
		 li->set.ttl_ms);
	epoch = ls_step_down_now(li, reason, &told);
	if (epoch != 0)
		ls_release(li, epoch, "demoted");
	ret = SB_OK;
done:
	pthread_mutex_unlock(&li->control);
	return ret;
}

static const struct sb_fencing_ops ls_ops = {
	.size = sizeof(struct sb_fencing_ops),
	.open = ls_open,
	.close = ls_close,
	.start = ls_start,
	.stop = ls_stop,
	.status = ls_status,
	.promote = NULL,
	.demote = ls_demote,
};

/* Every setting this plugin reads from its section. */
static const char *const plugin_settings[] = {
	"ttl_ms", "renew_interval_ms", "self_fence_ms", "acquire_interval_ms",
	NULL,
};

static const struct sb_plugin_descriptor ls_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_FENCING,
	.name = "lease",
	.version = "0.1.0",
	.description = "active while holding the storage backend's lease; "
		       "steps down by itself before it can expire",
	.ops = &ls_ops,
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&ls_descriptor)
