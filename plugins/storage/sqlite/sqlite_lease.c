/*
 * The fencing lease of the sqlite storage plugin (see struct
 * sb_storage_ops in plugin.h): one row of sb_lease, changed only inside
 * BEGIN IMMEDIATE transactions so every decision is made on the state
 * that gets committed. Expiry is judged on the wall clock: the file is
 * local, so every process using it shares this machine's clock.
 */
#include "sqlite_store.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HOLDER_MAX 255 /* fits struct sb_lease_info.holder */

int sq_lease_row(const struct sq_store *s, struct sq_conn *c, char *holder,
		 uint64_t *epoch, int64_t *expires_ms, struct sb_error *err)
{
	const unsigned char *h;
	sqlite3_stmt *st;
	int rc;

	st = sq_stmt(s, c, SQ_LEASE_READ, err);
	if (st == NULL)
		return SB_ERR;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return sb_error_set(
			err, SB_ERR,
			"sqlite %s: the lease row is missing (damaged "
			"file?)",
			s->path);
	}
	if (rc != SQLITE_ROW)
		return sq_fail(s, c, rc, err, "read lease");
	h = sqlite3_column_text(st, 0);
	snprintf(holder, HOLDER_MAX + 1, "%s", h ? (const char *)h : "");
	*epoch = (uint64_t)sqlite3_column_int64(st, 1);
	*expires_ms = sqlite3_column_int64(st, 2);
	sqlite3_reset(st);
	return SB_OK;
}

static int lease_write(struct sq_store *s, const char *holder, uint64_t epoch,
		       int64_t expires_ms, struct sb_error *err)
{
	sqlite3_stmt *st;
	int rc;

	st = sq_stmt(s, s->writer, SQ_LEASE_WRITE, err);
	if (st == NULL)
		return SB_ERR;
	sqlite3_bind_text(st, 1, holder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (int64_t)epoch);
	sqlite3_bind_int64(st, 3, expires_ms);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, s->writer, rc, err, "write lease");
	if (sqlite3_changes(s->writer->db) != 1)
		return sb_error_set(
			err, SB_ERR,
			"sqlite %s: the lease row is missing (damaged "
			"file?)",
			s->path);
	return SB_OK;
}

static int holder_check(const struct sq_store *s, const char *holder,
			struct sb_error *err)
{
	size_t n;

	if (holder == NULL || holder[0] == '\0')
		return sb_error_set(err, SB_EINVAL,
				    "sqlite %s: lease holder is empty",
				    s->path);
	n = strnlen(holder, HOLDER_MAX + 1);
	if (n > HOLDER_MAX)
		return sb_error_set(
			err, SB_EINVAL,
			"sqlite %s: lease holder \"%.40s...\" is longer "
			"than %d bytes",
			s->path, holder, HOLDER_MAX);
	return SB_OK;
}

/* Whether a lease row is held at wall time now. */
static int row_held(const char *holder, int64_t expires_ms, int64_t now)
{
	return holder[0] != '\0' && (expires_ms == 0 || expires_ms > now);
}

/* lease_acquire and fence_takeover: the same transaction, one refusing a
 * held lease and the other not. ttl_ms 0 (takeover only): no expiry. */
static int take(struct sq_store *s, const char *holder, uint32_t ttl_ms,
		uint64_t *epoch_out, int force, struct sb_error *err)
{
	char cur[HOLDER_MAX + 1];
	const char *what = force ? "fence takeover" : "lease acquire";
	uint64_t epoch;
	int64_t expires, now;
	int ret;

	ret = holder_check(s, holder, err);
	if (ret != SB_OK)
		return ret;
	if (!force && ttl_ms == 0)
		return sb_error_set(
			err, SB_EINVAL,
			"sqlite %s: lease acquire by \"%s\" with a ttl "
			"of 0 ms",
			s->path, holder);
	ret = sq_write_begin(s, what, err);
	if (ret != SB_OK)
		return ret;
	ret = sq_lease_row(s, s->writer, cur, &epoch, &expires, err);
	if (ret != SB_OK)
		goto done;
	now = (int64_t)s->host->wall_ms();
	if (!force && row_held(cur, expires, now)) {
		if (expires == 0)
			ret = sb_error_set(err, SB_EBUSY,
					   "sqlite %s: lease is held by \"%s\" "
					   "(epoch %llu, no expiry)",
					   s->path, cur,
					   (unsigned long long)epoch);
		else
			ret = sb_error_set(err, SB_EBUSY,
					   "sqlite %s: lease is held by \"%s\" "
					   "(epoch %llu, %lld ms left)",
					   s->path, cur,
					   (unsigned long long)epoch,
					   (long long)(expires - now));
		goto done;
	}
	if (epoch >= (uint64_t)INT64_MAX) {
		ret = sb_error_set(err, SB_ERR,
				   "sqlite %s: fencing epoch counter exhausted",
				   s->path);
		goto done;
	}
	epoch++;
	ret = lease_write(s, holder, epoch,
			  ttl_ms == 0 ? 0 : now + (int64_t)ttl_ms, err);
	if (ret != SB_OK)
		goto done;
	ret = sq_write_commit(s, what, err);
	if (ret != SB_OK)
		goto done;
	*epoch_out = epoch;
done:
	sq_write_end(s);
	return ret;
}

int sq_lease_acquire(void *inst, const char *holder, uint32_t ttl_ms,
		     uint64_t *epoch, struct sb_error *err)
{
	return take(inst, holder, ttl_ms, epoch, 0, err);
}

int sq_fence_takeover(void *inst, const char *holder, uint32_t ttl_ms,
		      uint64_t *epoch, struct sb_error *err)
{
	return take(inst, holder, ttl_ms, epoch, 1, err);
}

/* Checks that holder/epoch match the row; SB_EFENCED with a message
 * saying why not. */
static int match(const struct sq_store *s, const char *what, const char *cur,
		 uint64_t cur_epoch, const char *holder, uint64_t epoch,
		 struct sb_error *err)
{
	if (cur[0] == '\0')
		return sb_error_set(err, SB_EFENCED,
				    "sqlite %s: %s by \"%s\" (epoch %llu): the "
				    "lease is not held",
				    s->path, what, holder,
				    (unsigned long long)epoch);
	if (strcmp(cur, holder) != 0 || cur_epoch != epoch)
		return sb_error_set(err, SB_EFENCED,
				    "sqlite %s: %s by \"%s\" (epoch %llu): the "
				    "lease belongs to \"%s\" at epoch %llu",
				    s->path, what, holder,
				    (unsigned long long)epoch, cur,
				    (unsigned long long)cur_epoch);
	return SB_OK;
}

int sq_lease_renew(void *inst, const char *holder, uint64_t epoch,
		   uint32_t ttl_ms, struct sb_error *err)
{
	struct sq_store *s = inst;
	char cur[HOLDER_MAX + 1];
	uint64_t cur_epoch;
	int64_t expires, now;
	int ret;

	ret = holder_check(s, holder, err);
	if (ret != SB_OK)
		return ret;
	if (ttl_ms == 0)
		return sb_error_set(
			err, SB_EINVAL,
			"sqlite %s: lease renew by \"%s\" with a ttl of "
			"0 ms",
			s->path, holder);
	ret = sq_write_begin(s, "lease renew", err);
	if (ret != SB_OK)
		return ret;
	ret = sq_lease_row(s, s->writer, cur, &cur_epoch, &expires, err);
	if (ret != SB_OK)
		goto done;
	ret = match(s, "lease renew", cur, cur_epoch, holder, epoch, err);
	if (ret != SB_OK)
		goto done;
	now = (int64_t)s->host->wall_ms();
	if (!row_held(cur, expires, now)) {
		ret = sb_error_set(
			err, SB_EEXPIRED,
			"sqlite %s: lease renew by \"%s\" (epoch %llu): "
			"the lease expired %lld ms ago",
			s->path, holder, (unsigned long long)epoch,
			(long long)(now - expires));
		goto done;
	}
	ret = lease_write(s, holder, epoch, now + (int64_t)ttl_ms, err);
	if (ret != SB_OK)
		goto done;
	ret = sq_write_commit(s, "lease renew", err);
done:
	sq_write_end(s);
	return ret;
}

int sq_lease_release(void *inst, const char *holder, uint64_t epoch,
		     struct sb_error *err)
{
	struct sq_store *s = inst;
	char cur[HOLDER_MAX + 1];
	uint64_t cur_epoch;
	int64_t expires;
	int ret;

	ret = holder_check(s, holder, err);
	if (ret != SB_OK)
		return ret;
	ret = sq_write_begin(s, "lease release", err);
	if (ret != SB_OK)
		return ret;
	ret = sq_lease_row(s, s->writer, cur, &cur_epoch, &expires, err);
	if (ret != SB_OK)
		goto done;
	ret = match(s, "lease release", cur, cur_epoch, holder, epoch, err);
	if (ret != SB_OK)
		goto done;
	/* Keep the epoch: the next holder must get a larger one. */
	ret = lease_write(s, "", cur_epoch, 0, err);
	if (ret != SB_OK)
		goto done;
	ret = sq_write_commit(s, "lease release", err);
done:
	sq_write_end(s);
	return ret;
}

int sq_lease_read(void *inst, struct sb_lease_info *info, struct sb_error *err)
{
	struct sq_store *s = inst;
	struct sq_conn *c = NULL;
	int64_t expires, now;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = sq_reader_get(s, &c, err);
	if (ret != SB_OK)
		return ret;
	ret = sq_lease_row(s, c, info->holder, &info->epoch, &expires, err);
	if (ret != SB_OK)
		goto done;
	now = (int64_t)s->host->wall_ms();
	if (info->holder[0] == '\0')
		info->ttl_left_ms = 0;
	else if (expires == 0)
		info->ttl_left_ms = INT64_MAX; /* takeover without expiry */
	else
		info->ttl_left_ms = expires - now;
	info->held = row_held(info->holder, expires, now);
done:
	sq_reader_put(s, c);
	return ret;
}
