/*
 * Sharded counters for GET /v1/metrics: see metrics.h.
 */
#include "runtime/metrics.h"

#include <secretbroker/plugin.h>

#include <inttypes.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

/* Histogram bucket upper bounds in microseconds, with the `le` label each
 * is written as; the last bucket (+Inf) is implied. */
static const uint64_t lookup_le_us[] = {50,	100,	250,	500,   1000,
					2500,	5000,	10000,	25000, 50000,
					100000, 250000, 1000000};
static const char *const lookup_le[] = {
	"0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
	"0.01",	   "0.025",  "0.05",	"0.1",	  "0.25",  "1"};
#define LOOKUP_BUCKETS (sizeof(lookup_le_us) / sizeof(lookup_le_us[0]) + 1)

static const uint64_t store_le_us[] = {250,    500,	1000,	 2500,	 5000,
				       10000,  25000,	50000,	 100000, 250000,
				       500000, 1000000, 2500000, 5000000};
static const char *const store_le[] = {
	"0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
	"0.05",	   "0.1",    "0.25",  "0.5",	"1",	 "2.5",	 "5"};
#define STORE_BUCKETS (sizeof(store_le_us) / sizeof(store_le_us[0]) + 1)

static const char *const lookup_result_name[SB_ML_COUNT] = {
	"ok", "not_found", "forbidden", "bad_request", "error"};
static const char *const store_op_name[SB_MS_COUNT] = {
	"get",	       "scan",		"batch",      "lease_acquire",
	"lease_renew", "lease_release", "lease_read", "fence_takeover"};

typedef _Atomic uint64_t counter;

/* One thread's counters (a shard may be shared once there are more
 * threads than shards: the adds are atomic, so nothing is lost). Buckets
 * are not cumulative here; sb_metrics_write sums them. */
struct shard {
	counter lookups[SB_ML_COUNT];
	counter lookup_bucket[LOOKUP_BUCKETS];
	counter lookup_sum_us;
	counter store_count[SB_MS_COUNT];
	counter store_errors[SB_MS_COUNT];
	counter store_bucket[SB_MS_COUNT][STORE_BUCKETS];
	counter store_sum_us[SB_MS_COUNT];
	counter events[SB_ME_COUNT];
} __attribute__((aligned(64)));

#define SHARDS 16
static struct shard shards[SHARDS];
static atomic_uint next_shard;
static _Thread_local struct shard *my_shard;

static struct shard *shard(void)
{
	if (my_shard == NULL)
		my_shard =
			&shards[atomic_fetch_add_explicit(
					&next_shard, 1, memory_order_relaxed) %
				SHARDS];
	return my_shard;
}

static inline void add(counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t get(counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* The bucket of usec among n bounds (n: the +Inf bucket). */
static size_t bucket_of(const uint64_t *le, size_t n, uint64_t usec)
{
	size_t i = 0;

	while (i < n && usec > le[i])
		i++;
	return i;
}

/* See metrics.h. */
void sb_metrics_lookup(int status, uint64_t usec)
{
	struct shard *s = shard();
	enum sb_metric_lookup res = status < 400    ? SB_ML_OK
				    : status == 404 ? SB_ML_NOT_FOUND
				    : status == 403 ? SB_ML_FORBIDDEN
				    : status < 500  ? SB_ML_BAD_REQUEST
						    : SB_ML_ERROR;

	add(&s->lookups[res], 1);
	add(&s->lookup_bucket[bucket_of(lookup_le_us, LOOKUP_BUCKETS - 1,
					usec)],
	    1);
	add(&s->lookup_sum_us, usec);
}

/* See metrics.h. */
void sb_metrics_store(enum sb_metric_store_op op, int rc, uint64_t usec)
{
	struct shard *s = shard();

	add(&s->store_count[op], 1);
	if (rc != SB_OK && rc != SB_ENOTFOUND && rc != SB_ECONFLICT &&
	    rc != SB_EFENCED)
		add(&s->store_errors[op], 1);
	add(&s->store_bucket[op]
			    [bucket_of(store_le_us, STORE_BUCKETS - 1, usec)],
	    1);
	add(&s->store_sum_us[op], usec);
}

void sb_metrics_event(enum sb_metric_event ev)
{
	add(&shard()->events[ev], 1);
}

/* The sum over all shards of the counter at byte offset off of a shard. */
static uint64_t total(size_t off)
{
	uint64_t n = 0;

	for (size_t i = 0; i < SHARDS; i++)
		n += get((counter *)((char *)&shards[i] + off));
	return n;
}

static void header(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes the buckets, _sum and _count of histogram name; labels is ""
 * or `op="get",` (with its trailing comma). bucket_off is the offset of
 * the first of n bucket counters in a shard, sum_off the sum's. */
static void histogram(FILE *f, const char *name, const char *labels,
		      const char *const *le, size_t n, size_t bucket_off,
		      size_t sum_off)
{
	uint64_t cum = 0, sum_us = total(sum_off);
	size_t len = strlen(labels);

	for (size_t i = 0; i < n; i++) {
		cum += total(bucket_off + i * sizeof(counter));
		fprintf(f, "%s_bucket{%sle=\"%s\"} %" PRIu64 "\n", name, labels,
			i + 1 < n ? le[i] : "+Inf", cum);
	}
	/* labels without its trailing comma, for _sum and _count */
	fprintf(f, "%s_sum%s%.*s%s %" PRIu64 ".%06" PRIu64 "\n", name,
		len ? "{" : "", (int)(len ? len - 1 : 0), labels,
		len ? "}" : "", sum_us / 1000000, sum_us % 1000000);
	fprintf(f, "%s_count%s%.*s%s %" PRIu64 "\n", name, len ? "{" : "",
		(int)(len ? len - 1 : 0), labels, len ? "}" : "", cum);
}

/* Writes counter family name: one sample per value of label, the counter
 * of values[i] being the i-th of n consecutive counters from byte offset
 * off of a shard. */
static void counter_family(FILE *f, const char *name, const char *help,
			   const char *label, const char *const *values,
			   size_t n, size_t off)
{
	header(f, name, "counter", help);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label,
			values[i], total(off + i * sizeof(counter)));
}

/* Writes an unlabelled counter. */
static void counter_one(FILE *f, const char *name, const char *help, size_t off)
{
	header(f, name, "counter", help);
	fprintf(f, "%s %" PRIu64 "\n", name, total(off));
}

static const char *const reload_result_name[] = {"ok", "failed"};
static const char *const fence_to_name[] = {"active", "standby"};

/* See metrics.h. */
int sb_metrics_write(FILE *f)
{
	char labels[64];

	counter_family(f, "secretbroker_lookups_total",
		       "Credential lookups (GET /v1/lookup) by result.",
		       "result", lookup_result_name, SB_ML_COUNT,
		       offsetof(struct shard, lookups));
	header(f, "secretbroker_lookup_duration_seconds", "histogram",
	       "Time from a lookup's arrival to its reply.");
	histogram(f, "secretbroker_lookup_duration_seconds", "", lookup_le,
		  LOOKUP_BUCKETS, offsetof(struct shard, lookup_bucket),
		  offsetof(struct shard, lookup_sum_us));
	counter_one(f, "secretbroker_cache_hits_total",
		    "Reads of the credential cache that found a current entry.",
		    offsetof(struct shard, events[SB_ME_CACHE_HIT]));
	counter_one(f, "secretbroker_cache_misses_total",
		    "Reads of the credential cache that went to storage.",
		    offsetof(struct shard, events[SB_ME_CACHE_MISS]));
	counter_family(f, "secretbroker_storage_errors_total",
		       "Storage plugin calls that failed (unreachable, timed "
		       "out, damaged), by operation.",
		       "op", store_op_name, SB_MS_COUNT,
		       offsetof(struct shard, store_errors));
	header(f, "secretbroker_storage_duration_seconds", "histogram",
	       "Time of each storage plugin call, by operation.");
	for (int i = 0; i < SB_MS_COUNT; i++) {
		snprintf(labels, sizeof(labels), "op=\"%s\",",
			 store_op_name[i]);
		histogram(f, "secretbroker_storage_duration_seconds", labels,
			  store_le, STORE_BUCKETS,
			  offsetof(struct shard, store_bucket[i]),
			  offsetof(struct shard, store_sum_us[i]));
	}
	/* SB_ME_FENCE_TO_ACTIVE, _TO_STANDBY and SB_ME_RELOAD_OK, _FAILED
	 * are consecutive, in the order of the names. */
	counter_family(f, "secretbroker_fencing_transitions_total",
		       "Fencing state changes of this node: to=\"active\" when "
		       "it took the fence (a failover to it), to=\"standby\" "
		       "when it stepped down or was deposed.",
		       "to", fence_to_name, 2,
		       offsetof(struct shard, events[SB_ME_FENCE_TO_ACTIVE]));
	counter_family(f, "secretbroker_reloads_total",
		       "Configuration reloads (SIGHUP) by result.", "result",
		       reload_result_name, 2,
		       offsetof(struct shard, events[SB_ME_RELOAD_OK]));
	counter_one(f, "secretbroker_audit_failures_total",
		    "Audit records that could not be written (the request "
		    "then failed with audit_failed).",
		    offsetof(struct shard, events[SB_ME_AUDIT_FAILURE]));
	return ferror(f) ? -1 : 0;
}

void sb_metrics_reset(void)
{
	for (size_t i = 0; i < SHARDS; i++) {
		counter *c = (counter *)&shards[i];

		for (size_t k = 0; k < sizeof(struct shard) / sizeof(counter);
		     k++)
			atomic_store_explicit(&c[k], 0, memory_order_relaxed);
	}
}
