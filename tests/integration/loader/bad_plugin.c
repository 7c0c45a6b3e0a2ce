/*
 * One source for the loader tests' deliberately broken plugins. Each
 * MODULE built from it (see CMakeLists.txt) defines one of:
 *   BAD_NO_ENTRY      no sb_plugin_entry symbol at all
 *   BAD_NULL_ENTRY    sb_plugin_entry returns NULL
 *   BAD_ABI_MAJOR=n   descriptor claims ABI major n
 *   BAD_CRYPTO_KIND   a (valid-looking) crypto plugin
 *   BAD_OPS_SIZE=n    storage ops table claims to be n bytes
 *   BAD_OPS_10        storage ops table is exactly the ABI 1.0 size
 *   BAD_NO_GET        storage ops table leaves the required 'get' NULL
 * and is otherwise a well-formed storage plugin whose required ops are set
 * and do nothing.
 */
#include <secretbroker/plugin.h>

#ifdef BAD_NO_ENTRY

/* Exports something, so the object is a real plugin-looking library. */
SB_PLUGIN_EXPORT int not_the_entry(void);
SB_PLUGIN_EXPORT int not_the_entry(void)
{
	return 42;
}

#elif defined(BAD_NULL_ENTRY)

SB_PLUGIN_DEFINE(NULL)

#else

#ifndef BAD_ABI_MAJOR
#define BAD_ABI_MAJOR SB_PLUGIN_ABI_MAJOR
#endif

/* Stand-ins for the required ops: never called by the loader tests. */
static int stub_open(const struct sb_host *host, const struct sb_config *cfg,
		     void **out, struct sb_error *err)
{
	return SB_ENOTSUP;
}

static void stub_close(void *inst)
{
}

#ifdef BAD_CRYPTO_KIND
static const struct sb_crypto_ops ops = {
	.size = sizeof(struct sb_crypto_ops),
	.open = stub_open,
	.close = stub_close,
};
#define BAD_KIND SB_PLUGIN_CRYPTO
#else
#ifdef BAD_OPS_10
#define BAD_OPS_SIZE SB_STORAGE_OPS_SIZE_1_0
#endif
#ifndef BAD_OPS_SIZE
#define BAD_OPS_SIZE sizeof(struct sb_storage_ops)
#endif
#ifndef BAD_NO_GET
static int stub_get(void *inst, const char *key, uint8_t **value,
		    size_t *value_len, uint64_t *version, struct sb_error *err)
{
	return SB_ENOTSUP;
}
#endif

static int stub_scan(void *inst, const char *prefix, const char *after,
		     size_t limit, sb_scan_cb cb, void *arg, char *last_key,
		     struct sb_error *err)
{
	return SB_ENOTSUP;
}

static int stub_batch_apply(void *inst, const struct sb_batch *batch,
			    struct sb_error *err)
{
	return SB_ENOTSUP;
}

static const struct sb_storage_ops ops = {
	.size = BAD_OPS_SIZE,
	.open = stub_open,
	.close = stub_close,
#ifndef BAD_NO_GET
	.get = stub_get,
#endif
	.scan = stub_scan,
	.batch_apply = stub_batch_apply,
};
#define BAD_KIND SB_PLUGIN_STORAGE
#endif

/* BAD_DESC_ABI10: a plugin built against ABI 1.0, whose descriptor ends
 * before the members appended since (settings): it must still load. */
#ifdef BAD_DESC_ABI10
#include <stddef.h>
#define BAD_DESC_SIZE offsetof(struct sb_plugin_descriptor, settings)
#else
#define BAD_DESC_SIZE sizeof(struct sb_plugin_descriptor)
#endif

static const struct sb_plugin_descriptor descriptor = {
	.size = BAD_DESC_SIZE,
	.abi_major = BAD_ABI_MAJOR,
	.abi_minor = 0,
	.kind = BAD_KIND,
	.name = "bad",
	.version = "0.0.0",
	.description = "a deliberately broken plugin for the loader tests",
	.ops = &ops,
};

SB_PLUGIN_DEFINE(&descriptor)

#endif
