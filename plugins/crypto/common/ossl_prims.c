/*
 * Stateless primitives the crypto plugins share: random bytes,
 * AES-256-GCM, HKDF-SHA256 (RFC 5869) and scrypt (RFC 7914). Each call
 * makes its own OpenSSL context from the algorithms fetched at open, so
 * every function is safe from several threads at once.
 */
#define _GNU_SOURCE
#include "ossl_prims.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* scrypt needs 128 * r * (N + p + 2) bytes. A password KDF that asks for
 * more than this is refused rather than letting a caller (or a hostile
 * backup file upstream) make the daemon allocate without bound. */
#define CO_SCRYPT_MAX_MEM (1024ull * 1024 * 1024)

int co_error_ossl(struct sb_error *err, int status, const char *fmt, ...)
{
	char reason[256] = "unknown OpenSSL error";
	unsigned long e;
	size_t used;
	va_list ap;

	/* The first error queued is the root cause; later ones are context. */
	e = ERR_get_error();
	if (e != 0)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	if (err == NULL)
		return status;
	va_start(ap, fmt);
	sb_error_vset(err, status, fmt, ap);
	va_end(ap);
	used = strlen(err->msg);
	snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", reason);
	return status;
}

int co_algs_fetch(struct co_algs *a, const char *who, struct sb_error *err)
{
	a->who = who;
	/* NULL library context and properties: the default provider, or FIPS
	 * when the system's OpenSSL configuration selects it. */
	a->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	if (a->gcm == NULL)
		return co_error_ossl(err, SB_ERR, "%s: AES-256-GCM unavailable",
				     who);
	a->hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (a->hkdf == NULL)
		return co_error_ossl(err, SB_ERR, "%s: HKDF unavailable", who);
	a->scrypt = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
	if (a->scrypt == NULL)
		return co_error_ossl(err, SB_ERR, "%s: scrypt unavailable",
				     who);
	return SB_OK;
}

void co_algs_free(struct co_algs *a)
{
	EVP_CIPHER_free(a->gcm);
	EVP_KDF_free(a->hkdf);
	EVP_KDF_free(a->scrypt);
	a->gcm = NULL;
	a->hkdf = NULL;
	a->scrypt = NULL;
}

int co_random(void *inst, uint8_t *buf, size_t n, struct sb_error *err)
{
	const struct co_algs *ci = inst;

	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;

		if (RAND_bytes(buf, chunk) != 1)
			return co_error_ossl(err, SB_ERR,
					     "%s: RAND_bytes "
					     "failed",
					     ci->who);
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
	const struct co_algs *ci = inst;
	EVP_CIPHER_CTX *ctx = NULL;
	int outl, ret = SB_ERR;

	/* OpenSSL's update functions take int lengths. */
	if (aad_len > INT_MAX || pt_len > INT_MAX) {
		ret = sb_error_set(err, SB_EINVAL, "%s: AEAD input too large",
				   ci->who);
		goto done;
	}
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) {
		ret = co_error_ossl(err, SB_ENOMEM, "%s: EVP_CIPHER_CTX_new",
				    ci->who);
		goto done;
	}
	/* GCM's default IV length is 96 bits, the one length we take. */
	if (EVP_EncryptInit_ex2(ctx, ci->gcm, key, nonce, NULL) != 1) {
		ret = co_error_ossl(err, SB_ERR, "%s: AES-256-GCM init",
				    ci->who);
		goto done;
	}
	if (aad_len > 0 &&
	    EVP_EncryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1) {
		ret = co_error_ossl(err, SB_ERR, "%s: AES-256-GCM AAD",
				    ci->who);
		goto done;
	}
	outl = 0;
	if (pt_len > 0 &&
	    EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)pt_len) != 1) {
		ret = co_error_ossl(err, SB_ERR, "%s: AES-256-GCM encrypt",
				    ci->who);
		goto done;
	}
	/* GCM is a stream mode: Final writes nothing, but ct + outl stays
	 * inside the buffer either way. */
	if (EVP_EncryptFinal_ex(ctx, ct ? ct + outl : NULL, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SB_AEAD_TAG_LEN,
				tag) != 1) {
		ret = co_error_ossl(err, SB_ERR, "%s: AES-256-GCM final",
				    ci->who);
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
	const struct co_algs *ci = inst;
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t tag_copy[SB_AEAD_TAG_LEN];
	int outl, ret = SB_ERR;

	if (aad_len > INT_MAX || ct_len > INT_MAX) {
		ret = sb_error_set(err, SB_EINVAL, "%s: AEAD input too large",
				   ci->who);
		goto done;
	}
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL) {
		ret = co_error_ossl(err, SB_ENOMEM, "%s: EVP_CIPHER_CTX_new",
				    ci->who);
		goto done;
	}
	if (EVP_DecryptInit_ex2(ctx, ci->gcm, key, nonce, NULL) != 1) {
		ret = co_error_ossl(err, SB_ERR, "%s: AES-256-GCM init",
				    ci->who);
		goto done;
	}
	if (aad_len > 0 &&
	    EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1) {
		ret = co_error_ossl(err, SB_ERR, "%s: AES-256-GCM AAD",
				    ci->who);
		goto done;
	}
	outl = 0;
	if (ct_len > 0 &&
	    EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)ct_len) != 1) {
		ret = co_error_ossl(err, SB_ERR, "%s: AES-256-GCM decrypt",
				    ci->who);
		goto done;
	}
	/* The ctrl takes a non-const pointer; hand it a copy. */
	memcpy(tag_copy, tag, sizeof(tag_copy));
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SB_AEAD_TAG_LEN,
				tag_copy) != 1) {
		ret = co_error_ossl(err, SB_ERR, "%s: AES-256-GCM set tag",
				    ci->who);
		goto done;
	}
	if (EVP_DecryptFinal_ex(ctx, pt ? pt + outl : NULL, &outl) != 1) {
		ERR_clear_error();
		ret = sb_error_set(err, SB_EAUTH,
				   "%s: AES-256-GCM authentication "
				   "failed: ciphertext, tag, nonce, associated "
				   "data or key do not match",
				   ci->who);
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
	const struct co_algs *ci = inst;
	EVP_KDF_CTX *kctx = NULL;
	OSSL_PARAM params[5], *p = params;
	static const uint8_t empty[1];
	int ret = SB_ERR;

	/* RFC 5869: L <= 255 * HashLen. */
	if (out_len == 0 || out_len > 255 * 32) {
		ret = sb_error_set(err, SB_EINVAL,
				   "%s: HKDF-SHA256 output length %zu "
				   "is outside 1..8160",
				   ci->who, out_len);
		goto done;
	}
	kctx = EVP_KDF_CTX_new(ci->hkdf);
	if (kctx == NULL) {
		ret = co_error_ossl(err, SB_ENOMEM, "%s: EVP_KDF_CTX_new(HKDF)",
				    ci->who);
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
		ret = co_error_ossl(err, SB_ERR, "%s: HKDF-SHA256 failed",
				    ci->who);
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
	const struct co_algs *ci = inst;
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
		ret = sb_error_set(err, SB_EINVAL,
				   "%s: scrypt parameters log2(N)=%u "
				   "r=%u p=%u are not valid (RFC 7914)",
				   ci->who, log2_n, r, p);
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
		ret = sb_error_set(err, SB_EINVAL,
				   "%s: scrypt log2(N)=%u r=%u p=%u "
				   "needs more than the %llu MiB memory limit",
				   ci->who, log2_n, r, p,
				   CO_SCRYPT_MAX_MEM >> 20);
		goto done;
	}
	if (out_len == 0) {
		ret = sb_error_set(err, SB_EINVAL,
				   "%s: scrypt output length is 0", ci->who);
		goto done;
	}
	n = 1ull << log2_n; /* log2_n <= 30 here */
	kctx = EVP_KDF_CTX_new(ci->scrypt);
	if (kctx == NULL) {
		ret = co_error_ossl(err, SB_ENOMEM,
				    "%s: EVP_KDF_CTX_new(SCRYPT)", ci->who);
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
				    "%s: scrypt log2(N)=%u r=%u "
				    "p=%u failed",
				    ci->who, log2_n, r, p);
		goto done;
	}
	ret = SB_OK;
done:
	if (ret != SB_OK && out != NULL && out_len > 0)
		explicit_bzero(out, out_len);
	EVP_KDF_CTX_free(kctx); /* clears its copy of the password */
	return ret;
}
