/*
 * Master secret rotation (ENTSSO's "Generate a new master secret"), the
 * secret layer's half: the new secret, its mandatory backup, the commit
 * that makes it current, the progress record of the re-encryption and the
 * retirement of the previous secret. The re-encryption of the records
 * themselves is the credential store's (api/reencrypt.c): it knows the
 * records, and goes through sb_rotation_advance for every batch.
 *
 * SSO database records (JSON values), every write fenced by the epoch:
 *   secret/current         {"msid", "created_at_ms", "previous_msid"}
 *                          previous_msid only while re-encrypting
 *   secret/rotation        {"from", "to", "cursor", "pass", "rewritten",
 *                          "done", "total", "skipped", "started_at_ms"}
 *                          present from the commit to the retirement
 *   secret/retired/<MSID>  {"successor", "retired_at_ms"}
 *
 * Steps: prepare (a new secret in this node's memory, and its backup of
 * [new, current] returned to the caller, who writes it to a file); commit
 * (the sealed copy of [new, current] to secret.sealed.pending, then one
 * fenced batch: secret/current to the new MSID, its check value, the
 * rotation record; then the pending file renamed: the same order, and the
 * same settling at start, as generate); re-encryption batches, each
 * carrying the cursor; retirement (one fenced batch: the rotation record
 * deleted, secret/current without previous_msid, secret/retired/<old>;
 * then this node drops the old secret, and so does every other MSS node
 * that still holds it, at its next check: sb_rotation_settle).
 */
#ifndef SB_ROTATE_H
#define SB_ROTATE_H

#include "secret/secret.h"

#include <jansson.h>
#include <secretbroker/plugin.h>

/* How long a prepared secret waits for its commit. */
#define SB_ROTATE_PREPARED_TTL_MS (10 * 60 * 1000)

/* Makes a new secret and a backup of it (with the current one as its
 * previous) under password and hint (slow: scrypt; job thread). The new
 * secret stays in this node's memory only, until sb_secret_rotate_commit
 * names it; a later prepare replaces it. Refused with 409 when this node's
 * secret is not the database's, or a rotation is in progress. *blob is
 * malloc'ed (the caller's); new_msid and old_msid (SB_MSID_MAX + 1) filled.
 * Returns 0, or -1 with e, nothing changed. */
int sb_secret_rotate_prepare(struct sb_daemon *d, struct sb_generation *g,
			     const char *password, const char *hint,
			     uint8_t **blob, size_t *blob_len, char *new_msid,
			     char *old_msid, struct sb_api_error *e);

/* Makes the prepared secret msid current, fenced by epoch: records it,
 * keeps the current one as the previous, and starts the re-encryption of
 * total records. Returns 0, or -1 with e: 409 no_prepared_secret (none,
 * another, or older than SB_ROTATE_PREPARED_TTL_MS), 409 conflict (the
 * database changed since the prepare), a storage error; nothing changed
 * then, except a crash between its writes, settled at the next start. */
int sb_secret_rotate_commit(struct sb_daemon *d, struct sb_generation *g,
			    uint64_t epoch, const char *msid, uint64_t total,
			    struct sb_api_error *e);

/* Wipes a prepared secret whose commit did not come within
 * SB_ROTATE_PREPARED_TTL_MS (the re-encryption thread calls it). */
void sb_secret_rotate_forget_expired(struct sb_secret_state *s);

/* Reads secret/rotation into rot. Returns SB_OK, SB_ENOTFOUND (no
 * rotation in progress), or another status with err. */
int sb_rotation_read(struct sb_generation *g, struct sb_rotation *rot,
		     struct sb_error *err);

/* Applies ops[0..n) (the re-encrypted records, their version
 * preconditions set by the caller) and rot (the rotation record as it
 * stands after them; rot->version its version before) in one batch fenced
 * at epoch. On SB_OK rot->version is the new version. *failed (may be
 * NULL) is the index of a failed precondition, n for the rotation record.
 * Returns the storage status. */
int sb_rotation_advance(struct sb_generation *g, uint64_t epoch,
			const struct sb_batch_op *ops, size_t n,
			struct sb_rotation *rot, size_t *failed,
			struct sb_error *err);

/* Every record is under rot->to: retires rot->from in one batch fenced at
 * epoch, then drops it on this node (sb_rotation_settle). Returns the
 * storage status. */
int sb_rotation_retire(struct sb_daemon *d, struct sb_generation *g,
		       uint64_t epoch, const struct sb_rotation *rot,
		       struct sb_error *err);

/* On an MSS node holding two secrets when the database no longer keeps the
 * previous one (retired, also by another node, or a crash between the
 * retirement and the local seal): seals and keeps the current one only.
 * Returns 1 when it dropped one, 0 when nothing was to do, -1 on an error
 * (logged; the next call tries again). */
int sb_rotation_settle(struct sb_daemon *d, struct sb_generation *g);

/* The progress the status views show: a copy of rot, or none (NULL). */
void sb_rotation_progress_set(struct sb_secret_state *s,
			      const struct sb_rotation *rot);
/* Copies the progress into out; returns 1, or 0 when there is none. */
int sb_rotation_progress_get(struct sb_secret_state *s,
			     struct sb_rotation *out);

/* Adds "rotation" (null, or {from, to, state, done, total, skipped, rate,
 * started_at}), "max_age_days" and, past that age, "age_warning" to
 * status object out for a secret age_ms old. rot NULL: none. */
void sb_rotation_status_add(json_t *out, const struct sb_rotation *rot,
			    uint64_t age_ms, unsigned max_age_days);

/* Why a restore of a backup whose current secret is msid, which is not
 * the database's current db_msid, is refused: 409 rotation_in_progress
 * when msid is the previous secret of a rotation in progress, 409
 * secret_retired (naming both) when msid was retired, else 409
 * secret_mismatch. db_current is the secret/current record. Fills e and
 * returns -1 (also on a storage error). */
int sb_rotation_restore_refusal(struct sb_generation *g, const char *msid,
				const json_t *db_current,
				struct sb_api_error *e);

#endif
