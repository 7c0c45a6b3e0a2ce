/*
 * seal/unseal of the pkcs11 plugin: AES-256-GCM (CKM_AES_GCM) inside the
 * token, under the non-extractable key [crypto] key_label. The blob is
 * plugins/crypto/common/seal_blob.h's with magic "SBP11S" and key id the
 * first 8 bytes of SHA-256("secretbroker pkcs11 key id" NUL, token label
 * NUL, key label NUL); the header is the associated data.
 */
#define _GNU_SOURCE
#include "crypto_pkcs11.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One GCM operation in the token: encrypt (enc 1) in[0..in_len) into out
 * (ciphertext then tag) or decrypt it (in holds ciphertext then tag).
 * header is the blob's header: the nonce and the AAD. Returns the PKCS#11
 * result; *out_len is set on CKR_OK. The caller holds ci->lock. */
static CK_RV token_gcm_once(struct cp_instance *ci, int enc, uint8_t *header,
			    const uint8_t *in, size_t in_len, uint8_t *out,
			    CK_ULONG *out_len)
{
	CK_GCM_PARAMS gcm;
	CK_MECHANISM mech;
	CK_RV rv;

	/* A reopening that failed left no session: never use a stale
	 * handle, which the module may have given to another session. */
	if (!ci->have_session)
		return CKR_SESSION_HANDLE_INVALID;
	memset(&gcm, 0, sizeof(gcm));
	gcm.pIv = header + CO_BLOB_NONCE_OFF;
	gcm.ulIvLen = SB_AEAD_NONCE_LEN;
	gcm.ulIvBits = SB_AEAD_NONCE_LEN * 8;
	gcm.pAAD = header;
	gcm.ulAADLen = CO_BLOB_HEADER_LEN;
	gcm.ulTagBits = SB_AEAD_TAG_LEN * 8;
	mech.mechanism = CKM_AES_GCM;
	mech.pParameter = &gcm;
	mech.ulParameterLen = sizeof(gcm);
	if (enc) {
		rv = ci->fl->C_EncryptInit(ci->session, &mech, ci->key);
		if (rv == CKR_OK)
			rv = ci->fl->C_Encrypt(ci->session, (CK_BYTE_PTR)in,
					       in_len, out, out_len);
	} else {
		rv = ci->fl->C_DecryptInit(ci->session, &mech, ci->key);
		if (rv == CKR_OK)
			rv = ci->fl->C_Decrypt(ci->session, (CK_BYTE_PTR)in,
					       in_len, out, out_len);
	}
	return rv;
}

/* token_gcm_once under ci->lock; when the session turns out lost (the
 * token was removed and put back, the HSM restarted), opens a new one
 * (reading pin_file again) and tries once more. Returns the PKCS#11
 * result, or a failed reopening's status in *reopen_rc with err set
 * (SB_OK when there was none). */
static CK_RV token_gcm(struct cp_instance *ci, int enc, uint8_t *header,
		       const uint8_t *in, size_t in_len, uint8_t *out,
		       CK_ULONG *out_len, int *reopen_rc, struct sb_error *err)
{
	CK_ULONG room = *out_len;
	char rvbuf[32];
	CK_RV rv;

	*reopen_rc = SB_OK;
	pthread_mutex_lock(&ci->lock);
	rv = token_gcm_once(ci, enc, header, in, in_len, out, out_len);
	if (cp_session_lost(rv)) {
		ci->host->log(ci->host, SB_LOG_WARNING,
			      "the session on token '%s' is lost (%s): "
			      "opening a new one",
			      ci->token_label, cp_rv_name(rv, rvbuf));
		*reopen_rc = cp_token_reopen(ci, err);
		if (*reopen_rc == SB_OK) {
			*out_len = room;
			rv = token_gcm_once(ci, enc, header, in, in_len, out,
					    out_len);
			ci->host->log(ci->host, SB_LOG_INFO,
				      "new session on token '%s' opened; the "
				      "%s %s",
				      ci->token_label, enc ? "seal" : "unseal",
				      rv == CKR_OK ? "succeeded" : "failed");
		}
	}
	pthread_mutex_unlock(&ci->lock);
	return rv;
}

int cp_seal(void *inst, const uint8_t *pt, size_t pt_len, uint8_t **out,
	    size_t *out_len, struct sb_error *err)
{
	struct cp_instance *ci = inst;
	uint8_t *blob = NULL;
	size_t len = 0;
	CK_ULONG ct_len;
	char rvbuf[32];
	int reopen_rc, ret = SB_ERR;
	CK_RV rv;

	*out = NULL;
	*out_len = 0;
	ret = co_blob_new(CP_WHO, CO_MAGIC_PKCS11, ci->key_id, co_random, ci,
			  pt_len, &blob, &len, err);
	if (ret != SB_OK)
		goto done;
	ct_len = pt_len + SB_AEAD_TAG_LEN;
	rv = token_gcm(ci, 1, blob, pt, pt_len, blob + CO_BLOB_HEADER_LEN,
		       &ct_len, &reopen_rc, err);
	if (reopen_rc != SB_OK) {
		ret = reopen_rc;
		goto done;
	}
	if (rv != CKR_OK || ct_len != pt_len + SB_AEAD_TAG_LEN) {
		ret = sb_error_set(err, SB_ERR,
				   CP_WHO ": seal: CKM_AES_GCM with key '%s' "
					  "on token '%s' failed (%s)",
				   ci->key_label, ci->token_label,
				   cp_rv_name(rv, rvbuf));
		goto done;
	}
	*out = blob;
	*out_len = len;
	blob = NULL;
	ret = SB_OK;
done:
	free(blob); /* only ciphertext, or nothing, was ever written to it */
	return ret;
}

int cp_unseal(void *inst, const uint8_t *in, size_t in_len, uint8_t **pt,
	      size_t *pt_len, struct sb_error *err)
{
	struct cp_instance *ci = inst;
	char key_desc[128];
	uint8_t header[CO_BLOB_HEADER_LEN];
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	CK_ULONG got_len;
	char rvbuf[32];
	int reopen_rc, ret = SB_ERR;
	CK_RV rv;

	*pt = NULL;
	*pt_len = 0;
	snprintf(key_desc, sizeof(key_desc), "key '%s' on token '%s'",
		 ci->key_label, ci->token_label);
	ret = co_blob_check(CP_WHO, CO_MAGIC_PKCS11, in, in_len, ci->key_id,
			    key_desc, &plain_len, err);
	if (ret != SB_OK)
		goto done;
	/* A module may want room for the whole input before it knows the
	 * tag's length: give it that. */
	plain = ci->host->secure_alloc(plain_len + SB_AEAD_TAG_LEN);
	if (plain == NULL) {
		ret = sb_error_set(err, SB_ENOMEM,
				   CP_WHO ": unseal: cannot allocate locked "
					  "memory");
		goto done;
	}
	memcpy(header, in, CO_BLOB_HEADER_LEN);
	got_len = plain_len + SB_AEAD_TAG_LEN;
	rv = token_gcm(ci, 0, header, in + CO_BLOB_HEADER_LEN,
		       plain_len + SB_AEAD_TAG_LEN, plain, &got_len, &reopen_rc,
		       err);
	if (reopen_rc != SB_OK) {
		ret = reopen_rc;
		goto done;
	}
	if (rv != CKR_OK || got_len != plain_len) {
		/* A module reports a bad tag as it likes (SoftHSM:
		 * CKR_GENERAL_ERROR), so the code is only shown. */
		ret = sb_error_set(err, SB_EAUTH,
				   CP_WHO ": unseal: the sealed blob does not "
					  "decrypt under %s (%s): it is "
					  "damaged, or the key was replaced",
				   key_desc, cp_rv_name(rv, rvbuf));
		goto done;
	}
	/* Exactly plain_len bytes, as the caller frees *pt with
	 * secure_free(*pt, *pt_len). */
	*pt = ci->host->secure_alloc(plain_len);
	if (*pt == NULL) {
		ret = sb_error_set(err, SB_ENOMEM,
				   CP_WHO ": unseal: cannot allocate locked "
					  "memory");
		goto done;
	}
	memcpy(*pt, plain, plain_len);
	*pt_len = plain_len;
	ret = SB_OK;
done:
	if (plain != NULL)
		ci->host->secure_free(plain, plain_len + SB_AEAD_TAG_LEN);
	return ret;
}
