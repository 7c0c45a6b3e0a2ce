/*
 * postgres.restart: the server goes away under a running store.
 *
 * Starts its own server (tests/fixtures/postgres.sh), opens the plugin
 * with op_timeout_ms=1000, and while a writer thread commits fenced
 * one-key batches continuously:
 *   - pg_ctl restart -m fast, then -m immediate: the writer's failed
 *     operations end within the timeout with a clear error, later ones
 *     succeed on a new connection without reopening the store;
 *   - the server stopped: get, batch_apply and lease_read each fail with
 *     SB_EUNAVAIL or SB_ETIMEOUT in bounded time, naming host:port; after
 *     the restart they succeed again;
 *   - every server process stopped with SIGSTOP (a host that vanished
 *     without closing its sockets): an operation in flight returns
 *     SB_ETIMEOUT at op_timeout_ms instead of hanging;
 * and afterwards every acknowledged write is present.
 *
 * Usage: pg_outage_test PLUGIN_DIR FIXTURE_SCRIPT ENVFILE
 */
#define _GNU_SOURCE
#include "pg_test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OP_TIMEOUT 1000
/* libpq's connect_timeout floor (2 s) plus scheduling slack: the most an
 * operation that has to reconnect may add to op_timeout_ms. */
#define CONNECT_SLACK 2600
#define MAX_KEYS      400000

static const struct sb_storage_ops *ops;
static struct pgt_store store;
static const char *script, *envfile;
static char port[16];
static uint64_t epoch;
static int failures;

static unsigned char acked[MAX_KEYS];
static atomic_int n_acked, next_seq, stop_writer;
static atomic_int n_failed;
static atomic_ullong max_fail_ms;
static char last_fail[SB_ERROR_MAX];
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("not ok - ");                                   \
			printf(__VA_ARGS__);                                   \
			printf("\n");                                          \
			failures++;                                            \
		}                                                              \
	} while (0)

static int put1(const char *key, uint64_t e, struct sb_error *err)
{
	struct sb_batch_op op = {.type = SB_OP_PUT,
				 .key = key,
				 .value = (const uint8_t *)"value",
				 .value_len = 5};
	struct sb_batch b = {.ops = &op, .n_ops = 1, .epoch = e};

	memset(err, 0, sizeof(*err));
	return ops->batch_apply(store.inst, &b, err);
}

static void *writer(void *arg)
{
	char key[32];
	struct sb_error err;

	(void)arg;
	while (!atomic_load(&stop_writer)) {
		int seq = atomic_fetch_add(&next_seq, 1);
		uint64_t t0 = pgt_now_ms(), ms;

		if (seq >= MAX_KEYS)
			break;
		snprintf(key, sizeof(key), "w/%07d", seq);
		if (put1(key, epoch, &err) == SB_OK) {
			acked[seq] = 1;
			atomic_fetch_add(&n_acked, 1);
			continue;
		}
		ms = pgt_now_ms() - t0;
		atomic_fetch_add(&n_failed, 1);
		if (ms > atomic_load(&max_fail_ms))
			atomic_store(&max_fail_ms, ms);
		pthread_mutex_lock(&fail_mu);
		snprintf(last_fail, sizeof(last_fail), "%s", err.msg);
		pthread_mutex_unlock(&fail_mu);
		/* A real client would back off; a short pause keeps the
		 * failure count readable. */
		pgt_sleep_ms(20);
	}
	return NULL;
}

/* Waits until the writer has n more acknowledgements; returns ms taken or
 * -1 after timeout_ms. */
static long wait_acks(int n, unsigned timeout_ms)
{
	int target = atomic_load(&n_acked) + n;
	uint64_t t0 = pgt_now_ms();

	while (atomic_load(&n_acked) < target) {
		if (pgt_now_ms() - t0 > timeout_ms)
			return -1;
		pgt_sleep_ms(5);
	}
	return (long)(pgt_now_ms() - t0);
}

static int first_ack_after(void)
{
	int before = atomic_load(&n_acked);
	uint64_t t0 = pgt_now_ms();

	while (atomic_load(&n_acked) == before && pgt_now_ms() - t0 < 10000)
		pgt_sleep_ms(2);
	return (int)(pgt_now_ms() - t0);
}

static int collect(void *arg, const char *key, const uint8_t *value,
		   size_t value_len, uint64_t version)
{
	unsigned char *present = arg;
	int seq = atoi(key + 2);

	(void)value;
	(void)value_len;
	(void)version;
	if (seq >= 0 && seq < MAX_KEYS)
		present[seq] = 1;
	return 0;
}

static void verify_acked(const char *when)
{
	static unsigned char present[MAX_KEYS];
	struct sb_error err;
	int missing = 0, n = 0, rc;

	memset(present, 0, sizeof(present));
	rc = ops->scan(store.inst, "w/", NULL, 0, collect, present, NULL, &err);
	CHECK(rc == SB_OK, "%s: scan: %s", when, err.msg);
	for (int i = 0; i < MAX_KEYS; i++) {
		if (acked[i]) {
			n++;
			if (!present[i])
				missing++;
		}
	}
	CHECK(missing == 0, "%s: %d of %d acknowledged writes missing", when,
	      missing, n);
	printf("# %s: all %d acknowledged writes present\n", when, n);
}

/* One operation of each kind while the server is away. */
static void ops_fail_cleanly(const char *when, uint64_t bound_ms)
{
	struct sb_error err;
	struct sb_lease_info info;
	uint64_t t0, ms, ver;
	char where[64];
	int rc;

	snprintf(where, sizeof(where), "127.0.0.1:%s", port);
	for (int kind = 0; kind < 3; kind++) {
		const char *name = kind == 0   ? "get"
				   : kind == 1 ? "batch_apply"
					       : "lease_read";

		memset(&err, 0, sizeof(err));
		t0 = pgt_now_ms();
		if (kind == 0)
			rc = ops->get(store.inst, "w/0000001", NULL, NULL, &ver,
				      &err);
		else if (kind == 1)
			rc = put1("outage/x", epoch, &err);
		else
			rc = ops->lease_read(store.inst, &info, &err);
		ms = pgt_now_ms() - t0;
		CHECK(rc == SB_EUNAVAIL || rc == SB_ETIMEOUT,
		      "%s: %s returned %d: %s", when, name, rc, err.msg);
		CHECK(ms <= bound_ms, "%s: %s took %llu ms (bound %llu)", when,
		      name, (unsigned long long)ms,
		      (unsigned long long)bound_ms);
		CHECK(strstr(err.msg, where) != NULL,
		      "%s: %s message does not name %s: %s", when, name, where,
		      err.msg);
		printf("# %s: %s failed in %llu ms: %s\n", when, name,
		       (unsigned long long)ms, err.msg);
	}
}

/* Polls get until it succeeds; returns ms or -1. */
static long until_ok(unsigned timeout_ms)
{
	struct sb_error err;
	uint64_t t0 = pgt_now_ms(), ver;

	for (;;) {
		if (ops->get(store.inst, "w/0000000", NULL, NULL, &ver, &err) ==
		    SB_OK)
			return (long)(pgt_now_ms() - t0);
		if (pgt_now_ms() - t0 > timeout_ms) {
			printf("# last error: %s\n", err.msg);
			return -1;
		}
		pgt_sleep_ms(20);
	}
}

static void fixture(const char *cmd, const char *args)
{
	int st = pgt_fixture(script, cmd, envfile, args);

	if (st != 0) {
		printf("not ok - fixture %s %s exited %d\n", cmd,
		       args ? args : "", st);
		pgt_fixture(script, "log", envfile, NULL);
		pgt_fixture(script, "stop", envfile, NULL);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	char ci[256], timeout[64];
	const char *settings[] = {ci,
				  "schema=outage",
				  timeout,
				  "pool_size=2",
				  "reconnect_backoff_max_ms=200",
				  NULL};
	struct sb_error err;
	pthread_t th;
	long ms;
	int rc;

	if (argc != 4) {
		fprintf(stderr,
			"usage: pg_outage_test PLUGIN_DIR FIXTURE ENVFILE\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ops = pgt_ops(argv[1]);
	script = argv[2];
	envfile = argv[3];
	fixture("start", NULL);
	snprintf(port, sizeof(port), "%s", pgt_env(envfile, "PG_PORT"));
	pgt_conninfo(ci, sizeof(ci), port);
	snprintf(timeout, sizeof(timeout), "op_timeout_ms=%d", OP_TIMEOUT);
	rc = pgt_open(ops, &store, &err, settings);
	if (rc != SB_OK) {
		printf("not ok - open: %s\n", err.msg);
		fixture("stop", NULL);
		return 1;
	}
	rc = ops->fence_takeover(store.inst, "outage-writer", 0, &epoch, &err);
	CHECK(rc == SB_OK, "fence_takeover: %s", err.msg);

	pthread_create(&th, NULL, writer, NULL);
	CHECK(wait_acks(50, 10000) >= 0, "writer made no progress");

	fixture("restart", "fast");
	ms = first_ack_after();
	printf("# restart -m fast: first acknowledged write %ld ms after the "
	       "server was back\n",
	       ms);
	CHECK(wait_acks(50, 10000) >= 0, "no progress after restart -m fast");

	fixture("restart", "immediate");
	ms = first_ack_after();
	printf("# restart -m immediate: first acknowledged write %ld ms after "
	       "the server was back\n",
	       ms);
	CHECK(wait_acks(50, 10000) >= 0,
	      "no progress after restart -m immediate");
	atomic_store(&stop_writer, 1);
	pthread_join(th, NULL);
	printf("# writer: %d acknowledged, %d failed, slowest failure %llu ms; "
	       "last failure: %s\n",
	       atomic_load(&n_acked), atomic_load(&n_failed),
	       (unsigned long long)atomic_load(&max_fail_ms), last_fail);
	CHECK(atomic_load(&max_fail_ms) <= OP_TIMEOUT + CONNECT_SLACK,
	      "a failed write took %llu ms",
	      (unsigned long long)atomic_load(&max_fail_ms));
	verify_acked("after the restarts");

	/* Server stopped: clean, bounded failures. */
	fixture("halt", "fast");
	ops_fail_cleanly("server stopped", OP_TIMEOUT + CONNECT_SLACK);
	fixture("resume", NULL);
	ms = until_ok(5000);
	CHECK(ms >= 0, "store did not recover after the server came back");
	printf("# server back: first successful get after %ld ms\n", ms);
	verify_acked("after the stop");

	/* Server frozen: the in-flight get must time out, not hang. */
	{
		uint64_t t0, ver;

		fixture("freeze", NULL);
		t0 = pgt_now_ms();
		rc = ops->get(store.inst, "w/0000000", NULL, NULL, &ver, &err);
		ms = (long)(pgt_now_ms() - t0);
		CHECK(rc == SB_ETIMEOUT, "get on a frozen server: %d: %s", rc,
		      err.msg);
		CHECK(ms >= OP_TIMEOUT - 50 && ms <= OP_TIMEOUT + 800,
		      "get on a frozen server took %ld ms", ms);
		CHECK(strstr(err.msg, port) != NULL, "message: %s", err.msg);
		printf("# frozen server: get failed in %ld ms: %s\n", ms,
		       err.msg);
		ops_fail_cleanly("server frozen", OP_TIMEOUT + CONNECT_SLACK);
		fixture("thaw", NULL);
		ms = until_ok(5000);
		CHECK(ms >= 0, "store did not recover after the thaw");
		printf("# server thawed: first successful get after %ld ms\n",
		       ms);
	}
	verify_acked("at the end");

	pgt_close(ops, &store);
	if (failures) {
		pgt_fixture(script, "log", envfile, NULL);
		printf("%d check(s) failed\n", failures);
	} else {
		printf("ok - postgres.restart\n");
	}
	fixture("stop", NULL);
	return failures ? 1 : 0;
}
