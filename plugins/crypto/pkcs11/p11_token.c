/*
 * The PKCS#11 side of the pkcs11 crypto plugin: the module, the token, the
 * session and the sealing key.
 *
 * A PKCS#11 library is initialised once per process (C_Initialize) and its
 * login state is shared by every session of the process on a token. A
 * reload opens a new instance beside the running one, so modules are kept
 * in a process-wide list with a reference count: the second instance finds
 * the module loaded and the token logged in (CKR_USER_ALREADY_LOGGED_IN is
 * success), and C_Finalize and dlclose run only when the last instance
 * closes. Each instance has its own session; closing the last session on a
 * token logs the user out (PKCS#11 2.40, C_CloseSession).
 */
#define _GNU_SOURCE
#include "crypto_pkcs11.h"

#include <openssl/evp.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cp_module {
	struct cp_module *next;
	char *path;
	void *dl;
	CK_FUNCTION_LIST_PTR fl;
	int initialized_here; /* we called C_Initialize, so we finalise */
	int refs;
};

static pthread_mutex_t modules_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cp_module *modules;

static void module_free(struct cp_module *m)
{
	if (m == NULL)
		return;
	if (m->initialized_here)
		m->fl->C_Finalize(NULL);
	if (m->dl != NULL)
		dlclose(m->dl);
	free(m->path);
	free(m);
}

/* Returns the module at path with one more reference, loading and
 * initialising it on first use; NULL with err naming [crypto] module. */
static struct cp_module *module_get(const char *path, struct sb_error *err)
{
	CK_C_GetFunctionList get_list;
	CK_C_INITIALIZE_ARGS args;
	struct cp_module *m, *found = NULL;
	char rvbuf[32];
	const char *dle;
	CK_RV rv;

	pthread_mutex_lock(&modules_lock);
	for (m = modules; m != NULL; m = m->next) {
		if (strcmp(m->path, path) == 0) {
			m->refs++;
			found = m;
			goto done;
		}
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->path = strdup(path)) == NULL) {
		sb_error_set(err, SB_ENOMEM, CP_WHO ": out of memory");
		goto done;
	}
	m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (m->dl == NULL) {
		dle = dlerror();
		sb_error_set(err, SB_EINVAL,
			     "[crypto] module: cannot load the PKCS#11 "
			     "library %s: %s",
			     path, dle ? dle : "unknown error");
		goto done;
	}
	*(void **)&get_list = dlsym(m->dl, "C_GetFunctionList");
	if (get_list == NULL) {
		sb_error_set(err, SB_EINVAL,
			     "[crypto] module: %s is not a PKCS#11 library "
			     "(no C_GetFunctionList)",
			     path);
		goto done;
	}
	rv = get_list(&m->fl);
	if (rv != CKR_OK || m->fl == NULL) {
		sb_error_set(err, SB_EINVAL,
			     "[crypto] module: %s: C_GetFunctionList failed "
			     "(%s)",
			     path, cp_rv_name(rv, rvbuf));
		goto done;
	}
	/* The daemon calls from several threads: let the library use the
	 * system's locking. */
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->fl->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		sb_error_set(err, SB_EINVAL,
			     "[crypto] module: %s: C_Initialize failed (%s)",
			     path, cp_rv_name(rv, rvbuf));
		goto done;
	}
	m->initialized_here = rv == CKR_OK;
	m->refs = 1;
	m->next = modules;
	modules = m;
	found = m;
	m = NULL;
done:
	pthread_mutex_unlock(&modules_lock);
	if (found == NULL)
		module_free(m);
	return found;
}

/* Drops one reference; the last finalises and unloads the module. */
static void module_put(struct cp_module *m)
{
	struct cp_module **pp;

	if (m == NULL)
		return;
	pthread_mutex_lock(&modules_lock);
	if (--m->refs > 0) {
		m = NULL;
	} else {
		for (pp = &modules; *pp != NULL; pp = &(*pp)->next)
			if (*pp == m) {
				*pp = m->next;
				break;
			}
	}
	pthread_mutex_unlock(&modules_lock);
	module_free(m);
}

/* Copies a blank-padded PKCS#11 label of n bytes into a C string. */
static void label_str(const unsigned char *label, size_t n, char *out)
{
	while (n > 0 && (label[n - 1] == ' ' || label[n - 1] == '\0'))
		n--;
	memcpy(out, label, n);
	out[n] = '\0';
}

/* Finds the slot whose token is labelled ci->token_label. Returns SB_OK
 * with *slot, or SB_EINVAL naming the labels that are there. */
static int token_find(struct cp_instance *ci, CK_SLOT_ID *slot,
		      struct sb_error *err)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0;
	CK_TOKEN_INFO info;
	char label[CP_LABEL_MAX + 1], seen[256] = "", rvbuf[32];
	size_t used = 0;
	int matches = 0, ret = SB_EINVAL;
	CK_RV rv;

	rv = ci->fl->C_GetSlotList(CK_TRUE, NULL, &n);
	if (rv == CKR_OK && n > 0) {
		slots = calloc(n, sizeof(*slots));
		if (slots == NULL) {
			ret = sb_error_set(err, SB_ENOMEM,
					   CP_WHO ": out of memory");
			goto done;
		}
		rv = ci->fl->C_GetSlotList(CK_TRUE, slots, &n);
	}
	if (rv != CKR_OK) {
		ret = sb_error_set(err, SB_ERR,
				   "[crypto] token_label: listing the tokens "
				   "of %s failed (%s)",
				   ci->module_path, cp_rv_name(rv, rvbuf));
		goto done;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		if (ci->fl->C_GetTokenInfo(slots[i], &info) != CKR_OK)
			continue;
		label_str(info.label, sizeof(info.label), label);
		if (strcmp(label, ci->token_label) == 0) {
			*slot = slots[i];
			matches++;
		}
		if (used < sizeof(seen))
			used += (size_t)snprintf(seen + used,
						 sizeof(seen) - used, "%s'%s'",
						 used ? ", " : "", label);
	}
	if (matches == 0) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] token_label: no token labelled "
				   "'%s' in %s (tokens present: %s)",
				   ci->token_label, ci->module_path,
				   used ? seen : "none");
		goto done;
	}
	if (matches > 1) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] token_label: %d tokens are "
				   "labelled '%s' in %s; labels must be unique",
				   matches, ci->token_label, ci->module_path);
		goto done;
	}
	ret = SB_OK;
done:
	free(slots);
	return ret;
}

/* Logs the session in as the user. */
static int token_login(struct cp_instance *ci, const char *pin, size_t pin_len,
		       struct sb_error *err)
{
	char rvbuf[32];
	CK_RV rv;

	rv = ci->fl->C_Login(ci->session, CKU_USER,
			     (CK_UTF8CHAR_PTR)(uintptr_t)pin, pin_len);
	if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN)
		return SB_OK;
	if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LEN_RANGE)
		return sb_error_set(err, SB_EINVAL,
				    "[crypto] pin_file: the PIN in %s was "
				    "refused by token '%s' (%s)",
				    ci->pin_file, ci->token_label,
				    cp_rv_name(rv, rvbuf));
	if (rv == CKR_PIN_LOCKED)
		return sb_error_set(err, SB_EINVAL,
				    "[crypto] token_label: the user PIN of "
				    "token '%s' is locked (CKR_PIN_LOCKED); "
				    "the token's security officer must "
				    "reset it",
				    ci->token_label);
	return sb_error_set(err, SB_ERR,
			    "[crypto] token_label: login to token '%s' "
			    "failed (%s)",
			    ci->token_label, cp_rv_name(rv, rvbuf));
}

/* Reads one CK_BBOOL attribute of the key into *out. */
static int key_bool(struct cp_instance *ci, CK_ATTRIBUTE_TYPE type,
		    CK_BBOOL *out)
{
	CK_ATTRIBUTE a = {type, out, sizeof(*out)};

	*out = CK_FALSE;
	return ci->fl->C_GetAttributeValue(ci->session, ci->key, &a, 1) ==
			       CKR_OK
		       ? 0
		       : -1;
}

/* Finds the one secret key labelled ci->key_label and checks it is fit to
 * seal with: AES, 32 bytes, sensitive, never extractable, encrypt and
 * decrypt allowed. Sets ci->key and ci->key_id. */
static int key_find(struct cp_instance *ci, struct sb_error *err)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{CKA_CLASS, &cls, sizeof(cls)},
		{CKA_LABEL, ci->key_label, strlen(ci->key_label)},
	};
	CK_OBJECT_HANDLE found[2];
	CK_ULONG n = 0, value_len = 0;
	CK_KEY_TYPE type = 0;
	CK_BBOOL extractable, sensitive, enc, dec;
	CK_ATTRIBUTE a;
	char rvbuf[32];
	uint8_t digest[32];
	unsigned int dlen = 0;
	EVP_MD_CTX *md = NULL;
	const char *where = ci->token_label;
	int ret = SB_EINVAL;
	CK_RV rv;

	rv = ci->fl->C_FindObjectsInit(ci->session, tmpl, 2);
	if (rv == CKR_OK) {
		rv = ci->fl->C_FindObjects(ci->session, found, 2, &n);
		ci->fl->C_FindObjectsFinal(ci->session);
	}
	if (rv != CKR_OK) {
		ret = sb_error_set(err, SB_ERR,
				   "[crypto] key_label: searching token '%s' "
				   "failed (%s)",
				   where, cp_rv_name(rv, rvbuf));
		goto done;
	}
	if (n == 0) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] key_label: no secret key labelled "
				   "'%s' on token '%s'",
				   ci->key_label, where);
		goto done;
	}
	if (n > 1) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] key_label: more than one secret "
				   "key is labelled '%s' on token '%s'; the "
				   "label must name one key",
				   ci->key_label, where);
		goto done;
	}
	ci->key = found[0];
	a = (CK_ATTRIBUTE){CKA_KEY_TYPE, &type, sizeof(type)};
	if (ci->fl->C_GetAttributeValue(ci->session, ci->key, &a, 1) !=
		    CKR_OK ||
	    type != CKK_AES) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] key_label: key '%s' on token '%s' "
				   "is not an AES key",
				   ci->key_label, where);
		goto done;
	}
	a = (CK_ATTRIBUTE){CKA_VALUE_LEN, &value_len, sizeof(value_len)};
	if (ci->fl->C_GetAttributeValue(ci->session, ci->key, &a, 1) !=
		    CKR_OK ||
	    value_len != 32) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] key_label: key '%s' on token '%s' "
				   "is not a 256-bit AES key (%lu bytes)",
				   ci->key_label, where,
				   (unsigned long)value_len);
		goto done;
	}
	if (key_bool(ci, CKA_EXTRACTABLE, &extractable) != 0 ||
	    extractable != CK_FALSE) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] key_label: key '%s' on token '%s' "
				   "is extractable (CKA_EXTRACTABLE is true); "
				   "the sealing key must never leave the "
				   "token: generate one with CKA_EXTRACTABLE "
				   "false",
				   ci->key_label, where);
		goto done;
	}
	if (key_bool(ci, CKA_SENSITIVE, &sensitive) != 0 ||
	    sensitive != CK_TRUE) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] key_label: key '%s' on token '%s' "
				   "is not sensitive (CKA_SENSITIVE is false): "
				   "its value can be read from the token",
				   ci->key_label, where);
		goto done;
	}
	if (key_bool(ci, CKA_ENCRYPT, &enc) != 0 || enc != CK_TRUE ||
	    key_bool(ci, CKA_DECRYPT, &dec) != 0 || dec != CK_TRUE) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] key_label: key '%s' on token '%s' "
				   "may not both encrypt and decrypt "
				   "(CKA_ENCRYPT, CKA_DECRYPT)",
				   ci->key_label, where);
		goto done;
	}
	/* The key id names the key in sealed blobs without saying anything
	 * about it: SHA-256 of the token and key labels, so unseal tells
	 * "sealed under another key" from "damaged". */
	md = EVP_MD_CTX_new();
	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, "secretbroker pkcs11 key id", 27) != 1 ||
	    EVP_DigestUpdate(md, ci->token_label,
			     strlen(ci->token_label) + 1) != 1 ||
	    EVP_DigestUpdate(md, ci->key_label, strlen(ci->key_label) + 1) !=
		    1 ||
	    EVP_DigestFinal_ex(md, digest, &dlen) != 1) {
		ret = co_error_ossl(err, SB_ERR, CP_WHO ": SHA-256");
		goto done;
	}
	memcpy(ci->key_id, digest, sizeof(ci->key_id));
	ret = SB_OK;
done:
	EVP_MD_CTX_free(md);
	return ret;
}

/* Finds the token, opens a session, logs in with pin and finds the key
 * (see cp_token_open). */
static int session_open(struct cp_instance *ci, const char *pin, size_t pin_len,
			struct sb_error *err)
{
	CK_SLOT_ID slot = 0;
	char rvbuf[32];
	int ret = SB_ERR;
	CK_RV rv;

	ret = token_find(ci, &slot, err);
	if (ret != SB_OK)
		goto done;
	rv = ci->fl->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL,
				   &ci->session);
	if (rv != CKR_OK) {
		ret = sb_error_set(err, SB_ERR,
				   "[crypto] token_label: cannot open a "
				   "session on token '%s' (%s)",
				   ci->token_label, cp_rv_name(rv, rvbuf));
		goto done;
	}
	ci->have_session = 1;
	ret = token_login(ci, pin, pin_len, err);
	if (ret != SB_OK)
		goto done;
	ret = key_find(ci, err);
done:
	return ret;
}

/* Closes the instance's session, if it has one. */
static void session_close(struct cp_instance *ci)
{
	if (ci->have_session)
		ci->fl->C_CloseSession(ci->session);
	/* The module may give the handle to another session later. */
	ci->session = CK_INVALID_HANDLE;
	ci->have_session = 0;
}

/* Reads the PIN and opens the session with it. */
static int session_open_with_pin(struct cp_instance *ci, struct sb_error *err)
{
	char *pin = NULL;
	size_t pin_len = 0;
	int ret;

	ret = cp_pin_read(ci, &pin, &pin_len, err);
	if (ret != SB_OK)
		return ret;
	ret = session_open(ci, pin, pin_len, err);
	ci->host->secure_free(pin, CP_PIN_MAX + 1);
	return ret;
}

int cp_token_open(struct cp_instance *ci, struct sb_error *err)
{
	ci->mod = module_get(ci->module_path, err);
	if (ci->mod == NULL)
		return SB_EINVAL;
	ci->fl = ci->mod->fl;
	return session_open_with_pin(ci, err);
}

int cp_session_lost(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_DEVICE_REMOVED:
	case CKR_DEVICE_ERROR:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID: return 1;
	default: return 0;
	}
}

int cp_token_reopen(struct cp_instance *ci, struct sb_error *err)
{
	session_close(ci);
	return session_open_with_pin(ci, err);
}

void cp_token_close(struct cp_instance *ci)
{
	if (ci->fl != NULL)
		session_close(ci);
	module_put(ci->mod);
	ci->mod = NULL;
	ci->fl = NULL;
}
