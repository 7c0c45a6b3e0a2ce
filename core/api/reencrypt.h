/*
 * The background re-encryption after a master secret rotation (the
 * credential store's half; the secret's is secret/rotate.h). One thread
 * on each MSS node. On the active node it walks the credential records
 * (cfg/ then map/) from the cursor in secret/rotation, a batch of
 * [secret] reencrypt_batch records at a time: each record still under the
 * previous MSID is opened with the previous secret and sealed again under
 * the current one, and the batch (with a version precondition per record)
 * is written together with the advanced cursor in one batch fenced at the
 * node's epoch, so a crash or a failover resumes at the cursor on the new
 * active node and a superseded node's batch is refused by the backend. It
 * sleeps between batches to keep [secret] reencrypt_rate. A pass that
 * found a record to re-encrypt is followed by another (a write that began
 * under the old keys before the rotation may land behind the cursor); a
 * pass that found none retires the previous secret.
 *
 * On every MSS node, active or not, the thread also drops a previous
 * secret the database has retired (sb_rotation_settle), keeps the progress
 * the status views show, and logs when the secret is older than [secret]
 * max_age_days (once a day).
 */
#ifndef SB_REENCRYPT_H
#define SB_REENCRYPT_H

#include <secretbroker/plugin.h>

#include <stdint.h>

struct sb_daemon;
struct sb_generation;

/* Starts the thread (MSS nodes; a member returns 0 and starts nothing).
 * Returns 0 or -1. */
int sb_reencrypt_start(struct sb_daemon *d);
/* Wakes the thread at once (a rotation was committed). Any thread. */
void sb_reencrypt_wake(void);
/* Stops and joins the thread (no-op when it was not started). */
void sb_reencrypt_stop(void);

/* Counts the credential records (cfg/ and map/) into *total. Returns the
 * storage status, err filled on failure. */
int sb_reencrypt_count(struct sb_generation *g, uint64_t *total,
		       struct sb_error *err);

#endif
