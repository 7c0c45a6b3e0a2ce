/*
 * The fencing state of this node: its role (active or standby), the epoch
 * it holds while active, and why. Fencing plugins (none, lease, manual,
 * keepalived, pacemaker) report changes through the hooks this file gives
 * them and reach storage only through those hooks; everyone else reads the
 * state with sb_fence_view(). The store layer learns the epoch to stamp on
 * writes through the view this file registers with it (store_set_fence_view),
 * so store/ never includes cluster/.
 */
#ifndef SB_FENCE_H
#define SB_FENCE_H

#include "host/daemon.h"

#include <secretbroker/plugin.h>

#include <stdint.h>

/* Allocates d->fence (standby, epoch 0) and registers its view with the
 * store layer. Returns 0, or -1 on ENOMEM. */
int sb_fence_init(struct sb_daemon *d);
/* Frees d->fence. */
void sb_fence_destroy(struct sb_daemon *d);

/* The hooks a fencing instance of d is started with (owned by d->fence). */
const struct sb_fence_hooks *sb_fence_hooks(struct sb_daemon *d);

/* Records a state change as a fencing plugin reports it: epoch is kept only
 * while active. Logs the change and wakes the cluster watcher. */
void sb_fence_state_changed(struct sb_daemon *d, int state, uint64_t epoch,
			    const char *reason);

/* Reads state (SB_FENCE_*) and epoch; epoch is 0 unless active. */
void sb_fence_view(struct sb_daemon *d, int *state, uint64_t *epoch);

#endif
