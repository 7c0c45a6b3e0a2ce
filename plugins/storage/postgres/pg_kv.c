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
		return pg_seterr(err, SB_EINVAL, "postgres: %s: empty key",
				 what);
	n = strnlen(key, SB_KEY_MAX + 1);
	if (n > SB_KEY_MAX)
		return pg_seterr(err, SB_EINVAL,
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
		return pg_seterr(err, SB_EINVAL, "postgres: scan: no callback");
	if (prefix == NULL)
		prefix = "";
	if (strnlen(prefix, SB_KEY_MAX + 1) > SB_KEY_MAX ||
	    (after && strnlen(after, SB_KEY_MAX + 1) > SB_KEY_MAX))
		return pg_seterr(err, SB_EINVAL,
				 "postgres: scan: prefix or start key longer "
				 "than %d bytes",
				 SB_KEY_MAX);
	/* About 3 KiB of key buffers: keep them off the caller's stack. */
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return pg_seterr(err, SB_ENOMEM, "postgres: out of memory");
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
		return pg_seterr(err, SB_EINVAL,
				 "postgres: batch_apply: no ops array");
	for (size_t i = 0; i < b->n_ops; i++) {
		const struct sb_batch_op *o = &b->ops[i];
		int ret;

		if ((ret = check_key("batch_apply", o->key, err)) != SB_OK)
			return ret;
		if (o->type != SB_OP_PUT && o->type != SB_OP_DELETE)
			return pg_seterr(err, SB_EINVAL,
					 "postgres: batch_apply: op %zu (key "
					 "'%.200s'): unknown type %u",
					 i, o->key, o->type);
		if (o->precondition > SB_PRE_VERSION)
			return pg_seterr(err, SB_EINVAL,
					 "postgres: batch_apply: op %zu (key "
					 "'%.200s'): unknown precondition %u",
					 i, o->key, o->precondition);
		if (o->type == SB_OP_PUT &&
		    (o->value_len > SB_VALUE_MAX ||
		     (o->value == NULL && o->value_len > 0)))
			return pg_seterr(err, SB_EINVAL,
					 "postgres: batch_apply: op %zu (key "
					 "'%.200s'): value of %zu bytes is "
					 "missing or longer than %d",
					 i, o->key, o->value_len, SB_VALUE_MAX);
	}
	return SB_OK;
}

/* The epoch check: the lease row is read FOR SHARE, so it stays as read
 * until this transaction ends and a takeover waits for it. */
static int check_epoch(struct pg_op *op, uint64_t epoch, struct sb_error *err)
{
	PGresult *res = NULL;
	uint64_t cur;
	int ret;

	ret = pg_exec(op, PG_EPOCH_FOR_SHARE, NULL, NULL, &res, err);
	if (ret != SB_OK)
		return ret;
	if (PQntuples(res) == 0) {
		ret = pg_fail(op, err, SB_EFENCED,
			      "the lease row of schema %s is missing; batch "
			      "refused, nothing applied",
			      op->st->set.schema);
	} else if ((cur = (uint64_t)pg_get_int8(res, 0, 0)) != epoch) {
		ret = pg_fail(op, err, SB_EFENCED,
			      "batch epoch %llu is not the store's current "
			      "epoch %llu; nothing applied",
			      (unsigned long long)epoch,
			      (unsigned long long)cur);
	}
	PQclear(res);
	return ret;
}

/* Applies op i; *version gets the key's version after it (0: deleted). */
static int apply_op(struct pg_op *op, const struct sb_batch_op *o, size_t i,
		    uint64_t *version, struct sb_error *err)
{
	char ver[8];
	const char *vals[3] = {o->key, o->value ? (const char *)o->value : "",
			       ver};
	int lens[3] = {(int)strlen(o->key), (int)o->value_len, 8};
	const char *del_vals[2] = {o->key, ver};
	int del_lens[2] = {lens[0], 8};
	PGresult *res = NULL;
	enum pg_stmt id;
	int ret, rows;

	pg_put_int8(ver, (int64_t)o->version);
	if (o->type == SB_OP_PUT) {
		id = o->precondition == SB_PRE_NONE	? PG_PUT_ANY
		     : o->precondition == SB_PRE_ABSENT ? PG_PUT_ABSENT
							: PG_PUT_VERSION;
		ret = pg_exec(op, id, vals, lens, &res, err);
	} else {
		id = o->precondition == SB_PRE_NONE	? PG_DEL_ANY
		     : o->precondition == SB_PRE_ABSENT ? PG_DEL_ABSENT
							: PG_DEL_VERSION;
		ret = pg_exec(op, id, del_vals, del_lens, &res, err);
	}
	if (ret != SB_OK)
		return ret;
	rows = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	*version = 0;
	switch (id) {
	case PG_PUT_ANY:
	case PG_DEL_ANY: break;
	case PG_PUT_ABSENT:
	case PG_PUT_VERSION:
	case PG_DEL_VERSION:
		if (rows == 0) {
			ret = pg_fail(op, err, SB_ECONFLICT,
				      "op %zu: key '%.200s' %s; nothing "
				      "applied",
				      i, o->key,
				      id == PG_PUT_ABSENT
					      ? "already exists"
					      : "does not exist at the "
						"expected version");
			goto done;
		}
		break;
	case PG_DEL_ABSENT:
		if (rows > 0) {
			ret = pg_fail(op, err, SB_ECONFLICT,
				      "op %zu: key '%.200s' exists but must "
				      "be absent; nothing applied",
				      i, o->key);
			goto done;
		}
		break;
	default: break;
	}
	if (o->type == SB_OP_PUT && rows > 0)
		*version = (uint64_t)pg_get_int8(res, 0, 0);
done:
	PQclear(res);
	return ret;
}

static int batch_attempt(struct pg_op *op, void *arg, struct sb_error *err)
{
	const struct sb_batch *b = arg;
	uint64_t v;
	int ret;

	if ((ret = pg_begin(op, NULL, err)) != SB_OK)
		return ret;
	if (b->epoch != 0 && (ret = check_epoch(op, b->epoch, err)) != SB_OK)
		return ret;
	for (size_t i = 0; i < b->n_ops; i++) {
		ret = apply_op(op, &b->ops[i], i, &v, err);
		if (ret == SB_ECONFLICT && b->failed_op)
			*b->failed_op = i;
		if (ret != SB_OK)
			return ret;
		if (b->versions_out)
			b->versions_out[i] = v;
	}
	return pg_commit(op, err);
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
