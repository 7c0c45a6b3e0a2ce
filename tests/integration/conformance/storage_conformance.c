/*
 * sb-storage-conformance: checks a storage plugin against the storage
 * contract of include/secretbroker/plugin.h, through the daemon's own
 * loader and host services, against a real backend.
 *
 *   sb-storage-conformance --plugin-dir DIR --plugin NAME [--state-dir DIR]
 *                          [--set key=value]... [--only PATTERN]
 *
 * Loads DIR/storage_NAME.so with sb_plugin_load, builds the [storage]
 * section (plugin=NAME plus every --set), opens instances with hosts from
 * sb_host_new, and runs every check below, printing
 *   ok N - name            or     not ok N - name: message
 * and at the end "N passed, N failed"; exits 0 iff none failed.
 *
 * It needs a FRESH store (new sqlite file, new PostgreSQL schema, new Redis
 * key prefix): the store has one lease, and the first checks look at its
 * initial state. Without --state-dir a temporary state directory is made
 * (and removed when every check passed), so a relative sqlite path names a
 * new file on every run. --only runs the checks whose name matches the
 * glob PATTERN or contains it ("lease", "scan.*"); checks set up their own
 * state, so any subset runs on its own.
 *
 * It knows no backend: PostgreSQL and Redis suites run it unchanged with
 * their own --set settings.
 */
#define _GNU_SOURCE
#include "host/host.h"
#include "host/plugin_loader.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NODE_NAME "conformance-node"

/* The run as a whole: the loaded plugin and the suite's own instance. */
struct suite {
	struct sb_plugin plugin;
	const struct sb_storage_ops *ops;
	const char *plugin_name;
	char state_dir[PATH_MAX];
	int own_state_dir; /* made by us with mkdtemp: removed on success */
	struct sb_config *cfg;
	struct sb_host *host;
	void *inst;
	int passed, failed;
};

/* One check being run: where its failure message goes. */
struct t {
	struct suite *s;
	const struct sb_storage_ops *ops;
	void *inst; /* == s->inst, refreshed when a check reopens */
	char msg[1024];
	int failed;
};

static void t_fail(struct t *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void t_fail(struct t *t, const char *fmt, ...)
{
	va_list ap;

	/* Keep the first failure: later ones are usually its echoes. */
	if (t->failed)
		return;
	t->failed = 1;
	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
	va_end(ap);
}

/* Checks a status against the expected one, and that every failure comes
 * with a one-line message. Returns 1 when fine, else 0 with t failed. */
static int rc_is(struct t *t, int rc, int want, const struct sb_error *err,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int rc_is(struct t *t, int rc, int want, const struct sb_error *err,
		 const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (rc != want) {
		t_fail(t, "%s: returned %s (%d), want %s (%d)%s%s", what,
		       sb_status_name(rc), rc, sb_status_name(want), want,
		       err->msg[0] ? ": " : "", err->msg);
		return 0;
	}
	if (rc != SB_OK && err->msg[0] == '\0') {
		t_fail(t, "%s: returned %s with no message in err", what,
		       sb_status_name(rc));
		return 0;
	}
	if (rc != SB_OK && strpbrk(err->msg, "\r\n") != NULL) {
		t_fail(t, "%s: message is not one line: \"%s\"", what,
		       err->msg);
		return 0;
	}
	return 1;
}

/* Bail-out helpers for check bodies: each declares `int rc;`,
 * `struct sb_error err;` and a `done:` label that frees what it holds. */
#define FAIL(...)                                                              \
	do {                                                                   \
		t_fail(t, __VA_ARGS__);                                        \
		goto done;                                                     \
	} while (0)
#define REQUIRE(cond, ...)                                                     \
	do {                                                                   \
		if (!(cond))                                                   \
			FAIL(__VA_ARGS__);                                     \
	} while (0)
/* Runs expr, which reports into err, and requires status want. */
#define CALL(want, expr, ...)                                                  \
	do {                                                                   \
		memset(&err, 0, sizeof(err));                                  \
		rc = (expr);                                                   \
		if (!rc_is(t, rc, (want), &err, __VA_ARGS__))                  \
			goto done;                                             \
	} while (0)
/* Runs a helper that fails t itself and returns 0 or -1. */
#define STEP(expr)                                                             \
	do {                                                                   \
		if ((expr) != 0)                                               \
			goto done;                                             \
	} while (0)

static uint64_t now_ms(void)
{
	return sb_mono_ms();
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* Small wrappers around the ops                                       */
/* ------------------------------------------------------------------ */

static struct sb_batch_op op_put(const char *key, const void *value, size_t len,
				 uint32_t pre, uint64_t version)
{
	struct sb_batch_op op = {
		.type = SB_OP_PUT,
		.precondition = pre,
		.version = version,
		.key = key,
		.value = value,
		.value_len = len,
	};
	return op;
}

static struct sb_batch_op op_del(const char *key, uint32_t pre,
				 uint64_t version)
{
	struct sb_batch_op op = {
		.type = SB_OP_DELETE,
		.precondition = pre,
		.version = version,
		.key = key,
	};
	return op;
}

/* Applies ops as one batch. versions_out and failed_op may be NULL. */
static int apply(struct t *t, const struct sb_batch_op *ops, size_t n,
		 uint64_t epoch, uint64_t *versions_out, size_t *failed_op,
		 struct sb_error *err)
{
	struct sb_batch b = {
		.ops = ops,
		.n_ops = n,
		.epoch = epoch,
		.versions_out = versions_out,
		.failed_op = failed_op,
	};
	return t->ops->batch_apply(t->inst, &b, err);
}

/* A put of a NUL-terminated string with no precondition. */
static int put_str(struct t *t, const char *key, const char *value,
		   uint64_t *version, struct sb_error *err)
{
	struct sb_batch_op op =
		op_put(key, value, strlen(value), SB_PRE_NONE, 0);

	return apply(t, &op, 1, 0, version, NULL, err);
}

/* Requires key to hold exactly value (len bytes) at version (0: any). */
static int expect_value(struct t *t, const char *key, const void *value,
			size_t len, uint64_t version)
{
	struct sb_error err;
	uint8_t *got = NULL;
	size_t got_len = 0;
	uint64_t got_version = 0;
	int ret = -1;
	int rc;

	CALL(SB_OK,
	     t->ops->get(t->inst, key, &got, &got_len, &got_version, &err),
	     "get \"%s\"", key);
	REQUIRE(got != NULL, "get \"%s\": SB_OK but *value is NULL", key);
	REQUIRE(got_len == len, "get \"%s\": %zu bytes, want %zu", key, got_len,
		len);
	if (len > 0 && memcmp(got, value, len) != 0) {
		size_t i = 0;

		while (got[i] == ((const uint8_t *)value)[i])
			i++;
		FAIL("get \"%s\": value differs at byte %zu of %zu", key, i,
		     len);
	}
	REQUIRE(version == 0 || got_version == version,
		"get \"%s\": version %" PRIu64 ", want %" PRIu64, key,
		got_version, version);
	ret = 0;
done:
	free(got);
	return ret;
}

static int expect_str(struct t *t, const char *key, const char *value,
		      uint64_t version)
{
	return expect_value(t, key, value, strlen(value), version);
}

static int expect_absent(struct t *t, const char *key)
{
	struct sb_error err;
	uint8_t *got = NULL;
	size_t got_len;
	uint64_t v;
	int ret = -1;
	int rc;

	CALL(SB_ENOTFOUND, t->ops->get(t->inst, key, &got, &got_len, &v, &err),
	     "get \"%s\" (expected absent)", key);
	ret = 0;
done:
	if (rc == SB_OK)
		free(got);
	return ret;
}

/* Everything a scan delivered. */
struct scan_item {
	char *key;
	uint8_t *value;
	size_t value_len;
	uint64_t version;
};

struct scan_acc {
	struct scan_item *items;
	size_t n, cap;
	size_t stop_at; /* return non-zero on the stop_at-th item (0: never) */
	int oom;
};

static int scan_collect(void *arg, const char *key, const uint8_t *value,
			size_t value_len, uint64_t version)
{
	struct scan_acc *a = arg;
	struct scan_item *it;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct scan_item *p = realloc(a->items, cap * sizeof(*p));

		if (p == NULL) {
			a->oom = 1;
			return 1;
		}
		a->items = p;
		a->cap = cap;
	}
	it = &a->items[a->n];
	it->key = strdup(key);
	it->value = malloc(value_len ? value_len : 1);
	if (it->key == NULL || it->value == NULL) {
		free(it->key);
		free(it->value);
		a->oom = 1;
		return 1;
	}
	if (value_len)
		memcpy(it->value, value, value_len);
	it->value_len = value_len;
	it->version = version;
	a->n++;
	return a->stop_at != 0 && a->n >= a->stop_at;
}

static void scan_acc_free(struct scan_acc *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->items[i].key);
		free(a->items[i].value);
	}
	free(a->items);
	memset(a, 0, sizeof(*a));
}

/* Scans into a fresh accumulator (freed first). last_key may be NULL. */
static int scan(struct t *t, const char *prefix, const char *after,
		size_t limit, struct scan_acc *a, char *last_key,
		struct sb_error *err)
{
	size_t stop_at = a->stop_at;
	int rc;

	scan_acc_free(a);
	a->stop_at = stop_at;
	rc = t->ops->scan(t->inst, prefix, after, limit, scan_collect, a,
			  last_key, err);
	if (a->oom) {
		snprintf(err->msg, sizeof(err->msg),
			 "conformance: out of memory");
		return SB_ENOMEM;
	}
	return rc;
}

/* Requires the scan result to be exactly keys[0..n) in this order. */
static int expect_keys(struct t *t, const char *what, const struct scan_acc *a,
		       const char *const *keys, size_t n)
{
	for (size_t i = 0; i < a->n && i < n; i++)
		if (strcmp(a->items[i].key, keys[i]) != 0) {
			t_fail(t, "%s: item %zu is \"%s\", want \"%s\"", what,
			       i, a->items[i].key, keys[i]);
			return -1;
		}
	if (a->n != n) {
		t_fail(t, "%s: %zu items, want %zu%s%s", what, a->n, n,
		       a->n > n ? "; extra: " : "; first missing: ",
		       a->n > n ? a->items[n].key : keys[a->n]);
		return -1;
	}
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	/* strcmp compares as unsigned char: memcmp order for UTF-8. */
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Brings the lease to "free" (no holder), whatever state an earlier check
 * left it in, and returns the store's epoch counter then. */
static int lease_make_free(struct t *t, uint64_t *epoch_out)
{
	struct sb_lease_info info;
	struct sb_error err;
	uint64_t e;
	int ret = -1;
	int rc;

	CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err), "lease_read");
	if (info.holder[0] != '\0') {
		CALL(SB_OK,
		     t->ops->fence_takeover(t->inst, "ct-reset", 0, &e, &err),
		     "fence_takeover(\"ct-reset\") to reset the lease");
		CALL(SB_OK, t->ops->lease_release(t->inst, "ct-reset", e, &err),
		     "lease_release(\"ct-reset\") to reset the lease");
		CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err),
		     "lease_read");
	}
	REQUIRE(info.holder[0] == '\0' && !info.held,
		"lease still held by \"%s\" after a reset", info.holder);
	if (epoch_out)
		*epoch_out = info.epoch;
	ret = 0;
done:
	return ret;
}

/* Requires the lease to be as described (holder "" = free). */
static int expect_lease(struct t *t, const char *what, const char *holder,
			uint64_t epoch, int held)
{
	struct sb_lease_info info;
	struct sb_error err;
	int ret = -1;
	int rc;

	CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err), "lease_read");
	REQUIRE(strcmp(info.holder, holder) == 0,
		"%s: lease holder \"%s\", want \"%s\"", what, info.holder,
		holder);
	REQUIRE(info.epoch == epoch,
		"%s: lease epoch %" PRIu64 ", want %" PRIu64, what, info.epoch,
		epoch);
	REQUIRE(!!info.held == !!held, "%s: lease held=%d, want %d", what,
		info.held, held);
	REQUIRE(!held || info.ttl_left_ms > 0,
		"%s: lease held but ttl_left_ms is %" PRId64, what,
		info.ttl_left_ms);
	REQUIRE(held || info.ttl_left_ms <= 0,
		"%s: lease not held but ttl_left_ms is %" PRId64, what,
		info.ttl_left_ms);
	ret = 0;
done:
	return ret;
}

/* Polls lease_read until the lease is no longer held, at most
 * timeout_ms: expiry is judged on the backend's clock, not ours. */
static int wait_lease_expired(struct t *t, unsigned timeout_ms)
{
	struct sb_lease_info info;
	struct sb_error err;
	uint64_t deadline = now_ms() + timeout_ms;
	int ret = -1;
	int rc;

	for (;;) {
		CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err),
		     "lease_read");
		if (!info.held)
			break;
		REQUIRE(now_ms() < deadline,
			"lease of \"%s\" still held %u ms after its ttl began "
			"(ttl_left_ms %" PRId64 ")",
			info.holder, timeout_ms, info.ttl_left_ms);
		sleep_ms(20);
	}
	ret = 0;
done:
	return ret;
}

/* Closes and reopens the suite's instance. */
static int suite_open(struct suite *s, char *msg, size_t len)
{
	struct sb_error err = {{0}};
	int rc;

	rc = s->ops->open(s->host, s->cfg, &s->inst, &err);
	if (rc != SB_OK) {
		s->inst = NULL;
		snprintf(msg, len, "open: %s (%d): %s", sb_status_name(rc), rc,
			 err.msg);
		return -1;
	}
	return 0;
}

static void suite_close(struct suite *s)
{
	if (s->inst != NULL)
		s->ops->close(s->inst);
	s->inst = NULL;
}

static int t_reopen(struct t *t)
{
	char msg[600];

	suite_close(t->s);
	t->inst = NULL;
	if (suite_open(t->s, msg, sizeof(msg)) != 0) {
		t_fail(t, "re%s", msg);
		return -1;
	}
	t->inst = t->s->inst;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Checks: keys and values                                             */
/* ------------------------------------------------------------------ */

static void check_store_fresh(struct t *t)
{
	struct scan_acc a = {0};
	struct sb_lease_info info;
	struct sb_error err;
	int rc;

	CALL(SB_OK, scan(t, "", NULL, 1, &a, NULL, &err), "scan \"\"");
	REQUIRE(a.n == 0,
		"store is not empty (holds \"%s\"): the suite needs a fresh "
		"store",
		a.items[0].key);
	CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err), "lease_read");
	REQUIRE(info.epoch == 0 && info.holder[0] == '\0',
		"lease was used before (holder \"%s\", epoch %" PRIu64
		"): the suite needs a fresh store",
		info.holder, info.epoch);
done:
	scan_acc_free(&a);
}

static void check_get_missing(struct t *t)
{
	struct sb_error err;
	uint8_t *v = NULL;
	size_t n;
	uint64_t ver;
	int rc;

	CALL(SB_ENOTFOUND,
	     t->ops->get(t->inst, "ct/get-missing/nope", &v, &n, &ver, &err),
	     "get of a key never written");
	CALL(SB_ENOTFOUND,
	     t->ops->get(t->inst, "ct/get-missing/nope", NULL, NULL, &ver,
			 &err),
	     "get (version only) of a key never written");
done:
	if (rc == SB_OK)
		free(v);
}

static void check_put_get_roundtrip(struct t *t)
{
	struct sb_error err;
	uint64_t v = 0;
	int rc;

	CALL(SB_OK, put_str(t, "ct/rt/a", "hello, world", &v, &err),
	     "put \"ct/rt/a\"");
	REQUIRE(v == 1, "versions_out after create: %" PRIu64 ", want 1", v);
	STEP(expect_str(t, "ct/rt/a", "hello, world", 1));
	/* value NULL fetches the version only. */
	v = 0;
	CALL(SB_OK, t->ops->get(t->inst, "ct/rt/a", NULL, NULL, &v, &err),
	     "get \"ct/rt/a\" with value NULL");
	REQUIRE(v == 1, "version-only get: %" PRIu64 ", want 1", v);
	/* A neighbour with a longer key stays apart. */
	CALL(SB_OK, put_str(t, "ct/rt/ab", "other", NULL, &err),
	     "put \"ct/rt/ab\"");
	STEP(expect_str(t, "ct/rt/a", "hello, world", 1));
	STEP(expect_str(t, "ct/rt/ab", "other", 1));
	STEP(expect_absent(t, "ct/rt/"));
done:;
}

static void check_put_get_binary(struct t *t)
{
	static const uint8_t nuls[] = {0, 'a', 0, 0, 'b', 0xff, 0, 0x80, 0};
	uint8_t all[512];
	struct sb_error err;
	struct sb_batch_op op;
	uint64_t v;
	int rc;

	/* Every byte value, twice, starting and ending with NUL. */
	for (size_t i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)(i % 256);
	op = op_put("ct/bin/nuls", nuls, sizeof(nuls), SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, &op, 1, 0, &v, NULL, &err), "put NUL bytes");
	STEP(expect_value(t, "ct/bin/nuls", nuls, sizeof(nuls), 1));
	op = op_put("ct/bin/all", all, sizeof(all), SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, &op, 1, 0, &v, NULL, &err),
	     "put all 256 byte values");
	STEP(expect_value(t, "ct/bin/all", all, sizeof(all), 1));
	/* Overwrite with a shorter value: nothing of the old one remains. */
	op = op_put("ct/bin/all", nuls, 3, SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, &op, 1, 0, &v, NULL, &err), "overwrite shorter");
	STEP(expect_value(t, "ct/bin/all", nuls, 3, 2));
done:;
}

static void check_put_get_empty(struct t *t)
{
	struct sb_error err;
	struct sb_batch_op op;
	uint8_t *got = NULL;
	size_t n = 99;
	uint64_t v = 0;
	int rc;

	op = op_put("ct/empty-value/k", "", 0, SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, &op, 1, 0, &v, NULL, &err), "put empty value");
	REQUIRE(v == 1, "versions_out %" PRIu64 ", want 1", v);
	CALL(SB_OK,
	     t->ops->get(t->inst, "ct/empty-value/k", &got, &n, &v, &err),
	     "get empty value");
	REQUIRE(got != NULL,
		"get of an empty value: *value is NULL (want a valid 1-byte "
		"allocation)");
	REQUIRE(n == 0, "get of an empty value: %zu bytes", n);
	REQUIRE(v == 1, "get of an empty value: version %" PRIu64, v);
	/* An empty value is a value: the key exists. */
	op = op_put("ct/empty-value/k", "x", 1, SB_PRE_ABSENT, 0);
	CALL(SB_ECONFLICT, apply(t, &op, 1, 0, NULL, NULL, &err),
	     "SB_PRE_ABSENT on a key holding an empty value");
done:
	free(got);
}

static void check_put_get_max_value(struct t *t)
{
	struct sb_error err;
	struct sb_batch_op op;
	uint8_t *big = NULL;
	uint64_t v = 0;
	int rc;

	big = malloc(SB_VALUE_MAX);
	REQUIRE(big != NULL, "out of memory");
	for (size_t i = 0; i < SB_VALUE_MAX; i++)
		big[i] = (uint8_t)((i * 131u + (i >> 11)) & 0xff);
	op = op_put("ct/max-value/k", big, SB_VALUE_MAX, SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, &op, 1, 0, &v, NULL, &err),
	     "put of SB_VALUE_MAX bytes");
	STEP(expect_value(t, "ct/max-value/k", big, SB_VALUE_MAX, 1));
done:
	free(big);
}

static void check_versions_lifecycle(struct t *t)
{
	struct sb_error err;
	struct sb_batch_op op;
	uint64_t v = 0;
	int rc;

	for (uint64_t want = 1; want <= 3; want++) {
		char val[32];

		snprintf(val, sizeof(val), "v%" PRIu64, want);
		CALL(SB_OK, put_str(t, "ct/ver/k", val, &v, &err), "put %s",
		     val);
		REQUIRE(v == want,
			"put %s: versions_out %" PRIu64 ", want %" PRIu64, val,
			v, want);
		STEP(expect_str(t, "ct/ver/k", val, want));
	}
	op = op_del("ct/ver/k", SB_PRE_NONE, 0);
	v = 99;
	CALL(SB_OK, apply(t, &op, 1, 0, &v, NULL, &err), "delete");
	REQUIRE(v == 0, "delete: versions_out %" PRIu64 ", want 0", v);
	STEP(expect_absent(t, "ct/ver/k"));
	CALL(SB_OK, put_str(t, "ct/ver/k", "again", &v, &err), "recreate");
	REQUIRE(v == 1,
		"recreate after delete: version %" PRIu64 ", want 1 (restart)",
		v);
	STEP(expect_str(t, "ct/ver/k", "again", 1));
done:;
}

static void check_batch_versions_out(struct t *t)
{
	struct sb_error err;
	struct sb_batch_op ops[4];
	uint64_t v[4] = {77, 77, 77, 77};
	int rc;

	CALL(SB_OK, put_str(t, "ct/vout/b", "b1", NULL, &err), "put b");
	CALL(SB_OK, put_str(t, "ct/vout/b", "b2", NULL, &err), "put b");
	CALL(SB_OK, put_str(t, "ct/vout/c", "c1", NULL, &err), "put c");
	ops[0] = op_put("ct/vout/a", "a1", 2, SB_PRE_NONE, 0);
	ops[1] = op_put("ct/vout/b", "b3", 2, SB_PRE_VERSION, 2);
	ops[2] = op_del("ct/vout/c", SB_PRE_NONE, 0);
	ops[3] = op_del("ct/vout/never", SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, ops, 4, 0, v, NULL, &err), "batch of 4");
	REQUIRE(v[0] == 1 && v[1] == 3 && v[2] == 0 && v[3] == 0,
		"versions_out {%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64
		"}, want {1, 3, 0, 0}",
		v[0], v[1], v[2], v[3]);
	STEP(expect_str(t, "ct/vout/a", "a1", 1));
	STEP(expect_str(t, "ct/vout/b", "b3", 3));
	STEP(expect_absent(t, "ct/vout/c"));
	/* versions_out NULL is allowed. */
	CALL(SB_ECONFLICT, apply(t, ops + 1, 1, 0, NULL, NULL, &err),
	     "re-apply a stale SB_PRE_VERSION with versions_out NULL");
done:;
}

static void check_pre_absent(struct t *t)
{
	struct sb_error err;
	struct sb_batch_op op;
	size_t failed = 99;
	uint64_t v = 0;
	int rc;

	op = op_put("ct/pre-absent/k", "first", 5, SB_PRE_ABSENT, 0);
	CALL(SB_OK, apply(t, &op, 1, 0, &v, NULL, &err),
	     "SB_PRE_ABSENT on an absent key");
	REQUIRE(v == 1, "versions_out %" PRIu64 ", want 1", v);
	op = op_put("ct/pre-absent/k", "second", 6, SB_PRE_ABSENT, 0);
	CALL(SB_ECONFLICT, apply(t, &op, 1, 0, &v, &failed, &err),
	     "SB_PRE_ABSENT on an existing key");
	REQUIRE(failed == 0, "failed_op %zu, want 0", failed);
	STEP(expect_str(t, "ct/pre-absent/k", "first", 1));
done:;
}

static void check_pre_version(struct t *t)
{
	struct sb_error err;
	struct sb_batch_op op;
	size_t failed = 99;
	uint64_t v = 0;
	int rc;

	CALL(SB_OK, put_str(t, "ct/pre-version/k", "one", NULL, &err), "put");
	op = op_put("ct/pre-version/k", "two", 3, SB_PRE_VERSION, 1);
	CALL(SB_OK, apply(t, &op, 1, 0, &v, NULL, &err),
	     "SB_PRE_VERSION 1 on version 1");
	REQUIRE(v == 2, "versions_out %" PRIu64 ", want 2", v);
	op = op_put("ct/pre-version/k", "stale", 5, SB_PRE_VERSION, 1);
	CALL(SB_ECONFLICT, apply(t, &op, 1, 0, &v, &failed, &err),
	     "SB_PRE_VERSION 1 on version 2");
	REQUIRE(failed == 0, "failed_op %zu, want 0", failed);
	op = op_put("ct/pre-version/k", "future", 6, SB_PRE_VERSION, 3);
	CALL(SB_ECONFLICT, apply(t, &op, 1, 0, &v, NULL, &err),
	     "SB_PRE_VERSION 3 on version 2");
	STEP(expect_str(t, "ct/pre-version/k", "two", 2));
	op = op_put("ct/pre-version/absent", "x", 1, SB_PRE_VERSION, 1);
	CALL(SB_ECONFLICT, apply(t, &op, 1, 0, &v, NULL, &err),
	     "SB_PRE_VERSION 1 on an absent key");
	STEP(expect_absent(t, "ct/pre-version/absent"));
	op = op_put("ct/pre-version/absent", "x", 1, SB_PRE_VERSION, 0);
	CALL(SB_ECONFLICT, apply(t, &op, 1, 0, &v, NULL, &err),
	     "SB_PRE_VERSION 0 on an absent key");
	STEP(expect_absent(t, "ct/pre-version/absent"));
done:;
}

static void check_batch_atomic(struct t *t)
{
	struct sb_error err;
	struct sb_batch_op ops[4];
	size_t failed = 99;
	int rc;

	CALL(SB_OK, put_str(t, "ct/atomic/b", "b1", NULL, &err), "put b");
	CALL(SB_OK, put_str(t, "ct/atomic/c", "c1", NULL, &err), "put c");
	ops[0] = op_put("ct/atomic/a", "a1", 2, SB_PRE_ABSENT, 0);
	ops[1] = op_put("ct/atomic/b", "b2", 2, SB_PRE_NONE, 0);
	ops[2] = op_del("ct/atomic/c", SB_PRE_VERSION, 1);
	ops[3] = op_put("ct/atomic/d", "d1", 2, SB_PRE_VERSION, 7);
	CALL(SB_ECONFLICT, apply(t, ops, 4, 0, NULL, &failed, &err),
	     "batch whose last op's precondition fails");
	REQUIRE(failed == 3, "failed_op %zu, want 3", failed);
	STEP(expect_absent(t, "ct/atomic/a"));
	STEP(expect_str(t, "ct/atomic/b", "b1", 1));
	STEP(expect_str(t, "ct/atomic/c", "c1", 1));
	STEP(expect_absent(t, "ct/atomic/d"));
	/* failed_op names the first failing op, not a later one. */
	ops[0] = op_put("ct/atomic/a", "a1", 2, SB_PRE_NONE, 0);
	ops[1] = op_put("ct/atomic/b", "b2", 2, SB_PRE_ABSENT, 0);
	ops[2] = op_put("ct/atomic/c", "c2", 2, SB_PRE_VERSION, 5);
	failed = 99;
	CALL(SB_ECONFLICT, apply(t, ops, 3, 0, NULL, &failed, &err),
	     "batch whose ops 1 and 2 fail");
	REQUIRE(failed == 1, "failed_op %zu, want 1", failed);
	STEP(expect_absent(t, "ct/atomic/a"));
done:;
}

static void check_batch_same_key(struct t *t)
{
	const char *k = "ct/same-key/k";
	struct sb_error err;
	struct sb_batch_op ops[5];
	uint64_t v[5] = {0};
	size_t failed = 99;
	int rc;

	ops[0] = op_put(k, "one", 3, SB_PRE_ABSENT, 0);
	ops[1] = op_put(k, "two", 3, SB_PRE_VERSION, 1);
	ops[2] = op_del(k, SB_PRE_VERSION, 2);
	ops[3] = op_put(k, "three", 5, SB_PRE_ABSENT, 0);
	ops[4] = op_put(k, "four", 4, SB_PRE_VERSION, 1);
	CALL(SB_OK, apply(t, ops, 5, 0, v, NULL, &err),
	     "put, put, delete, put, put on one key in one batch");
	REQUIRE(v[0] == 1 && v[1] == 2 && v[2] == 0 && v[3] == 1 && v[4] == 2,
		"versions_out {%" PRIu64 ", %" PRIu64 ", %" PRIu64 ", %" PRIu64
		", %" PRIu64 "}, want {1, 2, 0, 1, 2}",
		v[0], v[1], v[2], v[3], v[4]);
	STEP(expect_str(t, k, "four", 2));
	/* The second op sees the first: it now exists, so ABSENT fails and
	 * the whole batch goes. */
	ops[0] = op_put("ct/same-key/k2", "x", 1, SB_PRE_NONE, 0);
	ops[1] = op_put("ct/same-key/k2", "y", 1, SB_PRE_ABSENT, 0);
	CALL(SB_ECONFLICT, apply(t, ops, 2, 0, NULL, &failed, &err),
	     "put then SB_PRE_ABSENT put on one key");
	REQUIRE(failed == 1, "failed_op %zu, want 1", failed);
	STEP(expect_absent(t, "ct/same-key/k2"));
done:;
}

static void check_delete(struct t *t)
{
	const char *k = "ct/delete/k";
	struct sb_error err;
	struct sb_batch_op op;
	uint64_t v = 99;
	size_t failed = 99;
	int rc;

	op = op_del("ct/delete/absent", SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, &op, 1, 0, &v, NULL, &err),
	     "delete of an absent key without precondition");
	REQUIRE(v == 0, "versions_out %" PRIu64 ", want 0", v);
	op = op_del("ct/delete/absent", SB_PRE_VERSION, 1);
	CALL(SB_ECONFLICT, apply(t, &op, 1, 0, NULL, &failed, &err),
	     "delete of an absent key with SB_PRE_VERSION 1");
	REQUIRE(failed == 0, "failed_op %zu, want 0", failed);
	op = op_del("ct/delete/absent", SB_PRE_ABSENT, 0);
	CALL(SB_OK, apply(t, &op, 1, 0, NULL, NULL, &err),
	     "delete of an absent key with SB_PRE_ABSENT");
	STEP(expect_absent(t, "ct/delete/absent"));

	CALL(SB_OK, put_str(t, k, "v1", NULL, &err), "put");
	op = op_del(k, SB_PRE_ABSENT, 0);
	CALL(SB_ECONFLICT, apply(t, &op, 1, 0, NULL, NULL, &err),
	     "delete of an existing key with SB_PRE_ABSENT");
	op = op_del(k, SB_PRE_VERSION, 2);
	CALL(SB_ECONFLICT, apply(t, &op, 1, 0, NULL, NULL, &err),
	     "delete with a wrong SB_PRE_VERSION");
	STEP(expect_str(t, k, "v1", 1));
	op = op_del(k, SB_PRE_VERSION, 1);
	CALL(SB_OK, apply(t, &op, 1, 0, NULL, NULL, &err),
	     "delete with the right SB_PRE_VERSION");
	STEP(expect_absent(t, k));
	CALL(SB_OK, put_str(t, k, "v2", NULL, &err), "put");
	op = op_del(k, SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, &op, 1, 0, NULL, NULL, &err),
	     "delete without precondition");
	STEP(expect_absent(t, k));
done:;
}

static void check_invalid(struct t *t)
{
	char long_key[SB_KEY_MAX + 2];
	char max_key[SB_KEY_MAX + 1];
	struct sb_error err;
	struct sb_batch_op ops[2];
	uint8_t *big = NULL;
	uint8_t *got = NULL;
	size_t n;
	uint64_t v;
	int rc = SB_ERR;

	memset(long_key, 'L', SB_KEY_MAX + 1);
	long_key[SB_KEY_MAX + 1] = '\0';
	memcpy(max_key, "ct/invalid/", 11);
	memset(max_key + 11, 'M', SB_KEY_MAX - 11);
	max_key[SB_KEY_MAX] = '\0';
	big = calloc(1, SB_VALUE_MAX + 1);
	REQUIRE(big != NULL, "out of memory");

	/* Each bad op comes second, after a valid one that must not land. */
	ops[0] = op_put("ct/invalid/ok", "x", 1, SB_PRE_NONE, 0);
	ops[1] = op_put("", "x", 1, SB_PRE_NONE, 0);
	CALL(SB_EINVAL, apply(t, ops, 2, 0, NULL, NULL, &err), "empty key");
	ops[1] = op_put(long_key, "x", 1, SB_PRE_NONE, 0);
	CALL(SB_EINVAL, apply(t, ops, 2, 0, NULL, NULL, &err),
	     "key of SB_KEY_MAX + 1 bytes");
	ops[1] =
		op_put("ct/invalid/big", big, SB_VALUE_MAX + 1, SB_PRE_NONE, 0);
	CALL(SB_EINVAL, apply(t, ops, 2, 0, NULL, NULL, &err),
	     "value of SB_VALUE_MAX + 1 bytes");
	ops[1] = op_del("", SB_PRE_NONE, 0);
	CALL(SB_EINVAL, apply(t, ops, 2, 0, NULL, NULL, &err),
	     "delete of an empty key");
	ops[1] = op_put("ct/invalid/type", "x", 1, SB_PRE_NONE, 0);
	ops[1].type = 9;
	CALL(SB_EINVAL, apply(t, ops, 2, 0, NULL, NULL, &err),
	     "unknown op type 9");
	ops[1] = op_put("ct/invalid/pre", "x", 1, 7, 0);
	CALL(SB_EINVAL, apply(t, ops, 2, 0, NULL, NULL, &err),
	     "unknown precondition 7");
	STEP(expect_absent(t, "ct/invalid/ok"));
	STEP(expect_absent(t, "ct/invalid/big"));
	STEP(expect_absent(t, "ct/invalid/type"));
	STEP(expect_absent(t, "ct/invalid/pre"));

	CALL(SB_EINVAL, t->ops->get(t->inst, "", &got, &n, &v, &err),
	     "get of an empty key");
	CALL(SB_EINVAL, t->ops->get(t->inst, long_key, &got, &n, &v, &err),
	     "get of a key of SB_KEY_MAX + 1 bytes");

	/* The limits themselves are valid. */
	ops[0] = op_put(max_key, "max", 3, SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, ops, 1, 0, NULL, NULL, &err),
	     "key of exactly SB_KEY_MAX bytes");
	STEP(expect_str(t, max_key, "max", 1));
done:
	if (rc == SB_OK)
		free(got);
	free(big);
}

/* ------------------------------------------------------------------ */
/* Checks: scan                                                        */
/* ------------------------------------------------------------------ */

static void check_scan_order(struct t *t)
{
	/* Bytewise on UTF-8: upper case before lower case, shorter before
	 * longer, and multi-byte characters by their bytes (é C3 A9 < € E2
	 * 82 AC < 😀 F0 9F 98 80), all after ASCII. */
	static const char *const names[] = {
		"z",	"a",
		"B",	"\xc3\xa9",
		"ab",	"a b",
		"a/b",	"\xe2\x82\xac",
		"~",	"\xf0\x9f\x98\x80",
		"A",	"a\xc3\xa9",
		"aa",	"0",
		"\x7f", "\xc3\xa9z",
		"Z",	"\xc3\xaa",
	};
	enum { N = sizeof(names) / sizeof(names[0]) };
	char keys[N][64];
	const char *sorted[N];
	struct scan_acc a = {0};
	struct sb_error err;
	int rc;

	for (size_t i = 0; i < N; i++) {
		char val[32];

		snprintf(keys[i], sizeof(keys[i]), "ct/scan-order/%s",
			 names[i]);
		snprintf(val, sizeof(val), "value-%zu", i);
		CALL(SB_OK, put_str(t, keys[i], val, NULL, &err), "put \"%s\"",
		     keys[i]);
		if (i % 3 == 0) /* some at version 2 */
			CALL(SB_OK, put_str(t, keys[i], val, NULL, &err),
			     "put \"%s\"", keys[i]);
		sorted[i] = keys[i];
	}
	qsort(sorted, N, sizeof(sorted[0]), cmp_str);
	CALL(SB_OK, scan(t, "ct/scan-order/", NULL, 0, &a, NULL, &err),
	     "scan \"ct/scan-order/\"");
	STEP(expect_keys(t, "scan order", &a, sorted, N));
	/* Each item carries its own value and version. */
	for (size_t i = 0; i < a.n; i++) {
		size_t j = 0;
		char val[32];

		while (strcmp(keys[j], a.items[i].key) != 0)
			j++;
		snprintf(val, sizeof(val), "value-%zu", j);
		REQUIRE(a.items[i].value_len == strlen(val) &&
				memcmp(a.items[i].value, val, strlen(val)) == 0,
			"scan item \"%s\": wrong value", a.items[i].key);
		REQUIRE(a.items[i].version == (j % 3 == 0 ? 2u : 1u),
			"scan item \"%s\": version %" PRIu64 ", want %d",
			a.items[i].key, a.items[i].version, j % 3 == 0 ? 2 : 1);
	}
done:
	scan_acc_free(&a);
}

static void check_scan_prefix_literal(struct t *t)
{
	/* Each special character has a neighbour it would match as a LIKE
	 * or GLOB wildcard, or through case folding. */
	static const char *const keys[] = {
		"ct/lit/%a",	    "ct/lit/xa",       "ct/lit/%%",
		"ct/lit/_b",	    "ct/lit/Xb",       "ct/lit/*c",
		"ct/lit/zc",	    "ct/lit/?d",       "ct/lit/qd",
		"ct/lit/[e]",	    "ct/lit/e",	       "ct/lit/\\f",
		"ct/lit/f",	    "ct/lit/\\_g",     "ct/lit/\\xg",
		"ct/lit/A",	    "ct/lit/a",	       "ct/lit/\xc3\xa9",
		"ct/lit/\xc3\xa9x", "ct/lit/\xc3\xaa", "ct/lit",
	};
	static const struct {
		const char *prefix;
		const char *want[3];
	} cases[] = {
		{"ct/lit/%", {"ct/lit/%%", "ct/lit/%a"}},
		{"ct/lit/_", {"ct/lit/_b"}},
		{"ct/lit/*", {"ct/lit/*c"}},
		{"ct/lit/?", {"ct/lit/?d"}},
		{"ct/lit/[", {"ct/lit/[e]"}},
		{"ct/lit/[e]", {"ct/lit/[e]"}},
		{"ct/lit/\\", {"ct/lit/\\_g", "ct/lit/\\f", "ct/lit/\\xg"}},
		{"ct/lit/\\_", {"ct/lit/\\_g"}},
		{"ct/lit/a", {"ct/lit/a"}},
		{"ct/lit/A", {"ct/lit/A"}},
		{"ct/lit/\xc3\xa9", {"ct/lit/\xc3\xa9", "ct/lit/\xc3\xa9x"}},
		{"ct/lit/%a", {"ct/lit/%a"}},
		{"ct/lit/nothing", {NULL}},
	};
	struct scan_acc a = {0};
	struct sb_error err;
	int rc;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		CALL(SB_OK, put_str(t, keys[i], "v", NULL, &err), "put \"%s\"",
		     keys[i]);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = 0;
		char what[128];

		while (n < 3 && cases[i].want[n] != NULL)
			n++;
		CALL(SB_OK, scan(t, cases[i].prefix, NULL, 0, &a, NULL, &err),
		     "scan \"%s\"", cases[i].prefix);
		snprintf(what, sizeof(what), "scan \"%s\"", cases[i].prefix);
		STEP(expect_keys(t, what, &a, cases[i].want, n));
	}
done:
	scan_acc_free(&a);
}

static void check_scan_paging(struct t *t)
{
	enum { N = 25, PAGE = 7 };
	char keys[N][32];
	const char *want[N];
	char last[SB_KEY_MAX + 1];
	char after[SB_KEY_MAX + 1] = "";
	struct scan_acc a = {0};
	struct scan_acc all = {0};
	struct sb_error err;
	size_t pages = 0;
	int rc;

	for (size_t i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "ct/page/k%02zu", i);
		want[i] = keys[i];
	}
	/* Written out of order, with neighbours just outside the prefix. */
	for (size_t i = 0; i < N; i++)
		CALL(SB_OK, put_str(t, keys[(i * 7) % N], "v", NULL, &err),
		     "put");
	CALL(SB_OK, put_str(t, "ct/page", "outside", NULL, &err), "put");
	CALL(SB_OK, put_str(t, "ct/pagf", "outside", NULL, &err), "put");
	CALL(SB_OK, put_str(t, "ct/page.", "outside", NULL, &err), "put");

	/* Page through: each page starts after the previous last_key. */
	for (;;) {
		CALL(SB_OK, scan(t, "ct/page/", after, PAGE, &a, last, &err),
		     "scan page %zu after \"%s\"", pages, after);
		REQUIRE(a.n <= PAGE, "page %zu: %zu items, limit %d", pages,
			a.n, PAGE);
		if (a.n == 0) {
			REQUIRE(last[0] == '\0',
				"empty page: last_key \"%s\", want \"\"", last);
			break;
		}
		REQUIRE(strcmp(last, a.items[a.n - 1].key) == 0,
			"page %zu: last_key \"%s\", want \"%s\"", pages, last,
			a.items[a.n - 1].key);
		for (size_t i = 0; i < a.n; i++) {
			REQUIRE(scan_collect(&all, a.items[i].key,
					     a.items[i].value,
					     a.items[i].value_len,
					     a.items[i].version) == 0 &&
					!all.oom,
				"out of memory");
		}
		snprintf(after, sizeof(after), "%s", last);
		REQUIRE(++pages <= N, "paging does not end");
	}
	STEP(expect_keys(t, "keys over all pages", &all, want, N));
	REQUIRE(pages == (N + PAGE - 1) / PAGE, "%zu pages, want %d", pages,
		(N + PAGE - 1) / PAGE);

	/* after: a key that does not exist; before the prefix; past it. */
	CALL(SB_OK, scan(t, "ct/page/", "ct/page/k10x", 3, &a, last, &err),
	     "scan after a missing key");
	STEP(expect_keys(t, "scan after \"ct/page/k10x\"", &a, want + 11, 3));
	CALL(SB_OK, scan(t, "ct/page/", "ct/a", 2, &a, NULL, &err),
	     "scan after a key before the prefix");
	STEP(expect_keys(t, "scan after \"ct/a\"", &a, want, 2));
	CALL(SB_OK, scan(t, "ct/page/", "ct/z", 0, &a, last, &err),
	     "scan after a key past the prefix");
	STEP(expect_keys(t, "scan after \"ct/z\"", &a, want, 0));
	REQUIRE(last[0] == '\0', "empty scan: last_key \"%s\"", last);
	CALL(SB_OK, scan(t, "ct/page/", "", 0, &a, NULL, &err),
	     "scan with after \"\" and no limit");
	STEP(expect_keys(t, "scan with after \"\"", &a, want, N));
	/* last_key may be NULL. */
	CALL(SB_OK, scan(t, "ct/page/", want[N - 2], 0, &a, NULL, &err),
	     "scan with last_key NULL");
	STEP(expect_keys(t, "scan after the second last", &a, want + N - 1, 1));
done:
	scan_acc_free(&a);
	scan_acc_free(&all);
}

static void check_scan_early_stop(struct t *t)
{
	char keys[10][32];
	const char *want[10];
	char last[SB_KEY_MAX + 1];
	struct scan_acc a = {.stop_at = 3};
	struct sb_error err;
	int rc;

	for (size_t i = 0; i < 10; i++) {
		snprintf(keys[i], sizeof(keys[i]), "ct/stop/%zu", i);
		want[i] = keys[i];
		CALL(SB_OK, put_str(t, keys[i], "v", NULL, &err), "put");
	}
	CALL(SB_OK, scan(t, "ct/stop/", NULL, 0, &a, last, &err),
	     "scan whose callback stops at the third item");
	STEP(expect_keys(t, "scan stopped by its callback", &a, want, 3));
	REQUIRE(strcmp(last, want[2]) == 0,
		"last_key after an early stop: \"%s\", want \"%s\"", last,
		want[2]);
	/* The store is still usable after an abandoned scan. */
	CALL(SB_OK, put_str(t, "ct/stop/after", "v", NULL, &err),
	     "put after an early-stopped scan");
	a.stop_at = 0;
	CALL(SB_OK, scan(t, "ct/stop/", NULL, 0, &a, NULL, &err), "scan");
	REQUIRE(a.n == 11, "%zu items after the early stop, want 11", a.n);
done:
	scan_acc_free(&a);
}

static void check_scan_empty_prefix(struct t *t)
{
	static const char *const mine[] = {"ct/all/1", "ct/all/2", "\x7e",
					   "\xef\xbf\xbd"};
	struct scan_acc a = {0};
	struct sb_error err;
	size_t found = 0;
	int rc;

	for (size_t i = 0; i < 4; i++)
		CALL(SB_OK, put_str(t, mine[i], mine[i], NULL, &err),
		     "put \"%s\"", mine[i]);
	CALL(SB_OK, scan(t, "", NULL, 0, &a, NULL, &err), "scan \"\"");
	for (size_t i = 0; i < a.n; i++) {
		REQUIRE(i == 0 ||
				strcmp(a.items[i - 1].key, a.items[i].key) < 0,
			"scan \"\": \"%s\" delivered after \"%s\"",
			a.items[i].key, a.items[i - 1].key);
		for (size_t j = 0; j < 4; j++)
			if (strcmp(a.items[i].key, mine[j]) == 0) {
				found++;
				REQUIRE(a.items[i].value_len ==
							strlen(mine[j]) &&
						memcmp(a.items[i].value,
						       mine[j],
						       strlen(mine[j])) == 0,
					"scan \"\": wrong value for \"%s\"",
					mine[j]);
			}
	}
	REQUIRE(found == 4, "scan \"\" found %zu of the 4 keys written", found);
	/* The first and the last key of the whole store, by limit. */
	CALL(SB_OK, scan(t, "", NULL, 1, &a, NULL, &err), "scan \"\" limit 1");
	REQUIRE(a.n == 1, "scan \"\" limit 1: %zu items", a.n);
	CALL(SB_OK, scan(t, "", "\x7e", 0, &a, NULL, &err),
	     "scan \"\" after \"~\"");
	REQUIRE(a.n >= 1 && strcmp(a.items[a.n - 1].key, "\xef\xbf\xbd") == 0,
		"scan \"\" after \"~\" does not end with U+FFFD");
done:
	scan_acc_free(&a);
}

/* ------------------------------------------------------------------ */
/* Checks: lease and fencing                                           */
/* ------------------------------------------------------------------ */

static void check_lease_initial(struct t *t)
{
	STEP(expect_lease(t, "fresh store", "", 0, 0));
done:;
}

static void check_fence_without_lease(struct t *t)
{
	struct sb_lease_info info;
	struct sb_error err;
	struct sb_batch_op op;
	int rc;

	CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err), "lease_read");
	op = op_put("ct/fence-nolease/k", "x", 1, SB_PRE_NONE, 0);
	CALL(SB_EFENCED, apply(t, &op, 1, info.epoch + 1, NULL, NULL, &err),
	     "batch with epoch %" PRIu64 " when the store's epoch is %" PRIu64
	     "%s",
	     info.epoch + 1, info.epoch,
	     info.epoch == 0 ? " (no lease ever taken)" : "");
	STEP(expect_absent(t, "ct/fence-nolease/k"));
done:;
}

static void check_lease_acquire(struct t *t)
{
	struct sb_lease_info info;
	struct sb_error err;
	uint64_t e0, e1 = 0;
	int rc;

	STEP(lease_make_free(t, &e0));
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 10000, &e1, &err),
	     "lease_acquire of a free lease");
	REQUIRE(e1 > e0, "epoch %" PRIu64 " after acquire, not above %" PRIu64,
		e1, e0);
	STEP(expect_lease(t, "after acquire", "ct-a", e1, 1));
	CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err), "lease_read");
	REQUIRE(info.ttl_left_ms <= 10000,
		"ttl_left_ms %" PRId64 " exceeds the ttl of 10000",
		info.ttl_left_ms);
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-a", e1, &err),
	     "lease_release");
done:;
}

static void check_lease_busy(struct t *t)
{
	struct sb_error err;
	uint64_t e = 0, e2 = 0;
	int rc;

	STEP(lease_make_free(t, NULL));
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 10000, &e, &err),
	     "lease_acquire");
	CALL(SB_EBUSY, t->ops->lease_acquire(t->inst, "ct-b", 10000, &e2, &err),
	     "lease_acquire by another while held");
	REQUIRE(strstr(err.msg, "ct-a") != NULL,
		"SB_EBUSY message does not name the holder \"ct-a\": %s",
		err.msg);
	CALL(SB_EBUSY, t->ops->lease_acquire(t->inst, "ct-a", 10000, &e2, &err),
	     "lease_acquire by the same holder while held");
	STEP(expect_lease(t, "after refused acquires", "ct-a", e, 1));
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-a", e, &err),
	     "lease_release");
done:;
}

static void check_lease_renew(struct t *t)
{
	struct sb_lease_info info;
	struct sb_error err;
	uint64_t e = 0;
	int rc;

	STEP(lease_make_free(t, NULL));
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 2000, &e, &err),
	     "lease_acquire ttl 2000");
	CALL(SB_OK, t->ops->lease_renew(t->inst, "ct-a", e, 30000, &err),
	     "lease_renew by the holder");
	CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err), "lease_read");
	REQUIRE(info.ttl_left_ms > 2000 && info.ttl_left_ms <= 30000,
		"ttl_left_ms %" PRId64 " after a renew to 30000 ms",
		info.ttl_left_ms);
	REQUIRE(info.epoch == e,
		"renew changed the epoch from %" PRIu64 " to %" PRIu64, e,
		info.epoch);
	STEP(expect_lease(t, "after renew", "ct-a", e, 1));
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-a", e, &err),
	     "lease_release");
done:;
}

static void check_lease_renew_fenced(struct t *t)
{
	struct sb_error err;
	uint64_t e = 0;
	int rc;

	STEP(lease_make_free(t, NULL));
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 10000, &e, &err),
	     "lease_acquire");
	CALL(SB_EFENCED, t->ops->lease_renew(t->inst, "ct-b", e, 10000, &err),
	     "lease_renew by another holder");
	CALL(SB_EFENCED,
	     t->ops->lease_renew(t->inst, "ct-a", e + 1, 10000, &err),
	     "lease_renew with epoch + 1");
	CALL(SB_EFENCED,
	     t->ops->lease_renew(t->inst, "ct-a", e - 1, 10000, &err),
	     "lease_renew with epoch - 1");
	STEP(expect_lease(t, "after refused renews", "ct-a", e, 1));
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-a", e, &err),
	     "lease_release");
done:;
}

static void check_lease_expiry(struct t *t)
{
	struct sb_lease_info info;
	struct sb_error err;
	uint64_t e1 = 0, e2 = 0;
	int rc;

	STEP(lease_make_free(t, NULL));
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 300, &e1, &err),
	     "lease_acquire ttl 300 ms");
	STEP(wait_lease_expired(t, 5000));
	CALL(SB_EEXPIRED, t->ops->lease_renew(t->inst, "ct-a", e1, 10000, &err),
	     "lease_renew after expiry");
	/* Not renewed, not held; a backend may still show the old holder or
	 * show none, but the epoch stays. */
	CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err), "lease_read");
	REQUIRE(!info.held && info.epoch == e1 &&
			(strcmp(info.holder, "ct-a") == 0 ||
			 info.holder[0] == '\0'),
		"after a renew past expiry: holder \"%s\" epoch %" PRIu64
		" held=%d, want \"ct-a\" or \"\", %" PRIu64 ", 0",
		info.holder, info.epoch, info.held, e1);
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-b", 10000, &e2, &err),
	     "lease_acquire by another after expiry");
	REQUIRE(e2 > e1,
		"epoch %" PRIu64 " after takeover of an expired lease, "
		"not above %" PRIu64,
		e2, e1);
	/* The old holder wakes up late (the bug Vault/OpenBao had): its
	 * renew must not touch the new holder's lease. */
	CALL(SB_EFENCED, t->ops->lease_renew(t->inst, "ct-a", e1, 10000, &err),
	     "late lease_renew by the old holder");
	STEP(expect_lease(t, "after the late renew", "ct-b", e2, 1));
	CALL(SB_EFENCED, t->ops->lease_release(t->inst, "ct-a", e1, &err),
	     "late lease_release by the old holder");
	STEP(expect_lease(t, "after the late release", "ct-b", e2, 1));
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-b", e2, &err),
	     "lease_release");
done:;
}

static void check_lease_release(struct t *t)
{
	struct sb_error err;
	uint64_t e = 0, e2 = 0;
	int rc;

	STEP(lease_make_free(t, NULL));
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 10000, &e, &err),
	     "lease_acquire");
	CALL(SB_EFENCED, t->ops->lease_release(t->inst, "ct-b", e, &err),
	     "lease_release by a non-holder");
	CALL(SB_EFENCED, t->ops->lease_release(t->inst, "ct-a", e + 1, &err),
	     "lease_release with a wrong epoch");
	STEP(expect_lease(t, "after refused releases", "ct-a", e, 1));
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-a", e, &err),
	     "lease_release by the holder");
	/* Free, but the epoch counter stays where it was. */
	STEP(expect_lease(t, "after release", "", e, 0));
	CALL(SB_EFENCED, t->ops->lease_renew(t->inst, "ct-a", e, 10000, &err),
	     "lease_renew after release");
	STEP(expect_lease(t, "a renew after release must not recreate it", "",
			  e, 0));
	CALL(SB_EFENCED, t->ops->lease_release(t->inst, "ct-a", e, &err),
	     "second lease_release");
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 10000, &e2, &err),
	     "lease_acquire after release");
	REQUIRE(e2 > e,
		"epoch %" PRIu64
		" after release and acquire, not above %" PRIu64
		" (epochs must never be reused)",
		e2, e);
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-a", e2, &err),
	     "lease_release");
done:;
}

static void check_lease_takeover(struct t *t)
{
	struct sb_lease_info info;
	struct sb_error err;
	uint64_t ea = 0, ex = 0, ey = 0, eb = 0;
	uint64_t t0;
	int rc;

	STEP(lease_make_free(t, NULL));
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 300, &ea, &err),
	     "lease_acquire ttl 300 ms");
	t0 = now_ms();
	CALL(SB_OK, t->ops->fence_takeover(t->inst, "ct-x", 0, &ex, &err),
	     "fence_takeover ttl 0 while \"ct-a\" holds the lease");
	REQUIRE(ex > ea, "epoch %" PRIu64 " after takeover, not above %" PRIu64,
		ex, ea);
	STEP(expect_lease(t, "after takeover", "ct-x", ex, 1));
	CALL(SB_EBUSY, t->ops->lease_acquire(t->inst, "ct-b", 10000, &eb, &err),
	     "lease_acquire by another after a takeover");
	CALL(SB_EBUSY, t->ops->lease_acquire(t->inst, "ct-x", 10000, &eb, &err),
	     "lease_acquire by the takeover holder");
	CALL(SB_EFENCED, t->ops->lease_renew(t->inst, "ct-a", ea, 10000, &err),
	     "lease_renew by the deposed holder");
	/* ttl 0 never expires: well past the old 300 ms it is still held. */
	while (now_ms() - t0 < 600)
		sleep_ms(50);
	STEP(expect_lease(t, "600 ms after a takeover with ttl 0", "ct-x", ex,
			  1));
	CALL(SB_EBUSY, t->ops->lease_acquire(t->inst, "ct-b", 10000, &eb, &err),
	     "lease_acquire 600 ms after a takeover with ttl 0");
	/* A takeover with a ttl expires like a lease. */
	CALL(SB_OK, t->ops->fence_takeover(t->inst, "ct-y", 5000, &ey, &err),
	     "fence_takeover ttl 5000");
	REQUIRE(ey > ex, "epoch %" PRIu64 " after takeover, not above %" PRIu64,
		ey, ex);
	CALL(SB_OK, t->ops->lease_read(t->inst, &info, &err), "lease_read");
	REQUIRE(info.held && info.ttl_left_ms > 0 && info.ttl_left_ms <= 5000,
		"after fence_takeover ttl 5000: held=%d ttl_left_ms %" PRId64,
		info.held, info.ttl_left_ms);
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-y", ey, &err),
	     "lease_release after takeover");
	STEP(expect_lease(t, "after release", "", ey, 0));
done:;
}

static void check_fence_batches(struct t *t)
{
	struct sb_error err;
	struct sb_batch_op ops[2];
	uint64_t e = 0, e2 = 0;
	int rc;

	/* Two acquires, so that epoch - 1 is a real, stale epoch and not 0
	 * (unfenced) even on a store whose lease was never used. */
	STEP(lease_make_free(t, NULL));
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 30000, &e, &err),
	     "lease_acquire");
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-a", e, &err),
	     "lease_release");
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-a", 30000, &e, &err),
	     "lease_acquire");
	ops[0] = op_put("ct/fence/a", "current", 7, SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, ops, 1, e, NULL, NULL, &err),
	     "batch at the current epoch");
	STEP(expect_str(t, "ct/fence/a", "current", 1));
	ops[0] = op_put("ct/fence/a", "stale", 5, SB_PRE_NONE, 0);
	ops[1] = op_put("ct/fence/b", "stale", 5, SB_PRE_ABSENT, 0);
	CALL(SB_EFENCED, apply(t, ops, 2, e - 1, NULL, NULL, &err),
	     "batch at a stale epoch");
	CALL(SB_EFENCED, apply(t, ops, 2, e + 1, NULL, NULL, &err),
	     "batch at a future epoch");
	STEP(expect_str(t, "ct/fence/a", "current", 1));
	STEP(expect_absent(t, "ct/fence/b"));
	ops[0] = op_put("ct/fence/a", "unfenced", 8, SB_PRE_NONE, 0);
	CALL(SB_OK, apply(t, ops, 1, 0, NULL, NULL, &err),
	     "batch with epoch 0 (unfenced)");
	STEP(expect_str(t, "ct/fence/a", "unfenced", 2));

	/* A takeover deposes the lease holder's writes at once. */
	CALL(SB_OK, t->ops->fence_takeover(t->inst, "ct-x", 0, &e2, &err),
	     "fence_takeover");
	ops[0] = op_put("ct/fence/a", "deposed", 7, SB_PRE_NONE, 0);
	ops[1] = op_del("ct/fence/c", SB_PRE_NONE, 0);
	CALL(SB_EFENCED, apply(t, ops, 2, e, NULL, NULL, &err),
	     "batch at the epoch before a takeover");
	STEP(expect_str(t, "ct/fence/a", "unfenced", 2));
	ops[0] = op_put("ct/fence/a", "new master", 10, SB_PRE_VERSION, 2);
	CALL(SB_OK, apply(t, ops, 1, e2, NULL, NULL, &err),
	     "batch at the takeover's epoch");
	STEP(expect_str(t, "ct/fence/a", "new master", 3));
	/* A fenced batch fails as fenced even when its preconditions would
	 * also fail. */
	ops[0] = op_put("ct/fence/a", "x", 1, SB_PRE_ABSENT, 0);
	CALL(SB_EFENCED, apply(t, ops, 1, e, NULL, NULL, &err),
	     "stale batch with a failing precondition");
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-x", e2, &err),
	     "lease_release");
done:;
}

/* ------------------------------------------------------------------ */
/* Checks: instances, threads, processes                               */
/* ------------------------------------------------------------------ */

static void check_store_reopen(struct t *t)
{
	struct sb_lease_info before, after;
	struct sb_error err;
	int rc;

	CALL(SB_OK, put_str(t, "ct/reopen/k", "v1", NULL, &err), "put");
	CALL(SB_OK, put_str(t, "ct/reopen/k", "v2", NULL, &err), "put");
	CALL(SB_OK, t->ops->lease_read(t->inst, &before, &err), "lease_read");
	STEP(t_reopen(t));
	STEP(expect_str(t, "ct/reopen/k", "v2", 2));
	CALL(SB_OK, t->ops->lease_read(t->inst, &after, &err), "lease_read");
	REQUIRE(after.epoch == before.epoch &&
			strcmp(after.holder, before.holder) == 0,
		"lease changed across a reopen: \"%s\"@%" PRIu64
		" became \"%s\"@%" PRIu64,
		before.holder, before.epoch, after.holder, after.epoch);
done:;
}

static void check_two_instances(struct t *t)
{
	struct sb_host *host = NULL;
	struct sb_error err;
	struct t t2 = *t;
	void *other = NULL;
	uint64_t e = 0, e2 = 0;
	int rc;

	host = sb_host_new("storage", t->s->plugin_name, t->s->state_dir,
			   NODE_NAME "-2");
	REQUIRE(host != NULL, "out of memory");
	CALL(SB_OK, t->ops->open(host, t->s->cfg, &other, &err),
	     "open of a second instance");
	t2.inst = other;
	CALL(SB_OK, put_str(t, "ct/two/k", "from one", NULL, &err),
	     "put on the first instance");
	STEP(expect_str(&t2, "ct/two/k", "from one", 1));
	CALL(SB_OK, put_str(&t2, "ct/two/k", "from two", NULL, &err),
	     "put on the second instance");
	STEP(expect_str(t, "ct/two/k", "from two", 2));
	/* One lease between them. */
	STEP(lease_make_free(t, NULL));
	CALL(SB_OK, t->ops->lease_acquire(t->inst, "ct-one", 10000, &e, &err),
	     "lease_acquire on the first instance");
	CALL(SB_EBUSY, t->ops->lease_acquire(other, "ct-two", 10000, &e2, &err),
	     "lease_acquire on the second instance");
	STEP(expect_lease(&t2, "seen from the second instance", "ct-one", e,
			  1));
	CALL(SB_OK, t->ops->lease_release(other, "ct-one", e, &err),
	     "lease_release from the second instance");
	STEP(expect_lease(t, "seen from the first instance", "", e, 0));
done:
	if (t2.failed && !t->failed)
		t_fail(t, "%s", t2.msg);
	if (other != NULL)
		t->ops->close(other);
	sb_host_free(host);
}

/* Reads the decimal counter at key; *value 0 and *version 0 if absent. */
static int counter_read(const struct sb_storage_ops *ops, void *inst,
			const char *key, uint64_t *value, uint64_t *version,
			struct sb_error *err)
{
	uint8_t *v = NULL;
	size_t n = 0;
	char buf[32];
	int rc;

	rc = ops->get(inst, key, &v, &n, version, err);
	if (rc == SB_ENOTFOUND) {
		*value = 0;
		*version = 0;
		return SB_OK;
	}
	if (rc != SB_OK)
		return rc;
	if (n == 0 || n >= sizeof(buf)) {
		free(v);
		snprintf(err->msg, sizeof(err->msg),
			 "counter \"%s\" holds %zu bytes, not a number", key,
			 n);
		return SB_ERR;
	}
	memcpy(buf, v, n);
	buf[n] = '\0';
	free(v);
	*value = strtoull(buf, NULL, 10);
	return SB_OK;
}

/* Adds one to the counter at key with a read-modify-write retry loop on
 * SB_PRE_VERSION; extra (may be NULL) is applied in the same batch, before
 * the counter op. Counts retries into *conflicts. */
static int counter_increment(const struct sb_storage_ops *ops, void *inst,
			     const char *key, const struct sb_batch_op *extra,
			     uint64_t *conflicts, struct sb_error *err)
{
	for (int attempt = 0; attempt < 100000; attempt++) {
		struct sb_batch_op bops[2];
		struct sb_batch b = {.ops = bops};
		uint64_t value, version;
		size_t failed = 99;
		char buf[32];
		int rc;

		rc = counter_read(ops, inst, key, &value, &version, err);
		if (rc != SB_OK)
			return rc;
		snprintf(buf, sizeof(buf), "%" PRIu64, value + 1);
		if (extra != NULL)
			bops[b.n_ops++] = *extra;
		bops[b.n_ops++] = op_put(
			key, buf, strlen(buf),
			version ? SB_PRE_VERSION : SB_PRE_ABSENT, version);
		b.failed_op = &failed;
		rc = ops->batch_apply(inst, &b, err);
		if (rc == SB_OK)
			return SB_OK;
		if (rc != SB_ECONFLICT)
			return rc;
		if (failed != b.n_ops - 1) {
			snprintf(err->msg, sizeof(err->msg),
				 "conflict on op %zu, want the counter op %zu",
				 failed, b.n_ops - 1);
			return SB_ERR;
		}
		(*conflicts)++;
	}
	snprintf(err->msg, sizeof(err->msg),
		 "counter \"%s\": no increment after 100000 attempts", key);
	return SB_ETIMEOUT;
}

enum { THREADS = 4, THREAD_ITERS = 40 };

struct worker {
	struct t *t;
	int id;
	uint64_t conflicts;
	char msg[600];
};

static void *thread_main(void *arg)
{
	struct worker *w = arg;
	const struct sb_storage_ops *ops = w->t->ops;
	void *inst = w->t->inst;
	struct sb_error err = {{0}};
	struct scan_acc a = {0};
	char prefix[64], key[128], val[64];
	uint8_t *got;
	size_t n;
	uint64_t ver;
	int rc;

	snprintf(prefix, sizeof(prefix), "ct/threads/t%d/", w->id);
	for (int i = 0; i < THREAD_ITERS; i++) {
		struct sb_batch_op own;

		snprintf(key, sizeof(key), "%s%03d", prefix, i);
		snprintf(val, sizeof(val), "thread %d item %d", w->id, i);
		own = op_put(key, val, strlen(val), SB_PRE_ABSENT, 0);
		rc = counter_increment(ops, inst, "ct/threads/counter", &own,
				       &w->conflicts, &err);
		if (rc != SB_OK) {
			snprintf(w->msg, sizeof(w->msg),
				 "thread %d, item %d: batch: %s: %.300s", w->id,
				 i, sb_status_name(rc), err.msg);
			goto done;
		}
		rc = ops->get(inst, key, &got, &n, &ver, &err);
		if (rc == SB_OK) {
			int same = n == strlen(val) &&
				   memcmp(got, val, n) == 0 && ver == 1;

			free(got);
			if (!same)
				snprintf(err.msg, sizeof(err.msg),
					 "wrong value or version %" PRIu64,
					 ver);
			rc = same ? SB_OK : SB_ERR;
		}
		if (rc != SB_OK) {
			snprintf(w->msg, sizeof(w->msg),
				 "thread %d: get \"%s\" after put: %s: %.300s",
				 w->id, key, sb_status_name(rc), err.msg);
			goto done;
		}
		if (i % 8 == 7) {
			scan_acc_free(&a);
			rc = ops->scan(inst, prefix, NULL, 0, scan_collect, &a,
				       NULL, &err);
			if (rc != SB_OK || a.n != (size_t)i + 1) {
				snprintf(w->msg, sizeof(w->msg),
					 "thread %d: scan \"%s\": %s, %zu "
					 "items, want %d: %.300s",
					 w->id, prefix, sb_status_name(rc), a.n,
					 i + 1, err.msg);
				goto done;
			}
		}
	}
done:
	scan_acc_free(&a);
	return NULL;
}

static void check_threads(struct t *t)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	struct scan_acc a = {0};
	struct sb_error err;
	uint64_t value = 0, version = 0, conflicts = 0;
	int started = 0;
	int rc;

	memset(w, 0, sizeof(w));
	for (int i = 0; i < THREADS; i++) {
		w[i].t = t;
		w[i].id = i;
		if (pthread_create(&th[i], NULL, thread_main, &w[i]) != 0) {
			t_fail(t, "pthread_create: %s", strerror(errno));
			break;
		}
		started++;
	}
	for (int i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (t->failed)
		goto done;
	for (int i = 0; i < THREADS; i++) {
		REQUIRE(w[i].msg[0] == '\0', "%s", w[i].msg);
		conflicts += w[i].conflicts;
	}
	CALL(SB_OK,
	     counter_read(t->ops, t->inst, "ct/threads/counter", &value,
			  &version, &err),
	     "read the shared counter");
	REQUIRE(value == THREADS * THREAD_ITERS,
		"shared counter is %" PRIu64 " after %d increments (lost "
		"updates)",
		value, THREADS * THREAD_ITERS);
	REQUIRE(version == THREADS * THREAD_ITERS,
		"shared counter at version %" PRIu64 ", want %d", version,
		THREADS * THREAD_ITERS);
	CALL(SB_OK, scan(t, "ct/threads/t", NULL, 0, &a, NULL, &err),
	     "scan every thread's keys");
	REQUIRE(a.n == THREADS * THREAD_ITERS, "%zu keys written, want %d", a.n,
		THREADS * THREAD_ITERS);
	printf("# threads: %d threads x %d batches, %" PRIu64
	       " precondition retries\n",
	       THREADS, THREAD_ITERS, conflicts);
done:
	scan_acc_free(&a);
}

enum { CHILDREN = 2, CHILD_INCREMENTS = 60, CHILD_KEYS = 20 };

/* What a child reports at each step through its pipe (one write, well
 * under PIPE_BUF, so it arrives whole). */
struct child_report {
	char phase; /* 'o' opened, 'w' work done, 'l' lease tried */
	int failed;
	int lease_rc;
	uint64_t epoch;
	uint64_t conflicts;
	char msg[480];
};

struct child {
	pid_t pid;
	int to_child;	/* parent writes 'g' */
	int from_child; /* child writes struct child_report */
};

static void child_send(int fd, struct child_report *r)
{
	ssize_t n;

	do
		n = write(fd, r, sizeof(*r));
	while (n < 0 && errno == EINTR);
}

/* Waits for the parent's go byte; 0 when it came, -1 on EOF/error. */
static int child_wait_go(int fd)
{
	char c;
	ssize_t n;

	do
		n = read(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 && c == 'g' ? 0 : -1;
}

/* A child process: opens its own instance, increments the shared counter,
 * writes its own keys, then races the others for the lease. Never
 * returns. */
static void child_main(struct suite *s, int id, int in, int out)
{
	struct child_report r;
	struct sb_host *host;
	struct sb_error err = {{0}};
	void *inst = NULL;
	char node[64], key[128], val[64];
	int rc;

	memset(&r, 0, sizeof(r));
	snprintf(node, sizeof(node), "ct-proc-%d", id);
	host = sb_host_new("storage", s->plugin_name, s->state_dir, node);
	r.phase = 'o';
	rc = host ? s->ops->open(host, s->cfg, &inst, &err) : SB_ENOMEM;
	if (rc != SB_OK) {
		r.failed = 1;
		snprintf(r.msg, sizeof(r.msg), "child %d: open: %s: %.300s", id,
			 sb_status_name(rc), err.msg);
		child_send(out, &r);
		_exit(1);
	}
	child_send(out, &r);
	if (child_wait_go(in) != 0)
		goto out;

	r.phase = 'w';
	for (int i = 0; i < CHILD_INCREMENTS && !r.failed; i++) {
		rc = counter_increment(s->ops, inst, "ct/procs/counter", NULL,
				       &r.conflicts, &err);
		if (rc != SB_OK) {
			r.failed = 1;
			snprintf(r.msg, sizeof(r.msg),
				 "child %d: increment %d: %s: %.300s", id, i,
				 sb_status_name(rc), err.msg);
		}
		/* Interleave the child's own keys with the increments. */
		if (!r.failed && i < CHILD_KEYS) {
			struct sb_batch_op op;
			struct sb_batch b = {.ops = &op, .n_ops = 1};

			snprintf(key, sizeof(key), "ct/procs/c%d/%02d", id, i);
			snprintf(val, sizeof(val), "child %d key %d", id, i);
			op = op_put(key, val, strlen(val), SB_PRE_ABSENT, 0);
			rc = s->ops->batch_apply(inst, &b, &err);
			if (rc != SB_OK) {
				r.failed = 1;
				snprintf(r.msg, sizeof(r.msg),
					 "child %d: put \"%s\": %s: %.300s", id,
					 key, sb_status_name(rc), err.msg);
			}
		}
	}
	child_send(out, &r);
	if (r.failed || child_wait_go(in) != 0)
		goto out;

	r.phase = 'l';
	memset(&err, 0, sizeof(err));
	r.lease_rc = s->ops->lease_acquire(inst, node, 30000, &r.epoch, &err);
	if (r.lease_rc != SB_OK)
		snprintf(r.msg, sizeof(r.msg), "%.300s", err.msg);
	child_send(out, &r);
out:
	s->ops->close(inst);
	sb_host_free(host);
	_exit(r.failed ? 1 : 0);
}

/* Reads one report from a child within timeout_ms. */
static int read_report(struct t *t, struct child *c, int id, char phase,
		       struct child_report *r)
{
	struct pollfd pfd = {.fd = c->from_child, .events = POLLIN};
	ssize_t n;

	if (poll(&pfd, 1, 60000) != 1) {
		t_fail(t, "child %d: no report for phase '%c' within 60 s", id,
		       phase);
		return -1;
	}
	do
		n = read(c->from_child, r, sizeof(*r));
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(*r)) {
		t_fail(t, "child %d died before phase '%c' (read %zd bytes)",
		       id, phase, n);
		return -1;
	}
	if (r->phase != phase) {
		t_fail(t, "child %d: report for phase '%c', want '%c'", id,
		       r->phase, phase);
		return -1;
	}
	if (r->failed) {
		t_fail(t, "%s", r->msg);
		return -1;
	}
	return 0;
}

static void send_go(struct child *c, int n)
{
	/* A child that is gone shows in its missing report. */
	for (int i = 0; i < n; i++)
		if (write(c[i].to_child, "g", 1) != 1)
			continue;
}

/* Reaps the children, killing any still running after timeout_ms. */
static void reap(struct t *t, struct child *c, int n)
{
	uint64_t deadline = now_ms() + 30000;

	for (int i = 0; i < n; i++) {
		int status;

		if (c[i].pid <= 0)
			continue;
		for (;;) {
			pid_t p = waitpid(c[i].pid, &status, WNOHANG);

			if (p == c[i].pid || (p < 0 && errno != EINTR))
				break;
			if (now_ms() > deadline) {
				kill(c[i].pid, SIGKILL);
				waitpid(c[i].pid, &status, 0);
				t_fail(t, "child %d did not exit; killed", i);
				break;
			}
			sleep_ms(10);
		}
		c[i].pid = 0;
		close(c[i].to_child);
		close(c[i].from_child);
	}
}

static void check_processes(struct t *t)
{
	struct child c[CHILDREN];
	struct child_report r[CHILDREN];
	struct sb_error err;
	struct scan_acc a = {0};
	uint64_t e0 = 0, value = 0, version = 0, conflicts = 0;
	int started = 0, winner = -1;
	int rc = SB_OK;

	memset(c, 0, sizeof(c));
	memset(r, 0, sizeof(r));
	/* A freshly released lease for the race. */
	STEP(lease_make_free(t, NULL));
	CALL(SB_OK,
	     t->ops->lease_acquire(t->inst, "ct-proc-setup", 10000, &e0, &err),
	     "lease_acquire");
	CALL(SB_OK, t->ops->lease_release(t->inst, "ct-proc-setup", e0, &err),
	     "lease_release");
	/* The children open their own instances; no connection of ours may
	 * cross the fork (SQLite, libpq and hiredis all forbid it). */
	suite_close(t->s);
	t->inst = NULL;
	fflush(stdout);
	fflush(stderr);
	for (int i = 0; i < CHILDREN; i++) {
		int down[2], up[2];

		if (pipe2(down, O_CLOEXEC) != 0 || pipe2(up, O_CLOEXEC) != 0) {
			t_fail(t, "pipe: %s", strerror(errno));
			break;
		}
		c[i].pid = fork();
		if (c[i].pid < 0) {
			t_fail(t, "fork: %s", strerror(errno));
			close(down[0]);
			close(down[1]);
			close(up[0]);
			close(up[1]);
			break;
		}
		if (c[i].pid == 0) {
			close(down[1]);
			close(up[0]);
			for (int j = 0; j < i; j++) {
				close(c[j].to_child);
				close(c[j].from_child);
			}
			child_main(t->s, i, down[0], up[1]);
		}
		close(down[0]);
		close(up[1]);
		c[i].to_child = down[1];
		c[i].from_child = up[0];
		started++;
	}
	if (t->failed)
		goto reap;
	/* Three barriers: all opened, all worked, then the lease race. */
	for (int i = 0; i < CHILDREN; i++)
		if (read_report(t, &c[i], i, 'o', &r[i]) != 0)
			goto reap;
	send_go(c, CHILDREN);
	for (int i = 0; i < CHILDREN; i++) {
		if (read_report(t, &c[i], i, 'w', &r[i]) != 0)
			goto reap;
		conflicts += r[i].conflicts;
	}
	send_go(c, CHILDREN);
	for (int i = 0; i < CHILDREN; i++)
		if (read_report(t, &c[i], i, 'l', &r[i]) != 0)
			goto reap;
reap:
	reap(t, c, started);
	if (suite_open(t->s, t->msg, sizeof(t->msg)) != 0) {
		t->failed = 1;
		goto done;
	}
	t->inst = t->s->inst;
	if (t->failed)
		goto done;

	CALL(SB_OK,
	     counter_read(t->ops, t->inst, "ct/procs/counter", &value, &version,
			  &err),
	     "read the shared counter");
	REQUIRE(value == CHILDREN * CHILD_INCREMENTS,
		"counter is %" PRIu64 " after %d increments from %d processes "
		"(lost updates)",
		value, CHILDREN * CHILD_INCREMENTS, CHILDREN);
	REQUIRE(version == CHILDREN * CHILD_INCREMENTS,
		"counter at version %" PRIu64 ", want %d", version,
		CHILDREN * CHILD_INCREMENTS);
	for (int i = 0; i < CHILDREN; i++) {
		char prefix[32];

		snprintf(prefix, sizeof(prefix), "ct/procs/c%d/", i);
		CALL(SB_OK, scan(t, prefix, NULL, 0, &a, NULL, &err),
		     "scan \"%s\"", prefix);
		REQUIRE(a.n == CHILD_KEYS, "child %d: %zu keys found, want %d",
			i, a.n, CHILD_KEYS);
	}
	for (int i = 0; i < CHILDREN; i++) {
		if (r[i].lease_rc == SB_OK) {
			REQUIRE(winner < 0,
				"children %d and %d both acquired the lease",
				winner, i);
			winner = i;
		} else {
			REQUIRE(r[i].lease_rc == SB_EBUSY,
				"child %d: lease_acquire returned %s (%d), "
				"want ok or busy: %s",
				i, sb_status_name(r[i].lease_rc), r[i].lease_rc,
				r[i].msg);
		}
	}
	REQUIRE(winner >= 0, "no child acquired the free lease");
	REQUIRE(r[winner].epoch > e0,
		"winner's epoch %" PRIu64 " not above %" PRIu64,
		r[winner].epoch, e0);
	{
		char holder[64];

		snprintf(holder, sizeof(holder), "ct-proc-%d", winner);
		STEP(expect_lease(t, "after the race", holder, r[winner].epoch,
				  1));
		CALL(SB_OK,
		     t->ops->lease_release(t->inst, holder, r[winner].epoch,
					   &err),
		     "lease_release of the winner's lease");
	}
	printf("# processes: %d x %d increments, %" PRIu64
	       " precondition retries\n",
	       CHILDREN, CHILD_INCREMENTS, conflicts);
done:
	scan_acc_free(&a);
}

/* ------------------------------------------------------------------ */
/* Driver                                                              */
/* ------------------------------------------------------------------ */

static const struct check {
	const char *name;
	void (*fn)(struct t *t);
} checks[] = {
	{"store.fresh", check_store_fresh},
	{"get.missing", check_get_missing},
	{"put_get.roundtrip", check_put_get_roundtrip},
	{"put_get.binary", check_put_get_binary},
	{"put_get.empty_value", check_put_get_empty},
	{"put_get.max_value", check_put_get_max_value},
	{"version.lifecycle", check_versions_lifecycle},
	{"batch.versions_out", check_batch_versions_out},
	{"batch.pre_absent", check_pre_absent},
	{"batch.pre_version", check_pre_version},
	{"batch.atomic", check_batch_atomic},
	{"batch.same_key_in_order", check_batch_same_key},
	{"batch.delete", check_delete},
	{"batch.invalid", check_invalid},
	{"scan.order", check_scan_order},
	{"scan.prefix_literal", check_scan_prefix_literal},
	{"scan.paging", check_scan_paging},
	{"scan.early_stop", check_scan_early_stop},
	{"scan.empty_prefix", check_scan_empty_prefix},
	/* These two look at the lease before anything took it. */
	{"lease.initial", check_lease_initial},
	{"fence.no_lease_yet", check_fence_without_lease},
	{"lease.acquire", check_lease_acquire},
	{"lease.busy", check_lease_busy},
	{"lease.renew", check_lease_renew},
	{"lease.renew_fenced", check_lease_renew_fenced},
	{"lease.expiry", check_lease_expiry},
	{"lease.release", check_lease_release},
	{"lease.takeover", check_lease_takeover},
	{"fence.batches", check_fence_batches},
	{"store.reopen", check_store_reopen},
	{"store.two_instances", check_two_instances},
	{"concurrency.threads", check_threads},
	{"concurrency.processes", check_processes},
};

static int selected(const char *name, const char *only)
{
	return only == NULL || fnmatch(only, name, 0) == 0 ||
	       strstr(name, only) != NULL;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sb-storage-conformance --plugin-dir DIR --plugin NAME\n"
		"       [--state-dir DIR] [--set key=value]... [--only "
		"PATTERN]\n"
		"Runs the storage contract checks against a FRESH store.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"plugin-dir", required_argument, NULL, 'd'},
		{"plugin", required_argument, NULL, 'p'},
		{"state-dir", required_argument, NULL, 's'},
		{"set", required_argument, NULL, 'S'},
		{"only", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *plugin_dir = NULL, *only = NULL, *state_dir = NULL;
	struct suite s;
	char err[1024];
	uint64_t t_start;
	int opt, n = 0;
	int ret = 2;

	memset(&s, 0, sizeof(s));
	s.cfg = sb_config_new("storage");
	if (s.cfg == NULL)
		return 2;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': plugin_dir = optarg; break;
		case 'p': s.plugin_name = optarg; break;
		case 's': state_dir = optarg; break;
		case 'o': only = optarg; break;
		case 'S': {
			char *eq = strchr(optarg, '=');

			if (eq == NULL || eq == optarg) {
				fprintf(stderr, "--set %s: want key=value\n",
					optarg);
				goto out;
			}
			*eq = '\0';
			if (sb_config_set(s.cfg, optarg, eq + 1) != 0)
				goto out;
			*eq = '=';
			break;
		}
		case 'h':
			usage(stdout);
			ret = 0;
			goto out;
		default: usage(stderr); goto out;
		}
	}
	if (plugin_dir == NULL || s.plugin_name == NULL || optind != argc) {
		usage(stderr);
		goto out;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sb_config_set(s.cfg, "plugin", s.plugin_name) != 0)
		goto out;
	if (state_dir != NULL) {
		snprintf(s.state_dir, sizeof(s.state_dir), "%s", state_dir);
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(s.state_dir, sizeof(s.state_dir),
			 "%s/sb-conformance-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(s.state_dir) == NULL) {
			fprintf(stderr, "mkdtemp %s: %s\n", s.state_dir,
				strerror(errno));
			goto out;
		}
		s.own_state_dir = 1;
	}
	printf("# plugin %s from %s, state dir %s\n", s.plugin_name, plugin_dir,
	       s.state_dir);

	if (sb_plugin_load(plugin_dir, SB_PLUGIN_STORAGE, s.plugin_name,
			   &s.plugin, err, sizeof(err)) != 0) {
		printf("not ok 1 - load: %s\n0 passed, 1 failed\n", err);
		ret = 1;
		goto out;
	}
	s.ops = sb_plugin_storage(&s.plugin);
	s.host = sb_host_new("storage", s.plugin_name, s.state_dir, NODE_NAME);
	if (s.host == NULL)
		goto out;
	if (suite_open(&s, err, sizeof(err)) != 0) {
		printf("not ok 1 - %s\n0 passed, 1 failed\n", err);
		ret = 1;
		goto out;
	}

	t_start = now_ms();
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		struct t t = {.s = &s, .ops = s.ops, .inst = s.inst};

		if (!selected(checks[i].name, only))
			continue;
		n++;
		if (s.inst == NULL) {
			/* An earlier check lost the instance and could not
			 * reopen it. */
			if (suite_open(&s, t.msg, sizeof(t.msg)) != 0) {
				printf("not ok %d - %s: %s\n", n,
				       checks[i].name, t.msg);
				s.failed++;
				continue;
			}
			t.inst = s.inst;
		}
		checks[i].fn(&t);
		if (t.failed) {
			printf("not ok %d - %s: %s\n", n, checks[i].name,
			       t.msg);
			s.failed++;
		} else {
			printf("ok %d - %s\n", n, checks[i].name);
			s.passed++;
		}
	}
	suite_close(&s);
	printf("# %d checks in %" PRIu64 " ms\n", n, now_ms() - t_start);
	if (s.failed > 0 && s.own_state_dir)
		printf("# state dir kept for inspection: %s\n", s.state_dir);
	printf("%d passed, %d failed\n", s.passed, s.failed);
	ret = s.failed == 0 && n > 0 ? 0 : 1;
	if (n == 0)
		fprintf(stderr, "--only %s matched no check\n", only);
out:
	if (s.own_state_dir && ret == 0)
		nftw(s.state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	sb_host_free(s.host);
	sb_plugin_unload(&s.plugin);
	sb_config_free(s.cfg);
	return ret;
}
