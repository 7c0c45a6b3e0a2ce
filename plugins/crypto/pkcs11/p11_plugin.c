/*
 * The pkcs11 crypto plugin: descriptor, settings, the PIN file, open and
 * close.
 *
 * [crypto] settings (all required):
 *   module       absolute path of the PKCS#11 library
 *                (SoftHSM 2: /usr/lib/softhsm/libsofthsm2.so)
 *   token_label  the token's label
 *   key_label    the label (CKA_LABEL) of the AES-256 sealing key, which
 *                must be sensitive and not extractable
 *   pin_file     a file holding the user PIN (one line), a regular file
 *                owned by the daemon's user with no access for group or
 *                others (0600 or 0400). The PIN is never read from the
 *                configuration or the environment.
 *
 * Only the sealing of the master secret at rest happens in the token;
 * random bytes, the record AEAD and the KDFs are the shared OpenSSL
 * primitives (plugins/crypto/common), the same code as the openssl plugin.
 */
#define _GNU_SOURCE
#include "crypto_pkcs11.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cp_rv_name(CK_RV rv, char buf[32])
{
	static const struct {
		CK_RV rv;
		const char *name;
	} names[] = {
		{CKR_OK, "CKR_OK"},
		{CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR"},
		{CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD"},
		{CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR"},
		{CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED"},
		{CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID"},
		{CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED"},
		{CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID"},
		{CKR_KEY_FUNCTION_NOT_PERMITTED,
		 "CKR_KEY_FUNCTION_NOT_PERMITTED"},
		{CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID"},
		{CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID"},
		{CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT"},
		{CKR_PIN_LOCKED, "CKR_PIN_LOCKED"},
		{CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED"},
		{CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED"},
		{CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID"},
		{CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT"},
		{CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED"},
		{CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN"},
		{CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED"},
		{CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	snprintf(buf, 32, "CKR 0x%lx", (unsigned long)rv);
	return buf;
}

/* Reads the PIN from path into pin (CP_PIN_MAX + 1 bytes), without its
 * line end, and sets *pin_len. The file must be a regular file (not a
 * symbolic link) owned by the effective uid and grant nothing to group or
 * others; all checks are made on the open descriptor. Returns SB_OK, or
 * SB_EINVAL with err naming the file; the PIN is never in a message. */
static int pin_file_read(const char *path, char *pin, size_t *pin_len,
			 struct sb_error *err)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd = -1, ret = SB_EINVAL;

	*pin_len = 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] pin_file: cannot open %s: %s",
				   path,
				   errno == ELOOP ? "it is a symbolic link"
						  : strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] pin_file: %s is not a regular "
				   "file",
				   path);
		goto done;
	}
	if (st.st_uid != geteuid()) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] pin_file: %s is owned by uid %u, "
				   "not by the daemon's user (uid %u)",
				   path, (unsigned)st.st_uid,
				   (unsigned)geteuid());
		goto done;
	}
	if ((st.st_mode & 077) != 0) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] pin_file: %s has mode %04o, which "
				   "grants access to group or others; it must "
				   "be 0600 or 0400 (chmod 600 %s)",
				   path, (unsigned)(st.st_mode & 07777), path);
		goto done;
	}
	/* One byte more than the longest PIN tells "too long" apart. */
	while (len < CP_PIN_MAX + 1) {
		n = read(fd, pin + len, CP_PIN_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = sb_error_set(err, SB_EINVAL,
					   "[crypto] pin_file: reading %s: %s",
					   path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > 0 && pin[len - 1] == '\n')
		len--;
	if (len > 0 && pin[len - 1] == '\r')
		len--;
	if (len > CP_PIN_MAX) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] pin_file: %s holds more than %d "
				   "bytes; it must hold the PIN alone",
				   path, CP_PIN_MAX);
		goto done;
	}
	if (len == 0 || memchr(pin, '\n', len) != NULL) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] pin_file: %s must hold the PIN on "
				   "one line (it is %s)",
				   path, len == 0 ? "empty" : "several lines");
		goto done;
	}
	pin[len] = '\0';
	*pin_len = len;
	ret = SB_OK;
done:
	if (ret != SB_OK)
		explicit_bzero(pin, CP_PIN_MAX + 1);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* Copies the required string setting key into *out (malloc'ed). Returns
 * SB_OK, or SB_EINVAL naming the missing key, SB_ENOMEM. */
static int setting_string(const struct sb_host *host,
			  const struct sb_config *cfg, const char *key,
			  const char *what, char **out, struct sb_error *err)
{
	const char *v = host->config_get(cfg, key, NULL);

	if (v == NULL || v[0] == '\0')
		return sb_error_set(err, SB_EINVAL,
				    "[crypto] %s: missing; the pkcs11 plugin "
				    "needs %s",
				    key, what);
	*out = strdup(v);
	if (*out == NULL)
		return sb_error_set(err, SB_ENOMEM, CP_WHO ": out of memory");
	return SB_OK;
}

static void cp_close(void *inst)
{
	struct cp_instance *ci = inst;

	if (ci == NULL)
		return;
	cp_token_close(ci);
	co_algs_free(&ci->algs);
	pthread_mutex_destroy(&ci->lock);
	free(ci->module_path);
	free(ci->token_label);
	free(ci->key_label);
	free(ci->pin_file);
	free(ci);
}

static int cp_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct cp_instance *ci = NULL;
	int ret = SB_ERR;

	*out = NULL;
	if (host == NULL || host->size < offsetof(struct sb_host, node_name) +
						 sizeof(host->node_name)) {
		ret = sb_error_set(err, SB_EINVAL,
				   CP_WHO ": host services table too old");
		goto done;
	}
	ci = calloc(1, sizeof(*ci));
	if (ci == NULL) {
		ret = sb_error_set(err, SB_ENOMEM, CP_WHO ": out of memory");
		goto done;
	}
	ci->host = host;
	pthread_mutex_init(&ci->lock, NULL);
	if ((ret = setting_string(host, cfg, "module",
				  "the path of the PKCS#11 library",
				  &ci->module_path, err)) != SB_OK ||
	    (ret = setting_string(host, cfg, "token_label",
				  "the label of the token", &ci->token_label,
				  err)) != SB_OK ||
	    (ret = setting_string(host, cfg, "key_label",
				  "the label of the AES sealing key",
				  &ci->key_label, err)) != SB_OK ||
	    (ret = setting_string(host, cfg, "pin_file",
				  "a 0600 file holding the user PIN",
				  &ci->pin_file, err)) != SB_OK)
		goto done;
	if (ci->module_path[0] != '/') {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] module: %s is not an absolute "
				   "path",
				   ci->module_path);
		goto done;
	}
	if (strlen(ci->token_label) > CP_LABEL_MAX) {
		ret = sb_error_set(err, SB_EINVAL,
				   "[crypto] token_label: '%s' is longer than "
				   "the %d bytes of a token label",
				   ci->token_label, CP_LABEL_MAX);
		goto done;
	}
	ret = co_algs_fetch(&ci->algs, CP_WHO, err);
	if (ret != SB_OK)
		goto done;

	ret = cp_token_open(ci, err);
	if (ret != SB_OK)
		goto done;

	*out = ci;
	ci = NULL;
	ret = SB_OK;
done:
	cp_close(ci);
	return ret;
}

static const struct sb_crypto_ops cp_ops = {
	.size = sizeof(struct sb_crypto_ops),
	.open = cp_open,
	.close = cp_close,
	.random = co_random,
	.aead_encrypt = co_aead_encrypt,
	.aead_decrypt = co_aead_decrypt,
	.kdf = co_kdf,
	.password_kdf = co_password_kdf,
	.seal = cp_seal,
	.unseal = cp_unseal,
};

int cp_pin_read(struct cp_instance *ci, char **pin, size_t *pin_len,
		struct sb_error *err)
{
	int ret;

	*pin_len = 0;
	*pin = ci->host->secure_alloc(CP_PIN_MAX + 1);
	if (*pin == NULL)
		return sb_error_set(err, SB_ENOMEM,
				    CP_WHO ": cannot allocate locked memory "
					   "for the PIN (%s); check "
					   "RLIMIT_MEMLOCK",
				    strerror(errno));
	ret = pin_file_read(ci->pin_file, *pin, pin_len, err);
	if (ret != SB_OK) {
		ci->host->secure_free(*pin, CP_PIN_MAX + 1);
		*pin = NULL;
	}
	return ret;
}

static const char *const plugin_settings[] = {
	"module", "token_label", "key_label", "pin_file", NULL,
};

static const struct sb_plugin_descriptor cp_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_CRYPTO,
	.name = "pkcs11",
	.version = "0.1.0",
	.description = "seals the master secret with a non-extractable AES key "
		       "in a PKCS#11 token (CKM_AES_GCM); records with OpenSSL "
		       "AES-256-GCM",
	.ops = &cp_ops,
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&cp_descriptor)
