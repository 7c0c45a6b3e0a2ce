/*
 * The sealed blob's header, shared by the crypto plugins (format in
 * seal_blob.h).
 */
#define _GNU_SOURCE
#include "seal_blob.h"

#include <stdlib.h>
#include <string.h>

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int co_blob_new(const char *who, const char *magic,
		const uint8_t key_id[CO_BLOB_KEY_ID_LEN],
		int (*random)(void *inst, uint8_t *buf, size_t n,
			      struct sb_error *err),
		void *inst, size_t pt_len, uint8_t **blob, size_t *len,
		struct sb_error *err)
{
	uint8_t *b = NULL;
	int ret = SB_ERR;

	*blob = NULL;
	*len = 0;
	if (pt_len > CO_SEAL_MAX) {
		ret = sb_error_set(err, SB_EINVAL,
				   "%s: seal: %zu bytes is more than the %d "
				   "bytes it seals",
				   who, pt_len, CO_SEAL_MAX);
		goto done;
	}
	b = malloc(CO_BLOB_MIN_LEN + pt_len);
	if (b == NULL) {
		ret = sb_error_set(err, SB_ENOMEM, "%s: seal: out of memory",
				   who);
		goto done;
	}
	memcpy(b, magic, CO_BLOB_MAGIC_LEN);
	b[6] = CO_BLOB_VERSION >> 8;
	b[7] = CO_BLOB_VERSION & 0xff;
	memcpy(b + 8, key_id, CO_BLOB_KEY_ID_LEN);
	ret = random(inst, b + CO_BLOB_NONCE_OFF, SB_AEAD_NONCE_LEN, err);
	if (ret != SB_OK)
		goto done;
	*blob = b;
	*len = CO_BLOB_MIN_LEN + pt_len;
	b = NULL;
	ret = SB_OK;
done:
	free(b); /* nothing secret was written to it */
	return ret;
}

int co_blob_check(const char *who, const char *magic, const uint8_t *in,
		  size_t in_len, const uint8_t key_id[CO_BLOB_KEY_ID_LEN],
		  const char *key_desc, size_t *pt_len, struct sb_error *err)
{
	char want[2 * CO_BLOB_KEY_ID_LEN + 1], got[2 * CO_BLOB_KEY_ID_LEN + 1];
	int from_token = strcmp(magic, CO_MAGIC_OPENSSL) == 0;
	const char *other = from_token ? CO_MAGIC_PKCS11 : CO_MAGIC_OPENSSL;
	unsigned version;

	*pt_len = 0;
	if (in != NULL && in_len >= CO_BLOB_MAGIC_LEN &&
	    memcmp(in, other, CO_BLOB_MAGIC_LEN) == 0)
		return sb_error_set(
			err, SB_EINVAL,
			"%s: unseal: this blob was sealed by the %s plugin "
			"(%s), not by this one; to move the secret, restore "
			"a backup (docs/crypto-pkcs11.md)",
			who, from_token ? "pkcs11" : "openssl",
			from_token ? "a key in a PKCS#11 token" : "a key file");
	if (in == NULL ||
	    memcmp(in, magic,
		   in_len < CO_BLOB_MAGIC_LEN ? in_len : CO_BLOB_MAGIC_LEN) !=
		    0)
		return sb_error_set(err, SB_EINVAL,
				    "%s: unseal: not a sealed blob (bad "
				    "magic)",
				    who);
	if (in_len < CO_BLOB_MIN_LEN)
		return sb_error_set(err, SB_EINVAL,
				    "%s: unseal: sealed blob truncated (%zu "
				    "bytes, at least %d expected)",
				    who, in_len, CO_BLOB_MIN_LEN);
	version = (unsigned)in[6] << 8 | in[7];
	if (version != CO_BLOB_VERSION)
		return sb_error_set(err, SB_EINVAL,
				    "%s: unseal: sealed blob version %u is "
				    "not supported (this plugin reads %d)",
				    who, version, CO_BLOB_VERSION);
	if (in_len - CO_BLOB_MIN_LEN > CO_SEAL_MAX)
		return sb_error_set(err, SB_EINVAL,
				    "%s: unseal: sealed blob of %zu bytes is "
				    "larger than any seal() makes",
				    who, in_len);
	if (memcmp(in + 8, key_id, CO_BLOB_KEY_ID_LEN) != 0) {
		hex(in + 8, CO_BLOB_KEY_ID_LEN, got);
		hex(key_id, CO_BLOB_KEY_ID_LEN, want);
		return sb_error_set(err, SB_EAUTH,
				    "%s: unseal: sealed by another node's key "
				    "(key id %s; %s has key id %s)",
				    who, got, key_desc, want);
	}
	*pt_len = in_len - CO_BLOB_MIN_LEN;
	return SB_OK;
}
