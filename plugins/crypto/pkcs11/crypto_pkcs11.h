/*
 * Internal interface of the pkcs11 crypto plugin: the instance, and what
 * each source file offers the others. Only sb_plugin_entry is exported.
 *
 * p11_plugin.c  descriptor, settings, the PIN file, open and close
 * p11_token.c   the module (loaded once per process, counted), the token,
 *               the session and login, the sealing key and its checks
 * p11_seal.c    seal and unseal with CKM_AES_GCM in the token
 */
#ifndef CRYPTO_PKCS11_H
#define CRYPTO_PKCS11_H

#include "ossl_prims.h"
#include "seal_blob.h"

#include <pthread.h>

#include <p11-kit/pkcs11.h>

#define CP_WHO	     "crypto/pkcs11"
#define CP_PIN_MAX   256 /* longest PIN the pin_file holds */
#define CP_LABEL_MAX 32	 /* a token label is 32 bytes */

struct cp_module; /* one loaded PKCS#11 library, shared by instances */

struct cp_instance {
	struct co_algs algs; /* first: the shared primitives read only this */
	const struct sb_host *host;
	char *module_path; /* [crypto] module */
	char *token_label; /* [crypto] token_label */
	char *key_label;   /* [crypto] key_label */
	char *pin_file;	   /* [crypto] pin_file */
	struct cp_module *mod;
	CK_FUNCTION_LIST_PTR fl; /* mod's function list */
	CK_SESSION_HANDLE session;
	int have_session;
	CK_OBJECT_HANDLE key;
	uint8_t key_id[CO_BLOB_KEY_ID_LEN]; /* not secret: names the key in
					       blobs */
	/* A PKCS#11 session must not run two operations at once. */
	pthread_mutex_t lock;
};

/* Names a PKCS#11 return value ("CKR_PIN_INCORRECT"), or writes its hex
 * form into buf (32 bytes) and returns buf. */
const char *cp_rv_name(CK_RV rv, char buf[32]);

/* p11_plugin.c: reads [crypto] pin_file into *pin, CP_PIN_MAX + 1 bytes
 * of secure memory the caller releases with
 * ci->host->secure_free(*pin, CP_PIN_MAX + 1), and sets *pin_len. Returns
 * SB_OK, or SB_EINVAL/SB_ENOMEM with err naming the file (*pin NULL). */
int cp_pin_read(struct cp_instance *ci, char **pin, size_t *pin_len,
		struct sb_error *err);

/* p11_token.c: loads ci->module_path (or takes the already loaded one),
 * finds the token labelled ci->token_label, opens a session, logs in with
 * the PIN of pin_file (read, used and wiped) and finds and checks the key
 * labelled ci->key_label (an AES-256 secret key that is sensitive, not
 * extractable, and may encrypt and decrypt). Fills ci->mod, ci->fl,
 * ci->session, ci->key, ci->key_id. Returns SB_OK, or SB_EINVAL/SB_ERR
 * with err naming the setting and what is wrong. */
int cp_token_open(struct cp_instance *ci, struct sb_error *err);
/* Closes the session and drops the module reference (finalising and
 * unloading it with the last one). Safe on a partly opened instance. */
void cp_token_close(struct cp_instance *ci);
/* 1 when rv says the session is gone (token removed, device reset, HSM
 * restarted, logged out), so that a new session may succeed. */
int cp_session_lost(CK_RV rv);
/* Replaces a lost session: closes it, finds the token again (its slot may
 * have changed), opens a session, logs in with pin_file read anew and
 * finds the key. The caller holds ci->lock. Returns as cp_token_open. */
int cp_token_reopen(struct cp_instance *ci, struct sb_error *err);

/* p11_seal.c */
int cp_seal(void *inst, const uint8_t *pt, size_t pt_len, uint8_t **out,
	    size_t *out_len, struct sb_error *err);
int cp_unseal(void *inst, const uint8_t *in, size_t in_len, uint8_t **pt,
	      size_t *pt_len, struct sb_error *err);

#endif
