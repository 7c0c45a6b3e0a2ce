/*
 * A plugin written the way an outside author would: built against the
 * installed <secretbroker/plugin.h> alone (pkg-config secretbroker), not
 * in this tree's build. A single-node fencing plugin: active at a fresh
 * epoch taken from the storage at start.
 */
#include <secretbroker/plugin.h>

#include <stdio.h>
#include <stdlib.h>

struct sdk {
	const struct sb_host *host;
	const struct sb_fence_hooks *hooks;
	uint64_t epoch;
};

static int sdk_open(const struct sb_host *host, const struct sb_config *cfg,
		    void **out, struct sb_error *err)
{
	struct sdk *s = calloc(1, sizeof(*s));

	(void)cfg;
	if (s == NULL) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return SB_ENOMEM;
	}
	s->host = host;
	*out = s;
	return SB_OK;
}

static void sdk_close(void *inst)
{
	free(inst);
}

static int sdk_start(void *inst, const struct sb_fence_hooks *hooks,
		     struct sb_error *err)
{
	struct sdk *s = inst;
	int rc = hooks->fence_takeover(hooks->arg, s->host->node_name, 0,
				       &s->epoch, err);

	if (rc != SB_OK)
		return rc;
	s->hooks = hooks;
	s->host->log(s->host, SB_LOG_INFO, "sdk plugin active at epoch %llu",
		     (unsigned long long)s->epoch);
	hooks->state_changed(hooks->arg, SB_FENCE_ACTIVE, s->epoch,
			     "out-of-tree sdk plugin");
	return SB_OK;
}

static void sdk_stop(void *inst)
{
	struct sdk *s = inst;

	if (s->hooks)
		s->hooks->state_changed(s->hooks->arg, SB_FENCE_STANDBY, 0,
					"stopped");
	s->hooks = NULL;
}

static int sdk_status(void *inst, struct sb_fence_status *out)
{
	struct sdk *s = inst;

	out->state = s->hooks ? SB_FENCE_ACTIVE : SB_FENCE_STANDBY;
	out->epoch = s->hooks ? s->epoch : 0;
	out->lease_left_ms = -1;
	snprintf(out->detail, sizeof(out->detail), "sdk plugin");
	return SB_OK;
}

static const struct sb_fencing_ops ops = {
	.size = sizeof(ops),
	.open = sdk_open,
	.close = sdk_close,
	.start = sdk_start,
	.stop = sdk_stop,
	.status = sdk_status,
};

static const char *const settings[] = {NULL};

static const struct sb_plugin_descriptor desc = {
	.size = sizeof(desc),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_FENCING,
	.name = "sdk",
	.version = "1.0.0",
	.description = "an out-of-tree test plugin",
	.ops = &ops,
	.settings = settings,
};

SB_PLUGIN_DEFINE(&desc)
