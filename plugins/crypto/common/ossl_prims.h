/*
 * What the crypto plugins share, built once as a static library
 * (sb_crypto_ossl) and linked into each: random bytes, AES-256-GCM,
 * HKDF-SHA256 and scrypt through OpenSSL 3. The openssl plugin and the
 * pkcs11 plugin encrypt records the same way; only where the sealing key
 * lives differs.
 *
 * The ops functions take the plugin's instance as void *inst; that
 * instance must begin with a struct co_algs (its first member), which is
 * all these functions read.
 */
#ifndef SB_CRYPTO_OSSL_PRIMS_H
#define SB_CRYPTO_OSSL_PRIMS_H

#include <secretbroker/plugin.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>

/* The algorithms an instance fetched at open, and the plugin's name for
 * messages ("crypto/openssl"). Fetched algorithms are immutable and safe to
 * share between threads; each call makes its own context. */
struct co_algs {
	const char *who; /* static string, the prefix of every message */
	EVP_CIPHER *gcm;
	EVP_KDF *hkdf;
	EVP_KDF *scrypt;
};

/* Fetches AES-256-GCM, HKDF and scrypt from the default library context
 * (or FIPS when the system's configuration selects it) into a. who must be
 * a static string. Returns SB_OK, or SB_ERR with err naming the missing
 * algorithm; a is then partly filled and co_algs_free releases it. */
int co_algs_fetch(struct co_algs *a, const char *who, struct sb_error *err);
/* Frees what co_algs_fetch fetched; a may be partly filled or zeroed. */
void co_algs_free(struct co_algs *a);

/* sb_error_set, appending ": <OpenSSL's reason>" and clearing OpenSSL's
 * per-thread error queue so a later call does not report a stale error. */
int co_error_ossl(struct sb_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The ops of struct sb_crypto_ops (see plugin.h), inst as above. */
int co_random(void *inst, uint8_t *buf, size_t n, struct sb_error *err);
int co_aead_encrypt(void *inst, const uint8_t key[SB_AEAD_KEY_LEN],
		    const uint8_t nonce[SB_AEAD_NONCE_LEN], const uint8_t *aad,
		    size_t aad_len, const uint8_t *pt, size_t pt_len,
		    uint8_t *ct, uint8_t tag[SB_AEAD_TAG_LEN],
		    struct sb_error *err);
int co_aead_decrypt(void *inst, const uint8_t key[SB_AEAD_KEY_LEN],
		    const uint8_t nonce[SB_AEAD_NONCE_LEN], const uint8_t *aad,
		    size_t aad_len, const uint8_t *ct, size_t ct_len,
		    const uint8_t tag[SB_AEAD_TAG_LEN], uint8_t *pt,
		    struct sb_error *err);
int co_kdf(void *inst, const uint8_t *ikm, size_t ikm_len, const uint8_t *salt,
	   size_t salt_len, const uint8_t *info, size_t info_len, uint8_t *out,
	   size_t out_len, struct sb_error *err);
int co_password_kdf(void *inst, const char *password, size_t password_len,
		    const uint8_t *salt, size_t salt_len, uint32_t log2_n,
		    uint32_t r, uint32_t p, uint8_t *out, size_t out_len,
		    struct sb_error *err);

#endif
