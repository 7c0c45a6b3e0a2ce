/*
 * One source for the loader tests' deliberately broken plugins. Each
 * MODULE built from it (see CMakeLists.txt) defines one of:
 *   BAD_NO_ENTRY      no sb_plugin_entry symbol at all
 *   BAD_NULL_ENTRY    sb_plugin_entry returns NULL
 *   BAD_ABI_MAJOR=n   descriptor claims ABI major n
 *   BAD_CRYPTO_KIND   a (valid-looking) crypto plugin
 *   BAD_OPS_SIZE=n    storage ops table claims to be n bytes
 * and is otherwise a well-formed storage plugin whose ops do nothing.
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

#ifdef BAD_CRYPTO_KIND
static const struct sb_crypto_ops ops = {
	.size = sizeof(struct sb_crypto_ops),
};
#define BAD_KIND SB_PLUGIN_CRYPTO
#else
#ifndef BAD_OPS_SIZE
#define BAD_OPS_SIZE sizeof(struct sb_storage_ops)
#endif
static const struct sb_storage_ops ops = {
	.size = BAD_OPS_SIZE,
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
