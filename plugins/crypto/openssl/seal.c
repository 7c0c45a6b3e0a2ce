/*
 * seal/unseal: protects data (the master secret) at rest on this node.
 *
 * Sealed blob, version 1 (all integers big-endian):
 *
 *   offset  size  field
 *   0       6     magic "SBSEAL"
 *   6       2     version = 1
 *   8       8     key id: first 8 bytes of
 *                 SHA-256(HKDF-SHA256(KEK, info "secretbroker key id", 32))
 *   16      12    nonce (random)
 *   28      n     AES-256-GCM ciphertext of the n plaintext bytes
 *   28+n    16    GCM tag
 *
 * The 28-byte header is the associated data. The AEAD key is
 * HKDF-SHA256(KEK, info "secretbroker seal key", 32), never the KEK itself.
 * The key id is a one-way function of the KEK, so it reveals nothing
 * about it, and lets unseal tell "another node's key" from "damaged".
 */
#define _GNU_SOURCE
#include "crypto_openssl.h"

#include <openssl/evp.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_MAGIC	"SBSEAL"
#define SEAL_MAGIC_LEN	6
#define SEAL_VERSION	1
#define SEAL_HEADER_LEN (SEAL_MAGIC_LEN + 2 + CO_KEY_ID_LEN + SB_AEAD_NONCE_LEN)
#define SEAL_MIN_LEN	(SEAL_HEADER_LEN + SB_AEAD_TAG_LEN)

static const char info_key_id[] = "secretbroker key id";
static const char info_seal_key[] = "secretbroker seal key";

int co_seal_derive(struct co_instance *ci, struct sb_error *err)
{
	struct co_secrets *s = ci->secrets;
	uint8_t id_material[32], digest[32];
	unsigned int dlen = 0;
	int ret = SB_ERR;

	ret = co_kdf(ci, s->kek, sizeof(s->kek), NULL, 0,
		     (const uint8_t *)info_seal_key, strlen(info_seal_key),
		     s->seal_key, sizeof(s->seal_key), err);
	if (ret != SB_OK)
		goto done;
	ret = co_kdf(ci, s->kek, sizeof(s->kek), NULL, 0,
		     (const uint8_t *)info_key_id, strlen(info_key_id),
		     id_material, sizeof(id_material), err);
	if (ret != SB_OK)
		goto done;
	if (EVP_Digest(id_material, sizeof(id_material), digest, &dlen,
		       EVP_sha256(), NULL) != 1 ||
	    dlen != sizeof(digest)) {
		ret = co_error_ossl(err, SB_ERR, "crypto/openssl: SHA-256");
		goto done;
	}
	memcpy(ci->key_id, digest, sizeof(ci->key_id));
	ret = SB_OK;
done:
	explicit_bzero(id_material, sizeof(id_material));
	return ret;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int co_seal(void *inst, const uint8_t *pt, size_t pt_len, uint8_t **out,
	    size_t *out_len, struct sb_error *err)
{
	struct co_instance *ci = inst;
	uint8_t *blob = NULL;
	size_t len;
	int ret = SB_ERR;

	*out = NULL;
	*out_len = 0;
	if (pt_len > CO_SEAL_MAX) {
		ret = sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: seal: %zu bytes is more than "
			"the %d bytes it seals",
			pt_len, CO_SEAL_MAX);
		goto done;
	}
	len = SEAL_MIN_LEN + pt_len;
	blob = malloc(len);
	if (blob == NULL) {
		ret = sb_error_set(err, SB_ENOMEM,
				   "crypto/openssl: seal: out of "
				   "memory");
		goto done;
	}
	memcpy(blob, SEAL_MAGIC, SEAL_MAGIC_LEN);
	blob[6] = SEAL_VERSION >> 8;
	blob[7] = SEAL_VERSION & 0xff;
	memcpy(blob + 8, ci->key_id, CO_KEY_ID_LEN);
	ret = co_random(ci, blob + 16, SB_AEAD_NONCE_LEN, err);
	if (ret != SB_OK)
		goto done;
	ret = co_aead_encrypt(ci, ci->secrets->seal_key, blob + 16, blob,
			      SEAL_HEADER_LEN, pt, pt_len,
			      blob + SEAL_HEADER_LEN,
			      blob + SEAL_HEADER_LEN + pt_len, err);
	if (ret != SB_OK)
		goto done;
	*out = blob;
	*out_len = len;
	blob = NULL;
	ret = SB_OK;
done:
	free(blob); /* only ciphertext, or nothing, was ever written to it */
	return ret;
}

int co_unseal(void *inst, const uint8_t *in, size_t in_len, uint8_t **pt,
	      size_t *pt_len, struct sb_error *err)
{
	struct co_instance *ci = inst;
	char want[2 * CO_KEY_ID_LEN + 1], got[2 * CO_KEY_ID_LEN + 1];
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	unsigned version;
	int ret = SB_ERR;

	*pt = NULL;
	*pt_len = 0;
	if (in == NULL ||
	    memcmp(in, SEAL_MAGIC,
		   in_len < SEAL_MAGIC_LEN ? in_len : SEAL_MAGIC_LEN) != 0) {
		ret = sb_error_set(err, SB_EINVAL,
				   "crypto/openssl: unseal: not a sealed blob "
				   "(bad magic)");
		goto done;
	}
	if (in_len < SEAL_MIN_LEN) {
		ret = sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: unseal: sealed blob truncated "
			"(%zu bytes, at least %d expected)",
			in_len, SEAL_MIN_LEN);
		goto done;
	}
	version = (unsigned)in[6] << 8 | in[7];
	if (version != SEAL_VERSION) {
		ret = sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: unseal: sealed blob version %u "
			"is not supported (this plugin reads %d)",
			version, SEAL_VERSION);
		goto done;
	}
	plain_len = in_len - SEAL_MIN_LEN;
	if (plain_len > CO_SEAL_MAX) {
		ret = sb_error_set(err, SB_EINVAL,
				   "crypto/openssl: unseal: sealed blob of %zu "
				   "bytes is larger than any seal() makes",
				   in_len);
		goto done;
	}
	if (memcmp(in + 8, ci->key_id, CO_KEY_ID_LEN) != 0) {
		hex(in + 8, CO_KEY_ID_LEN, got);
		hex(ci->key_id, CO_KEY_ID_LEN, want);
		ret = sb_error_set(
			err, SB_EAUTH,
			"crypto/openssl: unseal: sealed by another "
			"node's key (key id %s; this node's key file %s "
			"has key id %s)",
			got, ci->key_path, want);
		goto done;
	}
	plain = ci->host->secure_alloc(plain_len);
	if (plain == NULL) {
		ret = sb_error_set(err, SB_ENOMEM,
				   "crypto/openssl: unseal: cannot allocate "
				   "locked memory");
		goto done;
	}
	ret = co_aead_decrypt(ci, ci->secrets->seal_key, in + 16, in,
			      SEAL_HEADER_LEN, in + SEAL_HEADER_LEN, plain_len,
			      in + SEAL_HEADER_LEN + plain_len, plain, err);
	if (ret == SB_EAUTH) {
		ret = sb_error_set(
			err, SB_EAUTH,
			"crypto/openssl: unseal: sealed blob damaged "
			"(key id matches this node's key file %s, but "
			"the authentication tag does not verify)",
			ci->key_path);
		goto done;
	}
	if (ret != SB_OK)
		goto done;
	*pt = plain;
	*pt_len = plain_len;
	plain = NULL;
	ret = SB_OK;
done:
	ci->host->secure_free(plain, plain_len);
	return ret;
}
