/*
 * Cluster state in the SSO database (ENTSSO's "master secret server name"):
 *
 *   cluster/mss            {"node", "address", "epoch", "since_ms"}
 *                          written by a node when it becomes the active
 *                          master secret server, fenced by its epoch, so a
 *                          deposed node can never overwrite it
 *   cluster/nodes/<node>   {"node", "role", "state", "epoch", "address",
 *                          "version", "last_seen_ms"}: each node reports in
 *                          every few seconds (unfenced: it is only a report)
 *
 * A thread of its own does these writes, so neither a fencing plugin's
 * thread nor a request thread waits on them.
 */
#ifndef SB_CLUSTER_H
#define SB_CLUSTER_H

#include <jansson.h>
#include <stdint.h>

struct sb_daemon;
struct sb_generation;

#define SB_CLUSTER_REPORT_MS 5000

int sb_cluster_start(struct sb_daemon *d);
/* Wakes the thread: the fencing state changed. Safe from any thread. */
void sb_cluster_notify(struct sb_daemon *d);
void sb_cluster_stop(struct sb_daemon *d);

/* Reads cluster/mss. Returns a new JSON object, NULL when absent or on a
 * storage error (then *status is set to the storage status). */
json_t *sb_cluster_active_mss(struct sb_generation *g, int *status);

/* The whole view for GET /v1/cluster (new object), or NULL with *status. */
json_t *sb_cluster_view(struct sb_daemon *d, struct sb_generation *g,
			int *status, char *msg, size_t msglen);

/* Writes cluster/mss for this node at epoch now (designation refresh).
 * Returns a storage status. */
int sb_cluster_write_mss(struct sb_daemon *d, struct sb_generation *g,
			 uint64_t epoch, char *msg, size_t msglen);

#endif
