/*
 * The sealed blob both crypto plugins write, version 1 (integers
 * big-endian); only the magic, and where the key lives, differ:
 *
 *   offset  size  field
 *   0       6     magic: "SBSEAL" (openssl, a key file), "SBP11S" (pkcs11)
 *   6       2     version = 1
 *   8       8     key id: a one-way function naming the sealing key
 *   16      12    nonce (random)
 *   28      n     AES-256-GCM ciphertext of the n plaintext bytes
 *   28+n    16    GCM tag
 *
 * The 28-byte header is the associated data. The key id lets unseal tell
 * "sealed under another key" from "damaged".
 */
#ifndef SB_CRYPTO_SEAL_BLOB_H
#define SB_CRYPTO_SEAL_BLOB_H

#include <secretbroker/plugin.h>

#define CO_BLOB_MAGIC_LEN  6
#define CO_BLOB_KEY_ID_LEN 8
#define CO_BLOB_VERSION	   1
#define CO_BLOB_NONCE_OFF  16
#define CO_BLOB_HEADER_LEN                                                     \
	(CO_BLOB_MAGIC_LEN + 2 + CO_BLOB_KEY_ID_LEN + SB_AEAD_NONCE_LEN)
#define CO_BLOB_MIN_LEN (CO_BLOB_HEADER_LEN + SB_AEAD_TAG_LEN)
#define CO_SEAL_MAX	(1024 * 1024) /* largest plaintext seal() takes */

#define CO_MAGIC_OPENSSL "SBSEAL"
#define CO_MAGIC_PKCS11	 "SBP11S"

/* Checks pt_len against CO_SEAL_MAX and allocates (malloc) a blob of
 * CO_BLOB_MIN_LEN + pt_len bytes with its header written: magic (one of
 * the CO_MAGIC_*), version, key_id, and a nonce from random (the plugin's
 * random op on inst). Returns SB_OK with *blob and *len (the caller fills
 * the ciphertext and tag at CO_BLOB_HEADER_LEN and frees), or a status
 * with err prefixed by who. */
int co_blob_new(const char *who, const char *magic,
		const uint8_t key_id[CO_BLOB_KEY_ID_LEN],
		int (*random)(void *inst, uint8_t *buf, size_t n,
			      struct sb_error *err),
		void *inst, size_t pt_len, uint8_t **blob, size_t *len,
		struct sb_error *err);

/* Checks the header of in[0..in_len): magic (a blob of the other plugin
 * is named as such, so an operator who switched plugins is told to
 * restore a backup), length, version, and that the key id is key_id
 * (key_desc names this node's key in the message: "this node's key file
 * /x"). Returns SB_OK with *pt_len, the plaintext length; SB_EINVAL, or
 * SB_EAUTH for another key, with err prefixed by who. */
int co_blob_check(const char *who, const char *magic, const uint8_t *in,
		  size_t in_len, const uint8_t key_id[CO_BLOB_KEY_ID_LEN],
		  const char *key_desc, size_t *pt_len, struct sb_error *err);

#endif
