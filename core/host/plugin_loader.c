/* Plugin loader: see plugin_loader.h. */
#define _GNU_SOURCE
#include "host/plugin_loader.h"

#include "runtime/trusted_path.h"

#include <dlfcn.h>
#include <libgen.h>
#include <stddef.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

const char *sb_plugin_kind_name(int kind)
{
	switch (kind) {
	case SB_PLUGIN_STORAGE: return "storage";
	case SB_PLUGIN_CRYPTO: return "crypto";
	case SB_PLUGIN_FENCING: return "fencing";
	default: return "unknown";
	}
}

static int valid_plugin_name(const char *name)
{
	if (name == NULL || *name == '\0' || strlen(name) > 64)
		return 0;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		      *c == '_' || *c == '-'))
			return 0;
	return 1;
}

/* The smallest ops table each kind must provide: every member up to and
 * including the last one of ABI 1.0 (not today's sizeof, so that appending
 * a member does not refuse every plugin built before it). */
static size_t min_ops_size(int kind)
{
	switch (kind) {
	case SB_PLUGIN_STORAGE: return SB_STORAGE_OPS_SIZE_1_0;
	case SB_PLUGIN_CRYPTO: return SB_CRYPTO_OPS_SIZE_1_0;
	case SB_PLUGIN_FENCING: return SB_FENCING_OPS_SIZE_1_0;
	default: return 0;
	}
}

/* One member the daemon calls without checking it for NULL. */
struct required_op {
	const char *name;
	size_t offset;
};

#define REQUIRED(type, member)                                                 \
	{                                                                      \
#member, offsetof(type, member)                                \
	}

static const struct required_op storage_required[] = {
	REQUIRED(struct sb_storage_ops, open),
	REQUIRED(struct sb_storage_ops, close),
	REQUIRED(struct sb_storage_ops, get),
	REQUIRED(struct sb_storage_ops, scan),
	REQUIRED(struct sb_storage_ops, batch_apply),
	{NULL, 0},
};

static const struct required_op crypto_required[] = {
	REQUIRED(struct sb_crypto_ops, open),
	REQUIRED(struct sb_crypto_ops, close),
	REQUIRED(struct sb_crypto_ops, random),
	REQUIRED(struct sb_crypto_ops, aead_encrypt),
	REQUIRED(struct sb_crypto_ops, aead_decrypt),
	REQUIRED(struct sb_crypto_ops, kdf),
	REQUIRED(struct sb_crypto_ops, password_kdf),
	REQUIRED(struct sb_crypto_ops, seal),
	REQUIRED(struct sb_crypto_ops, unseal),
	{NULL, 0},
};

static const struct required_op fencing_required[] = {
	REQUIRED(struct sb_fencing_ops, open),
	REQUIRED(struct sb_fencing_ops, close),
	REQUIRED(struct sb_fencing_ops, start),
	REQUIRED(struct sb_fencing_ops, stop),
	{NULL, 0},
};

/* Returns the name of the first required member of kind that ops leaves
 * NULL, or NULL when all are set. ops is at least min_ops_size(kind)
 * bytes, and every required member is a 1.0 member. */
static const char *missing_required_op(int kind, const void *ops)
{
	const struct required_op *req =
		kind == SB_PLUGIN_STORAGE  ? storage_required
		: kind == SB_PLUGIN_CRYPTO ? crypto_required
					   : fencing_required;

	for (; req->name; req++) {
		void (*fn)(void);

		memcpy(&fn, (const char *)ops + req->offset, sizeof(fn));
		if (fn == NULL)
			return req->name;
	}
	return NULL;
}

int sb_plugin_load(const char *plugin_dir, int kind, const char *name,
		   struct sb_plugin *out, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (!valid_plugin_name(name)) {
		snprintf(err, errlen,
			 "%s plugin name \"%s\" is not valid (letters a-z, "
			 "digits, '_' and '-')",
			 sb_plugin_kind_name(kind), name ? name : "");
		return -1;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/%s_%s.so", plugin_dir,
			     sb_plugin_kind_name(kind), name) >= sizeof(path)) {
		snprintf(err, errlen, "plugin path for %s is too long", name);
		return -1;
	}
	return sb_plugin_load_path(path, kind, out, err, errlen);
}

/* Refuses to run code from a place others can change: the directory path
 * is in (the plugin directory) and the file, each with the directories
 * above them (sb_path_check_trusted). Returns 0 or -1 with err. */
static int plugin_path_trusted(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	if (sb_path_check_trusted(dirname(dir), "plugin directory", err,
				  errlen) != 0)
		return -1;
	return sb_path_check_trusted(path, "plugin file", err, errlen);
}

int sb_plugin_load_path(const char *path, int kind, struct sb_plugin *out,
			char *err, size_t errlen)
{
	const struct sb_plugin_descriptor *(*entry)(void);
	const struct sb_plugin_descriptor *desc;
	const char *missing;
	struct stat st;
	void *dl = NULL;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "plugin %s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "plugin %s: not a regular file", path);
		goto done;
	}
	if (plugin_path_trusted(path, err, errlen) != 0)
		goto done;
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		snprintf(err, errlen,
			 "plugin %s: not a loadable shared object: %s", path,
			 dlerror());
		goto done;
	}
	*(void **)&entry = dlsym(dl, SB_PLUGIN_ENTRY_SYMBOL);
	if (entry == NULL) {
		snprintf(err, errlen,
			 "plugin %s: no entry function %s() (not a "
			 "secretbroker plugin?)",
			 path, SB_PLUGIN_ENTRY_SYMBOL);
		goto done;
	}
	desc = entry();
	if (desc == NULL) {
		snprintf(err, errlen, "plugin %s: %s() returned NULL", path,
			 SB_PLUGIN_ENTRY_SYMBOL);
		goto done;
	}
	/* Check the ABI major before trusting any other field's layout. */
	if (desc->abi_major != SB_PLUGIN_ABI_MAJOR) {
		snprintf(err, errlen,
			 "plugin %s: incompatible library: plugin ABI %u.%u, "
			 "daemon ABI %u.%u",
			 path, desc->abi_major, desc->abi_minor,
			 SB_PLUGIN_ABI_MAJOR, SB_PLUGIN_ABI_MINOR);
		goto done;
	}
	/* Members appended after ABI 1.0 are read only when desc->size
	 * covers them (sb_plugin_settings). */
	if (desc->size < offsetof(struct sb_plugin_descriptor, settings)) {
		snprintf(err, errlen,
			 "plugin %s: descriptor is %u bytes, daemon ABI %u.%u "
			 "needs %zu",
			 path, desc->size, SB_PLUGIN_ABI_MAJOR,
			 SB_PLUGIN_ABI_MINOR,
			 offsetof(struct sb_plugin_descriptor, settings));
		goto done;
	}
	if (desc->kind != (uint32_t)kind) {
		snprintf(err, errlen,
			 "plugin %s: is a %s plugin, not a %s plugin", path,
			 sb_plugin_kind_name((int)desc->kind),
			 sb_plugin_kind_name(kind));
		goto done;
	}
	if (desc->name == NULL || desc->version == NULL || desc->ops == NULL) {
		snprintf(err, errlen,
			 "plugin %s: descriptor lacks name, version or ops",
			 path);
		goto done;
	}
	/* Every ops table starts with its size. */
	if (*(const uint32_t *)desc->ops < min_ops_size(kind)) {
		snprintf(err, errlen,
			 "plugin %s: %s ops table is %u bytes, daemon ABI "
			 "%u.%u needs %zu",
			 path, sb_plugin_kind_name(kind),
			 *(const uint32_t *)desc->ops, SB_PLUGIN_ABI_MAJOR,
			 SB_PLUGIN_ABI_MINOR, min_ops_size(kind));
		goto done;
	}
	missing = missing_required_op(kind, desc->ops);
	if (missing != NULL) {
		snprintf(err, errlen, "plugin %s: required %s op '%s' is NULL",
			 path, sb_plugin_kind_name(kind), missing);
		goto done;
	}
	out->dl = dl;
	out->desc = desc;
	snprintf(out->path, sizeof(out->path), "%s", path);
	dl = NULL;
	ret = 0;
done:
	if (dl)
		dlclose(dl);
	return ret;
}

const char *const *sb_plugin_settings(const struct sb_plugin *p)
{
	const struct sb_plugin_descriptor *d = p->desc;

	if (d->size < offsetof(struct sb_plugin_descriptor, settings) +
			      sizeof(d->settings))
		return NULL; /* an ABI 1.0 plugin */
	return d->settings;
}

void sb_plugin_unload(struct sb_plugin *p)
{
	if (p == NULL || p->dl == NULL)
		return;
	dlclose(p->dl);
	p->dl = NULL;
	p->desc = NULL;
}
