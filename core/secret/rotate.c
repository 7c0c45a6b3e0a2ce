/* Master secret rotation, the secret layer's half: see rotate.h. */
#define _GNU_SOURCE
#include "secret/rotate.h"

#include "secret/secret_private.h"

#include "host/daemon.h"
#include "host/host.h"
#include "runtime/clock.h"
#include "runtime/crash_point.h"
#include "runtime/fileutil.h"
#include "runtime/log.h"
#include "runtime/secure_mem.h"
#include "store/store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ROTATION_KEY "secret/rotation"

/* The active secret of the database: reads secret/current into *cur (the
 * caller decrefs) and its version. Fills e and returns -1 on a storage
 * error or when there is none. */
static int read_current(struct sb_generation *g, json_t **cur,
			uint64_t *version, struct sb_api_error *e)
{
	struct sb_error err = {{0}};
	int rc =
		sb_secret_record_get_v(g, "secret/current", cur, version, &err);

	if (rc == SB_ENOTFOUND)
		return sb_api_fail(e, 409, "no_secret",
				   "the SSO database has no master secret: "
				   "there is nothing to rotate");
	if (rc != SB_OK)
		return store_error_to_api(e, rc, &err,
					  "reading secret/current");
	return 0;
}

/* Refuses (409, e) when the database is not ready for a rotation from
 * this node's current secret cur_msid: another current secret, or a
 * rotation in progress. Returns 0 or -1. */
static int check_rotatable(struct sb_generation *g, const char *cur_msid,
			   json_t *cur, struct sb_api_error *e)
{
	const char *db_msid = json_string_value(json_object_get(cur, "msid"));
	const char *prev =
		json_string_value(json_object_get(cur, "previous_msid"));
	struct sb_rotation rot;
	struct sb_error err = {{0}};
	int rc;

	if (db_msid == NULL || strcmp(db_msid, cur_msid) != 0)
		return sb_api_fail(e, 409, "secret_mismatch",
				   "this node holds master secret %s but the "
				   "SSO database uses %s: restore its backup "
				   "on this node before rotating",
				   cur_msid, db_msid ? db_msid : "(none)");
	rc = sb_rotation_read(g, &rot, &err);
	if (rc == SB_OK || prev != NULL)
		return sb_api_fail(
			e, 409, "rotation_in_progress",
			"a rotation from master secret %s to %s is "
			"still re-encrypting (%llu of %llu records): "
			"wait until it finishes ('sbctl secret "
			"status')",
			rc == SB_OK ? rot.from : prev, cur_msid,
			(unsigned long long)rot.done,
			(unsigned long long)rot.total);
	if (rc != SB_ENOTFOUND)
		return store_error_to_api(e, rc, &err, "reading " ROTATION_KEY);
	return 0;
}

int sb_secret_rotate_prepare(struct sb_daemon *d, struct sb_generation *g,
			     const char *password, const char *hint,
			     uint8_t **blob, size_t *blob_len, char *new_msid,
			     char *old_msid, struct sb_api_error *e)
{
	struct sb_secret_state *s = d->secret;
	struct sb_backup_secret *pair = NULL;
	struct sb_error err = {{0}};
	json_t *cur = NULL;
	uint64_t version;
	int rc, ret = -1;

	pair = sb_secure_alloc(SECRETS_BYTES);
	if (pair == NULL)
		return sb_api_fail(e, 500, "internal", "cannot lock memory");
	pthread_rwlock_rdlock(&s->lock);
	if (s->n_secrets == 0) {
		pthread_rwlock_unlock(&s->lock);
		sb_api_fail(e, 404, "no_secret",
			    "this node holds no master secret to rotate");
		goto done;
	}
	if (s->n_secrets > 1) {
		pthread_rwlock_unlock(&s->lock);
		sb_api_fail(e, 409, "rotation_in_progress",
			    "this node still holds previous master secret %s "
			    "of a rotation that is re-encrypting: wait until "
			    "it finishes ('sbctl secret status')",
			    s->secrets[1].msid);
		goto done;
	}
	memcpy(&pair[1], &s->secrets[0], sizeof(pair[1]));
	pthread_rwlock_unlock(&s->lock);

	if (read_current(g, &cur, &version, e) != 0 ||
	    check_rotatable(g, pair[1].msid, cur, e) != 0)
		goto done;
	if ((rc = sb_secret_make_msid(g, pair[0].msid, &err)) != SB_OK ||
	    (rc = g->cops->random(g->crypto.inst, pair[0].key,
				  sizeof(pair[0].key), &err)) != SB_OK) {
		sb_api_fail(e, 500, "crypto_error",
			    "cannot generate a secret: %s", err.msg);
		goto done;
	}
	pair[0].created_at_ms = sb_wall_ms();
	rc = sb_backup_encode(g->cops, g->crypto.inst, password,
			      strlen(password), hint, NULL, pair, 2, blob,
			      blob_len, &err);
	if (rc != SB_BACKUP_OK) {
		sb_api_fail(e, rc == SB_BACKUP_EINVAL ? 400 : 500,
			    rc == SB_BACKUP_EINVAL ? "bad_request"
						   : "backup_failed",
			    "cannot build the backup of the new secret: %s",
			    err.msg);
		goto done;
	}
	pthread_rwlock_wrlock(&s->lock);
	memcpy(s->prepared, &pair[0], sizeof(*s->prepared));
	s->prepared_at_ms = sb_wall_ms();
	pthread_rwlock_unlock(&s->lock);
	memcpy(new_msid, pair[0].msid, SB_MSID_MAX + 1);
	memcpy(old_msid, pair[1].msid, SB_MSID_MAX + 1);
	ret = 0;
done:
	json_decref(cur);
	sb_secure_free(pair, SECRETS_BYTES);
	return ret;
}

/* The JSON text of rot as secret/rotation holds it (malloc'ed). */
static char *rotation_text(const struct sb_rotation *rot)
{
	return sb_secret_record_dump(json_pack(
		"{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "from",
		rot->from, "to", rot->to, "cursor", rot->cursor, "pass",
		(json_int_t)rot->pass, "rewritten", (json_int_t)rot->rewritten,
		"done", (json_int_t)rot->done, "total", (json_int_t)rot->total,
		"skipped", (json_int_t)rot->skipped, "started_at_ms",
		(json_int_t)rot->started_at_ms));
}

/* The commit's one fenced batch: secret/current to fresh (previous old,
 * its version as read), fresh's check value, the rotation record and the
 * backup record. Returns 0, or -1 with e. */
static int commit_records(struct sb_generation *g, uint64_t epoch,
			  const struct sb_backup_secret *fresh,
			  const char *old_msid, uint64_t cur_version,
			  uint64_t total, struct sb_api_error *e)
{
	char hex[65], ck[SB_KEY_MAX + 1], bk[SB_KEY_MAX + 1];
	char *cur = NULL, *chk = NULL, *rotv = NULL, *bak = NULL;
	struct sb_rotation rot = {0};
	struct sb_error err = {{0}};
	struct sb_batch_op ops[4];
	struct sb_batch b = {ops, 4, 0, NULL, NULL};
	uint64_t now = sb_wall_ms();
	int rc, ret = -1;

	if (sb_secret_check_value(g, fresh, hex) != 0) {
		sb_api_fail(e, 500, "crypto_error",
			    "cannot compute the check value");
		goto done;
	}
	snprintf(rot.from, sizeof(rot.from), "%s", old_msid);
	snprintf(rot.to, sizeof(rot.to), "%s", fresh->msid);
	rot.pass = 1;
	rot.total = total;
	rot.started_at_ms = now;
	snprintf(ck, sizeof(ck), "secret/check/%s", fresh->msid);
	snprintf(bk, sizeof(bk), "secret/backup/%s", fresh->msid);
	cur = sb_secret_record_dump(json_pack(
		"{s:s, s:I, s:s}", "msid", fresh->msid, "created_at_ms",
		(json_int_t)fresh->created_at_ms, "previous_msid", old_msid));
	chk = sb_secret_record_dump(
		json_pack("{s:s, s:I}", "check", hex, "created_at_ms",
			  (json_int_t)fresh->created_at_ms));
	bak = sb_secret_record_dump(
		json_pack("{s:I}", "last_backup_at_ms", (json_int_t)now));
	rotv = rotation_text(&rot);
	if (cur == NULL || chk == NULL || bak == NULL || rotv == NULL) {
		sb_api_fail(e, 500, "internal", "out of memory");
		goto done;
	}
	ops[0] = (struct sb_batch_op){
		SB_OP_PUT,	  SB_PRE_VERSION,	cur_version,
		"secret/current", (const uint8_t *)cur, strlen(cur)};
	ops[1] = (struct sb_batch_op){
		SB_OP_PUT, SB_PRE_ABSENT,	 0,
		ck,	   (const uint8_t *)chk, strlen(chk)};
	ops[2] = (struct sb_batch_op){
		SB_OP_PUT,    SB_PRE_ABSENT,	     0,
		ROTATION_KEY, (const uint8_t *)rotv, strlen(rotv)};
	ops[3] = (struct sb_batch_op){
		SB_OP_PUT, SB_PRE_NONE,		 0,
		bk,	   (const uint8_t *)bak, strlen(bak)};
	rc = store_batch_apply(g, STORE_FENCED_AT(epoch), &b, &err);
	if (rc == SB_ECONFLICT) {
		sb_api_fail(e, 409, "conflict",
			    "the SSO database's master secret changed since "
			    "the rotation was prepared (another rotation or "
			    "restore?): nothing was changed; run the rotation "
			    "again");
		goto done;
	}
	if (rc != SB_OK) {
		store_error_to_api(e, rc, &err, "recording the new secret");
		goto done;
	}
	ret = 0;
done:
	free(cur);
	free(chk);
	free(bak);
	free(rotv);
	return ret;
}

int sb_secret_rotate_commit(struct sb_daemon *d, struct sb_generation *g,
			    uint64_t epoch, const char *msid, uint64_t total,
			    struct sb_api_error *e)
{
	struct sb_secret_state *s = d->secret;
	struct sb_backup_secret *pair = NULL;
	char pending[4096], sealed[4096], msg[1024];
	struct sb_rotation rot = {0};
	json_t *cur = NULL;
	uint64_t version;
	int ret = -1;

	pair = sb_secure_alloc(SECRETS_BYTES);
	if (pair == NULL)
		return sb_api_fail(e, 500, "internal", "cannot lock memory");
	pthread_rwlock_wrlock(&s->lock);
	if (s->prepared_at_ms == 0 || strcmp(s->prepared->msid, msid) != 0 ||
	    sb_wall_ms() - s->prepared_at_ms > SB_ROTATE_PREPARED_TTL_MS) {
		sb_api_fail(e, 409, "no_prepared_secret",
			    "this node has no new master secret %s waiting "
			    "for its commit (a rotation is prepared with "
			    "POST /v1/secret/rotate, and its commit must "
			    "follow on the same node within %d minutes)",
			    msid, SB_ROTATE_PREPARED_TTL_MS / 60000);
		goto done;
	}
	if (s->n_secrets != 1) {
		sb_api_fail(e, 409, "rotation_in_progress",
			    "this node's secrets changed since the rotation "
			    "was prepared: run it again");
		goto done;
	}
	memcpy(&pair[0], s->prepared, sizeof(pair[0]));
	memcpy(&pair[1], &s->secrets[0], sizeof(pair[1]));
	if (read_current(g, &cur, &version, e) != 0 ||
	    check_rotatable(g, pair[1].msid, cur, e) != 0)
		goto done;

	sb_sealed_path(g, SB_SECRET_PENDING_FILE, pending, sizeof(pending));
	sb_sealed_path(g, SB_SECRET_FILE, sealed, sizeof(sealed));
	if (sb_sealed_write(g, SB_SECRET_PENDING_FILE, pair, 2, e) != 0)
		goto done;
	sb_crash_point("rotate", "after-seal");
	if (commit_records(g, epoch, &pair[0], pair[1].msid, version, total,
			   e) != 0) {
		unlink(pending);
		goto done;
	}
	sb_crash_point("rotate", "after-db");
	if (sb_rename_durable(pending, sealed, msg, sizeof(msg)) != 0) {
		sb_api_fail(e, 500, "state_write_failed",
			    "master secret %s is recorded in the SSO database "
			    "but cannot be installed on this node: %s",
			    pair[0].msid, msg);
		goto done;
	}
	memcpy(s->secrets, pair, SECRETS_BYTES);
	s->n_secrets = 2;
	sb_secret_derive_keys(s, g);
	explicit_bzero(s->prepared, sizeof(*s->prepared));
	s->prepared_at_ms = 0;
	snprintf(rot.from, sizeof(rot.from), "%s", pair[1].msid);
	snprintf(rot.to, sizeof(rot.to), "%s", pair[0].msid);
	rot.pass = 1;
	rot.total = total;
	rot.started_at_ms = sb_wall_ms();
	sb_rotation_progress_set(s, &rot);
	sb_info("rotated the master secret: %s is current, %s is kept until "
		"every record is re-encrypted (%llu records)",
		pair[0].msid, pair[1].msid, (unsigned long long)total);
	ret = 0;
done:
	pthread_rwlock_unlock(&s->lock);
	json_decref(cur);
	sb_secure_free(pair, SECRETS_BYTES);
	return ret;
}

void sb_secret_rotate_forget_expired(struct sb_secret_state *s)
{
	pthread_rwlock_wrlock(&s->lock);
	if (s->prepared_at_ms != 0 &&
	    sb_wall_ms() - s->prepared_at_ms > SB_ROTATE_PREPARED_TTL_MS) {
		sb_info("forgot prepared master secret %s: its rotation was "
			"not committed within %d minutes",
			s->prepared->msid, SB_ROTATE_PREPARED_TTL_MS / 60000);
		explicit_bzero(s->prepared, sizeof(*s->prepared));
		s->prepared_at_ms = 0;
	}
	pthread_rwlock_unlock(&s->lock);
}

/* Unsigned field name of j, 0 when absent. */
static uint64_t uint_field(const json_t *j, const char *name)
{
	json_int_t v = json_integer_value(json_object_get(j, name));

	return v > 0 ? (uint64_t)v : 0;
}

int sb_rotation_read(struct sb_generation *g, struct sb_rotation *rot,
		     struct sb_error *err)
{
	json_t *j = NULL;
	const char *from, *to, *cursor;
	int rc;

	memset(rot, 0, sizeof(*rot));
	rc = sb_secret_record_get_v(g, ROTATION_KEY, &j, &rot->version, err);
	if (rc != SB_OK)
		return rc;
	from = json_string_value(json_object_get(j, "from"));
	to = json_string_value(json_object_get(j, "to"));
	cursor = json_string_value(json_object_get(j, "cursor"));
	if (from == NULL || to == NULL || cursor == NULL ||
	    strlen(from) > SB_MSID_MAX || strlen(to) > SB_MSID_MAX ||
	    strlen(cursor) > SB_KEY_MAX) {
		json_decref(j);
		return sb_error_set(err, SB_ERR,
				    "record " ROTATION_KEY " in the SSO "
				    "database is damaged");
	}
	snprintf(rot->from, sizeof(rot->from), "%s", from);
	snprintf(rot->to, sizeof(rot->to), "%s", to);
	snprintf(rot->cursor, sizeof(rot->cursor), "%s", cursor);
	rot->pass = uint_field(j, "pass");
	rot->rewritten = uint_field(j, "rewritten");
	rot->done = uint_field(j, "done");
	rot->total = uint_field(j, "total");
	rot->skipped = uint_field(j, "skipped");
	rot->started_at_ms = uint_field(j, "started_at_ms");
	json_decref(j);
	return SB_OK;
}

int sb_rotation_advance(struct sb_generation *g, uint64_t epoch,
			const struct sb_batch_op *ops, size_t n,
			struct sb_rotation *rot, size_t *failed,
			struct sb_error *err)
{
	struct sb_batch_op *all = calloc(n + 1, sizeof(*all));
	uint64_t *versions = calloc(n + 1, sizeof(*versions));
	size_t failed_op = 0;
	char *text = rotation_text(rot);
	struct sb_batch b = {all, n + 1, 0, versions, &failed_op};
	int rc;

	if (all == NULL || versions == NULL || text == NULL) {
		rc = sb_error_set(err, SB_ENOMEM, "out of memory");
		goto done;
	}
	if (n > 0)
		memcpy(all, ops, n * sizeof(*ops));
	all[n] = (struct sb_batch_op){
		SB_OP_PUT,    SB_PRE_VERSION,	     rot->version,
		ROTATION_KEY, (const uint8_t *)text, strlen(text)};
	rc = store_batch_apply(g, STORE_FENCED_AT(epoch), &b, err);
	if (rc == SB_OK)
		rot->version = versions[n];
	if (rc == SB_ECONFLICT && failed)
		*failed = failed_op;
done:
	free(text);
	free(all);
	free(versions);
	return rc;
}

int sb_rotation_retire(struct sb_daemon *d, struct sb_generation *g,
		       uint64_t epoch, const struct sb_rotation *rot,
		       struct sb_error *err)
{
	char rk[SB_KEY_MAX + 1], *cur = NULL, *ret_text = NULL;
	struct sb_batch_op ops[3];
	struct sb_batch b = {ops, 3, 0, NULL, NULL};
	json_t *j = NULL;
	uint64_t version;
	int rc;

	rc = sb_secret_record_get_v(g, "secret/current", &j, &version, err);
	if (rc != SB_OK)
		goto done;
	if (strcmp(json_string_value(json_object_get(j, "msid")) ?: "",
		   rot->to) != 0) {
		rc = sb_error_set(err, SB_ECONFLICT,
				  "secret/current is not %s any more", rot->to);
		goto done;
	}
	snprintf(rk, sizeof(rk), "secret/retired/%s", rot->from);
	cur = sb_secret_record_dump(
		json_pack("{s:s, s:I}", "msid", rot->to, "created_at_ms",
			  (json_int_t)uint_field(j, "created_at_ms")));
	ret_text = sb_secret_record_dump(json_pack("{s:s, s:I}", "successor",
						   rot->to, "retired_at_ms",
						   (json_int_t)sb_wall_ms()));
	if (cur == NULL || ret_text == NULL) {
		rc = sb_error_set(err, SB_ENOMEM, "out of memory");
		goto done;
	}
	ops[0] =
		(struct sb_batch_op){SB_OP_DELETE, SB_PRE_VERSION, rot->version,
				     ROTATION_KEY, NULL,	   0};
	ops[1] = (struct sb_batch_op){
		SB_OP_PUT,	  SB_PRE_VERSION,	version,
		"secret/current", (const uint8_t *)cur, strlen(cur)};
	ops[2] = (struct sb_batch_op){
		SB_OP_PUT,	 SB_PRE_NONE, 0, rk, (const uint8_t *)ret_text,
		strlen(ret_text)};
	rc = store_batch_apply(g, STORE_FENCED_AT(epoch), &b, err);
	if (rc != SB_OK)
		goto done;
	sb_info("re-encryption done: every record is under master secret "
		"%s; previous master secret %s is retired",
		rot->to, rot->from);
	sb_crash_point("retire", "after-db");
	sb_rotation_progress_set(d->secret, NULL);
	(void)sb_rotation_settle(d, g);
done:
	json_decref(j);
	free(cur);
	free(ret_text);
	return rc;
}

int sb_rotation_settle(struct sb_daemon *d, struct sb_generation *g)
{
	struct sb_secret_state *s = d->secret;
	struct sb_error err = {{0}};
	struct sb_api_error e;
	json_t *cur = NULL;
	const char *db_msid, *prev;
	char old[SB_MSID_MAX + 1];
	int rc, ret = -1;

	pthread_rwlock_rdlock(&s->lock);
	rc = s->n_secrets == 2;
	pthread_rwlock_unlock(&s->lock);
	if (!rc)
		return 0;
	rc = sb_secret_record_get(g, "secret/current", &cur, &err);
	if (rc != SB_OK) {
		sb_debug("cannot read secret/current to settle a rotation: %s",
			 err.msg);
		return -1;
	}
	db_msid = json_string_value(json_object_get(cur, "msid"));
	prev = json_string_value(json_object_get(cur, "previous_msid"));
	pthread_rwlock_wrlock(&s->lock);
	if (s->n_secrets != 2 || db_msid == NULL ||
	    strcmp(db_msid, s->secrets[0].msid) != 0 ||
	    (prev && strcmp(prev, s->secrets[1].msid) == 0)) {
		ret = 0; /* still needed, or not this node's business */
		goto done;
	}
	if (sb_sealed_write(g, SB_SECRET_FILE, s->secrets, 1, &e) != 0) {
		sb_err("cannot drop the retired master secret %s: %s",
		       s->secrets[1].msid, e.msg);
		goto done;
	}
	memcpy(old, s->secrets[1].msid, sizeof(old));
	explicit_bzero(&s->secrets[1], sizeof(s->secrets[1]));
	s->n_secrets = 1;
	sb_secret_derive_keys(s, g);
	sb_info("master secret %s is retired: this node no longer holds it "
		"(current %s)",
		old, s->secrets[0].msid);
	ret = 1;
done:
	pthread_rwlock_unlock(&s->lock);
	json_decref(cur);
	return ret;
}

void sb_rotation_progress_set(struct sb_secret_state *s,
			      const struct sb_rotation *rot)
{
	pthread_mutex_lock(&s->progress_lock);
	if (rot == NULL) {
		free(s->progress);
		s->progress = NULL;
	} else {
		if (s->progress == NULL)
			s->progress = calloc(1, sizeof(*s->progress));
		if (s->progress)
			*s->progress = *rot;
	}
	pthread_mutex_unlock(&s->progress_lock);
}

int sb_rotation_progress_get(struct sb_secret_state *s, struct sb_rotation *out)
{
	int ret = 0;

	pthread_mutex_lock(&s->progress_lock);
	if (s->progress) {
		*out = *s->progress;
		ret = 1;
	}
	pthread_mutex_unlock(&s->progress_lock);
	return ret;
}

void sb_rotation_status_add(json_t *out, const struct sb_rotation *rot,
			    uint64_t age_ms, unsigned max_age_days)
{
	char when[32];
	uint64_t age_days = age_ms / 86400000ULL;

	if (rot == NULL) {
		json_object_set_new(out, "rotation", json_null());
	} else {
		sb_iso_time(rot->started_at_ms, when, sizeof(when));
		json_object_set_new(
			out, "rotation",
			json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, "
				  "s:s}",
				  "from", rot->from, "to", rot->to, "state",
				  rot->pass <= 1 ? "re-encrypting"
						 : "verifying",
				  "pass", (json_int_t)rot->pass, "done",
				  (json_int_t)rot->done, "total",
				  (json_int_t)rot->total, "skipped",
				  (json_int_t)rot->skipped, "rate", rot->rate,
				  "started_at", when));
	}
	json_object_set_new(out, "age_days",
			    json_integer((json_int_t)age_days));
	json_object_set_new(out, "max_age_days",
			    json_integer((json_int_t)max_age_days));
	if (max_age_days > 0 && age_days >= max_age_days)
		json_object_set_new(
			out, "age_warning",
			json_sprintf("the master secret is %llu days old, "
				     "older than [secret] max_age_days (%u): "
				     "rotate it ('sbctl secret rotate FILE')",
				     (unsigned long long)age_days,
				     max_age_days));
}

int sb_rotation_restore_refusal(struct sb_generation *g, const char *msid,
				const json_t *db_current,
				struct sb_api_error *e)
{
	const char *db_msid =
		json_string_value(json_object_get(db_current, "msid"));
	const char *prev =
		json_string_value(json_object_get(db_current, "previous_msid"));
	char key[SB_KEY_MAX + 1], when[32];
	struct sb_error err = {{0}};
	json_t *ret = NULL;
	int rc;

	if (prev && strcmp(prev, msid) == 0)
		return sb_api_fail(
			e, 409, "rotation_in_progress",
			"this backup holds master secret %s, which a rotation "
			"in progress is replacing with %s: a backup of %s no "
			"longer restores; restore the backup that 'sbctl "
			"secret rotate' wrote (of %s)",
			msid, db_msid, msid, db_msid);
	snprintf(key, sizeof(key), "secret/retired/%s", msid);
	rc = sb_secret_record_get(g, key, &ret, &err);
	if (rc == SB_OK) {
		sb_iso_time(uint_field(ret, "retired_at_ms"), when,
			    sizeof(when));
		sb_api_fail(e, 409, "secret_retired",
			    "master secret %s in this backup was retired on "
			    "%s, replaced by %s; the SSO database now uses %s: "
			    "restore a backup of %s",
			    msid, when,
			    json_string_value(json_object_get(ret, "successor"))
				    ?: "?",
			    db_msid, db_msid);
		json_decref(ret);
		return -1;
	}
	if (rc != SB_ENOTFOUND)
		return store_error_to_api(e, rc, &err,
					  "reading the retired "
					  "secrets");
	return sb_api_fail(e, 409, "secret_mismatch",
			   "the SSO database uses master secret %s, but this "
			   "backup holds %s: it belongs to another SSO "
			   "database or is outdated",
			   db_msid, msid);
}
