/*
 * Designation: the fencing state shared by the externally decided fencing
 * plugins (see designation.h).
 */
#define _GNU_SOURCE
#include "designation.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void designation_init(struct designation *d, const struct sb_host *host,
		      const char *plugin, long long check_ms, int retry)
{
	pthread_condattr_t ca;

	memset(d, 0, sizeof(*d));
	d->host = host;
	d->plugin = plugin;
	d->check_ms = check_ms;
	d->retry = retry;
	d->state = SB_FENCE_STANDBY;
	pthread_mutex_init(&d->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(d->detail, sizeof(d->detail), "not started");
}

void designation_destroy(struct designation *d)
{
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
}

/* Records a new state and tells the core. Lock held: the core's
 * state_changed never calls back into the plugin. */
static void set_state_locked(struct designation *d, int state, uint64_t epoch,
			     const char *why)
{
	d->seq++;
	d->state = state;
	d->epoch = state == SB_FENCE_ACTIVE ? epoch : 0;
	snprintf(d->detail, sizeof(d->detail), "%s", why);
	if (d->hooks)
		d->hooks->state_changed(d->hooks->arg, state, d->epoch, why);
}

void designation_set_standby_locked(struct designation *d, const char *why)
{
	set_state_locked(d, SB_FENCE_STANDBY, 0, why);
}

/* fence_takeover, then active. Lock held. */
static int take_locked(struct designation *d, const char *why,
		       struct sb_error *err)
{
	char detail[256];
	uint64_t epoch = 0;
	int rc;

	rc = d->hooks->fence_takeover(d->hooks->arg, d->host->node_name, 0,
				      &epoch, err);
	if (rc != SB_OK)
		return rc;
	d->superseded = 0;
	snprintf(detail, sizeof(detail), "%s (epoch %llu)", why,
		 (unsigned long long)epoch);
	set_state_locked(d, SB_FENCE_ACTIVE, epoch, detail);
	return SB_OK;
}

/* Steps down as superseded: the lease says holder at holder_epoch. Lock
 * held, node active. */
static void supersede_locked(struct designation *d, const char *holder,
			     uint64_t holder_epoch)
{
	char why[384];

	snprintf(why, sizeof(why), "superseded at epoch %llu by %s",
		 (unsigned long long)holder_epoch,
		 holder && holder[0] ? holder : "no holder");
	d->host->log(d->host, SB_LOG_WARNING,
		     "%s (this node was active at epoch %llu): stepping down",
		     why, (unsigned long long)d->epoch);
	d->superseded = 1;
	set_state_locked(d, SB_FENCE_STANDBY, 0, why);
}

/* One round of the watch thread. Called with the lock held; drops it
 * while the lease is read, so that a step-down, a status call or the
 * core's report of a fenced write never waits for the storage here, and
 * acts on what it read only when nothing changed meanwhile. */
static void watch_round_locked(struct designation *d)
{
	const struct sb_fence_hooks *hooks = d->hooks;
	struct sb_lease_info li;
	struct sb_error err;
	uint64_t seq = d->seq;
	int rc;

	if (d->state != SB_FENCE_ACTIVE && !(d->retry && d->wanted))
		return;
	memset(&li, 0, sizeof(li));
	pthread_mutex_unlock(&d->lock);
	rc = hooks->lease_read(hooks->arg, &li, &err);
	pthread_mutex_lock(&d->lock);
	if (rc != SB_OK || d->stopping || d->seq != seq)
		return; /* on an error the storage fences our writes anyway */
	if (d->state == SB_FENCE_ACTIVE) {
		if (strcmp(li.holder, d->host->node_name) != 0 ||
		    li.epoch != d->epoch)
			supersede_locked(d, li.holder, li.epoch);
		return;
	}
	/* Wanted, standby: the take failed before, or the node that
	 * superseded this one has released the lease. A holder that is still
	 * there keeps it: two nodes that are both wanted take turns only on a
	 * new decision. */
	if (d->superseded && li.held)
		return;
	rc = take_locked(d, d->want_why, &err);
	if (rc != SB_OK)
		d->host->log(d->host, SB_LOG_WARNING,
			     "cannot take the fence yet: %s", err.msg);
}

static void *watch_main(void *arg)
{
	struct designation *d = arg;

	pthread_mutex_lock(&d->lock);
	while (!d->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += d->check_ms / 1000;
		ts.tv_nsec += (d->check_ms % 1000) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&d->cond, &d->lock, &ts);
		if (!d->stopping)
			watch_round_locked(d);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

int designation_start(struct designation *d, const struct sb_fence_hooks *hooks,
		      struct sb_error *err)
{
	int ret = SB_ERR;

	pthread_mutex_lock(&d->lock);
	d->hooks = hooks;
	d->stopping = 0;
	if (pthread_create(&d->thread, NULL, watch_main, d) != 0) {
		d->hooks = NULL;
		sb_error_set(err, SB_ERR, "cannot start the watch thread: %s",
			     strerror(errno));
		goto done;
	}
	d->thread_running = 1;
	ret = SB_OK;
done:
	pthread_mutex_unlock(&d->lock);
	return ret;
}

void designation_stop(struct designation *d, const char *why)
{
	pthread_mutex_lock(&d->lock);
	d->stopping = 1;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (d->thread_running) {
		pthread_join(d->thread, NULL);
		d->thread_running = 0;
	}
	pthread_mutex_lock(&d->lock);
	if (d->hooks)
		set_state_locked(d, SB_FENCE_STANDBY, 0, why);
	d->hooks = NULL;
	d->wanted = 0;
	pthread_mutex_unlock(&d->lock);
}

int designation_take(struct designation *d, const char *why,
		     struct sb_error *err)
{
	int rc;

	pthread_mutex_lock(&d->lock);
	if (d->hooks == NULL) {
		rc = sb_error_set(err, SB_EINVAL,
				  "fencing plugin %s is not started",
				  d->plugin);
	} else {
		d->seq++;
		d->wanted = 1;
		snprintf(d->want_why, sizeof(d->want_why), "%s", why);
		rc = take_locked(d, why, err);
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int designation_step_down(struct designation *d, const char *why, int release,
			  struct sb_error *err)
{
	uint64_t epoch;
	int was_active, rc = SB_OK;

	pthread_mutex_lock(&d->lock);
	d->seq++;
	d->wanted = 0;
	d->superseded = 0;
	if (d->hooks == NULL)
		goto done;
	was_active = d->state == SB_FENCE_ACTIVE;
	epoch = d->epoch;
	/* Standby before anything reaches the storage: the core refuses
	 * every write from here on. */
	if (was_active || strcmp(d->detail, why) != 0)
		set_state_locked(d, SB_FENCE_STANDBY, 0, why);
	if (was_active && release) {
		rc = d->hooks->lease_release(d->hooks->arg, d->host->node_name,
					     epoch, err);
		/* Fenced: someone else holds it already. */
		if (rc == SB_EFENCED)
			rc = SB_OK;
	}
done:
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void designation_superseded(struct designation *d, uint64_t epoch,
			    const char *holder, uint64_t holder_epoch)
{
	pthread_mutex_lock(&d->lock);
	if (d->hooks && d->state == SB_FENCE_ACTIVE && d->epoch == epoch &&
	    !(holder_epoch == epoch && holder &&
	      strcmp(holder, d->host->node_name) == 0))
		supersede_locked(d, holder, holder_epoch);
	pthread_mutex_unlock(&d->lock);
}

int designation_status(struct designation *d, struct sb_fence_status *out)
{
	pthread_mutex_lock(&d->lock);
	out->state = d->state;
	out->epoch = d->epoch;
	out->lease_left_ms = -1;
	snprintf(out->detail, sizeof(out->detail), "%s", d->detail);
	pthread_mutex_unlock(&d->lock);
	return SB_OK;
}

int designation_lease_read(struct designation *d, struct sb_lease_info *li,
			   struct sb_error *err)
{
	const struct sb_fence_hooks *hooks;

	pthread_mutex_lock(&d->lock);
	hooks = d->hooks;
	pthread_mutex_unlock(&d->lock);
	if (hooks == NULL)
		return sb_error_set(err, SB_EINVAL,
				    "fencing plugin %s is not started",
				    d->plugin);
	return hooks->lease_read(hooks->arg, li, err);
}
