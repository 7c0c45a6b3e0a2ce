/* A storage plugin that claims ABI major 2: the daemon must refuse it. */
#include <secretbroker/plugin.h>

static const struct sb_storage_ops ops = {.size = sizeof(ops)};
static const struct sb_plugin_descriptor desc = {
	.size = sizeof(desc),
	.abi_major = SB_PLUGIN_ABI_MAJOR + 1,
	.abi_minor = 0,
	.kind = SB_PLUGIN_STORAGE,
	.name = "abi2",
	.version = "0.0.1",
	.ops = &ops,
};
SB_PLUGIN_DEFINE(&desc)
