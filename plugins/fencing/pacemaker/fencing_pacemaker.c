/*
 * The "pacemaker" fencing plugin: Pacemaker decides which master secret
 * server node is active, the storage's fencing epoch decides whose writes
 * count (see docs/fencing-pacemaker.md).
 *
 * The broker runs as a promotable clone under the OCF resource agent
 * conf/ocf/secretbroker. It always starts standby, whatever the lease
 * says: only Pacemaker's promote (the agent's `sbctl cluster promote`)
 * makes it active, by taking the fence (fence_takeover, no expiry: an
 * epoch strictly larger than any issued) after which the MSS name is
 * written; demote (`sbctl cluster demote`) makes it standby at once and
 * releases the lease. A promoted node whose write is refused with
 * SB_EFENCED (another node took the fence since), or whose lease check
 * every check_interval_ms shows another holder, steps down by itself:
 * "superseded at epoch N by NODE"; `sbctl health` then exits 10 and the
 * agent's next monitor tells Pacemaker that the promoted instance is no
 * longer promoted. It is never retaken without a new promote.
 *
 * The state machine is plugins/fencing/common/designation.c; open, close,
 * status, promote, demote and superseded are designation_ops.c, shared
 * with the manual plugin.
 *
 * Settings in [fencing]: check_interval_ms (default 1000, 100..60000).
 */
#define _GNU_SOURCE
#include "designation_ops.h"

#include <secretbroker/plugin.h>

static int pm_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	return designation_op_open(host, cfg, "pacemaker", out, err);
}

/* Starts standby: a restarted node that held the fence does not take it
 * back; Pacemaker promotes whom it chooses. */
static int pm_start(void *inst, const struct sb_fence_hooks *hooks,
		    struct sb_error *err)
{
	struct designation *d = inst;
	int rc;

	rc = designation_start(d, hooks, err);
	if (rc != SB_OK)
		return rc;
	pthread_mutex_lock(&d->lock);
	designation_set_standby_locked(d, "standby until promoted by "
					  "pacemaker");
	pthread_mutex_unlock(&d->lock);
	return SB_OK;
}

static void pm_stop(void *inst)
{
	designation_stop(inst, "stopped");
}

static const struct sb_fencing_ops pm_ops = {
	.size = sizeof(struct sb_fencing_ops),
	.open = pm_open,
	.close = designation_op_close,
	.start = pm_start,
	.stop = pm_stop,
	.status = designation_op_status,
	.promote = designation_op_promote,
	.demote = designation_op_demote,
	.superseded = designation_op_superseded,
};

static const struct sb_plugin_descriptor pm_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_FENCING,
	.name = "pacemaker",
	.version = "0.1.0",
	.description = "Pacemaker promotes and demotes the master secret "
		       "server (OCF agent conf/ocf/secretbroker)",
	.ops = &pm_ops,
	.settings = designation_op_settings,
};

SB_PLUGIN_DEFINE(&pm_descriptor)
