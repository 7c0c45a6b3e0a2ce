/*
 * A PKCS#11 module for e2e.pkcs11 that forwards everything to SoftHSM 2
 * and can lose a session on request: when the file named by
 * SB_TEST_P11_FAULT_FILE exists as C_EncryptInit or C_DecryptInit is
 * called, it removes the file and closes that session in SoftHSM first,
 * so the call fails with CKR_SESSION_HANDLE_INVALID, as when a token is
 * pulled out and put back or a network HSM restarts. Never installed.
 */
#define _GNU_SOURCE
#include <p11-kit/pkcs11.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#define REAL_MODULE "/usr/lib/softhsm/libsofthsm2.so"

static CK_FUNCTION_LIST_PTR real;
static CK_FUNCTION_LIST shim;

/* Loses session h when the fault file is there (once per file). */
static void maybe_lose(CK_SESSION_HANDLE h)
{
	const char *f = getenv("SB_TEST_P11_FAULT_FILE");

	if (f != NULL && unlink(f) == 0)
		real->C_CloseSession(h);
}

static CK_RV shim_encrypt_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
			       CK_OBJECT_HANDLE k)
{
	maybe_lose(h);
	return real->C_EncryptInit(h, m, k);
}

static CK_RV shim_decrypt_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m,
			       CK_OBJECT_HANDLE k)
{
	maybe_lose(h);
	return real->C_DecryptInit(h, m, k);
}

__attribute__((visibility("default"))) CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	CK_C_GetFunctionList get;
	void *dl;

	if (real == NULL) {
		/* Kept loaded for the life of the process. */
		dl = dlopen(REAL_MODULE, RTLD_NOW | RTLD_LOCAL);
		if (dl == NULL)
			return CKR_GENERAL_ERROR;
		*(void **)&get = dlsym(dl, "C_GetFunctionList");
		if (get == NULL || get(&real) != CKR_OK)
			return CKR_GENERAL_ERROR;
		shim = *real;
		shim.C_EncryptInit = shim_encrypt_init;
		shim.C_DecryptInit = shim_decrypt_init;
	}
	*out = &shim;
	return CKR_OK;
}
