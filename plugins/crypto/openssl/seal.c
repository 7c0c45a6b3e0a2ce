/*
 * seal/unseal: protects data (the master secret) at rest on this node.
 *
 * The sealed blob is plugins/crypto/common/seal_blob.h's, magic "SBSEAL",
 * key id the first 8 bytes of
 * SHA-256(HKDF-SHA256(KEK, info "secretbroker key id", 32)). The AEAD key
 * is HKDF-SHA256(KEK, info "secretbroker seal key", 32), never the KEK
 * itself. The key id is a one-way function of the KEK, so it reveals
 * nothing about it.
 */
#define _GNU_SOURCE
#include "crypto_openssl.h"
#include "seal_blob.h"

#include <openssl/evp.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int co_seal(void *inst, const uint8_t *pt, size_t pt_len, uint8_t **out,
	    size_t *out_len, struct sb_error *err)
{
	struct co_instance *ci = inst;
	uint8_t *blob = NULL;
	size_t len = 0;
	int ret = SB_ERR;

	*out = NULL;
	*out_len = 0;
	ret = co_blob_new("crypto/openssl", CO_MAGIC_OPENSSL, ci->key_id,
			  co_random, ci, pt_len, &blob, &len, err);
	if (ret != SB_OK)
		goto done;
	ret = co_aead_encrypt(
		ci, ci->secrets->seal_key, blob + CO_BLOB_NONCE_OFF, blob,
		CO_BLOB_HEADER_LEN, pt, pt_len, blob + CO_BLOB_HEADER_LEN,
		blob + CO_BLOB_HEADER_LEN + pt_len, err);
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
	char key_desc[64 + PATH_MAX];
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int ret = SB_ERR;

	*pt = NULL;
	*pt_len = 0;
	snprintf(key_desc, sizeof(key_desc), "this node's key file %s",
		 ci->key_path);
	ret = co_blob_check("crypto/openssl", CO_MAGIC_OPENSSL, in, in_len,
			    ci->key_id, key_desc, &plain_len, err);
	if (ret != SB_OK)
		goto done;
	plain = ci->host->secure_alloc(plain_len);
	if (plain == NULL) {
		ret = sb_error_set(err, SB_ENOMEM,
				   "crypto/openssl: unseal: cannot allocate "
				   "locked memory");
		goto done;
	}
	ret = co_aead_decrypt(ci, ci->secrets->seal_key, in + CO_BLOB_NONCE_OFF,
			      in, CO_BLOB_HEADER_LEN, in + CO_BLOB_HEADER_LEN,
			      plain_len, in + CO_BLOB_HEADER_LEN + plain_len,
			      plain, err);
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
