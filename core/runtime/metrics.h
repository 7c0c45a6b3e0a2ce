/*
 * The daemon's counters for GET /v1/metrics (Prometheus text format,
 * docs/monitoring.md). Counting is cheap enough for the lookup path: each
 * thread adds to its own cache-line-aligned shard with relaxed atomics (no
 * lock, no line shared with another busy thread); sb_metrics_write sums
 * the shards. Gauges that are state (role, epoch, generation, secret) are
 * not kept here: the handler (api/metrics.c) reads them where they live.
 */
#ifndef SB_METRICS_H
#define SB_METRICS_H

#include <stdint.h>
#include <stdio.h>

/* The result label of secretbroker_lookups_total, from the reply status. */
enum sb_metric_lookup {
	SB_ML_OK = 0,	   /* 200 */
	SB_ML_NOT_FOUND,   /* 404: no application, no mapping */
	SB_ML_FORBIDDEN,   /* 403: no role, disabled app or mapping */
	SB_ML_BAD_REQUEST, /* other 4xx */
	SB_ML_ERROR,	   /* 5xx: storage, crypto, damaged record, audit */
	SB_ML_COUNT
};

/* The op label of the storage metrics: one per storage plugin op. */
enum sb_metric_store_op {
	SB_MS_GET = 0,
	SB_MS_SCAN,
	SB_MS_BATCH,
	SB_MS_LEASE_ACQUIRE,
	SB_MS_LEASE_RENEW,
	SB_MS_LEASE_RELEASE,
	SB_MS_LEASE_READ,
	SB_MS_FENCE_TAKEOVER,
	SB_MS_COUNT
};

/* Events counted once each. The order of FENCE_TO_ACTIVE, _TO_STANDBY
 * and of RELOAD_OK, _FAILED is that of their label values in
 * metrics.c. */
enum sb_metric_event {
	SB_ME_CACHE_HIT = 0,
	SB_ME_CACHE_MISS,
	SB_ME_RELOAD_OK,
	SB_ME_RELOAD_FAILED,
	SB_ME_AUDIT_FAILURE,
	SB_ME_FENCE_TO_ACTIVE,	/* this node took the fence */
	SB_ME_FENCE_TO_STANDBY, /* this node stepped down or was deposed */
	SB_ME_COUNT
};

/* Counts a lookup that ended with HTTP status `status` after `usec`
 * microseconds (for the latency histogram). */
void sb_metrics_lookup(int status, uint64_t usec);

/* Counts a storage plugin call of op that returned rc (a plugin status:
 * SB_OK, SB_ENOTFOUND, ...) after usec microseconds. Not found, a failed
 * precondition and a stale epoch are answers, not errors; every other
 * failure counts in secretbroker_storage_errors_total. */
void sb_metrics_store(enum sb_metric_store_op op, int rc, uint64_t usec);

/* Counts one event. */
void sb_metrics_event(enum sb_metric_event ev);

/* Writes every counter and histogram kept here, with its # HELP and
 * # TYPE lines, to f. Returns 0, or -1 when f reports an error. */
int sb_metrics_write(FILE *f);

/* Zeroes every counter (unit tests). */
void sb_metrics_reset(void);

#endif
