/*
 * postgres.plugin: what the shared conformance suite cannot see, against
 * the real server of the ctest fixture (SB_PG_ENVFILE):
 * settings errors, an unreachable server, migrations racing between
 * brokers, a newer schema refused, conninfo passed through (multi-host,
 * sslmode, application_name), a stale epoch rejected by the database with
 * nothing applied, takeover and fenced batch ordering through the lease
 * row lock, lock waits bounded by op_timeout_ms, a COMMIT whose outcome is
 * unknown, reconnection after the server ends a connection, a pool smaller
 * than the thread count, multi-page scans on one snapshot; and prints
 * get/batch throughput over one connection.
 */
#define _GNU_SOURCE
#include "pg_test_util.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const struct sb_storage_ops *ops;
static const char *port;
static char conninfo[256];

/* Opens a store on a fresh schema with extra settings. */
static void open_fresh(struct pgt_store *s, char *schema, size_t n,
		       const char *tag, const char *extra1, const char *extra2)
{
	char sset[128];
	const char *settings[5] = {conninfo, sset, extra1, extra2, NULL};
	struct sb_error err;
	int rc;

	pgt_fresh_schema(schema, n, tag);
	snprintf(sset, sizeof(sset), "schema=%s", schema);
	if (extra1 == NULL)
		settings[2] = NULL;
	rc = pgt_open(ops, s, &err, settings);
	if (rc != SB_OK)
		fail_msg("open schema %s: %s", schema, err.msg);
}

static int put1(struct pgt_store *s, const char *key, const char *val,
		uint64_t epoch, struct sb_error *err)
{
	struct sb_batch_op op = {.type = SB_OP_PUT,
				 .key = key,
				 .value = (const uint8_t *)val,
				 .value_len = strlen(val)};
	struct sb_batch b = {.ops = &op, .n_ops = 1, .epoch = epoch};

	memset(err, 0, sizeof(*err));
	return ops->batch_apply(s->inst, &b, err);
}

static void test_settings_invalid(void **state)
{
	static const char *const bad[][3] = {
		{"schema=Bad-Name", NULL},
		{"schema=pg_mine", NULL},
		{"op_timeout_ms=5", NULL},
		{"pool_size=0", NULL},
		{"op_timeout_ms=abc", NULL},
		{"conninfo=host=127.0.0.1 nosuchkeyword=1", NULL},
		{"conninfo='unterminated", NULL},
	};
	struct pgt_store s;
	struct sb_error err;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *settings[3] = {conninfo, bad[i][0], NULL};
		int rc = pgt_open(ops, &s, &err, settings);

		if (rc != SB_EINVAL)
			fail_msg("%s: status %d (%s), want SB_EINVAL",
				 bad[i][0], rc, err.msg);
		assert_non_null(strstr(err.msg, "["));
		assert_null(strchr(err.msg, '\n'));
	}
}

static void test_unreachable(void **state)
{
	const char *settings[] = {
		"conninfo=host=127.0.0.1 port=1 user=postgres "
		"dbname=postgres",
		"op_timeout_ms=800", NULL};
	struct pgt_store s;
	struct sb_error err;
	uint64_t t0 = pgt_now_ms();
	int rc;

	(void)state;
	rc = pgt_open(ops, &s, &err, settings);
	assert_int_equal(rc, SB_EUNAVAIL);
	assert_non_null(strstr(err.msg, "127.0.0.1:1"));
	assert_true(pgt_now_ms() - t0 < 800 + 1000);
	printf("# unreachable: %s\n", err.msg);
}

struct open_race {
	char schema[64];
	int rc;
	char msg[SB_ERROR_MAX];
	struct pgt_store s;
	pthread_barrier_t *bar;
};

static void *open_racer(void *arg)
{
	struct open_race *r = arg;
	char sset[128];
	const char *settings[] = {conninfo, sset, NULL};
	struct sb_error err;

	snprintf(sset, sizeof(sset), "schema=%s", r->schema);
	pthread_barrier_wait(r->bar);
	r->rc = pgt_open(ops, &r->s, &err, settings);
	snprintf(r->msg, sizeof(r->msg), "%s", err.msg);
	return NULL;
}

/* Four brokers opening the same new schema at once: the advisory lock
 * serialises the migration; every one must succeed. */
static void test_concurrent_migration(void **state)
{
	enum { N = 4 };
	struct open_race r[N];
	pthread_t th[N];
	pthread_barrier_t bar;
	char schema[64], sql[256], *v;
	PGconn *admin = pgt_admin(port);

	(void)state;
	pgt_fresh_schema(schema, sizeof(schema), "mig");
	pthread_barrier_init(&bar, NULL, N);
	for (int i = 0; i < N; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		snprintf(r[i].schema, sizeof(r[i].schema), "%s", schema);
		r[i].bar = &bar;
		pthread_create(&th[i], NULL, open_racer, &r[i]);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(th[i], NULL);
		if (r[i].rc != SB_OK)
			fail_msg("racer %d: %s", i, r[i].msg);
	}
	snprintf(sql, sizeof(sql), "SELECT version FROM %s.schema_version",
		 schema);
	v = pgt_query1(admin, sql);
	assert_string_equal(v, "1");
	free(v);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.lease", schema);
	v = pgt_query1(admin, sql);
	assert_string_equal(v, "1");
	free(v);

	/* A schema from a newer plugin is refused, not downgraded. */
	snprintf(sql, sizeof(sql), "UPDATE %s.schema_version SET version = 99",
		 schema);
	assert_int_equal(pgt_cmd(admin, sql), 0);
	{
		char sset[128];
		const char *settings[] = {conninfo, sset, NULL};
		struct pgt_store s;
		struct sb_error err;

		snprintf(sset, sizeof(sset), "schema=%s", schema);
		assert_int_equal(pgt_open(ops, &s, &err, settings), SB_ERR);
		assert_non_null(strstr(err.msg, "newer"));
		printf("# newer schema: %s\n", err.msg);
	}
	for (int i = 0; i < N; i++)
		pgt_close(ops, &r[i].s);
	pthread_barrier_destroy(&bar);
	PQfinish(admin);
}

/* Multi-host with a dead first host, sslmode and application_name all
 * reach libpq. */
static void test_conninfo_passthrough(void **state)
{
	char ci[512], sset[128], schema[64], *v;
	const char *settings[] = {ci, sset, NULL};
	struct pgt_store s;
	struct sb_error err;
	uint64_t ver = 0;
	PGconn *admin = pgt_admin(port);
	int rc;

	(void)state;
	pgt_fresh_schema(schema, sizeof(schema), "ci");
	snprintf(sset, sizeof(sset), "schema=%s", schema);
	snprintf(ci, sizeof(ci),
		 "conninfo=host=127.0.0.1,127.0.0.1 port=1,%s user=postgres "
		 "dbname=postgres sslmode=require "
		 "target_session_attrs=read-write connect_timeout=3 "
		 "application_name=sb-passthrough",
		 port);
	rc = pgt_open(ops, &s, &err, settings);
	if (rc != SB_OK)
		fail_msg("open: %s", err.msg);
	rc = ops->get(s.inst, "nope", NULL, NULL, &ver, &err);
	assert_int_equal(rc, SB_ENOTFOUND);
	assert_non_null(strstr(err.msg, port));
	v = pgt_query1(admin, "SELECT bool_and(l.ssl)::text || count(*) "
			      "FROM pg_stat_activity a JOIN pg_stat_ssl l "
			      "USING (pid) "
			      "WHERE a.application_name = 'sb-passthrough'");
	assert_string_equal(v, "true1");
	free(v);
	pgt_close(ops, &s);

	/* And a libpq refusal comes back whole, on one line. */
	snprintf(ci, sizeof(ci),
		 "conninfo=host=127.0.0.1 port=%s user=postgres "
		 "dbname=postgres sslmode=verify-full sslrootcert=/nonexistent",
		 port);
	rc = pgt_open(ops, &s, &err, settings);
	assert_int_equal(rc, SB_EUNAVAIL);
	assert_null(strchr(err.msg, '\n'));
	printf("# verify-full without a root cert: %s\n", err.msg);
	PQfinish(admin);
}

/* A batch carrying a stale epoch is rejected by the database and applies
 * nothing, even ops before the point where it would have failed. */
static void test_stale_epoch(void **state)
{
	struct pgt_store s;
	char schema[64], sql[256], *v;
	struct sb_error err;
	uint64_t e1 = 0, e2 = 0;
	struct sb_batch_op o[3] = {
		{.type = SB_OP_PUT,
		 .key = "stale/a",
		 .value = (const uint8_t *)"1",
		 .value_len = 1},
		{.type = SB_OP_PUT,
		 .key = "stale/b",
		 .value = (const uint8_t *)"2",
		 .value_len = 1},
		{.type = SB_OP_DELETE, .key = "stale/keep"},
	};
	struct sb_batch b = {.ops = o, .n_ops = 3};
	PGconn *admin = pgt_admin(port);

	(void)state;
	open_fresh(&s, schema, sizeof(schema), "stale", NULL, NULL);
	assert_int_equal(ops->fence_takeover(s.inst, "old", 0, &e1, &err),
			 SB_OK);
	assert_int_equal(put1(&s, "stale/keep", "k", e1, &err), SB_OK);
	assert_int_equal(ops->fence_takeover(s.inst, "new", 0, &e2, &err),
			 SB_OK);
	assert_true(e2 > e1);
	b.epoch = e1;
	assert_int_equal(ops->batch_apply(s.inst, &b, &err), SB_EFENCED);
	assert_non_null(strstr(err.msg, "epoch"));
	printf("# stale epoch: %s\n", err.msg);
	snprintf(sql, sizeof(sql),
		 "SELECT string_agg(convert_from(key, 'UTF8'), ',' ORDER BY "
		 "key) "
		 "FROM %s.kv",
		 schema);
	v = pgt_query1(admin, sql);
	assert_string_equal(v, "stale/keep");
	free(v);
	b.epoch = e2;
	assert_int_equal(ops->batch_apply(s.inst, &b, &err), SB_OK);
	v = pgt_query1(admin, sql);
	assert_string_equal(v, "stale/a,stale/b");
	free(v);
	pgt_close(ops, &s);
	PQfinish(admin);
}

/* A batch too large for one pipeline takes the statement-by-statement
 * path: same results, same atomicity. */
static void test_large_batch(void **state)
{
	enum { N = 1200 };
	struct pgt_store s;
	char schema[64], sql[256], *v;
	static char keys[N][16];
	static struct sb_batch_op o[N];
	static uint64_t vers[N];
	struct sb_error err;
	size_t failed = 0;
	uint64_t e = 0;
	struct sb_batch b = {.ops = o,
			     .n_ops = N,
			     .versions_out = vers,
			     .failed_op = &failed};
	PGconn *admin = pgt_admin(port);

	(void)state;
	open_fresh(&s, schema, sizeof(schema), "large", NULL, NULL);
	assert_int_equal(ops->fence_takeover(s.inst, "big", 0, &e, &err),
			 SB_OK);
	for (int i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "l/%05d", i);
		o[i] = (struct sb_batch_op){.type = SB_OP_PUT,
					    .precondition = SB_PRE_ABSENT,
					    .key = keys[i],
					    .value = (const uint8_t *)"v",
					    .value_len = 1};
	}
	/* The last op conflicts with the first: nothing may be applied. */
	o[N - 1].key = keys[0];
	b.epoch = e;
	assert_int_equal(ops->batch_apply(s.inst, &b, &err), SB_ECONFLICT);
	assert_int_equal(failed, N - 1);
	assert_non_null(strstr(err.msg, "l/00000"));
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.kv", schema);
	v = pgt_query1(admin, sql);
	assert_string_equal(v, "0");
	free(v);
	/* Stale epoch on this path too. */
	o[N - 1].key = keys[N - 1];
	b.epoch = e + 1;
	assert_int_equal(ops->batch_apply(s.inst, &b, &err), SB_EFENCED);
	b.epoch = e;
	assert_int_equal(ops->batch_apply(s.inst, &b, &err), SB_OK);
	assert_int_equal(vers[N - 1], 1);
	v = pgt_query1(admin, sql);
	assert_string_equal(v, "1200");
	free(v);
	pgt_close(ops, &s);
	PQfinish(admin);
}

struct takeover_call {
	struct pgt_store *s;
	uint64_t epoch;
	int rc;
	uint64_t ms;
	char msg[SB_ERROR_MAX];
	int batch; /* 1: a fenced batch instead of a takeover */
};

static void *takeover_thread(void *arg)
{
	struct takeover_call *c = arg;
	struct sb_error err = {{0}};
	uint64_t t0 = pgt_now_ms();

	if (c->batch)
		c->rc = put1(c->s, "order/batch", "x", c->epoch, &err);
	else
		c->rc = ops->fence_takeover(c->s->inst, "taker", 0, &c->epoch,
					    &err);
	c->ms = pgt_now_ms() - t0;
	snprintf(c->msg, sizeof(c->msg), "%s", err.msg);
	return NULL;
}

/* The lease row lock orders a takeover against fenced batches. */
static void test_lease_row_lock(void **state)
{
	struct pgt_store s;
	char schema[64], sql[512], *v;
	struct sb_error err;
	struct takeover_call c;
	pthread_t th;
	uint64_t e1 = 0;
	PGconn *admin = pgt_admin(port);

	(void)state;
	open_fresh(&s, schema, sizeof(schema), "lock", "op_timeout_ms=1000",
		   NULL);
	assert_int_equal(ops->fence_takeover(s.inst, "first", 0, &e1, &err),
			 SB_OK);

	/* 1. A batch in flight (holding the row FOR SHARE, as the plugin's
	 * batch does) makes a takeover wait for its commit. */
	assert_int_equal(pgt_cmd(admin, "BEGIN"), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT epoch FROM %s.lease WHERE id = 1 FOR SHARE", schema);
	v = pgt_query1(admin, sql);
	free(v);
	memset(&c, 0, sizeof(c));
	c.s = &s;
	pthread_create(&th, NULL, takeover_thread, &c);
	pgt_sleep_ms(300);
	assert_int_equal(pgt_cmd(admin, "COMMIT"), 0);
	pthread_join(th, NULL);
	if (c.rc != SB_OK)
		fail_msg("takeover: %s", c.msg);
	assert_true(c.ms >= 250);
	assert_int_equal(c.epoch, e1 + 1);
	printf("# takeover waited %llu ms for the batch holding the lease "
	       "row\n",
	       (unsigned long long)c.ms);

	/* 2. A takeover in flight makes a fenced batch wait, then the batch
	 * sees the new epoch and is refused. */
	assert_int_equal(pgt_cmd(admin, "BEGIN"), 0);
	snprintf(sql, sizeof(sql),
		 "UPDATE %s.lease SET epoch = epoch + 1, holder = 'admin' "
		 "WHERE id = 1",
		 schema);
	assert_int_equal(pgt_cmd(admin, sql), 0);
	memset(&c, 0, sizeof(c));
	c.s = &s;
	c.batch = 1;
	c.epoch = e1 + 1;
	pthread_create(&th, NULL, takeover_thread, &c);
	pgt_sleep_ms(300);
	assert_int_equal(pgt_cmd(admin, "COMMIT"), 0);
	pthread_join(th, NULL);
	assert_int_equal(c.rc, SB_EFENCED);
	assert_true(c.ms >= 250);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.kv", schema);
	v = pgt_query1(admin, sql);
	assert_string_equal(v, "0");
	free(v);

	/* 3. A lock that is never released: the wait ends at op_timeout_ms
	 * with SB_ETIMEOUT, and the store works again afterwards. */
	assert_int_equal(pgt_cmd(admin, "BEGIN"), 0);
	snprintf(sql, sizeof(sql),
		 "SELECT 1 FROM %s.lease WHERE id = 1 FOR UPDATE", schema);
	v = pgt_query1(admin, sql);
	free(v);
	memset(&c, 0, sizeof(c));
	c.s = &s;
	pthread_create(&th, NULL, takeover_thread, &c);
	pthread_join(th, NULL);
	assert_int_equal(pgt_cmd(admin, "ROLLBACK"), 0);
	assert_int_equal(c.rc, SB_ETIMEOUT);
	assert_true(c.ms >= 950 && c.ms < 1000 + 1000);
	printf("# lock wait: %llu ms: %s\n", (unsigned long long)c.ms, c.msg);
	assert_int_equal(ops->fence_takeover(s.inst, "later", 0, &e1, &err),
			 SB_OK);
	pgt_close(ops, &s);
	PQfinish(admin);
}

/* The connection dies while COMMIT is in flight: the plugin must say the
 * outcome is unknown, not report a plain failure. A deferred constraint
 * trigger terminates its own backend during COMMIT. */
static void test_commit_unknown(void **state)
{
	struct pgt_store s;
	char schema[64], sql[1024], *v;
	struct sb_error err;
	uint64_t ver = 0;
	PGconn *admin = pgt_admin(port);
	int rc;

	(void)state;
	open_fresh(&s, schema, sizeof(schema), "unk", NULL, NULL);
	snprintf(sql, sizeof(sql),
		 "CREATE FUNCTION %s.die_at_commit() RETURNS trigger "
		 "LANGUAGE plpgsql AS $$ BEGIN "
		 "PERFORM pg_terminate_backend(pg_backend_pid()); "
		 "PERFORM pg_sleep(5); RETURN NULL; END $$; "
		 "CREATE CONSTRAINT TRIGGER die AFTER INSERT ON %s.kv "
		 "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
		 "WHEN (NEW.key = 'boom'::bytea) "
		 "EXECUTE FUNCTION %s.die_at_commit()",
		 schema, schema, schema);
	assert_int_equal(pgt_cmd(admin, sql), 0);
	rc = put1(&s, "boom", "x", 0, &err);
	assert_int_equal(rc, SB_EUNAVAIL);
	assert_non_null(strstr(err.msg, "commit outcome unknown"));
	printf("# %s\n", err.msg);
	/* The next operation reconnects by itself. */
	rc = ops->get(s.inst, "boom", NULL, NULL, &ver, &err);
	assert_int_equal(rc, SB_ENOTFOUND);
	assert_int_equal(put1(&s, "fine", "x", 0, &err), SB_OK);
	v = pgt_query1(admin, "SELECT 1");
	free(v);
	pgt_close(ops, &s);
	PQfinish(admin);
}

/* The server ends every idle connection (as a restart or failover does):
 * the next operations reconnect without an error. */
static void test_reconnect_after_terminate(void **state)
{
	struct pgt_store s;
	char schema[64], *v;
	struct sb_error err;
	uint64_t ver = 0;
	PGconn *admin = pgt_admin(port);

	(void)state;
	open_fresh(&s, schema, sizeof(schema), "term", "pool_size=2", NULL);
	assert_int_equal(put1(&s, "k", "v", 0, &err), SB_OK);
	v = pgt_query1(admin, "SELECT count(pg_terminate_backend(pid)) FROM "
			      "pg_stat_activity WHERE application_name = "
			      "'secretbroker@pgtest-node'");
	assert_string_not_equal(v, "0");
	free(v);
	pgt_sleep_ms(50);
	for (int i = 0; i < 5; i++) {
		int rc = ops->get(s.inst, "k", NULL, NULL, &ver, &err);

		if (rc != SB_OK)
			fail_msg("get %d after terminate: %s", i, err.msg);
	}
	pgt_close(ops, &s);
	PQfinish(admin);
}

struct cas_ctx {
	struct pgt_store *s;
	int n;
	int fails;
	char msg[SB_ERROR_MAX];
};

/* Increments the counter n times by compare-and-swap. */
static void *cas_thread(void *arg)
{
	struct cas_ctx *c = arg;
	struct sb_error err;

	for (int i = 0; i < c->n;) {
		uint8_t *val = NULL;
		size_t len = 0;
		uint64_t ver = 0;
		char buf[32];
		int rc =
			ops->get(c->s->inst, "counter", &val, &len, &ver, &err);
		struct sb_batch_op op = {.type = SB_OP_PUT,
					 .precondition = SB_PRE_VERSION,
					 .key = "counter"};
		struct sb_batch b = {.ops = &op, .n_ops = 1};
		long n;

		if (rc != SB_OK) {
			c->fails++;
			snprintf(c->msg, sizeof(c->msg), "%s", err.msg);
			return NULL;
		}
		snprintf(buf, sizeof(buf), "%.*s", (int)len, (char *)val);
		free(val);
		n = strtol(buf, NULL, 10) + 1;
		snprintf(buf, sizeof(buf), "%ld", n);
		op.version = ver;
		op.value = (const uint8_t *)buf;
		op.value_len = strlen(buf);
		rc = ops->batch_apply(c->s->inst, &b, &err);
		if (rc == SB_OK)
			i++;
		else if (rc != SB_ECONFLICT) {
			c->fails++;
			snprintf(c->msg, sizeof(c->msg), "%s", err.msg);
			return NULL;
		}
	}
	return NULL;
}

/* Eight threads on a pool of two connections. */
static void test_pool_threads(void **state)
{
	enum { T = 8, N = 25 };
	struct pgt_store s;
	struct cas_ctx c[T];
	pthread_t th[T];
	char schema[64];
	struct sb_error err;
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t ver = 0;

	(void)state;
	open_fresh(&s, schema, sizeof(schema), "pool", "pool_size=2", NULL);
	assert_int_equal(put1(&s, "counter", "0", 0, &err), SB_OK);
	for (int i = 0; i < T; i++) {
		c[i] = (struct cas_ctx){.s = &s, .n = N};
		pthread_create(&th[i], NULL, cas_thread, &c[i]);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		if (c[i].fails)
			fail_msg("thread %d: %s", i, c[i].msg);
	}
	assert_int_equal(ops->get(s.inst, "counter", &val, &len, &ver, &err),
			 SB_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(val, "200", 3);
	assert_int_equal(ver, T * N + 1);
	free(val);
	pgt_close(ops, &s);
}

struct scan_seen {
	struct pgt_store *other;
	int n;
	char keys[16][16];
};

static int scan_cb(void *arg, const char *key, const uint8_t *value,
		   size_t value_len, uint64_t version)
{
	struct scan_seen *sc = arg;
	struct sb_error err;

	(void)value;
	(void)value_len;
	(void)version;
	if (sc->n < 16)
		snprintf(sc->keys[sc->n], sizeof(sc->keys[0]), "%s", key);
	sc->n++;
	/* Written after the scan began: not in its snapshot. */
	if (sc->n == 1 && sc->other)
		put1(sc->other, "p/zz", "late", 0, &err);
	return 0;
}

/* Pages of two rows, one snapshot across them. */
static void test_scan_pages(void **state)
{
	struct pgt_store s, other;
	char schema[64], sset[128];
	const char *settings[] = {conninfo, sset, NULL};
	struct scan_seen sc = {0};
	struct sb_error err;
	char last[SB_KEY_MAX + 1];
	static const char *const keys[] = {"p/a", "p/b", "p/c", "p/d",
					   "p/e", "p/f", "p/g", "q/a"};

	(void)state;
	open_fresh(&s, schema, sizeof(schema), "scan", "scan_page_size=2",
		   NULL);
	snprintf(sset, sizeof(sset), "schema=%s", schema);
	assert_int_equal(pgt_open(ops, &other, &err, settings), SB_OK);
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(put1(&s, keys[i], "v", 0, &err), SB_OK);
	sc.other = &other;
	assert_int_equal(
		ops->scan(s.inst, "p/", NULL, 0, scan_cb, &sc, last, &err),
		SB_OK);
	assert_int_equal(sc.n, 7);
	assert_string_equal(sc.keys[6], "p/g");
	assert_string_equal(last, "p/g");
	/* Limit across pages, starting after a key. */
	memset(&sc, 0, sizeof(sc));
	assert_int_equal(
		ops->scan(s.inst, "p/", "p/b", 3, scan_cb, &sc, last, &err),
		SB_OK);
	assert_int_equal(sc.n, 3);
	assert_string_equal(sc.keys[0], "p/c");
	assert_string_equal(last, "p/e");
	pgt_close(ops, &other);
	pgt_close(ops, &s);
}

/* Figures, printed: get and fenced one-put batches per second over one
 * connection, with TLS (libpq's default sslmode=prefer; the fixture's
 * server has SSL on) and without. */
static void throughput(const char *sslmode)
{
	struct pgt_store s;
	char schema[64], key[32], ci[320];
	const char *settings[4] = {ci, NULL, "pool_size=1", NULL};
	char sset[128];
	struct sb_error err;
	uint64_t e = 0, t0, ver;
	double batch_rate;
	int n;

	pgt_fresh_schema(schema, sizeof(schema), "tput");
	snprintf(sset, sizeof(sset), "schema=%s", schema);
	settings[1] = sset;
	snprintf(ci, sizeof(ci), "%s sslmode=%s", conninfo, sslmode);
	if (pgt_open(ops, &s, &err, settings) != SB_OK)
		fail_msg("open: %s", err.msg);
	assert_int_equal(ops->fence_takeover(s.inst, "bench", 0, &e, &err),
			 SB_OK);
	t0 = pgt_now_ms();
	for (n = 0; pgt_now_ms() - t0 < 500; n++) {
		snprintf(key, sizeof(key), "b/%06d", n);
		if (put1(&s, key, "0123456789abcdef0123456789abcdef", e,
			 &err) != SB_OK)
			fail_msg("batch: %s", err.msg);
	}
	batch_rate = n * 1000.0 / (double)(pgt_now_ms() - t0);
	t0 = pgt_now_ms();
	for (n = 0; pgt_now_ms() - t0 < 500; n++) {
		uint8_t *val = NULL;
		size_t len;

		snprintf(key, sizeof(key), "b/%06d", n % 50);
		if (ops->get(s.inst, key, &val, &len, &ver, &err) != SB_OK)
			fail_msg("get: %s", err.msg);
		free(val);
	}
	printf("# one connection, sslmode=%s: get %.0f/s, batch (1 put, "
	       "fenced) %.0f/s\n",
	       sslmode, n * 1000.0 / (double)(pgt_now_ms() - t0), batch_rate);
	pgt_close(ops, &s);
}

static void test_throughput(void **state)
{
	(void)state;
	throughput("disable");
	throughput("require");
}

int main(void)
{
	const char *dir = getenv("SB_PLUGIN_DIR");
	const char *envfile = getenv("SB_PG_ENVFILE");
	int rc;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_settings_invalid),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_concurrent_migration),
		cmocka_unit_test(test_conninfo_passthrough),
		cmocka_unit_test(test_stale_epoch),
		cmocka_unit_test(test_large_batch),
		cmocka_unit_test(test_lease_row_lock),
		cmocka_unit_test(test_commit_unknown),
		cmocka_unit_test(test_reconnect_after_terminate),
		cmocka_unit_test(test_pool_threads),
		cmocka_unit_test(test_scan_pages),
		cmocka_unit_test(test_throughput),
	};

	if (dir == NULL || envfile == NULL) {
		fprintf(stderr, "set SB_PLUGIN_DIR and SB_PG_ENVFILE\n");
		return 2;
	}
	ops = pgt_ops(dir);
	port = pgt_env(envfile, "PG_PORT");
	pgt_conninfo(conninfo, sizeof(conninfo), port);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	/* On failure the server's side of the story helps. */
	if (rc != 0 && getenv("SB_PG_FIXTURE"))
		pgt_fixture(getenv("SB_PG_FIXTURE"), "log", envfile, NULL);
	return rc;
}
