/*
 * Designation: the fencing state of plugins where something outside the
 * broker decides who is active (an operator for "manual", keepalived's
 * VRRP for "keepalived", Pacemaker for "pacemaker"), and the storage's
 * fencing epoch makes that decision safe.
 *
 * designation_take() takes the fence unconditionally (fence_takeover, no
 * expiry): this node is active at an epoch strictly larger than any issued
 * before, so every other node's fenced writes are refused by the storage
 * from then on. A node loses the role three ways: the plugin steps it down
 * (designation_step_down), the core reports a write refused for its epoch
 * (designation_superseded, through the fencing op "superseded"), or the
 * watch thread, which reads the lease every check_ms, sees another holder
 * or epoch. The last two say "superseded at epoch N by NODE".
 *
 * Wanting the role and having it are kept apart: `wanted` is what the
 * outside decider said last (promote / MASTER). With retry set, the watch
 * thread retakes the fence while wanted and standby, when the take failed
 * (storage down) or when the node that superseded this one has released
 * the lease (it stepped down cleanly, so no two nodes can be active).
 *
 * Linked statically into each plugin that uses it: nothing here is part of
 * the plugin ABI.
 */
#ifndef SB_FENCING_DESIGNATION_H
#define SB_FENCING_DESIGNATION_H

#include <secretbroker/plugin.h>

#include <pthread.h>
#include <stdint.h>

struct designation {
	const struct sb_host *host;
	const char *plugin; /* for messages, e.g. "keepalived" */
	long long check_ms;
	int retry; /* retake while wanted (see above) */

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	const struct sb_fence_hooks *hooks; /* NULL when not started */
	pthread_t thread;
	int thread_running, stopping;
	int state; /* enum sb_fence_state */
	uint64_t epoch;
	uint64_t seq;	    /* +1 on every change of the fields below */
	int wanted;	    /* the decider wants this node active */
	int superseded;	    /* lost the fence while wanted */
	char want_why[128]; /* why it is wanted, for the retake's detail */
	char detail[256];
};

/* Initialises d, standby, "not started". plugin must outlive d. */
void designation_init(struct designation *d, const struct sb_host *host,
		      const char *plugin, long long check_ms, int retry);
/* Frees what designation_init made; d must be stopped. */
void designation_destroy(struct designation *d);

/* Records hooks and starts the watch thread; state stays as it is.
 * Returns SB_OK or SB_ERR with err filled. */
int designation_start(struct designation *d, const struct sb_fence_hooks *hooks,
		      struct sb_error *err);
/* Joins the watch thread, reports standby with why and forgets the hooks.
 * The lease is kept (a restart may look at it). */
void designation_stop(struct designation *d, const char *why);

/* Marks this node wanted and takes the fence now. On failure (storage
 * unreachable) the node stays standby and err says why; with retry the
 * watch thread tries again. why goes into the state's detail. */
int designation_take(struct designation *d, const char *why,
		     struct sb_error *err);
/* Marks this node not wanted and steps down: standby first (so no write is
 * sent once this returns), then, when release is set, the lease released
 * (best effort; a failure is returned but the node is standby anyway). */
int designation_step_down(struct designation *d, const char *why, int release,
			  struct sb_error *err);
/* The core saw a fenced write at epoch refused; holder and holder_epoch
 * are the lease as read after it ("" / 0 if unknown). Steps down when the
 * node is still active at epoch. */
void designation_superseded(struct designation *d, uint64_t epoch,
			    const char *holder, uint64_t holder_epoch);

/* Fills out from memory. */
int designation_status(struct designation *d, struct sb_fence_status *out);
/* Reads the lease through the hooks. Called with or without the lock;
 * SB_EINVAL when not started. */
int designation_lease_read(struct designation *d, struct sb_lease_info *li,
			   struct sb_error *err);
/* Records a standby state with reason why (no lease change). Lock held. */
void designation_set_standby_locked(struct designation *d, const char *why);

#endif
