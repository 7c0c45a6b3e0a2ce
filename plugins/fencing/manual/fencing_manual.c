/*
 * The "manual" fencing plugin: ENTSSO's clusters without automatic
 * failover, where an operator designates the master secret server
 * ("Designating a New Master Secret Server Manually") — or a cluster
 * manager such as Pacemaker promotes and demotes it.
 *
 * promote() takes the fence unconditionally (fence_takeover, no expiry):
 * this node becomes active at an epoch strictly larger than any before, and
 * every other node's writes are refused by the storage from then on. A
 * thread re-reads the lease every check_interval_ms and steps down when
 * another node has been designated since. At start the node comes back
 * active (at a new epoch) only when it is still the designated holder, so
 * a restart of the active node needs no operator, and a restart of a
 * deposed one never takes the role back. stop() keeps the designation.
 *
 * Settings in [fencing]: check_interval_ms (default 1000, 100..60000).
 */
#define _GNU_SOURCE
#include <secretbroker/plugin.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fm_instance {
	const struct sb_host *host;
	long long check_ms;
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	const struct sb_fence_hooks *hooks; /* NULL when not started */
	pthread_t thread;
	int thread_running, stopping;
	int state;
	uint64_t epoch;
	char detail[256];
};

static int fm_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct fm_instance *fi;
	long long check_ms;
	int rc;

	*out = NULL;
	rc = sb_setting_ms(host, cfg, "check_interval_ms", 1000, 100, 60000,
			   &check_ms, err);
	if (rc != SB_OK)
		return rc;
	fi = calloc(1, sizeof(*fi));
	if (fi == NULL)
		return sb_error_set(err, SB_ENOMEM, "out of memory");
	fi->host = host;
	fi->check_ms = check_ms;
	pthread_mutex_init(&fi->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fi->cond, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(fi->detail, sizeof(fi->detail), "not started");
	*out = fi;
	return SB_OK;
}

static void fm_close(void *inst)
{
	struct fm_instance *fi = inst;

	if (fi == NULL)
		return;
	pthread_mutex_destroy(&fi->lock);
	pthread_cond_destroy(&fi->cond);
	free(fi);
}

/* Records a new state and tells the core. Called with fi->lock held: the
 * core's state_changed never calls back into this plugin. */
static void set_state(struct fm_instance *fi, int state, uint64_t epoch,
		      const char *why)
{
	fi->state = state;
	fi->epoch = state == SB_FENCE_ACTIVE ? epoch : 0;
	snprintf(fi->detail, sizeof(fi->detail), "%s", why);
	if (fi->hooks)
		fi->hooks->state_changed(fi->hooks->arg, state, fi->epoch, why);
}

static int take_fence(struct fm_instance *fi, const char *why,
		      struct sb_error *err)
{
	char detail[256];
	uint64_t epoch = 0;
	int rc;

	rc = fi->hooks->fence_takeover(fi->hooks->arg, fi->host->node_name, 0,
				       &epoch, err);
	if (rc != SB_OK)
		return rc;
	snprintf(detail, sizeof(detail), "%s (epoch %llu)", why,
		 (unsigned long long)epoch);
	set_state(fi, SB_FENCE_ACTIVE, epoch, detail);
	return SB_OK;
}

static void *watch_main(void *arg)
{
	struct fm_instance *fi = arg;

	pthread_mutex_lock(&fi->lock);
	while (!fi->stopping) {
		struct timespec ts;
		struct sb_lease_info li;
		struct sb_error err;
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += fi->check_ms / 1000;
		ts.tv_nsec += (fi->check_ms % 1000) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&fi->cond, &fi->lock, &ts);
		if (fi->stopping || fi->state != SB_FENCE_ACTIVE)
			continue;
		memset(&li, 0, sizeof(li));
		rc = fi->hooks->lease_read(fi->hooks->arg, &li, &err);
		if (rc != SB_OK)
			continue; /* the storage fences our writes meanwhile */
		if (strcmp(li.holder, fi->host->node_name) != 0 ||
		    li.epoch != fi->epoch) {
			char why[384];

			snprintf(why, sizeof(why),
				 "another node was designated (holder %s, "
				 "epoch %llu)",
				 li.holder[0] ? li.holder : "none",
				 (unsigned long long)li.epoch);
			fi->host->log(fi->host, SB_LOG_WARNING,
				      "%s: stepping down", why);
			set_state(fi, SB_FENCE_STANDBY, 0, why);
		}
	}
	pthread_mutex_unlock(&fi->lock);
	return NULL;
}

static int fm_start(void *inst, const struct sb_fence_hooks *hooks,
		    struct sb_error *err)
{
	struct fm_instance *fi = inst;
	struct sb_lease_info li;
	int rc;

	memset(&li, 0, sizeof(li));
	pthread_mutex_lock(&fi->lock);
	fi->hooks = hooks;
	fi->stopping = 0;
	rc = hooks->lease_read(hooks->arg, &li, err);
	if (rc != SB_OK) {
		fi->hooks = NULL;
		pthread_mutex_unlock(&fi->lock);
		return rc;
	}
	if (li.held && strcmp(li.holder, fi->host->node_name) == 0) {
		rc = take_fence(fi, "still the designated master secret server",
				err);
		if (rc != SB_OK) {
			fi->hooks = NULL;
			pthread_mutex_unlock(&fi->lock);
			return rc;
		}
	} else {
		char why[384];

		snprintf(why, sizeof(why),
			 "standby until designated (designated now: %s)",
			 li.held && li.holder[0] ? li.holder : "none");
		set_state(fi, SB_FENCE_STANDBY, 0, why);
	}
	if (pthread_create(&fi->thread, NULL, watch_main, fi) != 0) {
		fi->hooks = NULL;
		pthread_mutex_unlock(&fi->lock);
		return sb_error_set(err, SB_ERR,
				    "cannot start the watch thread: %s",
				    strerror(errno));
	}
	fi->thread_running = 1;
	pthread_mutex_unlock(&fi->lock);
	return SB_OK;
}

static void fm_stop(void *inst)
{
	struct fm_instance *fi = inst;

	pthread_mutex_lock(&fi->lock);
	fi->stopping = 1;
	pthread_cond_broadcast(&fi->cond);
	pthread_mutex_unlock(&fi->lock);
	if (fi->thread_running) {
		pthread_join(fi->thread, NULL);
		fi->thread_running = 0;
	}
	pthread_mutex_lock(&fi->lock);
	if (fi->hooks)
		set_state(fi, SB_FENCE_STANDBY, 0,
			  "stopped (the designation is kept for a restart)");
	fi->hooks = NULL;
	pthread_mutex_unlock(&fi->lock);
}

static int fm_status(void *inst, struct sb_fence_status *out)
{
	struct fm_instance *fi = inst;

	pthread_mutex_lock(&fi->lock);
	out->state = fi->state;
	out->epoch = fi->epoch;
	out->lease_left_ms = -1;
	snprintf(out->detail, sizeof(out->detail), "%s", fi->detail);
	pthread_mutex_unlock(&fi->lock);
	return SB_OK;
}

static int fm_promote(void *inst, struct sb_error *err)
{
	struct fm_instance *fi = inst;
	int rc;

	pthread_mutex_lock(&fi->lock);
	if (fi->hooks == NULL)
		rc = sb_error_set(err, SB_EINVAL,
				  "fencing plugin manual is not started");
	else
		rc = take_fence(fi, "designated master secret server", err);
	pthread_mutex_unlock(&fi->lock);
	return rc;
}

static int fm_demote(void *inst, struct sb_error *err)
{
	struct fm_instance *fi = inst;
	int rc = SB_OK;

	pthread_mutex_lock(&fi->lock);
	if (fi->hooks && fi->state == SB_FENCE_ACTIVE) {
		rc = fi->hooks->lease_release(
			fi->hooks->arg, fi->host->node_name, fi->epoch, err);
		/* Fenced: someone else holds it already; standby either way. */
		if (rc == SB_EFENCED)
			rc = SB_OK;
		if (rc == SB_OK)
			set_state(fi, SB_FENCE_STANDBY, 0, "demoted");
	}
	pthread_mutex_unlock(&fi->lock);
	return rc;
}

static const struct sb_fencing_ops fm_ops = {
	.size = sizeof(struct sb_fencing_ops),
	.open = fm_open,
	.close = fm_close,
	.start = fm_start,
	.stop = fm_stop,
	.status = fm_status,
	.promote = fm_promote,
	.demote = fm_demote,
};

/* Every setting this plugin reads from its section. */
static const char *const plugin_settings[] = {
	"check_interval_ms",
	NULL,
};

static const struct sb_plugin_descriptor fm_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_FENCING,
	.name = "manual",
	.version = "0.1.0",
	.description = "the master secret server is designated by an operator "
		       "or a cluster manager",
	.ops = &fm_ops,
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&fm_descriptor)
