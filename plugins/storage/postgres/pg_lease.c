/*
 * The store's one fencing lease and its epoch counter (table lease, one
 * row). Every change is one UPDATE of that row inside an explicit
 * transaction (so a connection lost before COMMIT is known to have changed
 * nothing and the operation can be retried), with expiry judged by the
 * database's clock_timestamp(), never the caller's clock.
 */
#define _GNU_SOURCE
#include "pg_store.h"

#include <stdio.h>
#include <string.h>

static int check_holder(const char *what, const char *holder,
			struct sb_error *err)
{
	if (holder == NULL || holder[0] == '\0')
		return sb_error_set(err, SB_EINVAL,
				    "postgres: %s: empty holder", what);
	if (strnlen(holder, sizeof(((struct sb_lease_info *)0)->holder)) >=
	    sizeof(((struct sb_lease_info *)0)->holder))
		return sb_error_set(
			err, SB_EINVAL,
			"postgres: %s: holder '%.64s...' is longer "
			"than %zu bytes",
			what, holder,
			sizeof(((struct sb_lease_info *)0)->holder) - 1);
	return SB_OK;
}

/* Reads the lease row into info (PG_LEASE_READ). */
static int read_row(struct pg_op *op, struct sb_lease_info *info,
		    struct sb_error *err)
{
	PGresult *res = NULL;
	int ret, n;

	ret = pg_exec(op, PG_LEASE_READ, NULL, NULL, &res, err);
	if (ret != SB_OK)
		return ret;
	if (PQntuples(res) == 0) {
		ret = pg_fail(op, err, SB_ERR,
			      "the lease row of schema %s is missing",
			      op->st->set.schema);
		goto done;
	}
	memset(info, 0, sizeof(*info));
	n = PQgetlength(res, 0, 0);
	if (n >= (int)sizeof(info->holder))
		n = (int)sizeof(info->holder) - 1;
	memcpy(info->holder, PQgetvalue(res, 0, 0), (size_t)n);
	info->holder[n] = '\0';
	info->epoch = (uint64_t)pg_get_int8(res, 0, 1);
	info->ttl_left_ms = pg_get_int8(res, 0, 2);
	info->held = info->holder[0] != '\0' && info->ttl_left_ms > 0;
done:
	PQclear(res);
	return ret;
}

struct lease_args {
	const char *holder;
	uint64_t epoch; /* in: renew, release; out: acquire, takeover */
	uint32_t ttl_ms;
	struct sb_lease_info *info; /* lease_read */
};

/* Runs the one-row UPDATE id inside BEGIN/COMMIT. *changed says whether it
 * matched; *epoch_out gets the RETURNING epoch. On no match the
 * transaction stays open for the caller to read the row and explain. */
static int update_row(struct pg_op *op, enum pg_stmt id, struct lease_args *a,
		      int *changed, uint64_t *epoch_out, struct sb_error *err)
{
	char epoch[8], ttl[8];
	const char *vals[3];
	int lens[3];
	PGresult *res = NULL;
	int ret;

	pg_put_int8(epoch, (int64_t)a->epoch);
	pg_put_int8(ttl, (int64_t)a->ttl_ms);
	vals[0] = a->holder;
	lens[0] = (int)strlen(a->holder);
	if (id == PG_LEASE_ACQUIRE || id == PG_FENCE_TAKEOVER) {
		vals[1] = ttl;
		lens[1] = 8;
	} else {
		vals[1] = epoch;
		lens[1] = 8;
		vals[2] = ttl;
		lens[2] = 8;
	}
	if ((ret = pg_begin(op, NULL, err)) != SB_OK)
		return ret;
	if ((ret = pg_exec(op, id, vals, lens, &res, err)) != SB_OK)
		return ret;
	*changed = PQntuples(res) > 0;
	if (*changed && epoch_out)
		*epoch_out = (uint64_t)pg_get_int8(res, 0, 0);
	PQclear(res);
	if (*changed)
		return pg_commit(op, err);
	return SB_OK;
}

/* Describes the row for a refusal: "held by 'x' at epoch N, ..." */
static void describe(const struct sb_lease_info *info, char *buf, size_t n)
{
	if (info->holder[0] == '\0')
		snprintf(buf, n, "the lease is free (epoch %llu)",
			 (unsigned long long)info->epoch);
	else if (info->ttl_left_ms == INT64_MAX)
		snprintf(buf, n,
			 "the lease is held by '%s' at epoch %llu with no "
			 "expiry",
			 info->holder, (unsigned long long)info->epoch);
	else if (info->held)
		snprintf(buf, n,
			 "the lease is held by '%s' at epoch %llu for another "
			 "%lld ms",
			 info->holder, (unsigned long long)info->epoch,
			 (long long)info->ttl_left_ms);
	else
		snprintf(buf, n,
			 "the lease of '%s' at epoch %llu expired %lld ms ago",
			 info->holder, (unsigned long long)info->epoch,
			 (long long)-info->ttl_left_ms);
}

static int acquire_attempt(struct pg_op *op, void *arg, struct sb_error *err)
{
	struct lease_args *a = arg;
	struct sb_lease_info info;
	char why[400];
	int ret, changed = 0;

	ret = update_row(op, PG_LEASE_ACQUIRE, a, &changed, &a->epoch, err);
	if (ret != SB_OK || changed)
		return ret;
	if ((ret = read_row(op, &info, err)) != SB_OK)
		return ret;
	describe(&info, why, sizeof(why));
	return pg_fail(op, err, SB_EBUSY, "cannot acquire for '%.100s': %s",
		       a->holder, why);
}

static int takeover_attempt(struct pg_op *op, void *arg, struct sb_error *err)
{
	struct lease_args *a = arg;
	int ret, changed = 0;

	ret = update_row(op, PG_FENCE_TAKEOVER, a, &changed, &a->epoch, err);
	if (ret == SB_OK && !changed)
		ret = pg_fail(op, err, SB_ERR,
			      "the lease row of schema %s is missing",
			      op->st->set.schema);
	return ret;
}

static int renew_attempt(struct pg_op *op, void *arg, struct sb_error *err)
{
	struct lease_args *a = arg;
	struct sb_lease_info info;
	char why[400];
	int ret, changed = 0;

	ret = update_row(op, PG_LEASE_RENEW, a, &changed, NULL, err);
	if (ret != SB_OK || changed)
		return ret;
	if ((ret = read_row(op, &info, err)) != SB_OK)
		return ret;
	describe(&info, why, sizeof(why));
	if (strcmp(info.holder, a->holder) == 0 && info.epoch == a->epoch)
		return pg_fail(op, err, SB_EEXPIRED,
			       "cannot renew for '%.100s' at epoch %llu: %s",
			       a->holder, (unsigned long long)a->epoch, why);
	return pg_fail(op, err, SB_EFENCED,
		       "cannot renew for '%.100s' at epoch %llu: %s", a->holder,
		       (unsigned long long)a->epoch, why);
}

static int release_attempt(struct pg_op *op, void *arg, struct sb_error *err)
{
	struct lease_args *a = arg;
	struct sb_lease_info info;
	char why[400];
	int ret, changed = 0;

	ret = update_row(op, PG_LEASE_RELEASE, a, &changed, NULL, err);
	if (ret != SB_OK || changed)
		return ret;
	if ((ret = read_row(op, &info, err)) != SB_OK)
		return ret;
	describe(&info, why, sizeof(why));
	return pg_fail(op, err, SB_EFENCED,
		       "cannot release for '%.100s' at epoch %llu: %s",
		       a->holder, (unsigned long long)a->epoch, why);
}

static int read_attempt(struct pg_op *op, void *arg, struct sb_error *err)
{
	struct lease_args *a = arg;

	return read_row(op, a->info, err);
}

int pg_lease_acquire(void *inst, const char *holder, uint32_t ttl_ms,
		     uint64_t *epoch, struct sb_error *err)
{
	struct lease_args a = {.holder = holder, .ttl_ms = ttl_ms};
	int ret;

	if ((ret = check_holder("lease_acquire", holder, err)) != SB_OK)
		return ret;
	if (ttl_ms == 0)
		return sb_error_set(
			err, SB_EINVAL,
			"postgres: lease_acquire: ttl_ms must be > 0");
	ret = pg_run(inst, "lease_acquire", acquire_attempt, &a, err);
	if (ret == SB_OK && epoch)
		*epoch = a.epoch;
	return ret;
}

int pg_lease_renew(void *inst, const char *holder, uint64_t epoch,
		   uint32_t ttl_ms, struct sb_error *err)
{
	struct lease_args a = {
		.holder = holder, .epoch = epoch, .ttl_ms = ttl_ms};
	int ret;

	if ((ret = check_holder("lease_renew", holder, err)) != SB_OK)
		return ret;
	if (ttl_ms == 0)
		return sb_error_set(
			err, SB_EINVAL,
			"postgres: lease_renew: ttl_ms must be > 0");
	return pg_run(inst, "lease_renew", renew_attempt, &a, err);
}

int pg_lease_release(void *inst, const char *holder, uint64_t epoch,
		     struct sb_error *err)
{
	struct lease_args a = {.holder = holder, .epoch = epoch};
	int ret;

	if ((ret = check_holder("lease_release", holder, err)) != SB_OK)
		return ret;
	return pg_run(inst, "lease_release", release_attempt, &a, err);
}

int pg_lease_read(void *inst, struct sb_lease_info *info, struct sb_error *err)
{
	struct lease_args a = {.info = info};

	if (info == NULL)
		return sb_error_set(err, SB_EINVAL,
				    "postgres: lease_read: no output");
	return pg_run(inst, "lease_read", read_attempt, &a, err);
}

int pg_fence_takeover(void *inst, const char *holder, uint32_t ttl_ms,
		      uint64_t *epoch, struct sb_error *err)
{
	struct lease_args a = {.holder = holder, .ttl_ms = ttl_ms};
	int ret;

	if ((ret = check_holder("fence_takeover", holder, err)) != SB_OK)
		return ret;
	ret = pg_run(inst, "fence_takeover", takeover_attempt, &a, err);
	if (ret == SB_OK && epoch)
		*epoch = a.epoch;
	return ret;
}
