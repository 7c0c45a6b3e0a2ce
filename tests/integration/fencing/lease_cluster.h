/*
 * sb-fencing-lease-cluster: the lease fencing plugin on a real storage
 * backend, with real processes (see lease_cluster_driver.c for what it
 * checks and how to run it).
 *
 * One executable, two roles:
 *   driver (default)  makes the store, starts node processes, kills,
 *                     pauses and resumes them, and checks their logs
 *   node (--node)     one master secret server candidate: loads the
 *                     storage plugin and fencing_lease.so the way the
 *                     daemon does, with fencing hooks over the storage
 *                     instance exactly as core/generation.c implements
 *                     them, a writer that writes fenced batches while it
 *                     believes itself active, and a command loop on stdin
 *
 * The node's log (one line per event, written with one write(2) each, so
 * a SIGKILL never leaves half a line) is the record the driver checks:
 *   STATE <mono_ns> <0|1> <epoch> <reason>    every state_changed
 *   WRITE <t0_ns> <t1_ns> <epoch> <status> <key>   every fenced write
 * Times are CLOCK_MONOTONIC nanoseconds: every process runs on this
 * machine, so they compare directly.
 *
 * Commands on the node's stdin, one answer line each on stdout:
 *   status              "status <state> <epoch> <lease_left_ms> <detail>"
 *   stale-write KEY     puts KEY with the last epoch the node was active
 *                       at: "stale-write <status> <epoch> <message>"
 *   quit                stops the plugin (releasing the lease), "bye"
 * After start the node prints "ready".
 */
#ifndef SB_LEASE_CLUSTER_H
#define SB_LEASE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#define LC_MAX_SETS 32

/* What both roles are given on the command line. */
struct lc_opts {
	const char *plugin_dir;
	const char *plugin; /* storage plugin name */
	const char *sets[LC_MAX_SETS];
	int n_sets;
	const char *driver_sets[LC_MAX_SETS]; /* the driver's instance only */
	int n_driver_sets;
	const char *state_dir;
	int ttl_ms;
	int acquire_interval_ms;
	int kill_cycles;
	int keep; /* keep the state directory */
	/* node role */
	const char *node;
	const char *log_path;
	int write_every_ms; /* the writer's pause between writes */
};

int64_t lc_mono_ns(void);

/* Runs the node role; returns the process exit status. */
int lc_node_main(const struct lc_opts *o);

#endif
