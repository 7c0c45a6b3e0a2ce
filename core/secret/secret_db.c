/* The master secret's records in the SSO database: see secret.h for the
 * keys, secret_private.h for these functions. */
#define _GNU_SOURCE
#include "secret/secret_private.h"

#include "host/daemon.h"
#include "host/host.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_INFO "secretbroker/check/v1/"

/* Computes the hex check value of one secret into hex (65 bytes). */
int sb_secret_check_value(struct sb_generation *g,
			  const struct sb_backup_secret *s, char *hex)
{
	uint8_t out[32];
	char info[sizeof(CHECK_INFO) + SB_MSID_MAX];
	struct sb_error err;
	int n = snprintf(info, sizeof(info), "%s%s", CHECK_INFO, s->msid);

	if (g->cops->kdf(g->crypto.inst, s->key, sizeof(s->key), NULL, 0,
			 (const uint8_t *)info, (size_t)n, out, sizeof(out),
			 &err) != SB_OK)
		return -1;
	for (size_t i = 0; i < sizeof(out); i++)
		sprintf(hex + 2 * i, "%02x", out[i]);
	explicit_bzero(out, sizeof(out));
	return 0;
}

int sb_secret_record_get_v(struct sb_generation *g, const char *key,
			   json_t **out, uint64_t *version,
			   struct sb_error *err)
{
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t v = 0;
	json_error_t jerr;
	int rc;

	rc = store_get_record(g, key, &val, &len, &v, err);
	if (rc != SB_OK)
		return rc;
	*out = json_loadb((const char *)val, len, 0, &jerr);
	free(val);
	if (*out == NULL)
		return sb_error_set(
			err, SB_ERR,
			"record %s in the SSO database is not valid JSON", key);
	if (version)
		*version = v;
	return SB_OK;
}

int sb_secret_record_get(struct sb_generation *g, const char *key, json_t **out,
			 struct sb_error *err)
{
	return sb_secret_record_get_v(g, key, out, NULL, err);
}

char *sb_secret_record_dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	json_decref(j);
	return s;
}

int sb_secret_make_msid(struct sb_generation *g, char *msid,
			struct sb_error *err)
{
	uint8_t r[16];
	int rc = g->cops->random(g->crypto.inst, r, sizeof(r), err);

	if (rc != SB_OK)
		return rc;
	r[6] = (r[6] & 0x0f) | 0x40; /* UUID version 4 */
	r[8] = (r[8] & 0x3f) | 0x80;
	snprintf(msid, SB_MSID_MAX + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%"
		 "02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
		 r[10], r[11], r[12], r[13], r[14], r[15]);
	return SB_OK;
}

/* Writes secret/current and secret/check/<msid> for s, both required to be
 * absent, fenced by epoch. */
int sb_secret_record_new(struct sb_generation *g, uint64_t epoch,
			 const struct sb_backup_secret *s,
			 struct sb_api_error *e)
{
	char hex[65];
	char *cur = NULL, *chk = NULL;
	struct sb_error err = {{0}};
	int rc, ret = -1;

	if (sb_secret_check_value(g, s, hex) != 0) {
		sb_api_fail(e, 500, "crypto_error",
			    "cannot compute the check value");
		goto done;
	}
	cur = sb_secret_record_dump(json_pack("{s:s, s:I}", "msid", s->msid,
					      "created_at_ms",
					      (json_int_t)s->created_at_ms));
	chk = sb_secret_record_dump(json_pack("{s:s, s:I}", "check", hex,
					      "created_at_ms",
					      (json_int_t)s->created_at_ms));
	if (cur == NULL || chk == NULL) {
		sb_api_fail(e, 500, "internal", "out of memory");
		goto done;
	}
	rc = store_commit_secret(g, STORE_FENCED_AT(epoch), s->msid, cur, chk,
				 &err);
	if (rc == SB_ECONFLICT) {
		sb_api_fail(e, 409, "secret_exists",
			    "the SSO database already has a master secret "
			    "(written meanwhile by another node); restore its "
			    "backup on this node instead");
		goto done;
	}
	if (rc != SB_OK) {
		store_error_to_api(e, rc, &err, "recording the master secret");
		goto done;
	}
	ret = 0;
done:
	free(cur);
	free(chk);
	return ret;
}

/* Compares secret s with its check value in the database. Returns 1 match,
 * 0 mismatch, -2 no check value recorded, -1 storage error (err). */
int sb_secret_check_against_db(struct sb_generation *g,
			       const struct sb_backup_secret *s,
			       struct sb_error *err, int *status)
{
	char key[256], hex[65];
	json_t *rec = NULL;
	const char *stored;
	int rc, ret;

	snprintf(key, sizeof(key), "secret/check/%s", s->msid);
	rc = sb_secret_record_get(g, key, &rec, err);
	*status = rc;
	if (rc == SB_ENOTFOUND)
		return -2;
	if (rc != SB_OK)
		return -1;
	stored = json_string_value(json_object_get(rec, "check"));
	if (sb_secret_check_value(g, s, hex) != 0) {
		json_decref(rec);
		sb_error_set(err, SB_ERR, "cannot compute the check value");
		*status = SB_ERR;
		return -1;
	}
	ret = stored && strcmp(stored, hex) == 0;
	json_decref(rec);
	return ret;
}
