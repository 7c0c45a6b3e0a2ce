/* The master secret on this node: see secret.h. */
#define _GNU_SOURCE
#include "secret/secret_private.h"

#include "secret/rotate.h"

#include "host/daemon.h"
#include "runtime/crash_point.h"
#include "runtime/fileutil.h"
#include "host/host.h"
#include "runtime/log.h"
#include "store/store.h"
#include "runtime/secure_mem.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SEALED_FORMAT 1
#define SEALED_MAX    (64 * 1024)

int sb_secret_state_init(struct sb_secret_state *s)
{
	memset(s, 0, sizeof(*s));
	if (pthread_rwlock_init(&s->lock, NULL) != 0)
		return -1;
	s->secrets = sb_secure_alloc(SECRETS_BYTES);
	s->rkeys = sb_secure_alloc(sizeof(*s->rkeys));
	s->prepared = sb_secure_alloc(sizeof(*s->prepared));
	pthread_mutex_init(&s->progress_lock, NULL);
	atomic_init(&s->keys_seq, 1);
	return s->secrets && s->rkeys && s->prepared ? 0 : -1;
}

void sb_secret_state_destroy(struct sb_secret_state *s)
{
	SB_SECURE_PURGE(&s->secrets, SECRETS_BYTES);
	SB_SECURE_PURGE(&s->rkeys, sizeof(*s->rkeys));
	SB_SECURE_PURGE(&s->prepared, sizeof(*s->prepared));
	s->n_secrets = 0;
	free(s->progress);
	s->progress = NULL;
	pthread_mutex_destroy(&s->progress_lock);
	pthread_rwlock_destroy(&s->lock);
}

/* STATE_DIR/name: name is SB_SECRET_FILE or SB_SECRET_PENDING_FILE. */
void sb_sealed_path(struct sb_generation *g, const char *name, char *out,
		    size_t len)
{
	snprintf(out, len, "%s/%s", g->conf->state_dir, name);
}

/* The sealed file's plaintext: u8 SEALED_FORMAT, then the binary secret
 * list of secret_codec.h. */
#define SEALED_PT_MAX (1 + SB_SECRET_LIST_MAX)

/* Encodes secrets[0..n) as the sealed file's plaintext into buf
 * (SEALED_PT_MAX bytes of the caller's secure memory). Returns 0 with
 * *len set, or -1 with err. */
static int sealed_pack(const struct sb_backup_secret *s, size_t n, uint8_t *buf,
		       size_t *len, struct sb_error *err)
{
	size_t list_len = 0;
	int ret = -1;

	*len = 0;
	buf[0] = SEALED_FORMAT;
	if (sb_secret_list_encode(s, n, buf + 1, SEALED_PT_MAX - 1, &list_len,
				  err) != 0)
		goto done;
	*len = 1 + list_len;
	ret = 0;
done:
	return ret;
}

/* Decodes the sealed file's plaintext buf[0..len) into out (SB_SECRETS_MAX
 * entries, secure memory) and *n. Returns 0, or -1 with err. */
static int sealed_unpack(const uint8_t *buf, size_t len,
			 struct sb_backup_secret *out, size_t *n,
			 struct sb_error *err)
{
	int ret = -1;

	*n = 0;
	if (len < 1 || buf[0] != SEALED_FORMAT) {
		sb_error_set(err, SB_ERR,
			     "sealed format %d is not supported (this daemon "
			     "reads %d)",
			     len < 1 ? -1 : buf[0], SEALED_FORMAT);
		goto done;
	}
	if (sb_secret_list_decode(buf + 1, len - 1, out, n, err) != 0)
		goto done;
	ret = 0;
done:
	return ret;
}

/* Reads and unseals STATE_DIR/name into out. Returns 1 when there is no
 * file, 0 on success, -1 with msg on failure. */
static int sealed_read(struct sb_generation *g, const char *name,
		       struct sb_backup_secret *out, size_t *n, char *msg,
		       size_t msglen)
{
	char path[4096];
	uint8_t *blob = NULL, *pt = NULL;
	size_t blob_len = 0, pt_len = 0;
	struct sb_error err = {{0}};
	int rc, ret = -1;

	sb_sealed_path(g, name, path, sizeof(path));
	if (sb_read_file(path, SEALED_MAX, &blob, &blob_len, msg, msglen) != 0)
		return access(path, F_OK) != 0 && errno == ENOENT ? 1 : -1;
	rc = g->cops->unseal(g->crypto.inst, blob, blob_len, &pt, &pt_len,
			     &err);
	if (rc != SB_OK) {
		snprintf(msg, msglen, "cannot unseal %s: %s", path,
			 err.msg[0] ? err.msg : sb_status_name(rc));
		goto done;
	}
	if (sealed_unpack(pt, pt_len, out, n, &err) != 0) {
		snprintf(msg, msglen, "%s: unsealed content is damaged: %s",
			 path, err.msg);
		goto done;
	}
	ret = 0;
done:
	if (pt)
		g->crypto.host->secure_free(pt, pt_len);
	free(blob);
	return ret;
}

/* Seals secrets and writes them atomically to STATE_DIR/name. */
int sb_sealed_write(struct sb_generation *g, const char *name,
		    const struct sb_backup_secret *s, size_t n,
		    struct sb_api_error *e)
{
	char path[4096], msg[1024];
	uint8_t *pt = NULL, *blob = NULL;
	size_t pt_len = 0, blob_len = 0;
	struct sb_error err = {{0}};
	int rc, ret = -1;

	sb_sealed_path(g, name, path, sizeof(path));
	pt = sb_secure_alloc(SEALED_PT_MAX);
	if (pt == NULL) {
		sb_api_fail(e, 500, "internal",
			    "cannot lock memory for the master secret");
		goto done;
	}
	if (sealed_pack(s, n, pt, &pt_len, &err) != 0) {
		sb_api_fail(e, 500, "internal",
			    "cannot encode the master secret: %s", err.msg);
		goto done;
	}
	rc = g->cops->seal(g->crypto.inst, pt, pt_len, &blob, &blob_len, &err);
	if (rc != SB_OK) {
		sb_api_fail(e, 500, "crypto_error",
			    "cannot seal the master secret: %s", err.msg);
		goto done;
	}
	if (sb_write_file_atomic(path, blob, blob_len, 1, msg, sizeof(msg)) !=
	    0) {
		sb_api_fail(e, 500, "state_write_failed",
			    "cannot store the sealed master secret: %s", msg);
		goto done;
	}
	ret = 0;
done:
	sb_secure_free(pt, SEALED_PT_MAX);
	free(blob);
	return ret;
}

/* Recomputes s->rkeys from s->secrets; call with s->lock held for writing.
 * Returns 0, or -1 (rkeys then empty: nothing can be encrypted). */
int sb_secret_derive_keys(struct sb_secret_state *s, struct sb_generation *g)
{
	static const char info[] = "secretbroker/records/v1";
	struct sb_error err;
	int ret = 0;

	memset(s->rkeys, 0, sizeof(*s->rkeys));
	for (size_t i = 0; i < s->n_secrets && i < 2; i++) {
		if (g->cops->kdf(g->crypto.inst, s->secrets[i].key,
				 sizeof(s->secrets[i].key), NULL, 0,
				 (const uint8_t *)info, sizeof(info) - 1,
				 s->rkeys->key[i], 32, &err) != SB_OK) {
			sb_err("cannot derive the record key of %s: %s",
			       s->secrets[i].msid, err.msg);
			memset(s->rkeys, 0, sizeof(*s->rkeys));
			ret = -1;
			break;
		}
		memcpy(s->rkeys->msid[i], s->secrets[i].msid, SB_MSID_MAX + 1);
		s->rkeys->n = i + 1;
	}
	atomic_fetch_add(&s->keys_seq, 1);
	return ret;
}

int sb_secret_install_memory(struct sb_secret_state *s, struct sb_generation *g,
			     const struct sb_backup_secret *secrets, size_t n,
			     char *msg, size_t msglen)
{
	int changed;

	if (n < 1 || n > 2) {
		snprintf(msg, msglen,
			 "the master secret server sent %zu secrets", n);
		return -1;
	}
	pthread_rwlock_wrlock(&s->lock);
	changed = s->n_secrets != n ||
		  memcmp(s->secrets, secrets, n * sizeof(*secrets)) != 0;
	if (changed) {
		memset(s->secrets, 0, SECRETS_BYTES);
		memcpy(s->secrets, secrets, n * sizeof(*secrets));
		s->n_secrets = n;
		if (sb_secret_derive_keys(s, g) != 0) {
			pthread_rwlock_unlock(&s->lock);
			snprintf(msg, msglen, "cannot derive the record keys");
			return -1;
		}
	}
	pthread_rwlock_unlock(&s->lock);
	if (changed)
		sb_info("member: holding master secret %s%s%s (from the master "
			"secret server)",
			secrets[0].msid, n > 1 ? ", previous " : "",
			n > 1 ? secrets[1].msid : "");
	return changed;
}

size_t sb_secret_copy(struct sb_secret_state *s, struct sb_backup_secret *out)
{
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->n_secrets;
	memcpy(out, s->secrets, n * sizeof(*out));
	pthread_rwlock_unlock(&s->lock);
	return n;
}

void sb_secret_copy_record_keys(struct sb_secret_state *s,
				struct sb_record_keys *out, uint64_t *seq)
{
	pthread_rwlock_rdlock(&s->lock);
	memcpy(out, s->rkeys, sizeof(*out));
	*seq = atomic_load(&s->keys_seq);
	pthread_rwlock_unlock(&s->lock);
}

static int pending_settle(struct sb_generation *g, char *msg, size_t msglen);

int sb_secret_load(struct sb_secret_state *s, struct sb_generation *g,
		   char *msg, size_t msglen)
{
	size_t n = 0;
	int rc;

	pthread_rwlock_wrlock(&s->lock);
	rc = pending_settle(g, msg, msglen);
	if (rc == 0)
		rc = sealed_read(g, SB_SECRET_FILE, s->secrets, &n, msg,
				 msglen);
	s->n_secrets = rc == 0 ? n : 0;
	if (rc == 0 && sb_secret_derive_keys(s, g) != 0) {
		snprintf(msg, msglen, "cannot derive the record keys");
		rc = -1;
	}
	pthread_rwlock_unlock(&s->lock);
	return rc < 0 ? -1 : 0;
}

int sb_secret_check_unseal(struct sb_generation *g, char *msg, size_t msglen)
{
	struct sb_backup_secret *tmp = sb_secure_alloc(SECRETS_BYTES);
	size_t n = 0;
	int rc;

	if (tmp == NULL) {
		snprintf(msg, msglen, "cannot lock memory");
		return -1;
	}
	rc = sealed_read(g, SB_SECRET_FILE, tmp, &n, msg, msglen);
	sb_secure_free(tmp, SECRETS_BYTES);
	return rc < 0 ? -1 : 0;
}

int sb_secret_current_info(struct sb_secret_state *s, char *msid,
			   char *previous_msid, uint64_t *created_at_ms)
{
	int ret = -1;

	pthread_rwlock_rdlock(&s->lock);
	previous_msid[0] = '\0';
	if (s->n_secrets > 0) {
		memcpy(msid, s->secrets[0].msid, SB_MSID_MAX + 1);
		*created_at_ms = s->secrets[0].created_at_ms;
		if (s->n_secrets > 1)
			memcpy(previous_msid, s->secrets[1].msid,
			       SB_MSID_MAX + 1);
		ret = 0;
	}
	pthread_rwlock_unlock(&s->lock);
	return ret;
}

int sb_secret_current_msid(struct sb_secret_state *s, char *msid)
{
	int ret = -1;

	pthread_rwlock_rdlock(&s->lock);
	if (s->n_secrets > 0) {
		memcpy(msid, s->secrets[0].msid, SB_MSID_MAX + 1);
		ret = 0;
	}
	pthread_rwlock_unlock(&s->lock);
	return ret;
}

/* Seeds an empty SSO database with secrets[0] and seals secrets[0..n) on
 * this node (op: "generate" or "restore", for the log and crash points).
 * A secret the database records but no node keeps would lose every
 * credential sealed under it, so the order is: the sealed copy to the
 * pending file; the database records (store_commit_secret, one fenced
 * batch: the commit point); the pending file renamed over the sealed
 * file. A crash between the steps leaves the pending file, which the next
 * start settles by what the database holds (pending_settle). Returns 0, or
 * -1 with e; then the database is unchanged and no pending file is left. */
static int seed_and_seal(struct sb_generation *g, uint64_t epoch,
			 const struct sb_backup_secret *secrets, size_t n,
			 const char *op, struct sb_api_error *e)
{
	char pending[4096], sealed[4096], msg[1024];

	sb_sealed_path(g, SB_SECRET_PENDING_FILE, pending, sizeof(pending));
	sb_sealed_path(g, SB_SECRET_FILE, sealed, sizeof(sealed));
	if (sb_sealed_write(g, SB_SECRET_PENDING_FILE, secrets, n, e) != 0)
		return -1;
	sb_crash_point(op, "after-seal");
	if (sb_secret_record_new(g, epoch, &secrets[0], e) != 0) {
		unlink(pending);
		return -1;
	}
	sb_crash_point(op, "after-db");
	if (sb_rename_durable(pending, sealed, msg, sizeof(msg)) != 0) {
		/* The database holds it now: the next start finishes this. */
		sb_api_fail(e, 500, "state_write_failed",
			    "master secret %s is recorded in the SSO database "
			    "but cannot be installed on this node: %s",
			    secrets[0].msid, msg);
		return -1;
	}
	return 0;
}

int sb_secret_generate(struct sb_daemon *d, struct sb_generation *g,
		       uint64_t epoch, char *msid, uint64_t *created_at_ms,
		       struct sb_api_error *e)
{
	struct sb_secret_state *s = d->secret;
	struct sb_backup_secret *fresh = NULL;
	struct sb_error err = {{0}};
	json_t *rec = NULL;
	int rc, ret = -1;

	pthread_rwlock_wrlock(&s->lock);
	if (s->n_secrets > 0) {
		sb_api_fail(e, 409, "secret_exists",
			    "this node already holds master secret %s (to "
			    "replace it: 'sbctl secret rotate FILE')",
			    s->secrets[0].msid);
		goto done;
	}
	rc = sb_secret_record_get(g, "secret/current", &rec, &err);
	if (rc == SB_OK) {
		sb_api_fail(e, 409, "secret_exists",
			    "the SSO database already has master secret %s; "
			    "restore its backup on this node instead",
			    json_string_value(json_object_get(rec, "msid")));
		goto done;
	}
	if (rc != SB_ENOTFOUND) {
		store_error_to_api(e, rc, &err, "reading secret/current");
		goto done;
	}
	fresh = sb_secure_alloc(sizeof(*fresh));
	if (fresh == NULL) {
		sb_api_fail(e, 500, "internal",
			    "cannot lock memory for the master secret");
		goto done;
	}
	if ((rc = sb_secret_make_msid(g, fresh->msid, &err)) != SB_OK ||
	    (rc = g->cops->random(g->crypto.inst, fresh->key,
				  sizeof(fresh->key), &err)) != SB_OK) {
		sb_api_fail(e, 500, "crypto_error",
			    "cannot generate a secret: %s", err.msg);
		goto done;
	}
	fresh->created_at_ms = sb_wall_ms();
	if (seed_and_seal(g, epoch, fresh, 1, "generate", e) != 0)
		goto done;
	memcpy(&s->secrets[0], fresh, sizeof(*fresh));
	s->n_secrets = 1;
	sb_secret_derive_keys(s, g);
	memcpy(msid, fresh->msid, SB_MSID_MAX + 1);
	*created_at_ms = fresh->created_at_ms;
	ret = 0;
done:
	pthread_rwlock_unlock(&s->lock);
	sb_secure_free(fresh, sizeof(*fresh));
	json_decref(rec);
	return ret;
}

/* Settles the pending file seed_and_seal leaves when the daemon died
 * between its steps, by what the SSO database holds: its secret recorded
 * there (same MSID, matching check value) means the seed committed, and
 * the file becomes the sealed file; no master secret there, or another
 * one, means it never happened, and the file is removed. Both are logged.
 * Returns 0 (also when there is none), or -1 with msg when it cannot be
 * decided (the database or the file cannot be read); the file is kept. */
static int pending_settle(struct sb_generation *g, char *msg, size_t msglen)
{
	struct sb_backup_secret *p = sb_secure_alloc(SECRETS_BYTES);
	char pending[4096], sealed[4096], why[1024];
	struct sb_error err = {{0}};
	json_t *rec = NULL;
	const char *db_msid = NULL;
	size_t n = 0;
	int rc, chk = 0, st, ret = -1;

	if (p == NULL) {
		snprintf(msg, msglen, "cannot lock memory for the secret");
		return -1;
	}
	sb_sealed_path(g, SB_SECRET_PENDING_FILE, pending, sizeof(pending));
	sb_sealed_path(g, SB_SECRET_FILE, sealed, sizeof(sealed));
	rc = sealed_read(g, SB_SECRET_PENDING_FILE, p, &n, why, sizeof(why));
	if (rc == 1) {
		ret = 0;
		goto done;
	}
	if (rc != 0) {
		snprintf(msg, msglen,
			 "an interrupted restore or generate left %s, which "
			 "cannot be read: %s",
			 pending, why);
		goto done;
	}
	rc = sb_secret_record_get(g, "secret/current", &rec, &err);
	if (rc == SB_OK)
		db_msid = json_string_value(json_object_get(rec, "msid"));
	if (db_msid && strcmp(db_msid, p[0].msid) == 0)
		chk = sb_secret_check_against_db(g, &p[0], &err, &st);
	if ((rc != SB_OK && rc != SB_ENOTFOUND) || chk == -1) {
		snprintf(msg, msglen,
			 "an interrupted restore or generate of master secret "
			 "%s left %s; the SSO database cannot be read to "
			 "finish or undo it: %s",
			 p[0].msid, pending, err.msg);
		goto done;
	}
	if (chk == 1) {
		if (sb_rename_durable(pending, sealed, why, sizeof(why)) != 0) {
			snprintf(msg, msglen,
				 "cannot finish the interrupted restore or "
				 "generate of master secret %s: %s",
				 p[0].msid, why);
			goto done;
		}
		sb_warn("finished an interrupted restore or generate: the SSO "
			"database records master secret %s, now sealed in %s",
			p[0].msid, sealed);
	} else {
		if (unlink(pending) != 0) {
			snprintf(msg, msglen, "cannot remove %s: %s", pending,
				 strerror(errno));
			goto done;
		}
		sb_warn("undid an interrupted restore or generate of master "
			"secret %s: the SSO database %s, so %s is removed; run "
			"it again",
			p[0].msid,
			db_msid ? "holds another master secret"
				: "was never seeded with it",
			pending);
	}
	ret = 0;
done:
	json_decref(rec);
	sb_secure_free(p, SECRETS_BYTES);
	return ret;
}

/* Adds the rotation fields to status object out (sb_rotation_status_add),
 * and an "error" when the SSO database uses another secret than this
 * node's (rotated since this node got it). Returns 0, or -1 with e. */
static int status_rotation(struct sb_secret_state *s, struct sb_generation *g,
			   json_t *out, struct sb_error *err,
			   struct sb_api_error *e)
{
	struct sb_rotation rot, mem;
	const char *mine = json_string_value(json_object_get(out, "msid"));
	const char *db = NULL;
	json_t *dbcur = NULL;
	int have = sb_rotation_read(g, &rot, err);

	if (have != SB_OK && have != SB_ENOTFOUND)
		return store_error_to_api(e, have, err,
					  "reading secret/rotation");
	if (have == SB_OK && sb_rotation_progress_get(s, &mem) &&
	    strcmp(mem.to, rot.to) == 0)
		rot.rate = mem.rate;
	if (sb_secret_record_get(g, "secret/current", &dbcur, err) == SB_OK)
		db = json_string_value(json_object_get(dbcur, "msid"));
	if (db && mine && strcmp(db, mine) != 0)
		json_object_set_new(
			out, "error",
			json_sprintf("this node holds master secret %s, but "
				     "the SSO database uses %s (rotated): "
				     "restore a backup of %s on this node "
				     "('sbctl secret restore FILE')",
				     mine, db, db));
	json_decref(dbcur);
	sb_rotation_status_add(
		out, have == SB_OK ? &rot : NULL,
		(uint64_t)json_integer_value(json_object_get(out, "age_s")) *
			1000,
		g->conf->max_age_days);
	return 0;
}

void *sb_secret_status_json(struct sb_daemon *d, struct sb_generation *g,
			    struct sb_api_error *e)
{
	struct sb_secret_state *s = d->secret;
	struct sb_backup_secret cur;
	char prev_msid[SB_MSID_MAX + 1] = "";
	char when[32], key[256];
	struct sb_error err = {{0}};
	json_t *out = NULL, *rec = NULL;
	uint64_t epoch;
	int state, rc, chk, st;

	pthread_rwlock_rdlock(&s->lock);
	if (s->n_secrets == 0) {
		pthread_rwlock_unlock(&s->lock);
		sb_api_fail(e, 404, "no_secret",
			    "this node holds no master secret: run 'sbctl "
			    "secret generate' (first node) or 'sbctl secret "
			    "restore FILE'");
		return NULL;
	}
	memcpy(&cur, &s->secrets[0], sizeof(cur));
	if (s->n_secrets > 1)
		memcpy(prev_msid, s->secrets[1].msid, sizeof(prev_msid));
	pthread_rwlock_unlock(&s->lock);

	state = store_fence_view(&epoch);
	sb_iso_time(cur.created_at_ms, when, sizeof(when));
	out = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I}", "msid", cur.msid,
			"created_at", when, "age_s",
			(json_int_t)((sb_wall_ms() - cur.created_at_ms) / 1000),
			"role",
			g->conf->role == SB_ROLE_MEMBER ? "member" : "mss",
			"fencing_state",
			state == SB_FENCE_ACTIVE ? "active" : "standby",
			"epoch", (json_int_t)epoch);
	json_object_set_new(out, "previous_msid",
			    prev_msid[0] ? json_string(prev_msid)
					 : json_null());

	chk = sb_secret_check_against_db(g, &cur, &err, &st);
	explicit_bzero(&cur, sizeof(cur));
	if (chk == -1) {
		json_decref(out);
		store_error_to_api(e, st, &err, "reading the check value");
		return NULL;
	}
	json_object_set_new(out, "check",
			    json_string(chk == 1   ? "ok"
					: chk == 0 ? "mismatch"
						   : "missing"));
	if (chk == 0)
		json_object_set_new(
			out, "error",
			json_string("this node's master secret does not match "
				    "the check value in the SSO database: "
				    "restore the right backup"));

	if (status_rotation(s, g, out, &err, e) != 0) {
		json_decref(out);
		return NULL;
	}
	snprintf(key, sizeof(key), "secret/backup/%s",
		 json_string_value(json_object_get(out, "msid")));
	rc = sb_secret_record_get(g, key, &rec, &err);
	if (rc == SB_OK) {
		json_int_t at = json_integer_value(
			json_object_get(rec, "last_backup_at_ms"));

		sb_iso_time((uint64_t)at, when, sizeof(when));
		json_object_set_new(out, "backup_made", json_true());
		json_object_set_new(out, "last_backup_at", json_string(when));
	} else if (rc == SB_ENOTFOUND) {
		json_object_set_new(out, "backup_made", json_false());
		json_object_set_new(out, "last_backup_at", json_null());
		json_object_set_new(
			out, "warning",
			json_string("no backup of this master secret has been "
				    "made: run 'sbctl secret backup FILE'"));
	} else {
		json_decref(out);
		store_error_to_api(e, rc, &err, "reading the backup record");
		return NULL;
	}
	json_decref(rec);
	return out;
}

int sb_secret_backup(struct sb_daemon *d, struct sb_generation *g,
		     uint64_t epoch, const char *password, const char *hint,
		     uint8_t **blob, size_t *blob_len, char *msid,
		     struct sb_api_error *e)
{
	struct sb_secret_state *s = d->secret;
	struct sb_backup_secret *copy = NULL;
	struct sb_error err = {{0}};
	char key[256], *rec = NULL;
	size_t n;
	int rc, ret = -1;

	copy = sb_secure_alloc(SECRETS_BYTES);
	if (copy == NULL)
		return sb_api_fail(e, 500, "internal", "cannot lock memory");
	pthread_rwlock_rdlock(&s->lock);
	n = s->n_secrets;
	memcpy(copy, s->secrets, SECRETS_BYTES);
	pthread_rwlock_unlock(&s->lock);
	if (n == 0) {
		sb_api_fail(e, 404, "no_secret",
			    "this node holds no master secret to back up");
		goto done;
	}
	rc = sb_backup_encode(g->cops, g->crypto.inst, password,
			      strlen(password), hint, NULL, copy, n, blob,
			      blob_len, &err);
	if (rc == SB_BACKUP_EINVAL) {
		sb_api_fail(e, 400, "bad_request",
			    "cannot build the backup: %s", err.msg);
		goto done;
	}
	if (rc != SB_BACKUP_OK) {
		sb_api_fail(e, 500, "backup_failed",
			    "cannot build the backup: %s", err.msg);
		goto done;
	}
	memcpy(msid, copy[0].msid, SB_MSID_MAX + 1);

	snprintf(key, sizeof(key), "secret/backup/%s", copy[0].msid);
	rec = sb_secret_record_dump(json_pack("{s:I}", "last_backup_at_ms",
					      (json_int_t)sb_wall_ms()));
	if (epoch == 0) {
		/* Only the active node writes to the SSO database's secret
		 * records; a backup made on a standby is still a good one. */
		sb_info("backup of %s made on a node that is not the active "
			"master secret server: not recorded in the SSO "
			"database",
			copy[0].msid);
	} else if (rec) {
		struct sb_batch_op op = {
			SB_OP_PUT, SB_PRE_NONE,		 0,
			key,	   (const uint8_t *)rec, strlen(rec)};
		struct sb_batch batch = {&op, 1, 0, NULL, NULL};

		rc = store_batch_apply(g, STORE_FENCED_AT(epoch), &batch, &err);
		if (rc != SB_OK)
			sb_warn("backup of %s made, but recording it in the "
				"SSO database failed: %s",
				copy[0].msid, err.msg);
	}
	ret = 0;
done:
	free(rec);
	sb_secure_free(copy, SECRETS_BYTES);
	return ret;
}

int sb_secret_backup_error(struct sb_api_error *e, int result,
			   const struct sb_error *err)
{
	switch (result) {
	case SB_BACKUP_ETRUNCATED:
		/* err says it all ("backup file truncated: ..."): a prefix
		 * here said it twice. */
		return sb_api_fail(e, 400, "backup_truncated", "%s", err->msg);
	case SB_BACKUP_EFOREIGN:
		return sb_api_fail(e, 400, "backup_foreign", "%s", err->msg);
	case SB_BACKUP_EVERSION:
		return sb_api_fail(e, 400, "backup_version",
				   "unsupported backup file: %s", err->msg);
	case SB_BACKUP_EPASSWORD:
		return sb_api_fail(e, 401, "backup_wrong_password",
				   "wrong password for this backup file");
	case SB_BACKUP_EINVAL:
		return sb_api_fail(e, 400, "bad_request", "%s", err->msg);
	case SB_BACKUP_ETAMPERED:
		return sb_api_fail(e, 400, "backup_tampered",
				   "the backup file has been altered or "
				   "damaged: %s",
				   err->msg);
	default:
		return sb_api_fail(e, 500, "backup_failed",
				   "cannot read the backup: %s", err->msg);
	}
}

int sb_secret_restore(struct sb_daemon *d, struct sb_generation *g,
		      uint64_t epoch, const uint8_t *blob, size_t blob_len,
		      const char *password, char *msid, char *previous_msid,
		      struct sb_api_error *e)
{
	struct sb_secret_state *s = d->secret;
	struct sb_backup_secret *restored = NULL;
	size_t n = 0, n_keep;
	struct sb_error err = {{0}};
	json_t *rec = NULL;
	const char *db_msid, *prev;
	int rc, chk, st, ret = -1;

	rc = sb_backup_decode(g->cops, g->crypto.inst, blob, blob_len, password,
			      strlen(password), &restored, &n, &err);
	if (rc != SB_BACKUP_OK)
		return sb_secret_backup_error(e, rc, &err);
	n_keep = n;

	rc = sb_secret_record_get(g, "secret/current", &rec, &err);
	if (rc != SB_OK && rc != SB_ENOTFOUND) {
		store_error_to_api(e, rc, &err, "reading secret/current");
		goto done;
	}
	db_msid = rc == SB_OK ? json_string_value(json_object_get(rec, "msid"))
			      : NULL;
	if (db_msid && strcmp(db_msid, restored[0].msid) != 0) {
		sb_rotation_restore_refusal(g, restored[0].msid, rec, e);
		goto done;
	}
	/* A backup made during a rotation holds its previous secret too;
	 * once that is retired, only the current one is installed. */
	prev = rec ? json_string_value(json_object_get(rec, "previous_msid"))
		   : NULL;
	if (n > 1 && (prev == NULL || strcmp(prev, restored[1].msid) != 0))
		n_keep = 1;
	chk = sb_secret_check_against_db(g, &restored[0], &err, &st);
	if (chk == -1) {
		store_error_to_api(e, st, &err, "reading the check value");
		goto done;
	}
	if (chk == 0) {
		sb_api_fail(e, 409, "secret_mismatch",
			    "the master secret %s in this backup does not "
			    "match the check value in the SSO database",
			    restored[0].msid);
		goto done;
	}
	if (db_msid == NULL && chk == -2) {
		/* An empty SSO database: this backup seeds it, which only the
		 * active node may do (a fenced write). */
		if (epoch == 0) {
			sb_api_fail(e, 503, "not_active",
				    "the SSO database has no master secret "
				    "yet: restore this backup on the active "
				    "master secret server first");
			goto done;
		}
	} else if (db_msid == NULL || chk == -2) {
		sb_api_fail(e, 409, "secret_mismatch",
			    "the SSO database is inconsistent for master "
			    "secret %s (current record or check value missing)",
			    restored[0].msid);
		goto done;
	}

	pthread_rwlock_wrlock(&s->lock);
	if (db_msid == NULL ? seed_and_seal(g, epoch, restored, n_keep,
					    "restore", e) != 0
			    : sb_sealed_write(g, SB_SECRET_FILE, restored,
					      n_keep, e) != 0) {
		pthread_rwlock_unlock(&s->lock);
		goto done;
	}
	memset(s->secrets, 0, SECRETS_BYTES);
	memcpy(s->secrets, restored, n_keep * sizeof(*restored));
	s->n_secrets = n_keep;
	sb_secret_derive_keys(s, g);
	pthread_rwlock_unlock(&s->lock);
	memcpy(msid, restored[0].msid, SB_MSID_MAX + 1);
	if (n_keep > 1)
		memcpy(previous_msid, restored[1].msid, SB_MSID_MAX + 1);
	else
		previous_msid[0] = '\0';
	ret = 0;
done:
	json_decref(rec);
	sb_secure_free(restored, n * sizeof(*restored));
	return ret;
}
