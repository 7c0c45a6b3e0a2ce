/*
 * The metrics counters (core/runtime/metrics.c): lookups by result from
 * the reply status, histograms cumulative with a +Inf bucket equal to
 * _count, storage answers (not found, conflict, fenced) that are not
 * errors, counts from many threads summed without loss.
 */
#define _GNU_SOURCE
#include "runtime/metrics.h"

#include <secretbroker/plugin.h>

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The metrics text as a malloc'ed string. */
static char *render(void)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(sb_metrics_write(f), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* The value of the exact series `series` in text, or -1 when absent. */
static long long value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p;
	     p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

static void lookups_by_status(void **state)
{
	char *t;

	(void)state;
	sb_metrics_reset();
	sb_metrics_lookup(200, 10);
	sb_metrics_lookup(200, 70);
	sb_metrics_lookup(404, 300);
	sb_metrics_lookup(403, 5);
	sb_metrics_lookup(400, 5);
	sb_metrics_lookup(409, 5);
	sb_metrics_lookup(500, 2000000);
	sb_metrics_lookup(503, 5);
	t = render();
	assert_int_equal(value(t, "secretbroker_lookups_total{result=\"ok\"}"),
			 2);
	assert_int_equal(
		value(t, "secretbroker_lookups_total{result=\"not_found\"}"),
		1);
	assert_int_equal(
		value(t, "secretbroker_lookups_total{result=\"forbidden\"}"),
		1);
	assert_int_equal(
		value(t, "secretbroker_lookups_total{result=\"bad_request\"}"),
		2);
	assert_int_equal(
		value(t, "secretbroker_lookups_total{result=\"error\"}"), 2);
	/* cumulative: 10, 5, 5, 5, 5 us are <= 50 us; 70 <= 100 */
	assert_int_equal(value(t,
			       "secretbroker_lookup_duration_seconds_bucket{le="
			       "\"0.00005\"}"),
			 5);
	assert_int_equal(value(t,
			       "secretbroker_lookup_duration_seconds_bucket{le="
			       "\"0.0001\"}"),
			 6);
	assert_int_equal(
		value(t,
		      "secretbroker_lookup_duration_seconds_bucket{le=\"1\"}"),
		7);
	assert_int_equal(value(t,
			       "secretbroker_lookup_duration_seconds_bucket{le="
			       "\"+Inf\"}"),
			 8);
	assert_int_equal(value(t, "secretbroker_lookup_duration_seconds_count"),
			 8);
	assert_non_null(strstr(
		t, "secretbroker_lookup_duration_seconds_sum 2.000400\n"));
	free(t);
}

static void storage_errors_and_answers(void **state)
{
	char *t;

	(void)state;
	sb_metrics_reset();
	sb_metrics_store(SB_MS_GET, SB_OK, 100);
	sb_metrics_store(SB_MS_GET, SB_ENOTFOUND, 100);
	sb_metrics_store(SB_MS_GET, SB_EUNAVAIL, 3000000);
	sb_metrics_store(SB_MS_BATCH, SB_ECONFLICT, 100);
	sb_metrics_store(SB_MS_BATCH, SB_EFENCED, 100);
	sb_metrics_store(SB_MS_BATCH, SB_ETIMEOUT, 100);
	sb_metrics_store(SB_MS_LEASE_RENEW, SB_ERR, 100);
	t = render();
	assert_int_equal(
		value(t, "secretbroker_storage_errors_total{op=\"get\"}"), 1);
	assert_int_equal(
		value(t, "secretbroker_storage_errors_total{op=\"batch\"}"), 1);
	assert_int_equal(
		value(t,
		      "secretbroker_storage_errors_total{op=\"lease_renew\"}"),
		1);
	assert_int_equal(
		value(t, "secretbroker_storage_errors_total{op=\"scan\"}"), 0);
	assert_int_equal(value(t,
			       "secretbroker_storage_duration_seconds_count{op="
			       "\"get\"}"),
			 3);
	assert_int_equal(
		value(t, "secretbroker_storage_duration_seconds_bucket{op="
			 "\"get\",le=\"2.5\"}"),
		2);
	assert_int_equal(
		value(t, "secretbroker_storage_duration_seconds_bucket{op="
			 "\"get\",le=\"5\"}"),
		3);
	assert_non_null(strstr(
		t, "secretbroker_storage_duration_seconds_sum{op=\"get\"} "
		   "3.000200\n"));
	free(t);
}

#define THREADS	   8
#define PER_THREAD 20000

static void *count_events(void *arg)
{
	(void)arg;
	for (int i = 0; i < PER_THREAD; i++) {
		sb_metrics_event(SB_ME_CACHE_HIT);
		sb_metrics_lookup(200, 1);
	}
	return NULL;
}

static void threads_sum_without_loss(void **state)
{
	pthread_t th[THREADS * 3];
	char *t;

	(void)state;
	sb_metrics_reset();
	/* More threads than shards share some: still nothing lost. */
	for (int i = 0; i < THREADS * 3; i++)
		assert_int_equal(
			pthread_create(&th[i], NULL, count_events, NULL), 0);
	for (int i = 0; i < THREADS * 3; i++)
		pthread_join(th[i], NULL);
	sb_metrics_event(SB_ME_RELOAD_FAILED);
	sb_metrics_event(SB_ME_AUDIT_FAILURE);
	sb_metrics_event(SB_ME_FENCE_TO_ACTIVE);
	t = render();
	assert_int_equal(value(t, "secretbroker_cache_hits_total"),
			 THREADS * 3 * PER_THREAD);
	assert_int_equal(value(t, "secretbroker_lookups_total{result=\"ok\"}"),
			 THREADS * 3 * PER_THREAD);
	assert_int_equal(value(t, "secretbroker_cache_misses_total"), 0);
	assert_int_equal(
		value(t, "secretbroker_reloads_total{result=\"failed\"}"), 1);
	assert_int_equal(value(t, "secretbroker_reloads_total{result=\"ok\"}"),
			 0);
	assert_int_equal(value(t, "secretbroker_audit_failures_total"), 1);
	assert_int_equal(
		value(t,
		      "secretbroker_fencing_transitions_total{to=\"active\"}"),
		1);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lookups_by_status),
		cmocka_unit_test(storage_errors_and_answers),
		cmocka_unit_test(threads_sum_without_loss),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
