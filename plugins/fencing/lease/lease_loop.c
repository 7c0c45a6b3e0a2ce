/*
 * The threads of a started lease instance, and every state transition.
 *
 * worker: on standby, tries lease_acquire every acquire_interval_ms; on
 *   success the node is active at the new epoch, with the self-fencing
 *   deadline at (start of that acquire) + self_fence_ms. While active it
 *   renews every renew_interval_ms (a failed renew is retried every
 *   renew_retry_ms); each successful renew moves the deadline to (start of
 *   that renew) + self_fence_ms. A renew answered SB_EFENCED or SB_EEXPIRED
 *   means the lease is gone: the node steps down at once.
 *
 * watchdog: while active, sleeps until the deadline and steps the node
 *   down when it passes. It is a thread of its own because the worker may
 *   be stuck in a renew (a backend that stopped answering, a lock held by
 *   another process) for longer than the deadline allows.
 *
 * Both threads check the deadline first thing after every wake, so a
 * process resumed after SIGSTOP steps down before it does anything else
 * with its lease, and a renew that answers after the deadline never
 * revives the node: the deadline is a hard line. A node that stepped down
 * releases the lease it may still hold (so another node need not wait for
 * the TTL) and starts over on standby; it never goes back to an epoch it
 * stepped down from.
 *
 * Stepping down is a promise to the core, made through state_changed: from
 * then on it must not start a write with the old epoch. A write already in
 * flight may still carry it; the storage backend's epoch check is what
 * stops that write once another node has acquired the lease (and with it a
 * larger epoch). See docs/fencing-lease.md.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "lease.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS_PER_MS 1000000LL

int64_t ls_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits on li->cond (li->lock held) until ls_now_ns() reaches target_ns, a
 * broadcast, or cap_ms, whichever is first. The caller re-checks
 * everything after it returns. */
static void wait_until(struct ls_instance *li, int64_t target_ns, int cap_ms)
{
	int64_t delta = target_ns - ls_now_ns();
	struct timespec ts;

	if (delta <= 0)
		return;
	if (cap_ms > 0 && delta > cap_ms * NS_PER_MS)
		delta = cap_ms * NS_PER_MS;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(delta / 1000000000LL);
	ts.tv_nsec += (long)(delta % 1000000000LL);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&li->cond, &li->lock, &ts);
}

/* Records why the node is on standby, for status(). li->lock held. */
static void set_note(struct ls_instance *li, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_note(struct ls_instance *li, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(li->note, sizeof(li->note), fmt, ap);
	va_end(ap);
}

/* Steps the node down if it is still active in activation gen: standby,
 * epoch kept in release_epoch for the worker (or stop/demote) to release,
 * state_changed(STANDBY) with reason. Called and returns with li->lock
 * held; drops it around the hook. Returns the epoch stepped down from, or
 * 0 when the node had already changed state (someone else acted first). */
static uint64_t step_down(struct ls_instance *li, uint64_t gen,
			  const char *reason, int level)
{
	const struct sb_fence_hooks *hooks = li->hooks;
	uint64_t epoch;

	pthread_mutex_unlock(&li->lock);
	pthread_mutex_lock(&li->tlock);
	pthread_mutex_lock(&li->lock);
	if (li->state != SB_FENCE_ACTIVE || li->activation != gen) {
		pthread_mutex_unlock(&li->tlock);
		return 0;
	}
	epoch = li->epoch;
	li->state = SB_FENCE_STANDBY;
	li->epoch = 0;
	li->activation++;
	li->release_epoch = epoch;
	li->next_acquire_ns = ls_now_ns();
	set_note(li, "standby since epoch %llu: %s", (unsigned long long)epoch,
		 reason);
	pthread_cond_broadcast(&li->cond);
	pthread_mutex_unlock(&li->lock);
	li->host->log(li->host, level, "node %s: %s (epoch %llu)",
		      li->host->node_name, reason, (unsigned long long)epoch);
	hooks->state_changed(hooks->arg, SB_FENCE_STANDBY, 0, reason);
	pthread_mutex_lock(&li->lock);
	pthread_mutex_unlock(&li->tlock);
	return epoch;
}

/* The deadline passed without a successful renew. li->lock held. */
static void step_down_deadline(struct ls_instance *li)
{
	char reason[256];
	int64_t late = (ls_now_ns() - li->deadline_ns) / NS_PER_MS;

	if (li->last_rc != SB_OK)
		snprintf(reason, sizeof(reason),
			 "lease not renewed within %u ms: stepped down "
			 "(last renew: %.150s)",
			 li->set.self_fence_ms, li->last_err);
	else if (late > LS_WATCHDOG_TICK_MS)
		snprintf(reason, sizeof(reason),
			 "lease not renewed within %u ms: stepped down "
			 "(this process did not run for %lld ms: paused or "
			 "suspended)",
			 li->set.self_fence_ms, (long long)late);
	else
		snprintf(reason, sizeof(reason),
			 "lease not renewed within %u ms: stepped down "
			 "(no answer to the renew in time)",
			 li->set.self_fence_ms);
	step_down(li, li->activation, reason, SB_LOG_WARNING);
}

/* The worker's acquire succeeded at epoch, the try having started at t0.
 * Makes the node active unless that would be unsafe or unwanted now, in
 * which case the lease is left for the worker to release. li->lock held;
 * dropped around the hook. */
static void activate(struct ls_instance *li, uint64_t epoch, int64_t t0)
{
	const struct sb_fence_hooks *hooks = li->hooks;
	int64_t now;

	pthread_mutex_unlock(&li->lock);
	pthread_mutex_lock(&li->tlock);
	pthread_mutex_lock(&li->lock);
	now = ls_now_ns();
	if (li->stopping || now < li->holdoff_ns) {
		/* stop() or demote() came while acquiring. */
		li->release_epoch = epoch;
		goto done;
	}
	if (epoch <= li->last_epoch) {
		li->host->log(li->host, SB_LOG_ERROR,
			      "node %s: the storage backend granted the lease "
			      "at epoch %llu, not above epoch %llu it granted "
			      "before: not becoming active (is the backend "
			      "restored from an old copy?)",
			      li->host->node_name, (unsigned long long)epoch,
			      (unsigned long long)li->last_epoch);
		set_note(li, "standby: backend granted a stale epoch %llu",
			 (unsigned long long)epoch);
		li->release_epoch = epoch;
		goto done;
	}
	li->last_epoch = epoch;
	if (now >= t0 + li->set.self_fence_ms * NS_PER_MS) {
		/* The answer came too late to be sure of the lease. */
		li->host->log(li->host, SB_LOG_WARNING,
			      "node %s: acquiring the lease took %lld ms, "
			      "longer than self_fence_ms (%u): not becoming "
			      "active at epoch %llu",
			      li->host->node_name,
			      (long long)((now - t0) / NS_PER_MS),
			      li->set.self_fence_ms, (unsigned long long)epoch);
		set_note(li, "standby: acquiring took longer than %u ms",
			 li->set.self_fence_ms);
		li->release_epoch = epoch;
		goto done;
	}
	li->state = SB_FENCE_ACTIVE;
	li->epoch = epoch;
	li->activation++;
	li->renewed_ns = t0;
	li->deadline_ns = t0 + li->set.self_fence_ms * NS_PER_MS;
	li->next_renew_ns = t0 + li->set.renew_interval_ms * NS_PER_MS;
	li->last_rc = SB_OK;
	li->last_err[0] = '\0';
	li->note[0] = '\0';
	pthread_cond_broadcast(&li->cond);
	pthread_mutex_unlock(&li->lock);
	li->host->log(li->host, SB_LOG_INFO,
		      "node %s: acquired the lease, active at fencing epoch "
		      "%llu",
		      li->host->node_name, (unsigned long long)epoch);
	hooks->state_changed(hooks->arg, SB_FENCE_ACTIVE, epoch,
			     "acquired lease");
	pthread_mutex_lock(&li->lock);
done:
	pthread_mutex_unlock(&li->tlock);
}

void ls_release(struct ls_instance *li, uint64_t epoch, const char *why)
{
	const struct sb_fence_hooks *hooks = li->hooks;
	struct sb_error err = {{0}};
	int rc;

	rc = hooks->lease_release(hooks->arg, li->host->node_name, epoch, &err);
	if (rc == SB_OK)
		li->host->log(li->host, SB_LOG_INFO,
			      "node %s: released the lease (epoch %llu, %s)",
			      li->host->node_name, (unsigned long long)epoch,
			      why);
	else if (rc == SB_EFENCED)
		/* Expired and taken, or never really ours: nothing to do. */
		li->host->log(li->host, SB_LOG_DEBUG,
			      "node %s: lease at epoch %llu not released, no "
			      "longer ours: %s",
			      li->host->node_name, (unsigned long long)epoch,
			      err.msg);
	else
		li->host->log(li->host, SB_LOG_WARNING,
			      "node %s: cannot release the lease (epoch %llu, "
			      "%s): %s; it expires by itself within %u ms",
			      li->host->node_name, (unsigned long long)epoch,
			      why, err.msg[0] ? err.msg : "no message",
			      li->set.ttl_ms);
}

/* One acquire try on standby. li->lock held; dropped around the hook. */
static void try_acquire(struct ls_instance *li)
{
	const struct sb_fence_hooks *hooks = li->hooks;
	struct sb_error err = {{0}};
	uint64_t epoch = 0;
	int64_t t0 = ls_now_ns();
	int rc, prev_rc = li->last_rc;

	li->next_acquire_ns = t0 + li->set.acquire_interval_ms * NS_PER_MS;
	pthread_mutex_unlock(&li->lock);
	rc = hooks->lease_acquire(hooks->arg, li->host->node_name,
				  li->set.ttl_ms, &epoch, &err);
	pthread_mutex_lock(&li->lock);
	if (rc == SB_OK && epoch == 0) {
		rc = SB_ERR;
		snprintf(err.msg, sizeof(err.msg),
			 "the storage backend granted the lease at epoch 0");
	}
	li->last_rc = rc;
	snprintf(li->last_err, sizeof(li->last_err), "%s",
		 rc == SB_OK  ? ""
		 : err.msg[0] ? err.msg
			      : "no message");
	if (rc == SB_OK) {
		activate(li, epoch, t0);
	} else if (rc == SB_EBUSY) {
		set_note(li, "standby, lease held elsewhere: %.150s",
			 li->last_err);
		if (prev_rc != SB_EBUSY)
			li->host->log(li->host, SB_LOG_INFO,
				      "node %s: standby, the lease is held: %s",
				      li->host->node_name, li->last_err);
	} else if (!li->first_done && (rc == SB_ENOTSUP || rc == SB_EINVAL)) {
		/* Not a passing condition: start() fails with this. */
		li->fatal_rc = rc;
		snprintf(li->fatal_msg, sizeof(li->fatal_msg), "%s",
			 li->last_err);
	} else {
		set_note(li, "standby, cannot acquire the lease: %.150s",
			 li->last_err);
		if (prev_rc != rc)
			li->host->log(li->host, SB_LOG_WARNING,
				      "node %s: cannot acquire the lease, "
				      "retrying every %u ms: %s",
				      li->host->node_name,
				      li->set.acquire_interval_ms,
				      li->last_err);
	}
	if (!li->first_done) {
		li->first_done = 1;
		pthread_cond_broadcast(&li->cond);
	}
}

/* One renew while active. li->lock held; dropped around the hook. */
static void try_renew(struct ls_instance *li)
{
	const struct sb_fence_hooks *hooks = li->hooks;
	struct sb_error err = {{0}};
	uint64_t gen = li->activation, epoch = li->epoch;
	int64_t t0 = ls_now_ns(), now;
	char reason[256];
	int rc, prev_rc;

	pthread_mutex_unlock(&li->lock);
	rc = hooks->lease_renew(hooks->arg, li->host->node_name, epoch,
				li->set.ttl_ms, &err);
	pthread_mutex_lock(&li->lock);
	if (li->state != SB_FENCE_ACTIVE || li->activation != gen)
		return; /* stepped down meanwhile: the answer is moot */
	now = ls_now_ns();
	if (now >= li->deadline_ns) {
		/* Too late, whatever the answer: it may have been paused. */
		if (rc != SB_OK) {
			li->last_rc = rc;
			snprintf(li->last_err, sizeof(li->last_err), "%s",
				 err.msg[0] ? err.msg : "no message");
		}
		step_down_deadline(li);
		return;
	}
	if (rc == SB_OK) {
		li->renewed_ns = t0;
		li->deadline_ns = t0 + li->set.self_fence_ms * NS_PER_MS;
		li->next_renew_ns = t0 + li->set.renew_interval_ms * NS_PER_MS;
		if (li->last_rc != SB_OK)
			li->host->log(li->host, SB_LOG_INFO,
				      "node %s: lease renewed again (epoch "
				      "%llu)",
				      li->host->node_name,
				      (unsigned long long)epoch);
		li->last_rc = SB_OK;
		li->last_err[0] = '\0';
		pthread_cond_broadcast(&li->cond); /* new deadline */
		return;
	}
	prev_rc = li->last_rc;
	li->last_rc = rc;
	snprintf(li->last_err, sizeof(li->last_err), "%s",
		 err.msg[0] ? err.msg : "no message");
	if (rc == SB_EFENCED || rc == SB_EEXPIRED) {
		snprintf(reason, sizeof(reason),
			 "lease lost (%s): stepped down: %.150s",
			 rc == SB_EFENCED ? "fenced" : "expired", li->last_err);
		if (step_down(li, gen, reason, SB_LOG_WARNING) != 0)
			li->release_epoch = 0; /* not ours to release */
		return;
	}
	/* The first failure of a run is a warning; its retries, every
	 * renew_retry_ms, only debug lines (the step-down is a warning). */
	li->host->log(
		li->host, prev_rc == SB_OK ? SB_LOG_WARNING : SB_LOG_DEBUG,
		"node %s: lease renew failed (epoch %llu), retrying in "
		"%u ms, stepping down in %lld ms unless one succeeds: %s",
		li->host->node_name, (unsigned long long)epoch,
		li->set.renew_retry_ms,
		(long long)((li->deadline_ns - now) / NS_PER_MS), li->last_err);
	li->next_renew_ns = t0 + li->set.renew_retry_ms * NS_PER_MS;
}

static void block_signals(sigset_t *old)
{
	sigset_t all;

	/* The daemon handles its signals in threads of its own choosing;
	 * ours must not take them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
}

static void *worker_main(void *arg)
{
	struct ls_instance *li = arg;
	uint64_t epoch;
	int64_t now;

	pthread_setname_np(pthread_self(), "sb-lease");
	pthread_mutex_lock(&li->lock);
	while (!li->stopping && li->fatal_rc == SB_OK) {
		now = ls_now_ns();
		if (li->state == SB_FENCE_ACTIVE) {
			if (now >= li->deadline_ns)
				step_down_deadline(li);
			else if (now >= li->next_renew_ns)
				try_renew(li);
			else
				wait_until(li,
					   li->next_renew_ns < li->deadline_ns
						   ? li->next_renew_ns
						   : li->deadline_ns,
					   0);
		} else if (li->release_epoch != 0) {
			epoch = li->release_epoch;
			li->release_epoch = 0;
			pthread_mutex_unlock(&li->lock);
			ls_release(li, epoch, "after stepping down");
			pthread_mutex_lock(&li->lock);
		} else if (now < li->holdoff_ns) {
			wait_until(li, li->holdoff_ns, 0);
		} else if (now < li->next_acquire_ns) {
			wait_until(li, li->next_acquire_ns, 0);
		} else {
			try_acquire(li);
		}
	}
	pthread_mutex_unlock(&li->lock);
	return NULL;
}

static void *watchdog_main(void *arg)
{
	struct ls_instance *li = arg;

	pthread_setname_np(pthread_self(), "sb-lease-wd");
	pthread_mutex_lock(&li->lock);
	while (!li->watchdog_exit) {
		if (li->state != SB_FENCE_ACTIVE)
			pthread_cond_wait(&li->cond, &li->lock);
		else if (ls_now_ns() >= li->deadline_ns)
			step_down_deadline(li);
		else
			wait_until(li, li->deadline_ns, LS_WATCHDOG_TICK_MS);
	}
	pthread_mutex_unlock(&li->lock);
	return NULL;
}

int ls_threads_start(struct ls_instance *li)
{
	sigset_t old;
	int rc;

	block_signals(&old);
	rc = pthread_create(&li->watchdog, NULL, watchdog_main, li);
	if (rc == 0) {
		rc = pthread_create(&li->worker, NULL, worker_main, li);
		if (rc != 0) {
			pthread_mutex_lock(&li->lock);
			li->watchdog_exit = 1;
			pthread_cond_broadcast(&li->cond);
			pthread_mutex_unlock(&li->lock);
			pthread_join(li->watchdog, NULL);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

void ls_threads_stop(struct ls_instance *li)
{
	/* The worker first: while it finishes a hook call, the node may
	 * still be active and the watchdog must keep guarding the deadline. */
	pthread_mutex_lock(&li->lock);
	li->stopping = 1;
	pthread_cond_broadcast(&li->cond);
	pthread_mutex_unlock(&li->lock);
	pthread_join(li->worker, NULL);
	pthread_mutex_lock(&li->lock);
	li->watchdog_exit = 1;
	pthread_cond_broadcast(&li->cond);
	pthread_mutex_unlock(&li->lock);
	pthread_join(li->watchdog, NULL);
}

uint64_t ls_step_down_now(struct ls_instance *li, const char *reason, int *told)
{
	uint64_t epoch;

	pthread_mutex_lock(&li->lock);
	*told = li->state == SB_FENCE_ACTIVE &&
		step_down(li, li->activation, reason, SB_LOG_INFO) != 0;
	/* Whether it stepped down just now or earlier (the watchdog, with
	 * the worker yet to release), the caller releases. */
	epoch = li->release_epoch;
	li->release_epoch = 0;
	pthread_mutex_unlock(&li->lock);
	return epoch;
}
