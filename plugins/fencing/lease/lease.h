/*
 * The "lease" fencing plugin: internal interfaces.
 *
 * A node is the active master secret server while it holds the storage
 * backend's one lease (struct sb_storage_ops, reached only through struct
 * sb_fence_hooks). How the parts fit:
 *
 *   lease_settings.c  [fencing] settings: parsing, defaults, validation
 *   lease_loop.c      the two threads of a started instance and every
 *                     state transition:
 *                       worker    acquires the lease while standby, renews
 *                                 it while active (the only thread that
 *                                 blocks in acquire/renew hooks)
 *                       watchdog  sleeps until the self-fencing deadline and
 *                                 steps the node down when it passes, even
 *                                 while the worker is stuck in a renew
 *   lease_plugin.c    the descriptor and the sb_fencing_ops entry points
 *
 * Clock: every deadline is kept on CLOCK_BOOTTIME, which is CLOCK_MONOTONIC
 * plus the time the machine spent suspended. Neither jumps with the wall
 * clock; BOOTTIME also keeps counting while a VM or laptop is suspended,
 * as the backend's clock (on another machine, or the wall clock) does, so a
 * node resuming from suspend knows its lease is gone. Timed waits use
 * CLOCK_MONOTONIC condition variables (POSIX offers no BOOTTIME ones) and
 * are kept short while active, so a resume is noticed within
 * LS_WATCHDOG_TICK_MS.
 */
#ifndef SB_FENCING_LEASE_H
#define SB_FENCING_LEASE_H

#include <secretbroker/plugin.h>

#include <pthread.h>
#include <stdint.h>

/* The longest the watchdog sleeps while active, so that a resume from a
 * machine suspend (which CLOCK_MONOTONIC waits do not see) is noticed
 * promptly. SIGSTOP needs no tick: both clocks run on, and the timed wait
 * returns as soon as the process runs again. */
#define LS_WATCHDOG_TICK_MS 100

/* The least time between the self-fencing deadline and the lease's expiry
 * on the backend: enough for the watchdog to wake and tell the core. */
#define LS_MIN_MARGIN_MS 50

struct ls_settings {
	uint32_t ttl_ms;	      /* lease time to live on the backend */
	uint32_t renew_interval_ms;   /* between renews while active */
	uint32_t self_fence_ms;	      /* deadline after a renew's start */
	uint32_t acquire_interval_ms; /* between acquire tries on standby */
	uint32_t renew_retry_ms;      /* after a failed renew (derived) */
};

/* Reads and validates the [fencing] settings (see lease_settings.c). cfg
 * may be NULL (every default). On failure returns SB_EINVAL with a message
 * naming the section and key in err. */
int ls_settings_read(const struct sb_host *host, const struct sb_config *cfg,
		     struct ls_settings *out, struct sb_error *err);

#define LS_NOTE_MAX 200

/* One opened instance. Locks, always taken in this order:
 *   control  serialises start, stop and demote (the core's calls)
 *   tlock    held across every state_changed call, so the core hears the
 *            transitions in the order they happen; never taken by status()
 *   lock     guards every field below; held only briefly, never across a
 *            hook call, so status() is cheap from any thread
 */
struct ls_instance {
	const struct sb_host *host;
	struct ls_settings set;

	pthread_mutex_t control;
	pthread_mutex_t tlock;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; broadcast on every change */

	/* Set by start(), cleared by stop(). */
	const struct sb_fence_hooks *hooks;
	pthread_t worker, watchdog;
	int started;
	int stopping;	   /* the worker is to exit */
	int watchdog_exit; /* the watchdog is to exit (after the worker) */
	int first_done;	   /* the worker's first acquire try is over */
	int fatal_rc;	   /* the first try failed for good: start fails */
	char fatal_msg[SB_ERROR_MAX];

	/* The state as the core was (or is being) told. */
	int state;	     /* enum sb_fence_state */
	uint64_t epoch;	     /* the epoch while active, 0 on standby */
	uint64_t activation; /* +1 on every transition: a stale result from
				a renew begun before it is recognised */
	uint64_t last_epoch; /* the largest epoch ever acquired */
	int64_t renewed_ns;  /* start of the last successful acquire/renew */
	int64_t deadline_ns; /* renewed_ns + self_fence_ms */
	int64_t next_renew_ns;
	int64_t next_acquire_ns;
	int64_t holdoff_ns;	     /* no acquire before this (demote) */
	uint64_t release_epoch;	     /* stepped down from this; to release */
	int last_rc;		     /* last acquire/renew status */
	char last_err[SB_ERROR_MAX]; /* its message when failing */
	char note[LS_NOTE_MAX];	     /* why standby, for status() */
};

/* CLOCK_BOOTTIME in nanoseconds (see the clock note above). */
int64_t ls_now_ns(void);

/* Starts the worker and watchdog threads of a started instance (hooks
 * set, fields reset). Returns 0, or -1 when a thread cannot be created
 * (then none runs). */
int ls_threads_start(struct ls_instance *li);

/* Stops the worker, then the watchdog, and joins both. Afterwards neither
 * calls a hook again. */
void ls_threads_stop(struct ls_instance *li);

/* Steps an active node down (state_changed STANDBY with reason), taking
 * tlock and lock itself; *told is set to 1 when it did (the core has heard
 * of it), 0 when the node was already on standby. Returns the epoch whose
 * lease is still to be released (the one stepped down from now, or one the
 * watchdog stepped down from that the worker had yet to release), 0 for
 * none, and clears release_epoch: the caller owns that release. For stop()
 * and demote(), once no worker can race them for it. */
uint64_t ls_step_down_now(struct ls_instance *li, const char *reason,
			  int *told);

/* Releases the lease at epoch (not 0) through the hooks, logging the
 * outcome. For the core's threads after the worker is done with it. */
void ls_release(struct ls_instance *li, uint64_t epoch, const char *why);

#endif
