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
 * keepalived and pacemaker plugins. At start the node comes back
 * active (at a new epoch) only when it is still the designated holder, so
 * a restart of the active node needs no operator, and a restart of a
 * deposed one never takes the role back. stop() keeps the designation.
 *
 * Settings in [fencing]: check_interval_ms (default 1000, 100..60000).
 */
#define _GNU_SOURCE
#include "designation.h"

#include <secretbroker/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fm_instance {
	struct designation dz;
};

static int fm_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct fm_instance *fi;
	long long check_ms;
	int rc;

	*out = NULL;
	rc = sb_setting_ms(host, cfg, "check_interval_ms", 1000, 100, 60000,
			   &check_ms, err);
	if (rc != SB_OK)
		return rc;
	fi = calloc(1, sizeof(*fi));
	if (fi == NULL)
		return sb_error_set(err, SB_ENOMEM, "out of memory");
	/* No retry: a designation that could not be taken is the operator's
	 * to repeat, and a deposed node never takes the role back. */
	designation_init(&fi->dz, host, "manual", check_ms, 0);
	*out = fi;
	return SB_OK;
}

static void fm_close(void *inst)
{
	struct fm_instance *fi = inst;

	if (fi == NULL)
		return;
	designation_destroy(&fi->dz);
	free(fi);
}

static int fm_start(void *inst, const struct sb_fence_hooks *hooks,
		    struct sb_error *err)
{
	struct fm_instance *fi = inst;
	struct sb_lease_info li;
	char why[384];
	int rc;

	memset(&li, 0, sizeof(li));
	rc = designation_start(&fi->dz, hooks, err);
	if (rc != SB_OK)
		return rc;
	rc = designation_lease_read(&fi->dz, &li, err);
	if (rc == SB_OK && li.held &&
	    strcmp(li.holder, fi->dz.host->node_name) == 0)
		rc = designation_take(&fi->dz,
				      "still the designated master secret "
				      "server",
				      err);
	if (rc != SB_OK) {
		designation_stop(&fi->dz, "not started");
		return rc;
	}
	if (fi->dz.state != SB_FENCE_ACTIVE) {
		snprintf(why, sizeof(why),
			 "standby until designated (designated now: %s)",
			 li.held && li.holder[0] ? li.holder : "none");
		pthread_mutex_lock(&fi->dz.lock);
		designation_set_standby_locked(&fi->dz, why);
		pthread_mutex_unlock(&fi->dz.lock);
	}
	return SB_OK;
}

static void fm_stop(void *inst)
{
	struct fm_instance *fi = inst;

	designation_stop(&fi->dz,
			 "stopped (the designation is kept for a restart)");
}

static int fm_status(void *inst, struct sb_fence_status *out)
{
	struct fm_instance *fi = inst;

	return designation_status(&fi->dz, out);
}

static int fm_promote(void *inst, struct sb_error *err)
{
	struct fm_instance *fi = inst;

	return designation_take(&fi->dz, "designated master secret server",
				err);
}

static int fm_demote(void *inst, struct sb_error *err)
{
	struct fm_instance *fi = inst;

	return designation_step_down(&fi->dz, "demoted", 1, err);
}

static void fm_superseded(void *inst, uint64_t epoch, const char *holder,
			  uint64_t holder_epoch)
{
	struct fm_instance *fi = inst;

	designation_superseded(&fi->dz, epoch, holder, holder_epoch);
}

static const struct sb_fencing_ops fm_ops = {
	.size = sizeof(struct sb_fencing_ops),
	.open = fm_open,
	.close = fm_close,
	.start = fm_start,
	.stop = fm_stop,
	.status = fm_status,
	.promote = fm_promote,
	.demote = fm_demote,
	.superseded = fm_superseded,
};

/* Every setting this plugin reads from its section. */
static const char *const plugin_settings[] = {
	"check_interval_ms",
	NULL,
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
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&fm_descriptor)
