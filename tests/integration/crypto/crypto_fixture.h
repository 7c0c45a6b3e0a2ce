/*
 * Test helpers shared by tests/crypto and tests/backup: load the openssl
 * crypto plugin through the daemon's loader (sb_plugin_load from the build
 * tree's plugin directory), open instances ("nodes") on private temporary
 * state directories, and remove them afterwards.
 */
#ifndef SB_TEST_CRYPTO_FIXTURE_H
#define SB_TEST_CRYPTO_FIXTURE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "host/plugin_loader.h"

/* One crypto plugin instance with its own host table, config and state
 * directory. */
struct tf_node {
	struct sb_host *host;
	struct sb_config *cfg;
	void *inst;
	char dir[PATH_MAX]; /* the state directory */
};

/* Loads crypto_openssl.so from SB_PLUGIN_BUILD_DIR; fails the running
 * cmocka test (with the loader's message) if it cannot. */
const struct sb_crypto_ops *tf_load_crypto(struct sb_plugin *pl);

/* Makes a fresh 0700 directory under $TMPDIR (or /tmp) into buf. Fails the
 * test on error. */
void tf_make_dir(char *buf, size_t len);

/* Removes dir and everything under it. */
void tf_remove_tree(const char *dir);

/* Opens an instance with state directory dir and, when key_file is not
 * NULL, [crypto] key_file = key_file. Returns the plugin's status; on
 * failure n->inst is NULL and err says why. n->host and n->cfg stay
 * allocated either way; tf_node_close frees them. */
int tf_node_open(const struct sb_crypto_ops *ops, struct tf_node *n,
		 const char *dir, const char *key_file, struct sb_error *err);
void tf_node_close(const struct sb_crypto_ops *ops, struct tf_node *n);

/* Decodes a hex string into a malloc'ed buffer (1 byte for ""), setting
 * *len. Fails the test on bad input. */
uint8_t *tf_hex(const char *hex, size_t *len);

#endif
