/*
 * Key/value operations of the sqlite storage plugin: get, scan and the
 * atomic batch (see struct sb_storage_ops in plugin.h).
 */
#include "sqlite_store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Checks a key against the contract: 1..SB_KEY_MAX bytes. Sets *len. */
static int key_check(const struct sq_store *s, const char *key, size_t *len,
		     struct sb_error *err)
{
	if (key == NULL)
		return sb_error_set(err, SB_EINVAL, "sqlite %s: key is NULL",
				    s->path);
	*len = strnlen(key, SB_KEY_MAX + 1);
	if (*len == 0)
		return sb_error_set(err, SB_EINVAL, "sqlite %s: key is empty",
				    s->path);
	if (*len > SB_KEY_MAX)
		return sb_error_set(
			err, SB_EINVAL,
			"sqlite %s: key \"%.*s...\" is longer than %d "
			"bytes",
			s->path, SQ_KEY_QUOTE, key, SB_KEY_MAX);
	return SB_OK;
}

int sq_kv_get(void *inst, const char *key, uint8_t **value, size_t *value_len,
	      uint64_t *version, struct sb_error *err)
{
	struct sq_store *s = inst;
	struct sq_conn *c = NULL;
	sqlite3_stmt *st;
	const void *blob;
	uint8_t *copy = NULL;
	size_t key_len, n;
	int ret, rc;

	if (value != NULL)
		*value = NULL;
	ret = key_check(s, key, &key_len, err);
	if (ret != SB_OK)
		return ret;
	ret = sq_reader_get(s, &c, err);
	if (ret != SB_OK)
		return ret;
	st = sq_stmt(s, c, value != NULL ? SQ_KV_GET : SQ_KV_GET_VERSION, err);
	if (st == NULL) {
		ret = SB_ERR;
		goto done;
	}
	sqlite3_bind_blob(st, 1, key, (int)key_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = sb_error_set(err, SB_ENOTFOUND,
				   "sqlite %s: key \"%.*s\" not found", s->path,
				   SQ_KEY_QUOTE, key);
		goto done;
	}
	if (rc != SQLITE_ROW) {
		ret = sq_fail(s, c, rc, err, "get \"%.*s\"", SQ_KEY_QUOTE, key);
		goto done;
	}
	if (value != NULL) {
		blob = sqlite3_column_blob(st, 0);
		n = (size_t)sqlite3_column_bytes(st, 0);
		if (blob == NULL && n > 0) {
			ret = sq_fail(s, c, sqlite3_errcode(c->db), err,
				      "get \"%.*s\"", SQ_KEY_QUOTE, key);
			goto done;
		}
		/* A zero-length value is still a valid 1-byte allocation. */
		copy = malloc(n > 0 ? n : 1);
		if (copy == NULL) {
			ret = sb_error_set(
				err, SB_ENOMEM,
				"sqlite %s: get \"%.*s\": out of memory",
				s->path, SQ_KEY_QUOTE, key);
			goto done;
		}
		if (n > 0)
			memcpy(copy, blob, n);
		*value = copy;
		copy = NULL;
		if (value_len != NULL)
			*value_len = n;
	} else if (value_len != NULL) {
		*value_len = 0;
	}
	if (version != NULL)
		*version = (uint64_t)sqlite3_column_int64(st, value ? 1 : 0);
	ret = SB_OK;
done:
	free(copy);
	sq_reader_put(s, c);
	return ret;
}

/* The bounds of a scan as blobs: every key k with lo <= k < hi, in memcmp
 * order (a shorter blob sorts before its extensions). */
struct scan_bounds {
	uint8_t lo[SB_KEY_MAX + 2];
	size_t lo_len;
	uint8_t hi[SB_KEY_MAX + 2];
	size_t hi_len;
};

static int blob_cmp(const uint8_t *a, size_t a_len, const uint8_t *b,
		    size_t b_len)
{
	int c = memcmp(a, b, a_len < b_len ? a_len : b_len);

	if (c != 0)
		return c;
	return a_len < b_len ? -1 : a_len > b_len;
}

/* Computes the bounds for prefix and after (both at most SB_KEY_MAX bytes,
 * checked by the caller). Returns 0 when the range is empty. */
static int scan_bounds(const char *prefix, size_t prefix_len, const char *after,
		       size_t after_len, struct scan_bounds *b)
{
	/* Upper bound: the smallest blob above every key with the prefix:
	 * drop trailing 0xff bytes, then add one to the last byte. With no
	 * such byte every key qualifies; a blob of SB_KEY_MAX + 1 0xff bytes
	 * is above every valid key. */
	memcpy(b->hi, prefix, prefix_len);
	b->hi_len = prefix_len;
	while (b->hi_len > 0 && b->hi[b->hi_len - 1] == 0xff)
		b->hi_len--;
	if (b->hi_len > 0) {
		b->hi[b->hi_len - 1]++;
	} else {
		memset(b->hi, 0xff, SB_KEY_MAX + 1);
		b->hi_len = SB_KEY_MAX + 1;
	}
	/* Lower bound: the prefix itself, or, when after is set and sorts
	 * later, the smallest blob strictly above after, which is after
	 * followed by one 0x00 byte. */
	memcpy(b->lo, prefix, prefix_len);
	b->lo_len = prefix_len;
	if (after_len > 0) {
		uint8_t next[SB_KEY_MAX + 2];

		memcpy(next, after, after_len);
		next[after_len] = 0;
		if (blob_cmp(next, after_len + 1, b->lo, b->lo_len) > 0) {
			memcpy(b->lo, next, after_len + 1);
			b->lo_len = after_len + 1;
		}
	}
	return blob_cmp(b->lo, b->lo_len, b->hi, b->hi_len) < 0;
}

int sq_kv_scan(void *inst, const char *prefix, const char *after, size_t limit,
	       sb_scan_cb cb, void *arg, char *last_key, struct sb_error *err)
{
	struct sq_store *s = inst;
	struct sq_conn *c = NULL;
	struct scan_bounds *b = NULL;
	char key[SB_KEY_MAX + 1];
	size_t prefix_len, after_len;
	sqlite3_stmt *st;
	int ret = SB_ERR;
	int rc;

	if (last_key != NULL)
		last_key[0] = '\0';
	if (prefix == NULL)
		prefix = "";
	if (after == NULL)
		after = "";
	if (cb == NULL)
		return sb_error_set(err, SB_EINVAL,
				    "sqlite %s: scan without callback",
				    s->path);
	prefix_len = strnlen(prefix, SB_KEY_MAX + 1);
	after_len = strnlen(after, SB_KEY_MAX + 1);
	if (prefix_len > SB_KEY_MAX || after_len > SB_KEY_MAX)
		return sb_error_set(
			err, SB_EINVAL,
			"sqlite %s: scan prefix or start key longer "
			"than %d bytes",
			s->path, SB_KEY_MAX);
	b = malloc(sizeof(*b));
	if (b == NULL)
		return sb_error_set(err, SB_ENOMEM,
				    "sqlite %s: scan: out of memory", s->path);
	if (!scan_bounds(prefix, prefix_len, after, after_len, b)) {
		ret = SB_OK;
		goto done;
	}
	ret = sq_reader_get(s, &c, err);
	if (ret != SB_OK)
		goto done;
	st = sq_stmt(s, c, SQ_KV_SCAN, err);
	if (st == NULL) {
		ret = SB_ERR;
		goto done;
	}
	sqlite3_bind_blob(st, 1, b->lo, (int)b->lo_len, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, b->hi, (int)b->hi_len, SQLITE_STATIC);
	sqlite3_bind_int64(
		st, 3, limit > 0 && limit <= INT64_MAX ? (int64_t)limit : -1);
	/* One SELECT is one read transaction: the whole scan sees one
	 * snapshot, even while other connections commit. */
	for (;;) {
		const void *kb, *vb;
		size_t kn, vn;

		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			ret = sq_fail(s, c, rc, err, "scan \"%.*s\"",
				      SQ_KEY_QUOTE, prefix);
			goto done;
		}
		kb = sqlite3_column_blob(st, 0);
		kn = (size_t)sqlite3_column_bytes(st, 0);
		vb = sqlite3_column_blob(st, 1);
		vn = (size_t)sqlite3_column_bytes(st, 1);
		if (kb == NULL || kn == 0 || kn > SB_KEY_MAX ||
		    memchr(kb, 0, kn) != NULL) {
			ret = sb_error_set(
				err, SB_ERR,
				"sqlite %s: scan \"%.*s\": stored key "
				"of %zu bytes is not a valid key",
				s->path, SQ_KEY_QUOTE, prefix, kn);
			goto done;
		}
		memcpy(key, kb, kn);
		key[kn] = '\0';
		if (last_key != NULL)
			memcpy(last_key, key, kn + 1);
		/* Callbacks get a non-NULL pointer even for empty values. */
		if (cb(arg, key, vb != NULL ? vb : (const uint8_t *)"", vn,
		       (uint64_t)sqlite3_column_int64(st, 2)) != 0)
			break;
	}
	ret = SB_OK;
done:
	sq_reader_put(s, c);
	free(b);
	return ret;
}

/* Checks every op before the transaction starts, so an invalid batch
 * changes nothing and costs no lock. */
static int batch_check(const struct sq_store *s, const struct sb_batch *batch,
		       struct sb_error *err)
{
	size_t key_len;
	int ret;

	if (batch == NULL)
		return sb_error_set(err, SB_EINVAL, "sqlite %s: batch is NULL",
				    s->path);
	if (batch->n_ops > 0 && batch->ops == NULL)
		return sb_error_set(err, SB_EINVAL,
				    "sqlite %s: batch of %zu ops without ops",
				    s->path, batch->n_ops);
	for (size_t i = 0; i < batch->n_ops; i++) {
		const struct sb_batch_op *op = &batch->ops[i];

		ret = key_check(s, op->key, &key_len, err);
		if (ret != SB_OK) {
			if (batch->failed_op != NULL)
				*batch->failed_op = i;
			return ret;
		}
		if (op->type != SB_OP_PUT && op->type != SB_OP_DELETE)
			ret = sb_error_set(
				err, SB_EINVAL,
				"sqlite %s: batch op %zu on \"%.*s\": "
				"unknown type %u",
				s->path, i, SQ_KEY_QUOTE, op->key, op->type);
		else if (op->precondition > SB_PRE_VERSION)
			ret = sb_error_set(
				err, SB_EINVAL,
				"sqlite %s: batch op %zu on \"%.*s\": "
				"unknown precondition %u",
				s->path, i, SQ_KEY_QUOTE, op->key,
				op->precondition);
		else if (op->type == SB_OP_PUT && op->value_len > SB_VALUE_MAX)
			ret = sb_error_set(
				err, SB_EINVAL,
				"sqlite %s: batch op %zu on \"%.*s\": "
				"value of %zu bytes is larger than %d",
				s->path, i, SQ_KEY_QUOTE, op->key,
				op->value_len, SB_VALUE_MAX);
		else if (op->type == SB_OP_PUT && op->value == NULL &&
			 op->value_len > 0)
			ret = sb_error_set(
				err, SB_EINVAL,
				"sqlite %s: batch op %zu on \"%.*s\": "
				"value is NULL",
				s->path, i, SQ_KEY_QUOTE, op->key);
		if (ret != SB_OK) {
			if (batch->failed_op != NULL)
				*batch->failed_op = i;
			return ret;
		}
	}
	return SB_OK;
}

/* The current version of key in the open write transaction, 0 if absent. */
static int current_version(struct sq_store *s, const char *key, size_t key_len,
			   uint64_t *version, struct sb_error *err)
{
	sqlite3_stmt *st;
	int rc;

	st = sq_stmt(s, s->writer, SQ_KV_GET_VERSION, err);
	if (st == NULL)
		return SB_ERR;
	sqlite3_bind_blob(st, 1, key, (int)key_len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*version = (uint64_t)sqlite3_column_int64(st, 0);
	} else if (rc == SQLITE_DONE) {
		*version = 0;
	} else {
		return sq_fail(s, s->writer, rc, err,
			       "read version of \"%.*s\"", SQ_KEY_QUOTE, key);
	}
	sqlite3_reset(st);
	return SB_OK;
}

/* Checks op's precondition against the key's current version (0: absent).
 * Returns SB_OK or SB_ECONFLICT with err naming the op and the key. */
static int precondition_check(const struct sq_store *s,
			      const struct sb_batch_op *op, size_t i,
			      uint64_t cur, struct sb_error *err)
{
	if (op->precondition == SB_PRE_ABSENT && cur != 0)
		return sb_error_set(
			err, SB_ECONFLICT,
			"sqlite %s: batch op %zu: key \"%.*s\" exists "
			"(version %llu), expected absent",
			s->path, i, SQ_KEY_QUOTE, op->key,
			(unsigned long long)cur);
	/* An absent key has no version: SB_PRE_VERSION 0 fails on it too. */
	if (op->precondition == SB_PRE_VERSION &&
	    (cur == 0 || cur != op->version)) {
		if (cur == 0)
			return sb_error_set(
				err, SB_ECONFLICT,
				"sqlite %s: batch op %zu: key \"%.*s\" "
				"is absent, expected version %llu",
				s->path, i, SQ_KEY_QUOTE, op->key,
				(unsigned long long)op->version);
		return sb_error_set(err, SB_ECONFLICT,
				    "sqlite %s: batch op %zu: key \"%.*s\" has "
				    "version %llu, expected %llu",
				    s->path, i, SQ_KEY_QUOTE, op->key,
				    (unsigned long long)cur,
				    (unsigned long long)op->version);
	}
	return SB_OK;
}

/* Applies one checked op inside the open write transaction. */
static int apply_op(struct sq_store *s, const struct sb_batch_op *op, size_t i,
		    uint64_t cur, uint64_t *new_version, struct sb_error *err)
{
	size_t key_len = strlen(op->key);
	sqlite3_stmt *st;
	int rc;

	if (op->type == SB_OP_DELETE) {
		*new_version = 0;
		if (cur == 0)
			return SB_OK; /* deleting an absent key: no-op */
		st = sq_stmt(s, s->writer, SQ_KV_DELETE, err);
		if (st == NULL)
			return SB_ERR;
		sqlite3_bind_blob(st, 1, op->key, (int)key_len, SQLITE_STATIC);
	} else {
		*new_version = cur + 1;
		st = sq_stmt(s, s->writer, SQ_KV_PUT, err);
		if (st == NULL)
			return SB_ERR;
		sqlite3_bind_blob(st, 1, op->key, (int)key_len, SQLITE_STATIC);
		/* zeroblob for an empty value: binding a NULL pointer would
		 * store SQL NULL, which the NOT NULL column refuses. */
		if (op->value_len == 0)
			sqlite3_bind_zeroblob(st, 2, 0);
		else
			sqlite3_bind_blob(st, 2, op->value, (int)op->value_len,
					  SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (int64_t)*new_version);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, s->writer, rc, err,
			       "batch op %zu: %s \"%.*s\"", i,
			       op->type == SB_OP_PUT ? "put" : "delete",
			       SQ_KEY_QUOTE, op->key);
	return SB_OK;
}

int sq_kv_batch_apply(void *inst, const struct sb_batch *batch,
		      struct sb_error *err)
{
	struct sq_store *s = inst;
	char holder[256];
	uint64_t epoch, cur = 0, v = 0;
	int64_t expires;
	int ret;

	ret = batch_check(s, batch, err);
	if (ret != SB_OK)
		return ret;
	ret = sq_write_begin(s, "begin batch", err);
	if (ret != SB_OK)
		return ret;
	/* The fencing check reads the epoch in the same IMMEDIATE
	 * transaction as the writes: no other writer, in this process or
	 * another, can take over between the check and the commit. */
	if (batch->epoch != 0) {
		ret = sq_lease_row(s, s->writer, holder, &epoch, &expires, err);
		if (ret != SB_OK)
			goto done;
		if (epoch != batch->epoch) {
			ret = sb_error_set(
				err, SB_EFENCED,
				"sqlite %s: batch fenced: its epoch "
				"%llu is not the current fencing epoch "
				"%llu",
				s->path, (unsigned long long)batch->epoch,
				(unsigned long long)epoch);
			goto done;
		}
	}
	/* Ops apply in order, each seeing the effect of the ones before it
	 * (several ops may name one key). */
	for (size_t i = 0; i < batch->n_ops; i++) {
		const struct sb_batch_op *op = &batch->ops[i];

		ret = current_version(s, op->key, strlen(op->key), &cur, err);
		if (ret != SB_OK)
			goto done;
		ret = precondition_check(s, op, i, cur, err);
		if (ret != SB_OK) {
			if (batch->failed_op != NULL)
				*batch->failed_op = i;
			goto done;
		}
		ret = apply_op(s, op, i, cur, &v, err);
		if (ret != SB_OK)
			goto done;
		if (batch->versions_out != NULL)
			batch->versions_out[i] = v;
	}
	ret = sq_write_commit(s, "commit batch", err);
done:
	sq_write_end(s);
	return ret;
}
