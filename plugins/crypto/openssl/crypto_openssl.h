/*
 * Internal interface of the openssl crypto plugin: the instance, and the
 * functions each source file offers the others. Nothing here is exported
 * from the shared object (only sb_plugin_entry is).
 */
#ifndef CRYPTO_OPENSSL_H
#define CRYPTO_OPENSSL_H

#include <secretbroker/plugin.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>

#define CO_KEK_LEN    32 /* the key file holds exactly this many bytes */
#define CO_KEY_ID_LEN 8	 /* bytes of key id in a sealed blob */
#define CO_SEAL_MAX   (1024 * 1024) /* largest plaintext seal() accepts */

/* Secret material of one instance, in host->secure_alloc memory. */
struct co_secrets {
	uint8_t kek[CO_KEK_LEN];	   /* the key file's content */
	uint8_t seal_key[SB_AEAD_KEY_LEN]; /* HKDF(kek, "secretbroker seal key")
					    */
};

struct co_instance {
	const struct sb_host *host;
	char *key_path;		       /* absolute or state_dir-relative path */
	struct co_secrets *secrets;    /* host->secure_alloc'ed */
	uint8_t key_id[CO_KEY_ID_LEN]; /* not secret: names the key in blobs */
	/* Fetched once at open; fetched algorithms are immutable and safe to
	 * share between threads, each call makes its own context. */
	EVP_CIPHER *gcm;
	EVP_KDF *hkdf;
	EVP_KDF *scrypt;
};

/* sb_error_set, appending ": <OpenSSL's reason>" and clearing OpenSSL's
 * per-thread error queue so a later call does not report a stale error. */
int co_error_ossl(struct sb_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* keyfile.c: checks the state directory and the key file at path (see
 * keyfile.c for the rules), creating it with random bytes on first start,
 * and reads it into kek. Returns SB_OK, or SB_EINVAL/SB_ERR with err naming
 * the path. */
int co_keyfile_load(struct co_instance *ci, const char *path,
		    uint8_t kek[CO_KEK_LEN], struct sb_error *err);

/* primitives.c: the ops of struct sb_crypto_ops, inst being a
 * struct co_instance. */
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

/* seal.c */
int co_seal(void *inst, const uint8_t *pt, size_t pt_len, uint8_t **out,
	    size_t *out_len, struct sb_error *err);
int co_unseal(void *inst, const uint8_t *in, size_t in_len, uint8_t **pt,
	      size_t *pt_len, struct sb_error *err);
/* Derives the seal key and the key id from secrets->kek. */
int co_seal_derive(struct co_instance *ci, struct sb_error *err);

#endif
