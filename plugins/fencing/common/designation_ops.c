/*
 * The fencing ops shared by the manual and pacemaker plugins (see
 * designation_ops.h).
 */
#define _GNU_SOURCE
#include "designation_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const designation_op_settings[] = {
	"check_interval_ms",
	NULL,
};

int designation_op_open(const struct sb_host *host, const struct sb_config *cfg,
			const char *plugin, void **out, struct sb_error *err)
{
	struct designation *d;
	long long check_ms;
	int rc;

	*out = NULL;
	rc = sb_setting_ms(host, cfg, "check_interval_ms", 1000, 100, 60000,
			   &check_ms, err);
	if (rc != SB_OK)
		return rc;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return sb_error_set(err, SB_ENOMEM, "out of memory");
	designation_init(d, host, plugin, check_ms, 0);
	*out = d;
	return SB_OK;
}

void designation_op_close(void *inst)
{
	struct designation *d = inst;

	if (d == NULL)
		return;
	designation_destroy(d);
	free(d);
}

int designation_op_status(void *inst, struct sb_fence_status *out)
{
	return designation_status(inst, out);
}

int designation_op_promote(void *inst, struct sb_error *err)
{
	struct designation *d = inst;
	char why[128];

	/* The operator's words for manual; the decider's name otherwise. */
	if (strcmp(d->plugin, "manual") == 0)
		snprintf(why, sizeof(why), "designated master secret server");
	else
		snprintf(why, sizeof(why), "promoted by %s", d->plugin);
	return designation_take(d, why, err);
}

int designation_op_demote(void *inst, struct sb_error *err)
{
	return designation_step_down(inst, "demoted", 1, err);
}

void designation_op_superseded(void *inst, uint64_t epoch, const char *holder,
			       uint64_t holder_epoch)
{
	designation_superseded(inst, epoch, holder, holder_epoch);
}
