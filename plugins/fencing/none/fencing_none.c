/*
 * The "none" fencing plugin: one node, always active.
 *
 * There is nobody to elect, but the node still takes a fresh fencing epoch
 * from the storage backend at start (fence_takeover, no expiry), so every
 * secret-changing write it makes carries an epoch strictly larger than any
 * earlier holder's. If someone misconfigures a second MSS on the same
 * database, the later one to start fences the earlier one out instead of
 * both writing.
 *
 * No settings. promote/demote are NULL: the plugin decides by itself.
 */
#define _GNU_SOURCE
#include <secretbroker/plugin.h>

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fn_instance {
	const struct sb_host *host;
	/* Serialises start and stop, so a stop can never overtake a start
	 * that is still taking the epoch (and hooks are never called after
	 * stop returns). Held while calling hooks; never taken by status. */
	pthread_mutex_t control;
	pthread_mutex_t lock; /* guards the fields below; cheap, for status */
	const struct sb_fence_hooks *hooks; /* NULL when not started */
	int state;			    /* enum sb_fence_state */
	uint64_t epoch;			    /* 0 on standby */
};

static int fn_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct fn_instance *fi;

	(void)cfg;
	*out = NULL;
	if (host == NULL ||
	    host->size < offsetof(struct sb_host, node_name) +
				 sizeof(host->node_name) ||
	    host->node_name == NULL || host->node_name[0] == '\0')
		return sb_error_set(
			err, SB_EINVAL,
			"fencing/none: the host gives no node name");
	fi = calloc(1, sizeof(*fi));
	if (fi == NULL)
		return sb_error_set(err, SB_ENOMEM,
				    "fencing/none: out of memory");
	if (pthread_mutex_init(&fi->control, NULL) != 0) {
		free(fi);
		return sb_error_set(err, SB_ERR,
				    "fencing/none: mutex init failed");
	}
	if (pthread_mutex_init(&fi->lock, NULL) != 0) {
		pthread_mutex_destroy(&fi->control);
		free(fi);
		return sb_error_set(err, SB_ERR,
				    "fencing/none: mutex init failed");
	}
	fi->host = host;
	fi->state = SB_FENCE_STANDBY;
	*out = fi;
	return SB_OK;
}

static void fn_close(void *inst)
{
	struct fn_instance *fi = inst;

	if (fi == NULL)
		return;
	pthread_mutex_destroy(&fi->lock);
	pthread_mutex_destroy(&fi->control);
	free(fi);
}

static int fn_start(void *inst, const struct sb_fence_hooks *hooks,
		    struct sb_error *err)
{
	struct fn_instance *fi = inst;
	struct sb_error terr = {{0}};
	uint64_t epoch = 0;
	int rc, ret = SB_ERR;

	if (hooks == NULL ||
	    hooks->size < offsetof(struct sb_fence_hooks, fence_takeover) +
				  sizeof(hooks->fence_takeover) ||
	    hooks->fence_takeover == NULL || hooks->state_changed == NULL)
		return sb_error_set(
			err, SB_EINVAL,
			"fencing/none: the core gave no fence_takeover "
			"or state_changed hook");
	pthread_mutex_lock(&fi->control);
	if (fi->hooks != NULL) {
		ret = sb_error_set(err, SB_EINVAL,
				   "fencing/none: already started");
		goto done;
	}
	/* ttl 0: no expiry. This node stays the holder until another one
	 * takes over, which only a misconfiguration would do. */
	rc = hooks->fence_takeover(hooks->arg, fi->host->node_name, 0, &epoch,
				   &terr);
	if (rc != SB_OK) {
		ret = sb_error_set(
			err, rc,
			"fencing/none: node %s cannot take the fencing "
			"epoch from the storage backend: %s",
			fi->host->node_name, terr.msg);
		goto done;
	}
	if (epoch == 0) {
		ret = sb_error_set(err, SB_ERR,
				   "fencing/none: node %s: the storage backend "
				   "returned fencing epoch 0",
				   fi->host->node_name);
		goto done;
	}
	pthread_mutex_lock(&fi->lock);
	fi->hooks = hooks;
	fi->state = SB_FENCE_ACTIVE;
	fi->epoch = epoch;
	pthread_mutex_unlock(&fi->lock);
	fi->host->log(fi->host, SB_LOG_INFO,
		      "node %s active at fencing epoch %llu (single node)",
		      fi->host->node_name, (unsigned long long)epoch);
	hooks->state_changed(hooks->arg, SB_FENCE_ACTIVE, epoch,
			     "single node (fencing plugin none)");
	ret = SB_OK;
done:
	pthread_mutex_unlock(&fi->control);
	return ret;
}

static void fn_stop(void *inst)
{
	struct fn_instance *fi = inst;
	const struct sb_fence_hooks *hooks;

	pthread_mutex_lock(&fi->control);
	pthread_mutex_lock(&fi->lock);
	hooks = fi->hooks;
	fi->hooks = NULL;
	fi->state = SB_FENCE_STANDBY;
	fi->epoch = 0;
	pthread_mutex_unlock(&fi->lock);
	/* Tell the core of the transition before returning; after this
	 * function returns no hook is called again. Nothing to release: there
	 * is no lease, and the epoch counter stays in the backend. */
	if (hooks != NULL)
		hooks->state_changed(hooks->arg, SB_FENCE_STANDBY, 0,
				     "stopped (fencing plugin none)");
	pthread_mutex_unlock(&fi->control);
}

static int fn_status(void *inst, struct sb_fence_status *out)
{
	struct fn_instance *fi = inst;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&fi->lock);
	out->state = fi->state;
	out->epoch = fi->epoch;
	pthread_mutex_unlock(&fi->lock);
	out->lease_left_ms = -1; /* no lease */
	if (out->state == SB_FENCE_ACTIVE)
		snprintf(out->detail, sizeof(out->detail),
			 "single node, always active (fencing epoch %llu)",
			 (unsigned long long)out->epoch);
	else
		snprintf(out->detail, sizeof(out->detail),
			 "single node, not started");
	return SB_OK;
}

static const struct sb_fencing_ops fn_ops = {
	.size = sizeof(struct sb_fencing_ops),
	.open = fn_open,
	.close = fn_close,
	.start = fn_start,
	.stop = fn_stop,
	.status = fn_status,
	.promote = NULL,
	.demote = NULL,
};

/* Every setting this plugin reads from its section. */
static const char *const plugin_settings[] = {
	NULL,
};

static const struct sb_plugin_descriptor fn_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_FENCING,
	.name = "none",
	.version = "0.1.0",
	.description = "single node, always active (takes a fresh fencing "
		       "epoch at start)",
	.ops = &fn_ops,
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&fn_descriptor)
