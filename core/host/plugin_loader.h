/*
 * Loads plugins with dlopen(RTLD_NOW) from a plugin directory and checks
 * their descriptor against this daemon's ABI.
 *
 * A plugin named NAME of kind KIND is the file
 *     PLUGIN_DIR/KIND_NAME.so      e.g. /usr/lib/secretbroker/storage_sqlite.so
 * where KIND is "storage", "crypto" or "fencing" and NAME is [a-z0-9_-]+.
 */
#ifndef SB_PLUGIN_LOADER_H
#define SB_PLUGIN_LOADER_H

#include <limits.h>
#include <secretbroker/plugin.h>
#include <stddef.h>

struct sb_plugin {
	void *dl;				 /* dlopen handle */
	const struct sb_plugin_descriptor *desc; /* from the entry function */
	char path[PATH_MAX];
};

/* "storage", "crypto", "fencing", or "unknown". */
const char *sb_plugin_kind_name(int kind);

/* Loads PLUGIN_DIR/KIND_NAME.so and checks it. On success fills *out and
 * returns 0. On failure returns -1 and writes one line into err naming the
 * file and the reason: missing file, not a shared object (dlerror's text),
 * no entry function, an entry returning NULL, a descriptor size or ABI major
 * different from the daemon's (both versions named), a kind other than the
 * one asked for, or an ops table that is too small. */
int sb_plugin_load(const char *plugin_dir, int kind, const char *name,
		   struct sb_plugin *out, char *err, size_t errlen);

/* Same, from an explicit path (tests, tools). */
int sb_plugin_load_path(const char *path, int kind, struct sb_plugin *out,
			char *err, size_t errlen);

/* The settings the plugin declares (ABI 1.1), or NULL when it declares
 * none (or was built against ABI 1.0). */
const char *const *sb_plugin_settings(const struct sb_plugin *p);

/* dlcloses the plugin. Its ops must no longer be in use. */
void sb_plugin_unload(struct sb_plugin *p);

/* Typed views of desc->ops, valid after a successful load of that kind. */
#define sb_plugin_storage(p) ((const struct sb_storage_ops *)(p)->desc->ops)
#define sb_plugin_crypto(p)  ((const struct sb_crypto_ops *)(p)->desc->ops)
#define sb_plugin_fencing(p) ((const struct sb_fencing_ops *)(p)->desc->ops)

#endif
