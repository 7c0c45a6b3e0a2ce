/*
 * The fencing ops shared by the plugins that are told who is active
 * (manual, pacemaker): their instance is a struct designation, opened with
 * the setting check_interval_ms, and status, promote, demote, superseded
 * and close are the same. Each plugin keeps its own start and stop, where
 * they differ: manual comes back active after a restart of the designated
 * node, pacemaker always starts standby and waits to be promoted.
 *
 * Linked statically into each plugin that uses it (see designation.h).
 */
#ifndef SB_FENCING_DESIGNATION_OPS_H
#define SB_FENCING_DESIGNATION_OPS_H

#include "designation.h"

/* Reads check_interval_ms (default 1000, 100..60000) from cfg and makes a
 * standby, not started struct designation in *out (owned by the caller,
 * freed with designation_op_close). plugin (a string literal) names the
 * plugin in messages and in the reason of a promotion. No retry: a
 * promotion that could not be taken is the decider's to repeat, and a
 * deposed node never takes the role back by itself. */
int designation_op_open(const struct sb_host *host, const struct sb_config *cfg,
			const char *plugin, void **out, struct sb_error *err);
/* Frees what designation_op_open made (NULL is fine); stopped first. */
void designation_op_close(void *inst);

/* inst below: what designation_op_open made. */
int designation_op_status(void *inst, struct sb_fence_status *out);
/* Takes the fence (designation_take): SB_OK, or the storage's error in err
 * with the node left standby. */
int designation_op_promote(void *inst, struct sb_error *err);
/* Standby at once, then the lease released (designation_step_down). */
int designation_op_demote(void *inst, struct sb_error *err);
/* The core's report of a refused fenced write (designation_superseded). */
void designation_op_superseded(void *inst, uint64_t epoch, const char *holder,
			       uint64_t holder_epoch);

/* Every setting designation_op_open reads, NULL-terminated: the plugin's
 * descriptor's settings. */
extern const char *const designation_op_settings[];

#endif
