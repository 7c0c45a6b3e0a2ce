/*
 * The daemon's shared state: the running generation (config + opened
 * plugins), the fencing view, the master secret, and counters. One struct
 * sb_daemon per process.
 */
#ifndef SB_DAEMON_H
#define SB_DAEMON_H

#include "runtime/cache.h"
#include "runtime/config.h"
#include "host/plugin_loader.h"

struct sb_fence;
struct sb_secret_state;

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#define SB_VERSION "0.1.0"

/* One opened plugin: its code, its host services table, its instance. */
struct sb_plugin_instance {
	struct sb_plugin plugin;
	struct sb_host *host;
	void *inst;
};

/* A generation: one configuration and the plugins opened for it. Requests
 * hold a reference for their whole life, so a reload never pulls a plugin
 * out from under one; the last reference closes it. */
struct sb_generation {
	atomic_int refs;
	uint64_t number;
	time_t loaded_at;
	struct sb_conf *conf;
	struct sb_plugin_instance storage;
	struct sb_plugin_instance crypto;
	/* The fencing instance. A reload that changes neither [storage] nor
	 * [fencing] hands the running instance to the new generation (owned
	 * is then cleared here) so the node keeps its role and epoch. */
	struct sb_plugin_instance fencing;
	int fencing_owned;
	int fencing_started;
	const struct sb_crypto_ops *cops;
	const struct sb_fencing_ops *fops;
};

struct sb_reload_result {
	int attempted;
	time_t at;
	int ok;
	struct sb_errlist errors;
	struct sb_errlist restart_required;
};

struct sb_daemon {
	char *config_path;
	time_t started_at;
	uint64_t started_mono_ms;

	pthread_mutex_t lock; /* guards current, last_reload, gen numbers */
	struct sb_generation *current;
	atomic_uint_fast64_t gen_seq; /* bumped on every swap */
	uint64_t next_gen_number;
	struct sb_reload_result last_reload;

	/* Fencing state, as last told by the fencing plugin (owned by
	 * cluster/fence.c). */
	struct sb_fence *fence;

	/* The master secret (owned by secret/secret.c). */
	struct sb_secret_state *secret;
	struct sb_cache_inval cache_inval;

	atomic_int inflight; /* requests accepted and not yet answered */
	atomic_int stopping;
	struct sb_http *http;
	struct sb_jobs *jobs;
	struct sb_audit *audit;
};

/* Takes a reference on the current generation; never NULL while running. */
struct sb_generation *sb_gen_current(struct sb_daemon *d);
void sb_gen_ref(struct sb_generation *g);
/* Drops a reference; the last one closes the plugins and frees g. */
void sb_gen_unref(struct sb_generation *g);

/* Builds a generation from conf (which it takes over, also on failure):
 * loads and opens the storage and crypto plugins, loads and opens the
 * fencing plugin unless `carry` (the running generation) can hand over its
 * fencing instance. Returns NULL and fills errs on failure, having closed
 * whatever it opened. */
struct sb_generation *sb_gen_build(struct sb_daemon *d, struct sb_conf *conf,
				   struct sb_generation *carry,
				   struct sb_errlist *errs);

/* Makes g the current generation (taking over the caller's reference),
 * starting its fencing instance if it is a new one with hooks (from
 * cluster/fence.c; a state change on restart is reported through them). Returns
 * 0, or -1 with errs filled when fencing could not start (the old generation
 * then stays). */
int sb_gen_install(struct sb_daemon *d, struct sb_generation *g,
		   const struct sb_fence_hooks *hooks, struct sb_errlist *errs);

/* Stops fencing on the current generation and drops it (shutdown). */
void sb_gen_shutdown(struct sb_daemon *d);

#endif
