/* Test helpers for the crypto plugin: see crypto_fixture.h. */
#define _GNU_SOURCE
#include "crypto_fixture.h"

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/host.h"

const struct sb_crypto_ops *tf_load_crypto(struct sb_plugin *pl)
{
	char err[512];

	if (sb_plugin_load(SB_PLUGIN_BUILD_DIR, SB_PLUGIN_CRYPTO, "openssl", pl,
			   err, sizeof(err)) != 0)
		fail_msg("loading the openssl crypto plugin: %s", err);
	return sb_plugin_crypto(pl);
}

void tf_make_dir(char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(buf, len, "%s/sbcrypto.XXXXXX", tmp) >= len)
		fail_msg("temporary directory path too long");
	if (mkdtemp(buf) == NULL) /* mkdtemp makes it 0700 */
		fail_msg("mkdtemp %s: %s", buf, strerror(errno));
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "cleanup: remove %s: %s\n", path,
			strerror(errno));
	return 0;
}

void tf_remove_tree(const char *dir)
{
	if (dir == NULL || dir[0] == '\0')
		return;
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

int tf_node_open(const struct sb_crypto_ops *ops, struct tf_node *n,
		 const char *dir, const char *key_file, struct sb_error *err)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->dir, sizeof(n->dir), "%s", dir);
	n->host = sb_host_new("crypto", "openssl", dir, "test-node");
	n->cfg = sb_config_new("crypto");
	assert_non_null(n->host);
	assert_non_null(n->cfg);
	if (key_file != NULL)
		assert_int_equal(sb_config_set(n->cfg, "key_file", key_file),
				 0);
	memset(err, 0, sizeof(*err));
	return ops->open(n->host, n->cfg, &n->inst, err);
}

void tf_node_close(const struct sb_crypto_ops *ops, struct tf_node *n)
{
	if (n->inst != NULL)
		ops->close(n->inst);
	n->inst = NULL;
	sb_config_free(n->cfg);
	n->cfg = NULL;
	sb_host_free(n->host);
	n->host = NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

uint8_t *tf_hex(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	uint8_t *out;

	if (n % 2 != 0)
		fail_msg("odd-length hex string \"%s\"", hex);
	out = malloc(n / 2 + 1);
	assert_non_null(out);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			fail_msg("bad hex string \"%s\"", hex);
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return out;
}
