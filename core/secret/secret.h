/*
 * The master secret on this node (ENTSSO's master secret server role):
 * generation, the sealed copy at rest in the state directory, the check
 * value kept in the SSO database, backup and restore.
 *
 * In memory the current and previous secrets live only in sb_secure_alloc
 * memory under secret.lock. At rest they live in STATE_DIR/secret.sealed,
 * sealed by the crypto plugin (0600, written atomically).
 *
 * SSO database records (JSON values):
 *   secret/current        {"msid", "created_at_ms"}   the cluster's secret
 *   secret/check/<MSID>   {"check", "created_at_ms"}  HKDF check value, hex
 *   secret/backup/<MSID>  {"last_backup_at_ms"}       a backup was made
 *   secret/rotation       re-encryption in progress (rotate.h)
 *   secret/retired/<MSID> {"successor", "retired_at_ms"} a retired secret
 * Every write of these carries the node's fencing epoch.
 */
#ifndef SB_SECRET_H
#define SB_SECRET_H

#include "runtime/api_error.h"
#include "secret/backup_format.h"

#include <secretbroker/plugin.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SB_SECRET_FILE "secret.sealed"
/* A sealed copy written before the SSO database is seeded (restore onto
 * an empty database, generate), renamed to SB_SECRET_FILE once the
 * database holds the secret; sb_secret_load settles one a crash left. */
#define SB_SECRET_PENDING_FILE "secret.sealed.pending"
#define SB_MIN_PASSWORD_LEN    8

struct sb_daemon;
struct sb_generation;

/* The re-encryption after a rotation, as secret/rotation holds it. */
struct sb_rotation {
	char from[SB_MSID_MAX + 1];  /* the previous secret */
	char to[SB_MSID_MAX + 1];    /* the current secret */
	char cursor[SB_KEY_MAX + 1]; /* last key passed; "" from the start */
	uint64_t pass;		     /* 1 re-encrypting, 2+ verifying */
	uint64_t rewritten;	     /* records re-encrypted in this pass */
	uint64_t done;		     /* records passed in this pass */
	uint64_t total;		     /* records at the rotation */
	uint64_t skipped;	     /* under neither secret: left as is */
	uint64_t started_at_ms;
	uint64_t version; /* of secret/rotation, for the next write */
	double rate;	  /* records/s re-encrypted by this node, 0: none */
};

/* Keys that encrypt credential records, derived from each master secret
 * (HKDF, info "secretbroker/records/v1"): [0] current, [1] previous. */
struct sb_record_keys {
	size_t n;
	char msid[2][SB_MSID_MAX + 1];
	uint8_t key[2][32];
};

struct sb_secret_state {
	pthread_rwlock_t lock;
	/* [0] current, [1] previous; n_secrets of them valid. Secure memory of
	 * 2 entries, allocated once at start. */
	struct sb_backup_secret *secrets;
	size_t n_secrets;
	/* Derived from secrets whenever they change (secure memory), and a
	 * sequence number bumped with them, so request threads can keep their
	 * own copy and take no lock while it is current. */
	struct sb_record_keys *rkeys;
	atomic_uint_fast64_t keys_seq;

	/* Rotation (rotate.c): a new secret sb_secret_rotate_prepare made
	 * and whose commit has not come yet (secure memory of 1 entry, under
	 * lock), prepared_at_ms 0 when none. */
	struct sb_backup_secret *prepared;
	uint64_t prepared_at_ms;
	/* The re-encryption's progress as this node last read or wrote it,
	 * for the status views that never touch the database. */
	pthread_mutex_t progress_lock;
	struct sb_rotation *progress; /* NULL: no rotation in progress */
};

int sb_secret_state_init(struct sb_secret_state *s);
void sb_secret_state_destroy(struct sb_secret_state *s);

/* Loads STATE_DIR/secret.sealed into s with g's crypto plugin. A missing
 * file leaves s empty and succeeds. A pending file left by a crash while
 * the SSO database was being seeded is settled first, by what the
 * database holds: it becomes the sealed file when the database records its
 * secret, and is removed (logged) when not. Returns 0, or -1 with msg
 * filled, also when the database cannot be read to settle a pending file
 * (it is kept for the next start). */
int sb_secret_load(struct sb_secret_state *s, struct sb_generation *g,
		   char *msg, size_t msglen);

/* Checks that g's crypto plugin can unseal the sealed file (reload check).
 * Returns 0 (also when there is no file) or -1 with msg. */
int sb_secret_check_unseal(struct sb_generation *g, char *msg, size_t msglen);

/* Copies the current MSID into msid (SB_MSID_MAX + 1 bytes); returns 0, or
 * -1 when this node holds no secret. */
int sb_secret_current_msid(struct sb_secret_state *s, char *msid);

/* Copies the current MSID, the previous one ("" when none; both
 * SB_MSID_MAX + 1 bytes) and the current one's creation time. Returns 0,
 * or -1 when this node holds no secret. */
int sb_secret_current_info(struct sb_secret_state *s, char *msid,
			   char *previous_msid, uint64_t *created_at_ms);

/* Installs secrets (1 or 2, current first) in memory only, as a member
 * node does with what it fetched from the MSS: nothing is sealed at rest.
 * Returns 1 when they changed, 0 when this node held them already, or -1
 * with msg. */
int sb_secret_install_memory(struct sb_secret_state *s, struct sb_generation *g,
			     const struct sb_backup_secret *secrets, size_t n,
			     char *msg, size_t msglen);

/* Copies the current and previous secret into out (secure memory of 2
 * entries, caller's); returns how many. For the member fetch endpoint. */
size_t sb_secret_copy(struct sb_secret_state *s, struct sb_backup_secret *out);

/* Copies the record keys into out (secure memory of the caller's) and
 * their sequence number into *seq. */
void sb_secret_copy_record_keys(struct sb_secret_state *s,
				struct sb_record_keys *out, uint64_t *seq);

/* Generates the first master secret: refused with 409 secret_exists when
 * this node or the SSO database already has one. Seals it locally, then
 * records it and its check value in the database fenced by epoch; if the
 * database write fails the local copy is removed again. On success fills
 * msid and created_at_ms. */
int sb_secret_generate(struct sb_daemon *d, struct sb_generation *g,
		       uint64_t epoch, char *msid, uint64_t *created_at_ms,
		       struct sb_api_error *e);

/* Status for GET /v1/secret: a new JSON object (json_t *) or NULL with e. */
void *sb_secret_status_json(struct sb_daemon *d, struct sb_generation *g,
			    struct sb_api_error *e);

/* Builds a backup blob of this node's secrets under password (slow:
 * scrypt; call from a job thread). *blob malloc'ed. Then records in the
 * database that a backup was made (fenced by epoch; a failure there is
 * logged, the backup is still returned). */
int sb_secret_backup(struct sb_daemon *d, struct sb_generation *g,
		     uint64_t epoch, const char *password, const char *hint,
		     uint8_t **blob, size_t *blob_len, char *msid,
		     struct sb_api_error *e);

/* Restores secrets from a backup blob (slow: scrypt; job thread): decodes,
 * checks the current secret's check value against the database, seals it
 * locally and installs it in memory. Nothing changes on any failure. On a
 * database that has no secret yet, records it there (fenced by epoch). */
int sb_secret_restore(struct sb_daemon *d, struct sb_generation *g,
		      uint64_t epoch, const uint8_t *blob, size_t blob_len,
		      const char *password, char *msid, char *previous_msid,
		      struct sb_api_error *e);

/* Maps a decode result of sb_backup_decode/read_hint to an API error. */
int sb_secret_backup_error(struct sb_api_error *e, int result,
			   const struct sb_error *err);

#endif
