/*
 * Stateless primitives of the openssl crypto plugin: random bytes,
 * AES-256-GCM, HKDF-SHA256 (RFC 5869) and scrypt (RFC 7914). Each call
 * makes its own OpenSSL context from the algorithms fetched at open, so
 * every function is safe from several threads at once.
 */
#define _GNU_SOURCE
#include "crypto_openssl.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <limits.h>
#include <string.h>

/* scrypt needs 128 * r * (N + p + 2) bytes. A password KDF that asks for
 * more than this is refused rather than letting a caller (or a hostile
 * backup file upstream) make the daemon allocate without bound. */
#define CO_SCRYPT_MAX_MEM (1024ull * 1024 * 1024)

int co_random(void *inst, uint8_t *buf, size_t n, struct sb_error *err)
{
	(void)inst;
	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;

		if (RAND_bytes(buf, chunk) != 1)
			return co_error_ossl(err, SB_ERR,
					     "crypto/openssl: RAND_bytes "
					     "failed");
		buf += chunk;
		n -= (size_t)chunk;
	}
	return SB_OK;
}

int co_aead_encrypt(void *inst, const uint8_t key[SB_AEAD_KEY_LEN],
		    const uint8_t nonce[SB_AEAD_NONCE_LEN], const uint8_t *aad,
		    size_t aad_len, const uint8_t *pt, size_t pt_len,
		    uint8_t *ct, uint8_t tag[SB_AEAD_TAG_LEN],
		    struct sb_error *err)
{
	struct co_instance *ci = inst;
	EVP_CIPHER_CTX *ctx = NULL;
	int outl, ret = SB_ERR;

	/* OpenSSL's update functions take int lengths. */
	if (aad_len > INT_MAX || pt_len > INT_MAX) {
		ret = sb_error_set(err, SB_EINVAL,
				   "crypto/openssl: AEAD input too large");
		goto done;
	}
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) {
		ret = co_error_ossl(err, SB_ENOMEM,
				    "crypto/openssl: EVP_CIPHER_CTX_new");
		goto done;
	}
	/* GCM's default IV length is 96 bits, the one length we take. */
	if (EVP_EncryptInit_ex2(ctx, ci->gcm, key, nonce, NULL) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: AES-256-GCM init");
		goto done;
	}
	if (aad_len > 0 &&
	    EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: AES-256-GCM AAD");
		goto done;
	}
	outl = 0;
	if (pt_len > 0 &&
	    EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)pt_len) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: AES-256-GCM encrypt");
		goto done;
	}
	/* GCM is a stream mode: Final writes nothing, but ct + outl stays
	 * inside the buffer either way. */
	if (EVP_EncryptFinal_ex(ctx, ct ? ct + outl : NULL, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SB_AEAD_TAG_LEN,
				tag) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: AES-256-GCM final");
		goto done;
	}
	ret = SB_OK;
done:
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

int co_aead_decrypt(void *inst, const uint8_t key[SB_AEAD_KEY_LEN],
		    const uint8_t nonce[SB_AEAD_NONCE_LEN], const uint8_t *aad,
		    size_t aad_len, const uint8_t *ct, size_t ct_len,
		    const uint8_t tag[SB_AEAD_TAG_LEN], uint8_t *pt,
		    struct sb_error *err)
{
	struct co_instance *ci = inst;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tag_copy[SB_AEAD_TAG_LEN];
	int outl, ret = SB_ERR;

	if (aad_len > INT_MAX || ct_len > INT_MAX) {
		ret = sb_error_set(err, SB_EINVAL,
				   "crypto/openssl: AEAD input too large");
		goto done;
	}
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) {
		ret = co_error_ossl(err, SB_ENOMEM,
				    "crypto/openssl: EVP_CIPHER_CTX_new");
		goto done;
	}
	if (EVP_DecryptInit_ex2(ctx, ci->gcm, key, nonce, NULL) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: AES-256-GCM init");
		goto done;
	}
	if (aad_len > 0 &&
	    EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: AES-256-GCM AAD");
		goto done;
	}
	outl = 0;
	if (ct_len > 0 &&
	    EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)ct_len) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: AES-256-GCM decrypt");
		goto done;
	}
	/* The ctrl takes a non-const pointer; hand it a copy. */
	memcpy(tag_copy, tag, sizeof(tag_copy));
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SB_AEAD_TAG_LEN,
				tag_copy) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: AES-256-GCM set tag");
		goto done;
	}
	if (EVP_DecryptFinal_ex(ctx, pt ? pt + outl : NULL, &outl) != 1) {
		ERR_clear_error();
		ret = sb_error_set(err, SB_EAUTH,
				   "crypto/openssl: AES-256-GCM authentication "
				   "failed: ciphertext, tag, nonce, associated "
				   "data or key do not match");
		goto done;
	}
	ret = SB_OK;
done:
	/* Never hand back unauthenticated plaintext. */
	if (ret != SB_OK && pt != NULL && ct_len > 0)
		explicit_bzero(pt, ct_len);
	EVP_CIPHER_CTX_free(ctx);
	return ret;
}

int co_kdf(void *inst, const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
	   size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
	   size_t out_len, struct sb_error *err)
{
	struct co_instance *ci = inst;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5], *p = params;
	static const uint8_t empty[1];
	int ret = SB_ERR;

	/* RFC 5869: L <= 255 * HashLen. */
	if (out_len == 0 || out_len > 255 * 32) {
		ret = sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: HKDF-SHA256 output length %zu "
			"is outside 1..8160",
			out_len);
		goto done;
	}
	kctx = EVP_KDF_CTX_new(ci->hkdf);
	if (kctx == NULL) {
		ret = co_error_ossl(err, SB_ENOMEM,
				    "crypto/openssl: EVP_KDF_CTX_new(HKDF)");
		goto done;
	}
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_KEY, (void *)(ikm_len ? ikm : empty), ikm_len);
	/* An absent salt is HashLen zero bytes (RFC 5869 2.2), which is what
	 * OpenSSL does when no salt is set. */
	if (salt_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	if (info_len > 0)
		*p++ = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: HKDF-SHA256 failed");
		goto done;
	}
	ret = SB_OK;
done:
	EVP_KDF_CTX_free(kctx); /* clears its copy of the key */
	return ret;
}

int co_password_kdf(void *inst, const char *password, size_t password_len,
		    const uint8_t *salt, size_t salt_len, uint32_t log2_n,
		    uint32_t r, uint32_t p, uint8_t *out, size_t out_len,
		    struct sb_error *err)
{
	struct co_instance *ci = inst;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[7], *pp = params;
	static const char empty[1];
	uint64_t n, mem;
	uint32_t r32 = r, p32 = p;
	int ret = SB_ERR;

	/* RFC 7914: N a power of two > 1 and N < 2^(128 * r / 8); r, p >= 1;
	 * p <= (2^32 - 1) * 32 / (128 * r). */
	if (log2_n < 1 || r < 1 || p < 1 || (uint64_t)log2_n >= 16ull * r ||
	    (uint64_t)p > 0xffffffffull * 32 / (128ull * r)) {
		ret = sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: scrypt parameters log2(N)=%u "
			"r=%u p=%u are not valid (RFC 7914)",
			log2_n, r, p);
		goto done;
	}
	/* OpenSSL's own accounting: B (128 r p) + V (128 r (N + 2)). Any
	 * one factor this large already exceeds the limit; bounding them
	 * first keeps the products below 2^64. */
	if (log2_n > 30 || r > CO_SCRYPT_MAX_MEM / 512 ||
	    p > CO_SCRYPT_MAX_MEM / 128)
		mem = UINT64_MAX;
	else
		mem = 128ull * r * p + 128ull * r * ((1ull << log2_n) + 2);
	if (mem > CO_SCRYPT_MAX_MEM) {
		ret = sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: scrypt log2(N)=%u r=%u p=%u "
			"needs more than the %llu MiB memory limit",
			log2_n, r, p, CO_SCRYPT_MAX_MEM >> 20);
		goto done;
	}
	if (out_len == 0) {
		ret = sb_error_set(err, SB_EINVAL,
				   "crypto/openssl: scrypt output length is 0");
		goto done;
	}
	n = 1ull << log2_n; /* log2_n <= 30 here */
	kctx = EVP_KDF_CTX_new(ci->scrypt);
	if (kctx == NULL) {
		ret = co_error_ossl(err, SB_ENOMEM,
				    "crypto/openssl: EVP_KDF_CTX_new(SCRYPT)");
		goto done;
	}
	*pp++ = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_PASSWORD,
		(void *)(password_len ? password : empty), password_len);
	*pp++ = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_SALT,
		(void *)(salt_len ? salt : (const uint8_t *)empty), salt_len);
	*pp++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*pp++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r32);
	*pp++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p32);
	/* OpenSSL's default maxmem (32 MiB) would refuse the larger of the
	 * legitimate parameter sets; allow exactly what these need. */
	*pp++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &mem);
	*pp = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
		ret = co_error_ossl(err, SB_ERR,
				    "crypto/openssl: scrypt log2(N)=%u r=%u "
				    "p=%u failed",
				    log2_n, r, p);
		goto done;
	}
	ret = SB_OK;
done:
	if (ret != SB_OK && out != NULL && out_len > 0)
		explicit_bzero(out, out_len);
	EVP_KDF_CTX_free(kctx); /* clears its copy of the password */
	return ret;
}
