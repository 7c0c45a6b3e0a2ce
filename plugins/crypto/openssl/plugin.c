/*
 * The openssl crypto plugin: descriptor, open and close.
 *
 * [crypto] settings:
 *   key_file   the node's key-encryption key (32 random bytes, 0600).
 *              Default: <state_dir>/node.key; a relative path is taken
 *              relative to the state directory. Created on first start.
 */
#define _GNU_SOURCE
#include "crypto_openssl.h"

#include <openssl/err.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CO_DEFAULT_KEY_FILE "node.key"

/* Returns the malloc'ed path of the key file: key_file when absolute,
 * else state_dir/key_file. NULL with err set on failure. */
static char *key_path_resolve(const char *state_dir, const char *key_file,
			      struct sb_error *err)
{
	char *path = NULL;
	int n;

	if (key_file[0] == '/')
		n = asprintf(&path, "%s", key_file);
	else
		n = asprintf(&path, "%s/%s", state_dir, key_file);
	if (n < 0) {
		sb_error_set(err, SB_ENOMEM,
			     "[crypto] key_file: out of memory");
		return NULL;
	}
	if ((size_t)n >= PATH_MAX) {
		sb_error_set(err, SB_EINVAL,
			     "[crypto] key_file: path %s is too long", path);
		free(path);
		return NULL;
	}
	return path;
}

static void co_close(void *inst)
{
	struct co_instance *ci = inst;

	if (ci == NULL)
		return;
	/* secure_free wipes before unmapping. */
	ci->host->secure_free(ci->secrets, sizeof(*ci->secrets));
	ci->secrets = NULL;
	co_algs_free(&ci->algs);
	free(ci->key_path);
	free(ci);
}

static int co_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct co_instance *ci = NULL;
	const char *key_file;
	int ret = SB_ERR;

	*out = NULL;
	/* We use every member up to node_name; an older, shorter host table
	 * would have us read past its end. */
	if (host == NULL || host->size < offsetof(struct sb_host, node_name) +
						 sizeof(host->node_name)) {
		ret = sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: host services table too old");
		goto done;
	}
	if (host->state_dir == NULL || host->state_dir[0] == '\0') {
		ret = sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: no state directory configured");
		goto done;
	}
	ci = calloc(1, sizeof(*ci));
	if (ci == NULL) {
		ret = sb_error_set(err, SB_ENOMEM,
				   "crypto/openssl: out of memory");
		goto done;
	}
	ci->host = host;

	key_file = host->config_get(cfg, "key_file", CO_DEFAULT_KEY_FILE);
	if (key_file == NULL || key_file[0] == '\0')
		key_file = CO_DEFAULT_KEY_FILE;
	ci->key_path = key_path_resolve(host->state_dir, key_file, err);
	if (ci->key_path == NULL) {
		ret = SB_EINVAL;
		goto done;
	}

	ret = co_algs_fetch(&ci->algs, "crypto/openssl", err);
	if (ret != SB_OK)
		goto done;

	ci->secrets = host->secure_alloc(sizeof(*ci->secrets));
	if (ci->secrets == NULL) {
		ret = sb_error_set(
			err, SB_ENOMEM,
			"crypto/openssl: cannot allocate locked memory "
			"for the key (%s); check RLIMIT_MEMLOCK",
			strerror(errno));
		goto done;
	}
	ret = co_keyfile_load(ci, ci->key_path, ci->secrets->kek, err);
	if (ret != SB_OK)
		goto done;
	ret = co_seal_derive(ci, err);
	if (ret != SB_OK)
		goto done;

	*out = ci;
	ci = NULL;
	ret = SB_OK;
done:
	co_close(ci);
	return ret;
}

static const struct sb_crypto_ops co_ops = {
	.size = sizeof(struct sb_crypto_ops),
	.open = co_open,
	.close = co_close,
	.random = co_random,
	.aead_encrypt = co_aead_encrypt,
	.aead_decrypt = co_aead_decrypt,
	.kdf = co_kdf,
	.password_kdf = co_password_kdf,
	.seal = co_seal,
	.unseal = co_unseal,
};

/* Every setting this plugin reads from its section. */
static const char *const plugin_settings[] = {
	"key_file",
	NULL,
};

static const struct sb_plugin_descriptor co_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_CRYPTO,
	.name = "openssl",
	.version = "0.1.0",
	.description = "OpenSSL 3: AES-256-GCM, HKDF-SHA256, scrypt; seals "
		       "under a per-node key file",
	.ops = &co_ops,
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&co_descriptor)
