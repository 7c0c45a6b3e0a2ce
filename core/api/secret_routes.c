/*
 * The master secret lifecycle under /v1/secret (see docs/api.md): status,
 * generate, backup, hint and restore. scrypt runs on a job thread
 * (sb_req_defer).
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "secret/secret.h"
#include "secret/rotate.h"
#include "api/reencrypt.h"
#include "cluster/fence.h"
#include "host/host.h"
#include "runtime/clock.h"
#include "runtime/log.h"
#include "runtime/secure_mem.h"

#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

#define MAX_HINT 1024
#define MAX_BLOB (64 * 1024)

/* GET /v1/secret */
void sb_handle_secret_status(struct sb_req *r)
{
	struct sb_api_error e;
	json_t *j;

	sb_req_audit(r, "secret.status", 3, NULL, NULL);
	if (!sb_require_admin(r))
		return;
	j = sb_secret_status_json(r->d, r->gen, &e);
	if (j == NULL)
		sb_reply_api_error(r, &e);
	else
		sb_reply_json(r, 200, j);
}

/* POST /v1/secret/generate */
void sb_handle_secret_generate(struct sb_req *r)
{
	char msid[SB_MSID_MAX + 1], when[32];
	struct sb_api_error e;
	uint64_t epoch, created;

	sb_req_audit(r, "secret.generate", 1, NULL, NULL);
	if (!sb_require_admin(r) || !sb_api_mss_only(r) ||
	    sb_api_active_epoch(r, &epoch) != 0)
		return;
	if (sb_secret_generate(r->d, r->gen, epoch, msid, &created, &e) != 0) {
		sb_reply_api_error(r, &e);
		return;
	}
	snprintf(r->audit.target, sizeof(r->audit.target), "%s", msid);
	sb_info("request %s: uid %u generated master secret %s", r->id,
		(unsigned)r->caller.uid, msid);
	sb_iso_time(created, when, sizeof(when));
	sb_reply_json(
		r, 201,
		json_pack("{s:s, s:s}", "msid", msid, "created_at", when));
}

/* A backup or restore job: inputs copied out of the request (the password
 * into secure memory), outputs filled on the job thread. */
struct secret_job {
	struct sb_daemon *d;
	struct sb_generation *gen; /* ref held by the request */
	uint64_t epoch;
	char *password; /* secure memory of password_cap bytes */
	size_t password_cap;
	char *hint;
	uint8_t *blob;
	size_t blob_len;
	int ok;
	struct sb_api_error e;
	char msid[SB_MSID_MAX + 1];
	char previous_msid[SB_MSID_MAX + 1];
	uint64_t total;
	uid_t uid;
};

/* Frees j, wiping the password. */
static void secret_job_free(struct secret_job *j)
{
	SB_SECURE_PURGE(&j->password, j->password_cap);
	free(j->hint);
	free(j->blob);
	free(j);
}

/* A new job for request r with a copy of password in secure memory (the
 * caller frees it with secret_job_free), or NULL when out of memory. */
static struct secret_job *secret_job_new(struct sb_req *r, const char *password)
{
	struct secret_job *j = calloc(1, sizeof(*j));
	size_t len = strlen(password);

	if (j == NULL)
		return NULL;
	j->d = r->d;
	j->gen = r->gen;
	j->uid = r->caller.uid;
	j->password_cap = len + 1;
	j->password = sb_secure_alloc(j->password_cap);
	if (j->password == NULL) {
		free(j);
		return NULL;
	}
	memcpy(j->password, password, len);
	return j;
}

/* Job thread: makes the backup of job arg. */
static void backup_run(void *arg)
{
	struct secret_job *j = arg;

	j->ok = sb_secret_backup(j->d, j->gen, j->epoch, j->password, j->hint,
				 &j->blob, &j->blob_len, j->msid, &j->e) == 0;
}

/* The blob job j made, base64 (malloc'ed), with the audit target set; or
 * NULL having replied with j's error or 500. */
static char *job_blob_b64(struct sb_req *r, struct secret_job *j)
{
	char *b64;

	if (!j->ok) {
		sb_reply_api_error(r, &j->e);
		return NULL;
	}
	b64 = malloc(4 * ((j->blob_len + 2) / 3) + 1);
	if (b64 == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)b64, j->blob, (int)j->blob_len);
	snprintf(r->audit.target, sizeof(r->audit.target), "%s", j->msid);
	return b64;
}

/* Worker thread: replies with the backup of job arg, then frees it. */
static void backup_done(struct sb_req *r, void *arg)
{
	struct secret_job *j = arg;
	char *b64 = job_blob_b64(r, j);

	if (b64 != NULL) {
		sb_info("request %s: uid %u made a backup of master secret %s",
			r->id, (unsigned)j->uid, j->msid);
		sb_reply_json(
			r, 200,
			json_pack("{s:s, s:s}", "msid", j->msid, "blob", b64));
	}
	free(b64);
	secret_job_free(j);
}

/* A job for a request whose body has a backup "password" (at least
 * SB_MIN_PASSWORD_LEN characters) and an optional "hint" (backup,
 * rotate), or NULL having replied 400 or 500. */
static struct secret_job *password_job(struct sb_req *r)
{
	const char *password, *hint;
	struct secret_job *j;
	json_t *hv;

	if ((password = sb_body_string(r, "password", 1)) == NULL)
		return NULL;
	hv = json_object_get(r->body, "hint");
	if (hv && !json_is_null(hv) && !json_is_string(hv)) {
		sb_reply_error(r, 400, "bad_request",
			       "field \"hint\" must be a string");
		return NULL;
	}
	hint = json_is_string(hv) ? json_string_value(hv) : NULL;
	if (strlen(password) < SB_MIN_PASSWORD_LEN) {
		sb_reply_error(
			r, 400, "weak_password",
			"the backup password must have at least %d characters",
			SB_MIN_PASSWORD_LEN);
		return NULL;
	}
	if (hint && strlen(hint) > MAX_HINT) {
		sb_reply_error(r, 400, "bad_request",
			       "the hint is longer than %d bytes", MAX_HINT);
		return NULL;
	}
	j = secret_job_new(r, password);
	if (j == NULL || (hint && (j->hint = strdup(hint)) == NULL)) {
		if (j)
			secret_job_free(j);
		sb_reply_error(r, 500, "internal", "out of memory");
		return NULL;
	}
	return j;
}

/* POST /v1/secret/backup {"password", "hint"} */
void sb_handle_secret_backup(struct sb_req *r)
{
	struct secret_job *j;
	uint64_t epoch = 0;
	int state;

	sb_req_audit(r, "secret.backup", 1, NULL, NULL);
	if (!sb_require_admin(r))
		return;
	if ((j = password_job(r)) == NULL)
		return;
	/* A standby may still back up its copy; only the record is fenced. */
	sb_fence_view(r->d, &state, &epoch);
	j->epoch = state == SB_FENCE_ACTIVE ? epoch : 0;
	if (sb_req_defer(r, backup_run, backup_done, j) != 0)
		secret_job_free(j);
}

/* Job thread: prepares a rotation (the new secret and its backup). */
static void rotate_run(void *arg)
{
	struct secret_job *j = arg;

	j->ok = sb_secret_rotate_prepare(j->d, j->gen, j->password, j->hint,
					 &j->blob, &j->blob_len, j->msid,
					 j->previous_msid, &j->e) == 0;
}

/* Worker thread: replies with the prepared secret's backup, frees j. */
static void rotate_done(struct sb_req *r, void *arg)
{
	struct secret_job *j = arg;
	char *b64 = job_blob_b64(r, j);

	if (b64 != NULL) {
		sb_info("request %s: uid %u prepared master secret %s to "
			"replace %s; it becomes current at its commit",
			r->id, (unsigned)j->uid, j->msid, j->previous_msid);
		sb_reply_json(r, 200,
			      json_pack("{s:s, s:s, s:s}", "msid", j->msid,
					"previous_msid", j->previous_msid,
					"blob", b64));
	}
	free(b64);
	secret_job_free(j);
}

/* POST /v1/secret/rotate {"password", "hint"}: the active MSS only. */
void sb_handle_secret_rotate(struct sb_req *r)
{
	struct secret_job *j;
	uint64_t epoch;

	sb_req_audit(r, "secret.rotate", 1, NULL, NULL);
	if (!sb_require_admin(r) || !sb_api_mss_only(r) ||
	    sb_api_active_epoch(r, &epoch) != 0)
		return;
	if ((j = password_job(r)) == NULL)
		return;
	j->epoch = epoch;
	if (sb_req_defer(r, rotate_run, rotate_done, j) != 0)
		secret_job_free(j);
}

/* Job thread: counts the records and commits the prepared secret. */
static void commit_run(void *arg)
{
	struct secret_job *j = arg;
	struct sb_error err = {{0}};
	char cur[SB_MSID_MAX + 1] = "";
	int rc;

	rc = sb_reencrypt_count(j->gen, &j->total, &err);
	if (rc != SB_OK) {
		store_error_to_api(&j->e, rc, &err,
				   "counting the records to re-encrypt");
		return;
	}
	(void)sb_secret_current_msid(j->d->secret, cur);
	memcpy(j->previous_msid, cur, sizeof(cur));
	j->ok = sb_secret_rotate_commit(j->d, j->gen, j->epoch, j->msid,
					j->total, &j->e) == 0;
}

/* Worker thread: replies with the outcome of the commit, frees j. */
static void commit_done(struct sb_req *r, void *arg)
{
	struct secret_job *j = arg;

	if (!j->ok) {
		sb_info("request %s: uid %u: rotation commit refused: %s (%s)",
			r->id, (unsigned)j->uid, j->e.msg, j->e.code);
		sb_reply_api_error(r, &j->e);
	} else {
		snprintf(r->audit.target, sizeof(r->audit.target), "%s",
			 j->msid);
		sb_info("request %s: uid %u made master secret %s current "
			"(previous %s); re-encrypting %llu records",
			r->id, (unsigned)j->uid, j->msid, j->previous_msid,
			(unsigned long long)j->total);
		sb_reencrypt_wake();
		sb_reply_json(r, 200,
			      json_pack("{s:s, s:s, s:I}", "msid", j->msid,
					"previous_msid", j->previous_msid,
					"records", (json_int_t)j->total));
	}
	secret_job_free(j);
}

/* POST /v1/secret/rotate/commit {"msid"}: the active MSS only. */
void sb_handle_secret_rotate_commit(struct sb_req *r)
{
	const char *msid;
	struct secret_job *j;
	uint64_t epoch;

	sb_req_audit(r, "secret.rotate.commit", 1, NULL, NULL);
	if (!sb_require_admin(r) || !sb_api_mss_only(r) ||
	    sb_api_active_epoch(r, &epoch) != 0)
		return;
	if ((msid = sb_body_string(r, "msid", 1)) == NULL)
		return;
	if (strlen(msid) > SB_MSID_MAX) {
		sb_reply_error(r, 400, "bad_request",
			       "field \"msid\" is longer than %d characters",
			       SB_MSID_MAX);
		return;
	}
	j = secret_job_new(r, "");
	if (j == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	j->epoch = epoch;
	snprintf(j->msid, sizeof(j->msid), "%s", msid);
	if (sb_req_defer(r, commit_run, commit_done, j) != 0)
		secret_job_free(j);
}

/* Decodes the "blob" field into j->blob; replies 400 and returns -1 when it
 * is missing, too big or not base64. */
static int body_blob(struct sb_req *r, uint8_t **blob, size_t *len)
{
	const char *b64 = sb_body_string(r, "blob", 1);
	size_t b64_len, cap;
	uint8_t *out;
	int n;

	if (b64 == NULL)
		return -1;
	b64_len = strlen(b64);
	/* (MAX_BLOB + 2) / 3 * 4: the base64 length of MAX_BLOB bytes;
	 * the decoded length is checked exactly below. */
	if (b64_len == 0 || b64_len % 4 != 0 ||
	    b64_len > (MAX_BLOB + 2) / 3 * 4) {
		sb_reply_error(r, 400, "bad_request",
			       "field \"blob\" must be non-empty base64 of a "
			       "backup file (at most %d bytes)",
			       MAX_BLOB);
		return -1;
	}
	cap = b64_len / 4 * 3 + 1;
	out = malloc(cap);
	if (out == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		return -1;
	}
	n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)b64_len);
	if (n < 0) {
		free(out);
		sb_reply_error(r, 400, "bad_request",
			       "field \"blob\" is not valid base64");
		return -1;
	}
	/* EVP_DecodeBlock counts the padding bytes as data. */
	if (b64_len >= 1 && b64[b64_len - 1] == '=')
		n--;
	if (b64_len >= 2 && b64[b64_len - 2] == '=')
		n--;
	if (n > MAX_BLOB) {
		free(out);
		sb_reply_error(r, 400, "bad_request",
			       "field \"blob\" decodes to %d bytes; a backup "
			       "file is at most %d bytes",
			       n, MAX_BLOB);
		return -1;
	}
	*blob = out;
	*len = (size_t)n;
	return 0;
}

/* POST /v1/secret/hint {"blob"}: any local caller, no password. */
void sb_handle_secret_hint(struct sb_req *r)
{
	struct sb_error err = {{0}};
	struct sb_api_error e;
	uint8_t *blob = NULL;
	size_t len = 0;
	char *hint = NULL;
	unsigned version = 0;
	int rc;

	if (body_blob(r, &blob, &len) != 0)
		return;
	rc = sb_backup_read_hint(blob, len, &hint, &version, &err);
	free(blob);
	if (rc != SB_BACKUP_OK) {
		sb_secret_backup_error(&e, rc, &err);
		sb_reply_api_error(r, &e);
		return;
	}
	sb_reply_json(r, 200,
		      json_pack("{s:s, s:i}", "hint", hint ? hint : "",
				"format_version", (int)version));
	free(hint);
}

/* Job thread: restores the master secret from job arg's backup. */
static void restore_run(void *arg)
{
	struct secret_job *j = arg;

	j->ok = sb_secret_restore(j->d, j->gen, j->epoch, j->blob, j->blob_len,
				  j->password, j->msid, j->previous_msid,
				  &j->e) == 0;
}

/* Worker thread: replies with the outcome of job arg, then frees it. */
static void restore_done(struct sb_req *r, void *arg)
{
	struct secret_job *j = arg;

	if (!j->ok) {
		sb_info("request %s: uid %u: restore refused: %s (%s)", r->id,
			(unsigned)j->uid, j->e.msg, j->e.code);
		sb_reply_api_error(r, &j->e);
	} else {
		snprintf(r->audit.target, sizeof(r->audit.target), "%s",
			 j->msid);
		sb_info("request %s: uid %u restored master secret %s", r->id,
			(unsigned)j->uid, j->msid);
		sb_reply_json(r, 200,
			      json_pack("{s:s, s:o}", "msid", j->msid,
					"previous_msid",
					j->previous_msid[0]
						? json_string(j->previous_msid)
						: json_null()));
	}
	secret_job_free(j);
}

/* POST /v1/secret/restore {"blob", "password"} */
void sb_handle_secret_restore(struct sb_req *r)
{
	const char *password;
	struct secret_job *j;
	uint64_t epoch = 0;
	int state;

	sb_req_audit(r, "secret.restore", 1, NULL, NULL);
	if (!sb_require_admin(r) || !sb_api_mss_only(r))
		return;
	if ((password = sb_body_string(r, "password", 1)) == NULL)
		return;
	sb_fence_view(r->d, &state, &epoch);
	j = secret_job_new(r, password);
	if (j == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	j->epoch = state == SB_FENCE_ACTIVE ? epoch : 0;
	if (body_blob(r, &j->blob, &j->blob_len) != 0) {
		secret_job_free(j);
		return;
	}
	if (sb_req_defer(r, restore_run, restore_done, j) != 0)
		secret_job_free(j);
}
