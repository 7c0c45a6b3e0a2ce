/*
 * sb-redis-tool: drives the Redis storage plugin the way the daemon does
 * (sb_plugin_load, sb_host_new, a [storage] section built from --set) for
 * the Redis-specific tests in tests/redis. Subcommands:
 *
 *   fence     a stale-epoch batch is refused with nothing applied
 *   features  Redis-specific behaviour: large scans, 0xff prefixes, binary
 *             and 1 MiB values, NOSCRIPT reload, a pool shared by threads
 *   writer    writes numbered keys in fenced batches until SIGTERM and
 *             appends each acknowledged key number to --acks
 *   verify    reads --acks and counts acknowledged keys that are missing
 *             (--split N: separately among the first N acknowledgements)
 *   loop      a batch and a get per iteration until SIGTERM; prints every
 *             status change and, at the end, counts and the slowest call
 *   open      opens once and prints the status and message (for settings
 *             checks)
 *   bench     single-thread latency of get and a one-put batch (figures)
 *
 * Common options: --plugin-dir DIR --set key=value... ; the admin options
 * --admin-port P (a plain hiredis connection for SCRIPT FLUSH etc.).
 * Output lines are meant for the shell tests in this directory.
 */
#define _GNU_SOURCE
#include "host/host.h"
#include "runtime/log.h"
#include "host/plugin_loader.h"

#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct tool {
	struct sb_plugin plugin;
	const struct sb_storage_ops *ops;
	struct sb_config *cfg;
	struct sb_host *host;
	const char *acks_path;
	int admin_port;
	int batch_keys;
	unsigned long long split; /* verify: count losses before this ack */
	unsigned pause_us;	  /* writer: pause between batches */
	int failures;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static uint64_t mono_ms(void)
{
	return sb_mono_ms();
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_requested)
		;
}

/* Records a failed expectation; the subcommand exits 1 at the end. */
static void bad(struct tool *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void bad(struct tool *t, const char *fmt, ...)
{
	va_list ap;

	t->failures++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void good(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void good(const char *fmt, ...)
{
	va_list ap;

	printf("ok: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int open_inst(struct tool *t, void **inst, struct sb_error *err)
{
	memset(err, 0, sizeof(*err));
	return t->ops->open(t->host, t->cfg, inst, err);
}

static struct sb_batch_op put_op(const char *key, const void *v, size_t len,
				 uint32_t pre, uint64_t ver)
{
	struct sb_batch_op op = {SB_OP_PUT, pre, ver, key, v, len};

	return op;
}

static struct sb_batch_op del_op(const char *key)
{
	struct sb_batch_op op = {SB_OP_DELETE, SB_PRE_NONE, 0, key, NULL, 0};

	return op;
}

static int apply(struct tool *t, void *inst, struct sb_batch_op *ops, size_t n,
		 uint64_t epoch, struct sb_error *err)
{
	struct sb_batch b = {ops, n, epoch, NULL, NULL};

	memset(err, 0, sizeof(*err));
	return t->ops->batch_apply(inst, &b, err);
}

/* Gets key; returns the status and fills value (malloc'ed) and version. */
static int get(struct tool *t, void *inst, const char *key, char **val,
	       size_t *len, uint64_t *ver)
{
	struct sb_error err = {{0}};
	uint8_t *v = NULL;
	int rc;

	rc = t->ops->get(inst, key, &v, len, ver, &err);
	if (val != NULL)
		*val = (char *)v;
	else
		free(v);
	return rc;
}

/* Is key present with exactly this value and version? */
static int has(struct tool *t, void *inst, const char *key, const char *want,
	       uint64_t want_ver)
{
	char *v = NULL;
	size_t len = 0;
	uint64_t ver = 0;
	int ok;

	ok = get(t, inst, key, &v, &len, &ver) == SB_OK &&
	     len == strlen(want) && memcmp(v, want, len) == 0 &&
	     ver == want_ver;
	free(v);
	return ok;
}

struct scan_count {
	size_t n;
	char first[SB_KEY_MAX + 1];
	char last[SB_KEY_MAX + 1];
	int out_of_order;
};

static int count_cb(void *arg, const char *key, const uint8_t *value,
		    size_t value_len, uint64_t version)
{
	struct scan_count *c = arg;

	if (c->n > 0 && strcmp(c->last, key) >= 0)
		c->out_of_order = 1;
	if (c->n == 0)
		snprintf(c->first, sizeof(c->first), "%s", key);
	snprintf(c->last, sizeof(c->last), "%s", key);
	c->n++;
	return 0;
}

/* ------------------------------------------------------------------ */
/* fence                                                               */
/* ------------------------------------------------------------------ */

static int cmd_fence(struct tool *t)
{
	void *a = NULL, *b = NULL;
	struct sb_error err;
	struct sb_batch_op ops[3];
	struct scan_count sc;
	uint64_t ea = 0, eb = 0, e2 = 0;
	int rc;

	if ((rc = open_inst(t, &a, &err)) != SB_OK ||
	    (rc = open_inst(t, &b, &err)) != SB_OK) {
		bad(t, "open: %s: %s", sb_status_name(rc), err.msg);
		goto done;
	}

	/* No lease was ever taken on this fresh prefix: any non-zero epoch
	 * is stale. */
	ops[0] = put_op("f/never", "x", 1, SB_PRE_NONE, 0);
	rc = apply(t, a, ops, 1, 1, &err);
	if (rc == SB_EFENCED &&
	    get(t, a, "f/never", NULL, NULL, NULL) == SB_ENOTFOUND)
		good("batch with epoch 1 before any lease: fenced (%s)",
		     err.msg);
	else
		bad(t, "batch with epoch 1 before any lease: %s: %s",
		    sb_status_name(rc), err.msg);

	/* Node A takes the fence and writes. */
	rc = t->ops->fence_takeover(a, "node-a", 0, &ea, &err);
	if (rc != SB_OK) {
		bad(t, "fence_takeover node-a: %s", err.msg);
		goto done;
	}
	ops[0] = put_op("f/k1", "a1", 2, SB_PRE_ABSENT, 0);
	ops[1] = put_op("f/k2", "a2", 2, SB_PRE_ABSENT, 0);
	rc = apply(t, a, ops, 2, ea, &err);
	if (rc != SB_OK) {
		bad(t, "batch at node-a's epoch %" PRIu64 ": %s", ea, err.msg);
		goto done;
	}
	good("node-a wrote at epoch %" PRIu64, ea);

	/* Node B takes over (a failover); A is now stale. */
	rc = t->ops->fence_takeover(b, "node-b", 0, &eb, &err);
	if (rc != SB_OK || eb <= ea) {
		bad(t,
		    "fence_takeover node-b: %s, epoch %" PRIu64
		    " after %" PRIu64 ": %s",
		    sb_status_name(rc), eb, ea, err.msg);
		goto done;
	}

	/* A's late batch: a put over k1, a delete of k2, a new k3. It must be
	 * refused as a whole. */
	ops[0] = put_op("f/k1", "stale", 5, SB_PRE_VERSION, 1);
	ops[1] = del_op("f/k2");
	ops[2] = put_op("f/k3", "stale", 5, SB_PRE_NONE, 0);
	rc = apply(t, a, ops, 3, ea, &err);
	if (rc == SB_EFENCED)
		good("stale batch at epoch %" PRIu64 " (current %" PRIu64
		     ") refused: %s",
		     ea, eb, err.msg);
	else
		bad(t, "stale batch: %s, want fenced: %s", sb_status_name(rc),
		    err.msg);
	if (has(t, b, "f/k1", "a1", 1) && has(t, b, "f/k2", "a2", 1) &&
	    get(t, b, "f/k3", NULL, NULL, NULL) == SB_ENOTFOUND)
		good("nothing of the stale batch was applied");
	else
		bad(t, "the stale batch changed the store");
	memset(&sc, 0, sizeof(sc));
	rc = t->ops->scan(b, "f/", NULL, 0, count_cb, &sc, NULL, &err);
	if (rc != SB_OK || sc.n != 2)
		bad(t, "scan f/ after the stale batch: %s, %zu keys: %s",
		    sb_status_name(rc), sc.n, err.msg);

	/* The same batch at B's epoch goes through. */
	rc = apply(t, b, ops, 3, eb, &err);
	if (rc == SB_OK && has(t, a, "f/k1", "stale", 2) &&
	    get(t, a, "f/k2", NULL, NULL, NULL) == SB_ENOTFOUND &&
	    has(t, a, "f/k3", "stale", 1))
		good("the same batch at the current epoch %" PRIu64 " applied",
		     eb);
	else
		bad(t, "batch at the current epoch: %s: %s", sb_status_name(rc),
		    err.msg);

	/* Release keeps the counter: the next acquire is larger still, and
	 * the released epoch no longer writes. */
	rc = t->ops->lease_release(b, "node-b", eb, &err);
	if (rc != SB_OK)
		bad(t, "lease_release node-b: %s", err.msg);
	ops[0] = put_op("f/k4", "x", 1, SB_PRE_NONE, 0);
	rc = apply(t, b, ops, 1, eb, &err);
	if (rc != SB_OK)
		bad(t,
		    "batch at the released epoch: %s (the epoch is still "
		    "the store's counter, so it should pass): %s",
		    sb_status_name(rc), err.msg);
	rc = t->ops->lease_acquire(a, "node-a", 10000, &e2, &err);
	if (rc != SB_OK || e2 <= eb)
		bad(t,
		    "lease_acquire after release: %s, epoch %" PRIu64
		    " after %" PRIu64 ": %s",
		    sb_status_name(rc), e2, eb, err.msg);
	rc = apply(t, b, ops, 1, eb, &err);
	if (rc == SB_EFENCED)
		good("epoch %" PRIu64 " fenced after node-a acquired %" PRIu64,
		     eb, e2);
	else
		bad(t, "batch at an old epoch after a new acquire: %s",
		    sb_status_name(rc));
done:
	if (a != NULL)
		t->ops->close(a);
	if (b != NULL)
		t->ops->close(b);
	return t->failures ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* features                                                            */
/* ------------------------------------------------------------------ */

static redisContext *admin_connect(struct tool *t)
{
	struct timeval tv = {2, 0};
	redisContext *c;

	c = redisConnectWithTimeout("127.0.0.1", t->admin_port, tv);
	if (c == NULL || c->err) {
		bad(t, "admin connection to 127.0.0.1:%d: %s", t->admin_port,
		    c ? c->errstr : "out of memory");
		if (c)
			redisFree(c);
		return NULL;
	}
	return c;
}

/* The server's used_memory from INFO memory, 0 if unknown. */
static long long used_memory(redisContext *c)
{
	redisReply *r = redisCommand(c, "INFO memory");
	long long n = 0;
	const char *p;

	if (r != NULL && r->type == REDIS_REPLY_STRING &&
	    (p = strstr(r->str, "used_memory:")) != NULL)
		n = atoll(p + strlen("used_memory:"));
	if (r != NULL)
		freeReplyObject(r);
	return n;
}

struct hammer {
	struct tool *t;
	void *inst;
	int id;
	int errors;
	char msg[SB_ERROR_MAX + 128];
};

#define HAMMER_THREADS 6
#define HAMMER_ITERS   150

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct sb_error err;
	char key[64], val[64];

	for (int i = 0; i < HAMMER_ITERS; i++) {
		struct sb_batch_op op;
		int rc;

		snprintf(key, sizeof(key), "h/%d/%04d", h->id, i);
		snprintf(val, sizeof(val), "v%d", i);
		op = put_op(key, val, strlen(val), SB_PRE_ABSENT, 0);
		rc = apply(h->t, h->inst, &op, 1, 0, &err);
		if (rc == SB_OK && !has(h->t, h->inst, key, val, 1))
			rc = SB_ERR;
		if (rc != SB_OK && h->errors++ == 0)
			snprintf(h->msg, sizeof(h->msg), "%s: %s: %s", key,
				 sb_status_name(rc), err.msg);
	}
	return NULL;
}

static int cmd_features(struct tool *t)
{
	void *inst = NULL;
	struct sb_error err;
	struct sb_batch_op *ops = NULL;
	char(*keys)[32] = NULL;
	struct scan_count sc;
	redisContext *adm = NULL;
	redisReply *r;
	uint8_t *big = NULL;
	char lastbuf[SB_KEY_MAX + 1];
	const size_t nkeys = 1500;
	int rc;

	if ((rc = open_inst(t, &inst, &err)) != SB_OK) {
		bad(t, "open: %s: %s", sb_status_name(rc), err.msg);
		goto done;
	}

	/* 1500 keys in one batch, one scan: the scan script reads values in
	 * chunks, and order must hold across chunks. */
	ops = calloc(nkeys, sizeof(*ops));
	keys = calloc(nkeys, sizeof(*keys));
	if (ops == NULL || keys == NULL) {
		bad(t, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nkeys; i++) {
		snprintf(keys[i], sizeof(keys[i]), "s/%05zu", nkeys - 1 - i);
		ops[i] = put_op(keys[i], keys[i], strlen(keys[i]),
				SB_PRE_ABSENT, 0);
	}
	rc = apply(t, inst, ops, nkeys, 0, &err);
	if (rc != SB_OK)
		bad(t, "batch of %zu puts: %s: %s", nkeys, sb_status_name(rc),
		    err.msg);
	memset(&sc, 0, sizeof(sc));
	rc = t->ops->scan(inst, "s/", NULL, 0, count_cb, &sc, lastbuf, &err);
	if (rc == SB_OK && sc.n == nkeys && !sc.out_of_order &&
	    strcmp(sc.first, "s/00000") == 0 && strcmp(lastbuf, "s/01499") == 0)
		good("scan of %zu keys in one script, in order", nkeys);
	else
		bad(t, "scan s/: %s, %zu keys, order %s, first %s last %s: %s",
		    sb_status_name(rc), sc.n, sc.out_of_order ? "bad" : "ok",
		    sc.first, lastbuf, err.msg);
	memset(&sc, 0, sizeof(sc));
	rc = t->ops->scan(inst, "s/", "s/00999", 10, count_cb, &sc, lastbuf,
			  &err);
	if (rc == SB_OK && sc.n == 10 && strcmp(sc.first, "s/01000") == 0 &&
	    strcmp(lastbuf, "s/01009") == 0)
		good("paged scan after s/00999, limit 10");
	else
		bad(t, "paged scan: %s, %zu keys, first %s last %s",
		    sb_status_name(rc), sc.n, sc.first, lastbuf);

	/* Prefixes ending in 0xff bytes: the upper ZRANGEBYLEX bound drops
	 * them and increments the byte before. */
	{
		static const char *const k[] = {"p\xfe", "p\xff", "p\xff\xff",
						"p\xff\xffz", "q"};
		struct sb_batch_op o[5];

		for (int i = 0; i < 5; i++)
			o[i] = put_op(k[i], "v", 1, SB_PRE_NONE, 0);
		rc = apply(t, inst, o, 5, 0, &err);
		memset(&sc, 0, sizeof(sc));
		if (rc == SB_OK)
			rc = t->ops->scan(inst, "p\xff", NULL, 0, count_cb, &sc,
					  NULL, &err);
		if (rc == SB_OK && sc.n == 3 && !sc.out_of_order)
			good("scan of prefix p\\xff finds 3 keys");
		else
			bad(t, "scan of prefix p\\xff: %s, %zu keys",
			    sb_status_name(rc), sc.n);
		memset(&sc, 0, sizeof(sc));
		rc = t->ops->scan(inst, "p\xff\xff", NULL, 0, count_cb, &sc,
				  NULL, &err);
		if (rc == SB_OK && sc.n == 2)
			good("scan of prefix p\\xff\\xff finds 2 keys");
		else
			bad(t, "scan of prefix p\\xff\\xff: %s, %zu keys",
			    sb_status_name(rc), sc.n);
	}

	/* A 1 MiB value with NUL bytes, and an empty value. */
	big = malloc(SB_VALUE_MAX);
	if (big == NULL) {
		bad(t, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < SB_VALUE_MAX; i++)
		big[i] = (uint8_t)(i * 7);
	{
		struct sb_batch_op o[2] = {
			put_op("v/big", big, SB_VALUE_MAX, SB_PRE_NONE, 0),
			put_op("v/empty", "", 0, SB_PRE_NONE, 0)};
		char *v = NULL;
		size_t len = 0;
		uint64_t ver = 0;

		rc = apply(t, inst, o, 2, 0, &err);
		if (rc == SB_OK &&
		    get(t, inst, "v/big", &v, &len, &ver) == SB_OK &&
		    len == SB_VALUE_MAX && memcmp(v, big, len) == 0)
			good("1 MiB binary value round-trips");
		else
			bad(t, "1 MiB value: %s: %s", sb_status_name(rc),
			    err.msg);
		free(v);
		v = NULL;
		if (get(t, inst, "v/empty", &v, &len, &ver) == SB_OK &&
		    len == 0 && v != NULL)
			good("empty value round-trips");
		else
			bad(t, "empty value");
		free(v);
	}

	/* NOSCRIPT: the server forgets its scripts; the next call reloads
	 * them transparently. */
	adm = admin_connect(t);
	if (adm != NULL) {
		r = redisCommand(adm, "SCRIPT FLUSH");
		if (r != NULL)
			freeReplyObject(r);
		if (has(t, inst, "s/00001", "s/00001", 1))
			good("get after SCRIPT FLUSH (NOSCRIPT reload)");
		else
			bad(t, "get after SCRIPT FLUSH failed");
		r = redisCommand(adm, "SCRIPT FLUSH");
		if (r != NULL)
			freeReplyObject(r);
		{
			struct sb_batch_op o =
				put_op("n/after-flush", "x", 1, SB_PRE_NONE, 0);

			rc = apply(t, inst, &o, 1, 0, &err);
			if (rc == SB_OK)
				good("batch after SCRIPT FLUSH");
			else
				bad(t, "batch after SCRIPT FLUSH: %s", err.msg);
		}
		/* A client killed by the server (as after a restart) is
		 * noticed before use, without an error to the caller. */
		r = redisCommand(adm, "CLIENT KILL TYPE normal SKIPME yes");
		if (r != NULL)
			freeReplyObject(r);
		if (has(t, inst, "n/after-flush", "x", 1))
			good("get after CLIENT KILL of every pooled "
			     "connection");
		else
			bad(t, "get after CLIENT KILL failed");
		/* The layout: every store key is in the index with score 0. */
		r = redisCommand(adm, "ZSCORE %sidx s/00042",
				 sb_config_get(t->cfg, "key_prefix", "sb:"));
		if (r != NULL && r->type == REDIS_REPLY_STRING &&
		    strcmp(r->str, "0") == 0)
			good("index entry has score 0");
		else
			bad(t, "index entry for s/00042 missing or not 0");
		if (r != NULL)
			freeReplyObject(r);
	}

	/* Out of memory: a batch is refused whole before it starts (the
	 * scripts' shebang), reads go on. */
	if (adm != NULL) {
		static char v[64 * 1024];
		struct sb_batch_op o[8];
		char k[8][32];
		int round, failed = 0;

		memset(v, 'm', sizeof(v));
		r = redisCommand(adm, "CONFIG SET maxmemory %lld",
				 used_memory(adm) + 2 * 1024 * 1024);
		if (r != NULL)
			freeReplyObject(r);
		for (round = 0; round < 200 && !failed; round++) {
			for (int i = 0; i < 8; i++) {
				snprintf(k[i], sizeof(k[i]), "oom/%03d/%d",
					 round, i);
				o[i] = put_op(k[i], v, sizeof(v), SB_PRE_NONE,
					      0);
			}
			rc = apply(t, inst, o, 8, 0, &err);
			if (rc != SB_OK)
				failed = 1;
		}
		if (failed && strstr(err.msg, "OOM") != NULL) {
			int any = 0;

			for (int i = 0; i < 8; i++)
				any |= get(t, inst, k[i], NULL, NULL, NULL) !=
				       SB_ENOTFOUND;
			if (!any)
				good("over maxmemory: batch refused whole (%s: "
				     "%s)",
				     sb_status_name(rc), err.msg);
			else
				bad(t, "over maxmemory: part of the batch was "
				       "applied");
			if (has(t, inst, "s/00001", "s/00001", 1))
				good("reads still work over maxmemory");
			else
				bad(t, "get over maxmemory failed");
		} else {
			bad(t, "no OOM refusal after %d rounds: %s", round,
			    failed ? err.msg : "all writes accepted");
		}
		r = redisCommand(adm, "CONFIG SET maxmemory 0");
		if (r != NULL)
			freeReplyObject(r);
	}

	/* Threads sharing a pool smaller than their number. */
	{
		struct hammer h[HAMMER_THREADS];
		pthread_t th[HAMMER_THREADS];
		int errors = 0;
		uint64_t t0 = mono_ms();

		memset(h, 0, sizeof(h));
		for (int i = 0; i < HAMMER_THREADS; i++) {
			h[i].t = t;
			h[i].inst = inst;
			h[i].id = i;
			pthread_create(&th[i], NULL, hammer_main, &h[i]);
		}
		for (int i = 0; i < HAMMER_THREADS; i++) {
			pthread_join(th[i], NULL);
			if (h[i].errors) {
				errors += h[i].errors;
				printf("  thread %d: %s\n", i, h[i].msg);
			}
		}
		if (errors == 0)
			good("%d threads x %d put+get on pool_size %s in "
			     "%" PRIu64 " ms",
			     HAMMER_THREADS, HAMMER_ITERS,
			     sb_config_get(t->cfg, "pool_size", "4"),
			     mono_ms() - t0);
		else
			bad(t, "%d errors from threads", errors);
	}
done:
	if (adm != NULL)
		redisFree(adm);
	free(big);
	free(ops);
	free(keys);
	if (inst != NULL)
		t->ops->close(inst);
	return t->failures ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* writer / verify                                                     */
/* ------------------------------------------------------------------ */

struct stats {
	unsigned long long calls, ok, by_status[16];
	uint64_t max_ms;
	int last_rc;
	char last_msg[SB_ERROR_MAX];
};

/* Do two messages differ other than in their numbers? */
static int msg_differs(const char *a, const char *b)
{
	for (;;) {
		while (*a >= '0' && *a <= '9')
			a++;
		while (*b >= '0' && *b <= '9')
			b++;
		if (*a != *b)
			return 1;
		if (*a == '\0')
			return 0;
		a++;
		b++;
	}
}

static void stats_note(struct stats *s, int rc, uint64_t ms,
		       const struct sb_error *err, const char *what)
{
	s->calls++;
	if (rc == SB_OK)
		s->ok++;
	else if (-rc < 16)
		s->by_status[-rc]++;
	if (ms > s->max_ms)
		s->max_ms = ms;
	if (rc != s->last_rc ||
	    (rc != SB_OK && msg_differs(err->msg, s->last_msg))) {
		/* One line per change of outcome (status, or message apart
		 * from its numbers), with the time. */
		snprintf(s->last_msg, sizeof(s->last_msg), "%s",
			 rc != SB_OK ? err->msg : "");
		printf("%" PRIu64 " %s %s%s%s\n", sb_wall_ms(), what,
		       sb_status_name(rc), rc != SB_OK ? ": " : "",
		       rc != SB_OK ? err->msg : "");
		fflush(stdout);
		s->last_rc = rc;
	}
}

static void stats_print(const struct stats *s, const char *what)
{
	printf("%s: calls=%llu ok=%llu", what, s->calls, s->ok);
	for (int i = 1; i < 16; i++)
		if (s->by_status[i])
			printf(" %s=%llu", sb_status_name(-i), s->by_status[i]);
	printf(" max_ms=%" PRIu64 "\n", s->max_ms);
	fflush(stdout);
}

static int cmd_writer(struct tool *t)
{
	void *inst = NULL;
	struct sb_error err;
	struct sb_batch_op ops[64];
	char keys[64][32], vals[64][32];
	struct stats st;
	FILE *acks = NULL;
	uint64_t epoch = 0, n = 1;
	char holder[64];
	int rc, ret = 1;

	memset(&st, 0, sizeof(st));
	if (t->acks_path == NULL || t->batch_keys < 1 || t->batch_keys > 64) {
		fprintf(stderr, "writer: needs --acks FILE, --batch 1..64\n");
		return 2;
	}
	acks = fopen(t->acks_path, "a");
	if (acks == NULL) {
		fprintf(stderr, "writer: %s: %s\n", t->acks_path,
			strerror(errno));
		return 2;
	}
	if ((rc = open_inst(t, &inst, &err)) != SB_OK) {
		fprintf(stderr, "writer: open: %s: %s\n", sb_status_name(rc),
			err.msg);
		goto done;
	}
	snprintf(holder, sizeof(holder), "writer-%d", (int)getpid());
	rc = t->ops->fence_takeover(inst, holder, 0, &epoch, &err);
	if (rc != SB_OK) {
		fprintf(stderr, "writer: fence_takeover: %s: %s\n",
			sb_status_name(rc), err.msg);
		goto done;
	}
	printf("writer: epoch %" PRIu64 "\n", epoch);
	fflush(stdout);
	while (!stop_requested) {
		uint64_t t0;

		for (int i = 0; i < t->batch_keys; i++) {
			snprintf(keys[i], sizeof(keys[i]), "w/%010" PRIu64,
				 n + (uint64_t)i);
			snprintf(vals[i], sizeof(vals[i]), "v%" PRIu64,
				 n + (uint64_t)i);
			ops[i] = put_op(keys[i], vals[i], strlen(vals[i]),
					SB_PRE_ABSENT, 0);
		}
		t0 = mono_ms();
		rc = apply(t, inst, ops, (size_t)t->batch_keys, epoch, &err);
		stats_note(&st, rc, mono_ms() - t0, &err, "batch");
		if (rc == SB_OK) {
			for (int i = 0; i < t->batch_keys; i++)
				fprintf(acks, "%" PRIu64 "\n", n + (uint64_t)i);
			fflush(acks);
		} else if (rc == SB_EFENCED || rc == SB_ECONFLICT) {
			/* Nobody else writes here: this would be a bug. */
			fprintf(stderr, "writer: unexpected %s: %s\n",
				sb_status_name(rc), err.msg);
			goto done;
		} else {
			/* Unknown outcome: these keys are not acknowledged;
			 * move on to new ones. Do not spin on a dead server. */
			sleep_ms(5);
		}
		n += (uint64_t)t->batch_keys;
		if (t->pause_us > 0)
			usleep(t->pause_us);
	}
	ret = 0;
done:
	stats_print(&st, "writer");
	if (inst != NULL)
		t->ops->close(inst);
	fclose(acks);
	return ret;
}

static int cmd_verify(struct tool *t)
{
	void *inst = NULL;
	struct sb_error err;
	unsigned long long n, acked = 0, lost = 0, first_lost = 0;
	unsigned long long lost_before = 0;
	char key[32], want[32];
	FILE *acks = NULL;
	int rc, ret = 1;

	if (t->acks_path == NULL) {
		fprintf(stderr, "verify: needs --acks FILE\n");
		return 2;
	}
	acks = fopen(t->acks_path, "r");
	if (acks == NULL) {
		fprintf(stderr, "verify: %s: %s\n", t->acks_path,
			strerror(errno));
		return 2;
	}
	if ((rc = open_inst(t, &inst, &err)) != SB_OK) {
		fprintf(stderr, "verify: open: %s: %s\n", sb_status_name(rc),
			err.msg);
		goto done;
	}
	while (fscanf(acks, "%llu", &n) == 1) {
		acked++;
		if (acked == t->split + 1)
			lost_before = lost;
		snprintf(key, sizeof(key), "w/%010llu", n);
		snprintf(want, sizeof(want), "v%llu", n);
		if (!has(t, inst, key, want, 1)) {
			if (lost++ == 0)
				first_lost = n;
		}
	}
	printf("verify: acked=%llu lost=%llu", acked, lost);
	if (lost)
		printf(" first_lost=%llu", first_lost);
	if (t->split > 0) {
		if (acked <= t->split)
			lost_before = lost;
		printf(" lost_in_first_%llu=%llu lost_after=%llu", t->split,
		       lost_before, lost - lost_before);
	}
	printf("\n");
	ret = 0;
done:
	if (inst != NULL)
		t->ops->close(inst);
	fclose(acks);
	return ret;
}

/* ------------------------------------------------------------------ */
/* loop / open                                                         */
/* ------------------------------------------------------------------ */

static int cmd_loop(struct tool *t)
{
	void *inst = NULL;
	struct sb_error err;
	struct stats bs, gs;
	char key[32], val[32];
	FILE *acks = NULL;
	uint64_t n = 0;
	int rc;

	memset(&bs, 0, sizeof(bs));
	memset(&gs, 0, sizeof(gs));
	if (t->acks_path != NULL && (acks = fopen(t->acks_path, "a")) == NULL)
		return 2;
	if ((rc = open_inst(t, &inst, &err)) != SB_OK) {
		printf("loop: open: %s: %s\n", sb_status_name(rc), err.msg);
		if (acks)
			fclose(acks);
		return 1;
	}
	while (!stop_requested) {
		struct sb_batch_op op;
		uint64_t t0, ver;
		char *v = NULL;
		size_t len;

		n++;
		snprintf(key, sizeof(key), "w/%010" PRIu64, n);
		snprintf(val, sizeof(val), "v%" PRIu64, n);
		op = put_op(key, val, strlen(val), SB_PRE_ABSENT, 0);
		t0 = mono_ms();
		rc = apply(t, inst, &op, 1, 0, &err);
		stats_note(&bs, rc, mono_ms() - t0, &err, "batch");
		if (rc == SB_OK && acks != NULL) {
			fprintf(acks, "%" PRIu64 "\n", n);
			fflush(acks);
		}
		t0 = mono_ms();
		memset(&err, 0, sizeof(err));
		rc = t->ops->get(inst, "w/0000000001", (uint8_t **)&v, &len,
				 &ver, &err);
		free(v);
		stats_note(&gs, rc, mono_ms() - t0, &err, "get");
		if (rc != SB_OK)
			sleep_ms(5);
	}
	stats_print(&bs, "loop batch");
	stats_print(&gs, "loop get");
	t->ops->close(inst);
	if (acks)
		fclose(acks);
	return 0;
}

static int cmd_open(struct tool *t)
{
	void *inst = NULL;
	struct sb_error err;
	uint64_t t0 = mono_ms();
	int rc;

	rc = open_inst(t, &inst, &err);
	printf("open: %s (%" PRIu64 " ms)%s%s\n", sb_status_name(rc),
	       mono_ms() - t0, rc != SB_OK ? ": " : "",
	       rc != SB_OK ? err.msg : "");
	if (inst != NULL)
		t->ops->close(inst);
	return rc == SB_OK ? 0 : 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* bench: single-thread latency of get and of a one-put batch (200-byte
 * values), n calls each; prints p50/p99 in microseconds. A figure for the
 * report, not a test. */
static int cmd_bench(struct tool *t)
{
	enum { N = 5000 };
	static uint64_t lat[N];
	static char v[200];
	void *inst = NULL;
	struct sb_error err;
	char key[32];
	int rc;

	memset(v, 'b', sizeof(v));
	if ((rc = open_inst(t, &inst, &err)) != SB_OK) {
		printf("bench: open: %s\n", err.msg);
		return 1;
	}
	for (int i = 0; i < N; i++) {
		struct sb_batch_op o;
		uint64_t t0 = mono_us();

		snprintf(key, sizeof(key), "b/%05d", i);
		o = put_op(key, v, sizeof(v), SB_PRE_NONE, 0);
		if (apply(t, inst, &o, 1, 0, &err) != SB_OK) {
			printf("bench: put: %s\n", err.msg);
			return 1;
		}
		lat[i] = mono_us() - t0;
	}
	qsort(lat, N, sizeof(lat[0]), cmp_u64);
	printf("bench: batch_apply (1 put, 200 B): p50 %" PRIu64
	       " us, p99 %" PRIu64 " us\n",
	       lat[N / 2], lat[N * 99 / 100]);
	for (int i = 0; i < N; i++) {
		uint64_t t0 = mono_us();

		snprintf(key, sizeof(key), "b/%05d", i);
		if (get(t, inst, key, NULL, NULL, NULL) != SB_OK) {
			printf("bench: get failed\n");
			return 1;
		}
		lat[i] = mono_us() - t0;
	}
	qsort(lat, N, sizeof(lat[0]), cmp_u64);
	printf("bench: get (200 B): p50 %" PRIu64 " us, p99 %" PRIu64 " us\n",
	       lat[N / 2], lat[N * 99 / 100]);
	t->ops->close(inst);
	return 0;
}

/* ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr, "usage: sb-redis-tool "
			"fence|features|writer|verify|loop|open|bench "
			"--plugin-dir DIR [--set key=value]... [--acks FILE] "
			"[--batch N] [--admin-port P]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"plugin-dir", required_argument, NULL, 'd'},
		{"set", required_argument, NULL, 's'},
		{"acks", required_argument, NULL, 'a'},
		{"batch", required_argument, NULL, 'b'},
		{"admin-port", required_argument, NULL, 'p'},
		{"split", required_argument, NULL, 'x'},
		{"pause-us", required_argument, NULL, 'u'},
		{NULL, 0, NULL, 0}};
	struct tool t;
	const char *cmd, *plugin_dir = NULL;
	char errbuf[512];
	struct sigaction sa;
	int c, ret = 2;

	memset(&t, 0, sizeof(t));
	t.batch_keys = 4;
	if (argc < 2) {
		usage();
		return 2;
	}
	cmd = argv[1];
	t.cfg = sb_config_new("storage");
	if (t.cfg == NULL || sb_config_set(t.cfg, "plugin", "redis") != 0)
		return 2;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *eq;

		switch (c) {
		case 'd': plugin_dir = optarg; break;
		case 's':
			eq = strchr(optarg, '=');
			if (eq == NULL) {
				usage();
				goto done;
			}
			*eq = '\0';
			if (sb_config_set(t.cfg, optarg, eq + 1) != 0)
				goto done;
			break;
		case 'a': t.acks_path = optarg; break;
		case 'b': t.batch_keys = atoi(optarg); break;
		case 'p': t.admin_port = atoi(optarg); break;
		case 'x': t.split = strtoull(optarg, NULL, 10); break;
		case 'u': t.pause_us = (unsigned)atoi(optarg); break;
		default: usage(); goto done;
		}
	}
	if (plugin_dir == NULL) {
		usage();
		goto done;
	}
	sb_log_setup(SB_LOG_INFO, 0, "sb-redis-tool");
	if (sb_plugin_load(plugin_dir, SB_PLUGIN_STORAGE, "redis", &t.plugin,
			   errbuf, sizeof(errbuf)) != 0) {
		fprintf(stderr, "sb-redis-tool: %s\n", errbuf);
		goto done;
	}
	t.ops = sb_plugin_storage(&t.plugin);
	t.host = sb_host_new("storage", "redis", "/nonexistent", "redis-tool");
	if (t.host == NULL)
		goto done;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* SIGPIPE is left at its default on purpose: the plugin must not
	 * depend on the host ignoring it. */

	if (strcmp(cmd, "fence") == 0)
		ret = cmd_fence(&t);
	else if (strcmp(cmd, "features") == 0)
		ret = cmd_features(&t);
	else if (strcmp(cmd, "writer") == 0)
		ret = cmd_writer(&t);
	else if (strcmp(cmd, "verify") == 0)
		ret = cmd_verify(&t);
	else if (strcmp(cmd, "loop") == 0)
		ret = cmd_loop(&t);
	else if (strcmp(cmd, "open") == 0)
		ret = cmd_open(&t);
	else if (strcmp(cmd, "bench") == 0)
		ret = cmd_bench(&t);
	else
		usage();
done:
	if (t.plugin.dl != NULL)
		sb_plugin_unload(&t.plugin);
	sb_host_free(t.host);
	sb_config_free(t.cfg);
	return ret;
}
