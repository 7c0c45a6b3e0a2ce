/*
 * Key/value operations: get, scan, batch_apply. Each is one attempt
 * function run by pg_run (pg_conn.c), which supplies the connection, the
 * deadline, the rollback of anything left open, and the retry when the
 * connection was lost before anything could have been committed.
 */
#define _GNU_SOURCE
#include "pg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks a key against the contract; writes a message naming it. */
static int check_key(const char *what, const char *key, struct sb_error *err)
{
	size_t n;

	if (key == NULL || key[0] == '\0')
		return sb_error_set(err, SB_EINVAL, "postgres: %s: empty key",
				    what);
	n = strnlen(key, SB_KEY_MAX + 1);
	if (n > SB_KEY_MAX)
		return sb_error_set(
			err, SB_EINVAL,
			"postgres: %s: key '%.64s...' is longer than "
			"%d bytes",
			what, key, SB_KEY_MAX);
	return SB_OK;
}

/* ---------------------------------------------------------------- get */

struct get_ctx {
	const char *key;
	uint8_t **value;
	size_t *value_len;
	uint64_t *version;
};

static int get_attempt(struct pg_op *op, void *arg, struct sb_error *err)
{
	struct get_ctx *g = arg;
	const char *vals[1] = {g->key};
	int lens[1] = {(int)strlen(g->key)};
	PGresult *res = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	ret = pg_exec(op, g->value ? PG_GET : PG_GET_VERSION, vals, lens, &res,
		      err);
	if (ret != SB_OK)
		goto done;
	if (PQntuples(res) == 0) {
		ret = pg_fail(op, err, SB_ENOTFOUND, "key '%.200s' not found",
			      g->key);
		goto done;
	}
	if (g->value) {
		len = (size_t)PQgetlength(res, 0, 0);
		/* A zero-length value is still a valid allocation. */
		buf = malloc(len ? len : 1);
		if (buf == NULL) {
			ret = pg_fail(op, err, SB_ENOMEM,
				      "out of memory for a %zu-byte value",
				      len);
			goto done;
		}
		memcpy(buf, PQgetvalue(res, 0, 0), len);
		*g->value = buf;
		if (g->value_len)
			*g->value_len = len;
		buf = NULL;
	}
	if (g->version)
		*g->version = (uint64_t)pg_get_int8(res, 0, g->value ? 1 : 0);
	ret = SB_OK;
done:
	PQclear(res);
	return ret;
}

int pg_get(void *inst, const char *key, uint8_t **value, size_t *value_len,
	   uint64_t *version, struct sb_error *err)
{
	struct get_ctx g = {key, value, value_len, version};
	int ret;

	if ((ret = check_key("get", key, err)) != SB_OK)
		return ret;
	return pg_run(inst, "get", get_attempt, &g, err);
}

/* --------------------------------------------------------------- scan */

struct scan_ctx {
	const char *prefix;
	const char *after;
	size_t limit;
	sb_scan_cb cb;
	void *arg;
	char *last_key;
	/* The first key past every key that starts with prefix. */
	char upper[SB_KEY_MAX + 1];
	size_t upper_len;
	char cursor[SB_KEY_MAX + 1]; /* last key delivered */
	size_t delivered;
};

/* Sets upper to the smallest byte string greater than every string that
 * starts with prefix: prefix with its last non-0xff byte incremented and
 * cut after it. An empty or all-0xff prefix has no such string within
 * SB_KEY_MAX bytes, so then a string of SB_KEY_MAX + 1 0xff bytes, greater
 * than any key, stands in. */
static void prefix_upper_bound(struct scan_ctx *s)
{
	size_t n = strlen(s->prefix);

	memcpy(s->upper, s->prefix, n);
	while (n > 0 && (unsigned char)s->upper[n - 1] == 0xff)
		n--;
	if (n > 0) {
		s->upper[n - 1] = (char)((unsigned char)s->upper[n - 1] + 1);
		s->upper_len = n;
	} else {
		memset(s->upper, 0xff, sizeof(s->upper));
		s->upper_len = sizeof(s->upper);
	}
}

/* Fetches and delivers one page of at most page rows after s->cursor.
 * Sets *more when the page was full and the callback wants more. */
static int scan_page(struct pg_op *op, struct scan_ctx *s, size_t page,
		     int *more, struct sb_error *err)
{
	char limit[8];
	const char *vals[4] = {s->prefix, s->cursor, s->upper, limit};
	int lens[4] = {(int)strlen(s->prefix), (int)strlen(s->cursor),
		       (int)s->upper_len, 8};
	char key[SB_KEY_MAX + 1];
	PGresult *res = NULL;
	int ret, rows;

	*more = 0;
	pg_put_int8(limit, (int64_t)page);
	ret = pg_exec(op, PG_SCAN, vals, lens, &res, err);
	if (ret != SB_OK)
		return ret;
	rows = PQntuples(res);
	for (int i = 0; i < rows; i++) {
		size_t klen = (size_t)PQgetlength(res, i, 0);

		if (klen == 0 || klen > SB_KEY_MAX) {
			ret = pg_fail(op, err, SB_ERR,
				      "table kv holds a key of %zu bytes, "
				      "outside 1..%d",
				      klen, SB_KEY_MAX);
			goto done;
		}
		memcpy(key, PQgetvalue(res, i, 0), klen);
		key[klen] = '\0';
		memcpy(s->cursor, key, klen + 1);
		s->delivered++;
		if (s->last_key)
			memcpy(s->last_key, key, klen + 1);
		if (s->cb(s->arg, key, (const uint8_t *)PQgetvalue(res, i, 1),
			  (size_t)PQgetlength(res, i, 1),
			  (uint64_t)pg_get_int8(res, i, 2)) != 0)
			goto done; /* the caller stopped the scan */
		if (s->limit && s->delivered >= s->limit)
			goto done;
	}
	*more = (size_t)rows == page;
done:
	PQclear(res);
	return ret;
}

static int scan_attempt(struct pg_op *op, void *arg, struct sb_error *err)
{
	struct scan_ctx *s = arg;
	size_t page = (size_t)op->st->set.scan_page_size;
	int ret, more;

	snprintf(s->cursor, sizeof(s->cursor), "%s", s->after ? s->after : "");
	if (s->last_key)
		s->last_key[0] = '\0';
	s->delivered = 0;
	/* One page is one statement, a consistent snapshot by itself. */
	if (s->limit != 0 && s->limit <= page)
		return scan_page(op, s, s->limit, &more, err);
	/* Several pages share one snapshot. */
	ret = pg_begin(op, "ISOLATION LEVEL REPEATABLE READ READ ONLY", err);
	if (ret != SB_OK)
		return ret;
	do {
		size_t want = page;

		if (s->limit && s->limit - s->delivered < want)
			want = s->limit - s->delivered;
		/* The callback sets the pace: each page gets a full
		 * op_timeout_ms. */
		pg_op_extend(op);
		ret = scan_page(op, s, want, &more, err);
		if (ret != SB_OK) {
			/* Items already delivered must not be repeated. */
			if (s->delivered)
				op->retry = 0;
			return ret;
		}
	} while (more);
	return pg_commit(op, err);
}

int pg_scan(void *inst, const char *prefix, const char *after, size_t limit,
	    sb_scan_cb cb, void *arg, char *last_key, struct sb_error *err)
{
	struct scan_ctx *s;
	int ret;

	if (last_key)
		last_key[0] = '\0';
	if (cb == NULL)
		return sb_error_set(err, SB_EINVAL,
				    "postgres: scan: no callback");
	if (prefix == NULL)
		prefix = "";
	if (strnlen(prefix, SB_KEY_MAX + 1) > SB_KEY_MAX ||
	    (after && strnlen(after, SB_KEY_MAX + 1) > SB_KEY_MAX))
		return sb_error_set(
			err, SB_EINVAL,
			"postgres: scan: prefix or start key longer "
			"than %d bytes",
			SB_KEY_MAX);
	/* About 3 KiB of key buffers: keep them off the caller's stack. */
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return sb_error_set(err, SB_ENOMEM, "postgres: out of memory");
	s->prefix = prefix;
	s->after = after;
	s->limit = limit;
	s->cb = cb;
	s->arg = arg;
	s->last_key = last_key;
	prefix_upper_bound(s);
	ret = pg_run(inst, "scan", scan_attempt, s, err);
	free(s);
	return ret;
}

/* -------------------------------------------------------------- batch */

/* Checks every op before touching the database. */
static int check_batch(const struct sb_batch *b, struct sb_error *err)
{
	if (b == NULL || (b->n_ops > 0 && b->ops == NULL))
		return sb_error_set(err, SB_EINVAL,
				    "postgres: batch_apply: no ops array");
	for (size_t i = 0; i < b->n_ops; i++) {
		const struct sb_batch_op *o = &b->ops[i];
		int ret;

		if ((ret = check_key("batch_apply", o->key, err)) != SB_OK)
			return ret;
		if (o->type != SB_OP_PUT && o->type != SB_OP_DELETE)
			return sb_error_set(
				err, SB_EINVAL,
				"postgres: batch_apply: op %zu (key "
				"'%.200s'): unknown type %u",
				i, o->key, o->type);
		if (o->precondition > SB_PRE_VERSION)
			return sb_error_set(
				err, SB_EINVAL,
				"postgres: batch_apply: op %zu (key "
				"'%.200s'): unknown precondition %u",
				i, o->key, o->precondition);
		if (o->type == SB_OP_PUT &&
		    (o->value_len > SB_VALUE_MAX ||
		     (o->value == NULL && o->value_len > 0)))
			return sb_error_set(
				err, SB_EINVAL,
				"postgres: batch_apply: op %zu (key "
				"'%.200s'): value of %zu bytes is "
				"missing or longer than %d",
				i, o->key, o->value_len, SB_VALUE_MAX);
	}
	return SB_OK;
}

/* Batches up to these sizes go to the server as one pipeline (one round
 * trip); larger ones statement by statement, so that libpq never buffers
 * more than about one value at a time. */
#define PG_PIPELINE_MAX_OPS   1000
#define PG_PIPELINE_MAX_BYTES (4u * 1024 * 1024)

/* Statement for op o. */
static enum pg_stmt op_stmt(const struct sb_batch_op *o)
{
	if (o->type == SB_OP_PUT)
		return o->precondition == SB_PRE_NONE	  ? PG_PUT_ANY
		       : o->precondition == SB_PRE_ABSENT ? PG_PUT_ABSENT
							  : PG_PUT_VERSION;
	return o->precondition == SB_PRE_NONE	  ? PG_DEL_ANY
	       : o->precondition == SB_PRE_ABSENT ? PG_DEL_ABSENT
						  : PG_DEL_VERSION;
}

/* Fills call with op o's statement and parameters; ver (8 bytes) holds
 * the binary expected version and must outlive the call. */
static void op_call(struct pg_call *call, const struct sb_batch_op *o,
		    char *ver)
{
	memset(call, 0, sizeof(*call));
	call->id = op_stmt(o);
	pg_put_int8(ver, (int64_t)o->version);
	call->values[0] = o->key;
	call->lengths[0] = (int)strlen(o->key);
	if (o->type == SB_OP_PUT) {
		/* libpq takes a NULL value as SQL NULL: "" for empty. */
		call->values[1] = o->value ? (const char *)o->value : "";
		call->lengths[1] = (int)o->value_len;
		call->values[2] = ver;
		call->lengths[2] = 8;
	} else {
		call->values[1] = ver;
		call->lengths[1] = 8;
	}
}

/* The version op leaves its key at, from its statement's result: the
 * RETURNING version of a put, 0 for a delete. */
static uint64_t op_version(const struct sb_batch_op *o, const PGresult *res)
{
	if (o->type != SB_OP_PUT || res == NULL || PQntuples(res) < 1)
		return 0;
	return (uint64_t)pg_get_int8(res, 0, 0);
}

/* Rewrites a precondition failure of op i to name its key. */
static int conflict(struct pg_op *op, const struct sb_batch *b, size_t i,
		    struct sb_error *err)
{
	const struct sb_batch_op *o = &b->ops[i];

	if (b->failed_op)
		*b->failed_op = i;
	return pg_fail(op, err, SB_ECONFLICT,
		       "op %zu: key '%.200s' %s; nothing applied", i, o->key,
		       o->precondition == SB_PRE_ABSENT
			       ? "exists but must be absent"
			       : "does not exist at the expected version");
}

/* The whole batch in one round trip: [epoch check,] ops, Sync, as one
 * implicit transaction. The epoch check reads the lease row FOR SHARE, so
 * the row stays as read until the batch commits and a takeover waits for
 * it; every check raises, so the first failure aborts everything. */
static int batch_pipelined(struct pg_op *op, const struct sb_batch *b,
			   struct sb_error *err)
{
	size_t off = b->epoch ? 1 : 0, n = b->n_ops + off, failed = 0;
	struct pg_call *calls = calloc(n, sizeof(*calls));
	PGresult **res = calloc(n, sizeof(*res));
	char *vers = malloc(n * 8);
	int ret;

	if (calls == NULL || res == NULL || vers == NULL) {
		ret = pg_fail(op, err, SB_ENOMEM, "out of memory");
		goto done;
	}
	if (b->epoch) {
		pg_put_int8(vers, (int64_t)b->epoch);
		calls[0].id = PG_EPOCH_FOR_SHARE;
		calls[0].values[0] = vers;
		calls[0].lengths[0] = 8;
	}
	for (size_t i = 0; i < b->n_ops; i++)
		op_call(&calls[off + i], &b->ops[i], vers + (off + i) * 8);
	ret = pg_exec_pipeline(op, n, calls, res, &failed, err);
	if (ret == SB_ECONFLICT && failed >= off && failed < n)
		ret = conflict(op, b, failed - off, err);
	if (ret == SB_OK && b->versions_out)
		for (size_t i = 0; i < b->n_ops; i++)
			b->versions_out[i] =
				op_version(&b->ops[i], res[off + i]);
done:
	if (res)
		for (size_t i = 0; i < n; i++)
			PQclear(res[i]);
	free(res);
	free(calls);
	free(vers);
	return ret;
}

/* A large batch: BEGIN, each statement in turn, COMMIT. */
static int batch_sequential(struct pg_op *op, const struct sb_batch *b,
			    struct sb_error *err)
{
	struct pg_call call;
	PGresult *res = NULL;
	char ver[8];
	int ret;

	if ((ret = pg_begin(op, NULL, err)) != SB_OK)
		return ret;
	if (b->epoch) {
		const char *vals[1] = {ver};
		int lens[1] = {8};

		pg_put_int8(ver, (int64_t)b->epoch);
		ret = pg_exec(op, PG_EPOCH_FOR_SHARE, vals, lens, &res, err);
		PQclear(res);
		if (ret != SB_OK)
			return ret;
	}
	for (size_t i = 0; i < b->n_ops; i++) {
		op_call(&call, &b->ops[i], ver);
		res = NULL;
		ret = pg_exec(op, call.id, call.values, call.lengths, &res,
			      err);
		if (ret == SB_ECONFLICT)
			return conflict(op, b, i, err);
		if (ret != SB_OK)
			return ret;
		if (b->versions_out)
			b->versions_out[i] = op_version(&b->ops[i], res);
		PQclear(res);
	}
	return pg_commit(op, err);
}

static int batch_attempt(struct pg_op *op, void *arg, struct sb_error *err)
{
	const struct sb_batch *b = arg;
	size_t bytes = 0;

	for (size_t i = 0; i < b->n_ops; i++)
		bytes += b->ops[i].value_len + strlen(b->ops[i].key);
	if (b->n_ops <= PG_PIPELINE_MAX_OPS && bytes <= PG_PIPELINE_MAX_BYTES)
		return batch_pipelined(op, b, err);
	return batch_sequential(op, b, err);
}

int pg_batch_apply(void *inst, const struct sb_batch *batch,
		   struct sb_error *err)
{
	int ret;

	if ((ret = check_batch(batch, err)) != SB_OK)
		return ret;
	if (batch->n_ops == 0 && batch->epoch == 0)
		return SB_OK;
	return pg_run(inst, "batch_apply", batch_attempt, (void *)batch, err);
}
