/*
 * What the files of secret/ share and nothing else includes: the sealed
 * file on this node (secret.c), the secret's records in the SSO database
 * (secret_db.c), and rotation (rotate.c).
 */
#ifndef SB_SECRET_PRIVATE_H
#define SB_SECRET_PRIVATE_H

#include "secret/secret.h"

#include <jansson.h>
#include <secretbroker/plugin.h>

#define SECRETS_BYTES (2 * sizeof(struct sb_backup_secret))

/* ---- secret.c: this node's sealed file and memory ---- */

/* STATE_DIR/name into out (len bytes): name is SB_SECRET_FILE or
 * SB_SECRET_PENDING_FILE. */
void sb_sealed_path(struct sb_generation *g, const char *name, char *out,
		    size_t len);
/* Seals secrets s[0..n) and writes them atomically (0600) to
 * STATE_DIR/name. Returns 0, or -1 with e. */
int sb_sealed_write(struct sb_generation *g, const char *name,
		    const struct sb_backup_secret *s, size_t n,
		    struct sb_api_error *e);
/* Recomputes s->rkeys from s->secrets; call with s->lock held for
 * writing. Returns 0, or -1 (rkeys then empty). */
int sb_secret_derive_keys(struct sb_secret_state *s, struct sb_generation *g);

/* ---- secret_db.c: the secret's records in the SSO database ---- */

/* The hex check value of secret s into hex (65 bytes). Returns 0 or -1. */
int sb_secret_check_value(struct sb_generation *g,
			  const struct sb_backup_secret *s, char *hex);
/* Reads the JSON record at key. Returns SB_OK with *out (the caller
 * json_decref's it) and *version when version is not NULL, SB_ENOTFOUND,
 * or another status with err. */
int sb_secret_record_get(struct sb_generation *g, const char *key, json_t **out,
			 struct sb_error *err);
int sb_secret_record_get_v(struct sb_generation *g, const char *key,
			   json_t **out, uint64_t *version,
			   struct sb_error *err);
/* j as compact JSON text with sorted keys (malloc'ed, the caller frees),
 * or NULL; takes j's reference. */
char *sb_secret_record_dump(json_t *j);
/* A new random MSID (a version 4 UUID) into msid (SB_MSID_MAX + 1). */
int sb_secret_make_msid(struct sb_generation *g, char *msid,
			struct sb_error *err);
/* Writes secret/current and secret/check/<msid> for s, both required to
 * be absent, fenced by epoch. Returns 0, or -1 with e. */
int sb_secret_record_new(struct sb_generation *g, uint64_t epoch,
			 const struct sb_backup_secret *s,
			 struct sb_api_error *e);
/* Compares secret s with its check value in the database. Returns 1
 * match, 0 mismatch, -2 no check value recorded, -1 storage error (err;
 * *status the storage status). */
int sb_secret_check_against_db(struct sb_generation *g,
			       const struct sb_backup_secret *s,
			       struct sb_error *err, int *status);

#endif
