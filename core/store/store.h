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
#include "runtime/api_error.h"

#include <secretbroker/plugin.h>

#include <stddef.h>
#include <stdint.h>

/* The fencing view the store stamps writes from: returns SB_FENCE_* and
 * sets *epoch (0 unless active). cluster/fence.c registers it at start
 * (fn NULL: unregister); until then the node is standby. */
typedef int (*store_fence_view_fn)(void *arg, uint64_t *epoch);
void store_set_fence_view(store_fence_view_fn fn, void *arg);
int store_fence_view(uint64_t *epoch);

/* Called when the backend refused a fenced write stamped with epoch
 * (SB_EFENCED): another node took the fence since. g is the writer's
 * generation (a reference the caller holds). cluster/fence.c registers it
 * (fn NULL: unregister) to step the fencing plugin down at once. Runs on
 * the writing thread after the write failed; no store lock is held. */
typedef void (*store_fence_refused_fn)(void *arg, struct sb_generation *g,
				       uint64_t epoch);
void store_set_fence_refused(store_fence_refused_fn fn, void *arg);

/*
 * Whether the storage was reachable at the last plugin call that went to
 * it (get, scan, batch_apply, the lease ops, fence_takeover), from any
 * thread: SB_EUNAVAIL or SB_ETIMEOUT make it unreachable, any other answer
 * (not found, conflict, fenced by the backend included) reachable. Writes
 * this layer refuses itself (standby) and missing ops do not count. GET
 * /v1/health reports it so that keepalived or Pacemaker can demote a
 * master secret server that lost its SSO database; the fencing plugins
 * read the lease periodically, so an MSS keeps it fresh without traffic.
 */
enum store_reach {
	STORE_REACH_UNKNOWN,	 /* no call has reached the plugin yet */
	STORE_REACH_OK,		 /* the last call got an answer */
	STORE_REACH_UNREACHABLE, /* the last call was unavailable/timed out */
};

/* Returns the enum store_reach of the last storage call. */
int store_reachability(void);

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

/* How a write is fenced, i.e. which epoch the store stamps on it:
 *   unfenced      epoch 0, no check (node reports, member nodes' writes);
 *   fenced at E   E, the epoch the caller decided under (E > 0); a stale E
 *                 goes to the backend unchanged, which refuses it;
 *   fenced now    the fence view's epoch at the time of the write.
 * A fenced write on a node whose view is standby is refused with
 * SB_EFENCED (STORE_STANDBY_MSG) without reaching the plugin. */
struct store_fencing {
	int fenced;	/* 0: unfenced */
	uint64_t epoch; /* fenced: E, or 0 for the view's current epoch */
};
#define STORE_UNFENCED	   ((struct store_fencing){0, 0})
#define STORE_FENCED_AT(e) ((struct store_fencing){1, (e)})
#define STORE_FENCED_NOW   ((struct store_fencing){1, 0})

/* err->msg of a fenced write refused on a standby node. */
#define STORE_STANDBY_MSG                                                      \
	"this node is a standby (it holds no fencing epoch): fenced write "    \
	"refused"

/* Applies batch atomically, stamped with the epoch fencing says (the
 * batch's own epoch field is ignored). The batch stays the caller's.
 * Returns the plugin's status, or SB_EFENCED as above. There is no retry
 * here: no caller retried a storage call before this layer existed, and a
 * write whose outcome is unknown must be read back, not blindly redone. */
int store_batch_apply(struct sb_generation *g, struct store_fencing fencing,
		      const struct sb_batch *batch, struct sb_error *err);

/* Puts value (value_len bytes, the caller's) at key with no precondition,
 * fenced as fencing says. Returns as store_batch_apply. */
int store_put_record(struct sb_generation *g, struct store_fencing fencing,
		     const char *key, const char *value, size_t value_len,
		     struct sb_error *err);

/* Commits a new master secret: writes secret/current (current) and
 * secret/check/<msid> (check), both required to be absent, in one batch.
 * Returns as store_batch_apply; SB_ECONFLICT when either exists already. */
int store_commit_secret(struct sb_generation *g, struct store_fencing fencing,
			const char *msid, const char *current,
			const char *check, struct sb_error *err);

/* The one mapping of a storage status (and the plugin's message in err,
 * may be NULL) to an API error: unavailable and timeout 503
 * storage_unavailable (503 outcome_unknown when the plugin says the write
 * may or may not have been applied), fenced 409 fenced, conflict 409
 * conflict, anything else (not found included: callers
 * that expect absence test for it first) 500 storage_error.
 * what says what was being done ("reading secret/current"). Fills e and
 * returns -1. */
int store_error_to_api(struct sb_api_error *e, int status,
		       const struct sb_error *err, const char *what);

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
