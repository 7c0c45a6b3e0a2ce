/*
 * The "manual" fencing plugin: ENTSSO's clusters without automatic
 * failover, where an operator designates the master secret server
 * ("Designating a New Master Secret Server Manually") — or a cluster
 * manager such as Pacemaker promotes and demotes it.
 *
 * promote() takes the fence unconditionally (fence_takeover, no expiry):
 * this node becomes active at an epoch strictly larger than any before, and
 * every other node's writes are refused by the storage from then on. A
 * node steps down ("superseded at epoch N by NODE") at the first write the
 * storage refuses, or when its thread, re-reading the lease every
 * check_interval_ms, sees that another node was designated since. The
 * state machine is plugins/fencing/common/designation.c, shared with the
 * keepalived and pacemaker plugins; open, close, status, promote, demote
 * and superseded are designation_ops.c, shared with pacemaker. At start the
 * node comes back active (at a new epoch) only when it is still the designated
 * holder, so a restart of the active node needs no operator, and a restart of a
 * deposed one never takes the role back. stop() keeps the designation.
 *
 * Settings in [fencing]: check_interval_ms (default 1000, 100..60000).
 */
#define _GNU_SOURCE
#include "designation_ops.h"

#include <secretbroker/plugin.h>

#include <stdio.h>
#include <string.h>

static int fm_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	return designation_op_open(host, cfg, "manual", out, err);
}

static int fm_start(void *inst, const struct sb_fence_hooks *hooks,
		    struct sb_error *err)
{
	struct designation *d = inst;
	struct sb_lease_info li;
	char why[384];
	int rc;

	memset(&li, 0, sizeof(li));
	rc = designation_start(d, hooks, err);
	if (rc != SB_OK)
		return rc;
	rc = designation_lease_read(d, &li, err);
	if (rc == SB_OK && li.held &&
	    strcmp(li.holder, d->host->node_name) == 0)
		rc = designation_take(d,
				      "still the designated master secret "
				      "server",
				      err);
	if (rc != SB_OK) {
		designation_stop(d, "not started");
		return rc;
	}
	if (d->state != SB_FENCE_ACTIVE) {
		snprintf(why, sizeof(why),
			 "standby until designated (designated now: %s)",
			 li.held && li.holder[0] ? li.holder : "none");
		pthread_mutex_lock(&d->lock);
		designation_set_standby_locked(d, why);
		pthread_mutex_unlock(&d->lock);
	}
	return SB_OK;
}

static void fm_stop(void *inst)
{
	designation_stop(inst,
			 "stopped (the designation is kept for a restart)");
}

static const struct sb_fencing_ops fm_ops = {
	.size = sizeof(struct sb_fencing_ops),
	.open = fm_open,
	.close = designation_op_close,
	.start = fm_start,
	.stop = fm_stop,
	.status = designation_op_status,
	.promote = designation_op_promote,
	.demote = designation_op_demote,
	.superseded = designation_op_superseded,
};

static const struct sb_plugin_descriptor fm_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_FENCING,
	.name = "manual",
	.version = "0.1.0",
	.description = "the master secret server is designated by an operator "
		       "or a cluster manager",
	.ops = &fm_ops,
	.settings = designation_op_settings,
};

SB_PLUGIN_DEFINE(&fm_descriptor)
