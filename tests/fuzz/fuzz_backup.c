/*
 * The backup decoder (core/secret/backup_format.c) and the codec of secret
 * material it ends in (core/secret/secret_codec*.c), with the real openssl
 * crypto plugin. Its scrypt is swapped for HKDF of the same inputs (the
 * header's KDF parameters still pass the decoder's bounds), so one input
 * costs microseconds instead of up to seconds, and the seed files written
 * with it (SB_FUZZ_WRITE_SEED=DIR) reach the decryption and the secret
 * list behind a right password.
 *
 * Each input is read as a backup file (hint, then decode with the fuzz
 * password), as a binary secret list and as the JSON secret list a member
 * fetches; whatever decodes must encode back to the same thing.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include "runtime/secure_mem.h"
#include "secret/backup_format.h"
#include "secret/secret_codec.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_PASSWORD "fuzz password"

static struct sb_crypto_ops ops;
static void *crypto;

/* HKDF-SHA256(password, salt, "fuzz scrypt" || log2_n || r || p): what
 * the fuzz build uses instead of scrypt. */
static int cheap_password_kdf(void *inst, const char *password,
			      size_t password_len, const uint8_t *salt,
			      size_t salt_len, uint32_t log2_n, uint32_t r,
			      uint32_t p, uint8_t *out, size_t out_len,
			      struct sb_error *err)
{
	uint8_t info[11 + 12];

	memcpy(info, "fuzz scrypt", 11);
	memcpy(info + 11, &log2_n, 4);
	memcpy(info + 15, &r, 4);
	memcpy(info + 19, &p, 4);
	return ops.kdf(inst, (const uint8_t *)password, password_len, salt,
		       salt_len, info, sizeof(info), out, out_len, err);
}

static void write_seed(const char *dir, const char *name, size_t n_secrets,
		       const char *hint)
{
	struct sb_backup_kdf_params params = {10, 1, 1};
	struct sb_backup_secret s[2];
	struct sb_error err = {{0}};
	uint8_t *blob = NULL;
	size_t len = 0;
	char path[PATH_MAX];

	memset(s, 0, sizeof(s));
	snprintf(s[0].msid, sizeof(s[0].msid), "6f1c2a9e-4b7d-4c1e-9a55-3e2f");
	snprintf(s[1].msid, sizeof(s[1].msid), "0a0b0c0d-1111-4222-8333-4444");
	s[0].created_at_ms = 1767225600123ull;
	s[1].created_at_ms = 1735689600000ull;
	for (size_t i = 0; i < 2; i++)
		memset(s[i].key, 0x41 + (int)i, sizeof(s[i].key));
	if (sb_backup_encode(&ops, crypto, FUZZ_PASSWORD, strlen(FUZZ_PASSWORD),
			     hint, &params, s, n_secrets, &blob, &len,
			     &err) != SB_BACKUP_OK)
		fuzz_fail("encoding a seed: %s", err.msg);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fuzz_write_file(path, blob, len);
	free(blob);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct sb_crypto_ops *real;
	const char *seed_dir = getenv("SB_FUZZ_WRITE_SEED");

	(void)argc;
	(void)argv;
	real = fuzz_crypto_open(&crypto);
	memcpy(&ops, real, sizeof(ops) < real->size ? sizeof(ops) : real->size);
	ops.password_kdf = cheap_password_kdf;
	if (seed_dir) {
		write_seed(seed_dir, "backup-two-secrets", 2,
			   "the usual, with the year of the move");
		write_seed(seed_dir, "backup-one-secret-no-hint", 1, NULL);
	}
	return 0;
}

static void fuzz_backup_file(const uint8_t *data, size_t size)
{
	struct sb_backup_secret *secrets = NULL;
	struct sb_error err = {{0}};
	size_t n = 0;
	unsigned version = 0;
	char *hint = NULL;
	int rc;

	rc = sb_backup_read_hint(data, size, &hint, &version, &err);
	if (rc == SB_BACKUP_OK && hint == NULL)
		fuzz_fail("read_hint succeeded without a hint");
	if (rc != SB_BACKUP_OK && err.msg[0] == '\0')
		fuzz_fail("read_hint failed (%d) without a message", rc);
	free(hint);

	memset(&err, 0, sizeof(err));
	rc = sb_backup_decode(&ops, crypto, data, size, FUZZ_PASSWORD,
			      strlen(FUZZ_PASSWORD), &secrets, &n, &err);
	if (rc == SB_BACKUP_OK) {
		if (sb_secret_list_check(secrets, n, NULL) != 0)
			fuzz_fail("decode returned a list that breaks the "
				  "rules");
		sb_secure_free(secrets, n * sizeof(*secrets));
	} else {
		if (secrets != NULL)
			fuzz_fail("a failed decode (%s) allocated secrets",
				  sb_backup_result_name(rc));
		if (err.msg[0] == '\0')
			fuzz_fail("decode failed (%s) without a message",
				  sb_backup_result_name(rc));
	}
}

static void fuzz_secret_list(const uint8_t *data, size_t size)
{
	struct sb_backup_secret out[SB_SECRETS_MAX], again[SB_SECRETS_MAX];
	uint8_t buf[SB_SECRET_LIST_MAX];
	struct sb_error err = {{0}};
	size_t n = 0, n2 = 0, len = 0;
	json_t *arr;

	if (sb_secret_list_decode(data, size, out, &n, &err) == 0) {
		if (sb_secret_list_encode(out, n, buf, sizeof(buf), &len,
					  &err) != 0)
			fuzz_fail("a decoded list does not encode: %s",
				  err.msg);
		if (len != size || memcmp(buf, data, size) != 0)
			fuzz_fail("binary secret list changed on a round trip");
		arr = sb_secret_list_to_json(out, n, &err);
		if (arr == NULL)
			fuzz_fail("a decoded list has no JSON form: %s",
				  err.msg);
		if (sb_secret_list_from_json(arr, again, &n2, &err) != 0 ||
		    n2 != n || memcmp(again, out, n * sizeof(*out)) != 0)
			fuzz_fail("JSON secret list changed on a round trip");
		json_decref(arr);
	} else if (n != 0 || err.msg[0] == '\0') {
		fuzz_fail("a failed list decode left n=%zu or no message", n);
	}
	explicit_bzero(out, sizeof(out));
	explicit_bzero(again, sizeof(again));
	explicit_bzero(buf, sizeof(buf));
}

static void fuzz_secret_json(const uint8_t *data, size_t size)
{
	struct sb_backup_secret out[SB_SECRETS_MAX];
	struct sb_error err = {{0}};
	size_t n = 0;
	json_t *arr = json_loadb((const char *)data, size, 0, NULL);

	if (arr == NULL)
		return;
	if (sb_secret_list_from_json(arr, out, &n, &err) == 0) {
		if (sb_secret_list_check(out, n, NULL) != 0)
			fuzz_fail("JSON decode returned a list that breaks the "
				  "rules");
	} else if (n != 0 || err.msg[0] == '\0') {
		fuzz_fail("a failed JSON decode left n=%zu or no message", n);
	}
	explicit_bzero(out, sizeof(out));
	json_decref(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_backup_file(data, size);
	fuzz_secret_list(data, size);
	fuzz_secret_json(data, size);
	return 0;
}
