/*
 * Internal interface of the openssl crypto plugin: the instance, and the
 * functions each source file offers the others. Nothing here is exported
 * from the shared object (only sb_plugin_entry is).
 */
#ifndef CRYPTO_OPENSSL_H
#define CRYPTO_OPENSSL_H

#include "ossl_prims.h"
#include "seal_blob.h"

#define CO_KEK_LEN 32 /* the key file holds exactly this many bytes */

/* Secret material of one instance, in host->secure_alloc memory. */
struct co_secrets {
	uint8_t kek[CO_KEK_LEN];	   /* the key file's content */
	uint8_t seal_key[SB_AEAD_KEY_LEN]; /* HKDF(kek, "secretbroker seal key")
					    */
};

struct co_instance {
	struct co_algs algs; /* first: the shared primitives read only this */
	const struct sb_host *host;
	char *key_path;		    /* absolute or state_dir-relative path */
	struct co_secrets *secrets; /* host->secure_alloc'ed */
	uint8_t key_id[CO_BLOB_KEY_ID_LEN]; /* not secret: names the key in
					       blobs */
};

/* keyfile.c: checks the state directory and the key file at path (see
 * keyfile.c for the rules), creating it with random bytes on first start,
 * and reads it into kek. Returns SB_OK, or SB_EINVAL/SB_ERR with err naming
 * the path. */
int co_keyfile_load(struct co_instance *ci, const char *path,
		    uint8_t kek[CO_KEK_LEN], struct sb_error *err);

/* seal.c */
int co_seal(void *inst, const uint8_t *pt, size_t pt_len, uint8_t **out,
	    size_t *out_len, struct sb_error *err);
int co_unseal(void *inst, const uint8_t *in, size_t in_len, uint8_t **pt,
	      size_t *pt_len, struct sb_error *err);
/* Derives the seal key and the key id from secrets->kek. */
int co_seal_derive(struct co_instance *ci, struct sb_error *err);

#endif
