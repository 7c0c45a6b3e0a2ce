/*
 * The plugin's tables, their forward migrations, and the text of every
 * prepared statement.
 *
 * Tables (all in the configured schema):
 *   schema_version  one row: the version of this layout (PG_SCHEMA_VERSION)
 *   kv              key bytea PRIMARY KEY, value bytea, version bigint.
 *                   bytea so that order is bytewise (memcmp) whatever the
 *                   database's encoding and collation.
 *   lease           one row (id = 1): holder ('' when free), epoch (the
 *                   store's fencing counter, only ever incremented; the
 *                   row is never deleted), expires_at (database clock;
 *                   NULL = no expiry).
 * and the functions sb_fence and sb_expect, which raise SBF01 / SBC01 when
 * a batch's epoch or precondition check fails.
 */
#define _GNU_SOURCE
#include "pg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Type OIDs (catalog/pg_type_d.h, stable across releases). */
#define OID_BYTEA 17
#define OID_INT8  20
#define OID_TEXT  25

static const Oid t_key[] = {OID_BYTEA};
static const Oid t_epoch[] = {OID_INT8};
static const Oid t_key_value[] = {OID_BYTEA, OID_BYTEA};
static const Oid t_key_value_version[] = {OID_BYTEA, OID_BYTEA, OID_INT8};
static const Oid t_key_version[] = {OID_BYTEA, OID_INT8};
static const Oid t_scan[] = {OID_BYTEA, OID_BYTEA, OID_BYTEA, OID_INT8};
static const Oid t_holder_ttl[] = {OID_TEXT, OID_INT8};
static const Oid t_holder_epoch[] = {OID_TEXT, OID_INT8};
static const Oid t_holder_epoch_ttl[] = {OID_TEXT, OID_INT8, OID_INT8};

/* @S@ stands for the quoted schema name. */
static const struct {
	const char *name;
	int n_params;
	const Oid *types;
	const char *tmpl;
} stmt_templates[PG_STMT_COUNT] = {
	[PG_GET] = {"sb_get", 1, t_key,
		    "SELECT value, version FROM @S@.kv WHERE key = $1"},
	[PG_GET_VERSION] = {"sb_get_version", 1, t_key,
			    "SELECT version FROM @S@.kv WHERE key = $1"},
	/* $1: prefix (inclusive lower bound), $2: after (exclusive), $3:
	 * first key past the prefix, $4: limit (NULL = none). Three bounds
	 * on one btree column: the index scan starts at the tighter one. */
	[PG_SCAN] = {"sb_scan", 4, t_scan,
		     "SELECT key, value, version FROM @S@.kv "
		     "WHERE key >= $1 AND key > $2 AND key < $3 "
		     "ORDER BY key LIMIT $4"},
	/* The batch statements raise an error when their check fails
	 * (sb_fence: SQLSTATE SBF01, sb_expect: SBC01), so that a batch can
	 * be sent as one pipeline, one implicit transaction, which the first
	 * failure aborts whole.
	 *
	 * FOR SHARE: a takeover (UPDATE of this row) waits until the batch
	 * holding it commits, and the batch sees the epoch it commits
	 * under. */
	[PG_EPOCH_FOR_SHARE] = {"sb_epoch_for_share", 1, t_epoch,
				"SELECT @S@.sb_fence((SELECT epoch "
				"FROM @S@.lease WHERE id = 1 FOR SHARE), $1)"},
	[PG_PUT_ANY] = {"sb_put_any", 2, t_key_value,
			"INSERT INTO @S@.kv AS t (key, value, version) "
			"VALUES ($1, $2, 1) ON CONFLICT (key) DO UPDATE "
			"SET value = EXCLUDED.value, version = t.version + 1 "
			"RETURNING version"},
	[PG_PUT_ABSENT] =
		{"sb_put_absent", 2, t_key_value,
		 "WITH i AS (INSERT INTO @S@.kv (key, value, version) "
		 "VALUES ($1, $2, 1) ON CONFLICT (key) DO NOTHING "
		 "RETURNING version) "
		 "SELECT @S@.sb_expect((SELECT version FROM i))"},
	[PG_PUT_VERSION] = {"sb_put_version", 3, t_key_value_version,
			    "WITH u AS (UPDATE @S@.kv SET value = $2, "
			    "version = version + 1 "
			    "WHERE key = $1 AND version = $3 "
			    "RETURNING version) "
			    "SELECT @S@.sb_expect((SELECT version FROM u))"},
	[PG_DEL_ANY] = {"sb_del_any", 1, t_key,
			"DELETE FROM @S@.kv WHERE key = $1"},
	[PG_DEL_ABSENT] = {"sb_del_absent", 1, t_key,
			   "SELECT @S@.sb_expect(CASE WHEN EXISTS "
			   "(SELECT 1 FROM @S@.kv WHERE key = $1) "
			   "THEN NULL ELSE 0 END)"},
	[PG_DEL_VERSION] = {"sb_del_version", 2, t_key_version,
			    "WITH d AS (DELETE FROM @S@.kv "
			    "WHERE key = $1 AND version = $2 "
			    "RETURNING 0::bigint AS v) "
			    "SELECT @S@.sb_expect((SELECT v FROM d))"},
	/* Only a free or expired lease, judged on the database's clock. */
	[PG_LEASE_ACQUIRE] = {"sb_lease_acquire", 2, t_holder_ttl,
			      "UPDATE @S@.lease SET holder = $1, "
			      "epoch = epoch + 1, expires_at = "
			      "clock_timestamp() + $2 * interval '1 ms' "
			      "WHERE id = 1 AND (holder = '' OR "
			      "expires_at <= clock_timestamp()) "
			      "RETURNING epoch"},
	/* Never an upsert: a late renew cannot take a lease back. */
	[PG_LEASE_RENEW] = {"sb_lease_renew", 3, t_holder_epoch_ttl,
			    "UPDATE @S@.lease SET expires_at = "
			    "clock_timestamp() + $3 * interval '1 ms' "
			    "WHERE id = 1 AND holder = $1 AND epoch = $2 "
			    "AND (expires_at IS NULL OR "
			    "expires_at > clock_timestamp()) "
			    "RETURNING epoch"},
	/* The epoch stays: it is never reused. */
	[PG_LEASE_RELEASE] = {"sb_lease_release", 2, t_holder_epoch,
			      "UPDATE @S@.lease SET holder = '', "
			      "expires_at = NULL "
			      "WHERE id = 1 AND holder = $1 AND epoch = $2 "
			      "RETURNING epoch"},
	[PG_LEASE_READ] = {"sb_lease_read", 0, NULL,
			   "SELECT holder, epoch, CASE "
			   "WHEN holder = '' THEN 0::bigint "
			   "WHEN expires_at IS NULL "
			   "THEN 9223372036854775807::bigint "
			   "ELSE floor(extract(epoch FROM expires_at - "
			   "clock_timestamp()) * 1000)::bigint END "
			   "FROM @S@.lease WHERE id = 1"},
	[PG_FENCE_TAKEOVER] = {"sb_fence_takeover", 2, t_holder_ttl,
			       "UPDATE @S@.lease SET holder = $1, "
			       "epoch = epoch + 1, expires_at = CASE "
			       "WHEN $2 = 0 THEN NULL "
			       "ELSE clock_timestamp() + $2 * interval '1 ms' "
			       "END WHERE id = 1 RETURNING epoch"},
};

/* Forward migrations: migrations[v - 1] takes the layout from v - 1 to v.
 * Append only; never edit a released step. */
static const char *const migrations[PG_SCHEMA_VERSION] = {
	/* 1: key/value table and the lease row. Values are ciphertext, so
	 * compressing them is wasted work (STORAGE EXTERNAL). */
	"CREATE TABLE @S@.kv ("
	" key bytea PRIMARY KEY,"
	" value bytea NOT NULL,"
	" version bigint NOT NULL CHECK (version >= 1));"
	"ALTER TABLE @S@.kv ALTER COLUMN value SET STORAGE EXTERNAL;"
	"CREATE TABLE @S@.lease ("
	" id integer PRIMARY KEY CHECK (id = 1),"
	" holder text NOT NULL DEFAULT '',"
	" epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0),"
	" expires_at timestamptz);"
	"INSERT INTO @S@.lease (id) VALUES (1);"
	/* Checks for the batch statements: raise, so that the first failed
	 * check aborts the batch's transaction. */
	"CREATE FUNCTION @S@.sb_fence(cur bigint, want bigint) "
	"RETURNS bigint LANGUAGE plpgsql AS $f$ BEGIN "
	" IF cur IS NULL THEN RAISE EXCEPTION USING ERRCODE = 'SBF01',"
	"  MESSAGE = 'the lease row is missing'; END IF;"
	" IF cur <> want THEN RAISE EXCEPTION USING ERRCODE = 'SBF01',"
	"  MESSAGE = format('batch epoch %s is not the store''s current "
	"epoch %s', want, cur); END IF;"
	" RETURN cur; END $f$;"
	"CREATE FUNCTION @S@.sb_expect(v bigint) "
	"RETURNS bigint LANGUAGE plpgsql AS $f$ BEGIN "
	" IF v IS NULL THEN RAISE EXCEPTION USING ERRCODE = 'SBC01',"
	"  MESSAGE = 'precondition failed'; END IF;"
	" RETURN v; END $f$;",
};

/* Returns a malloc'ed copy of tmpl with every @S@ replaced by the quoted
 * schema name, or NULL on ENOMEM. */
static char *subst_schema(const char *tmpl, const char *schema)
{
	char quoted[PG_SCHEMA_MAX + 3];
	size_t n = 0, qlen, cap;
	const char *p;
	char *out;

	snprintf(quoted, sizeof(quoted), "\"%s\"", schema);
	qlen = strlen(quoted);
	cap = strlen(tmpl) + 1;
	for (p = tmpl; (p = strstr(p, "@S@")) != NULL; p += 3)
		cap += qlen;
	out = malloc(cap);
	if (out == NULL)
		return NULL;
	for (p = tmpl; *p != '\0';) {
		if (strncmp(p, "@S@", 3) == 0) {
			memcpy(out + n, quoted, qlen);
			n += qlen;
			p += 3;
		} else {
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	return out;
}

int pg_stmts_init(struct pg_store *st, struct sb_error *err)
{
	for (int i = 0; i < PG_STMT_COUNT; i++) {
		st->stmts[i].name = stmt_templates[i].name;
		st->stmts[i].n_params = stmt_templates[i].n_params;
		st->stmts[i].types = stmt_templates[i].types;
		st->stmts[i].sql =
			subst_schema(stmt_templates[i].tmpl, st->set.schema);
		if (st->stmts[i].sql == NULL)
			return sb_error_set(err, SB_ENOMEM,
					    "postgres: out of memory");
	}
	return SB_OK;
}

void pg_stmts_free(struct pg_store *st)
{
	for (int i = 0; i < PG_STMT_COUNT; i++) {
		free(st->stmts[i].sql);
		st->stmts[i].sql = NULL;
	}
}

/* Runs one query built from tmpl and returns its first cell as text in
 * buf ("" for no row or NULL). */
static int query_cell(struct pg_op *op, const char *tmpl, char *buf, size_t n,
		      struct sb_error *err)
{
	PGresult *res = NULL;
	char *sql;
	int ret;

	buf[0] = '\0';
	sql = subst_schema(tmpl, op->st->set.schema);
	if (sql == NULL)
		return sb_error_set(err, SB_ENOMEM, "postgres: out of memory");
	ret = pg_exec_sql(op, sql, &res, err);
	if (ret == SB_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		snprintf(buf, n, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	free(sql);
	return ret;
}

static int exec_tmpl(struct pg_op *op, const char *tmpl, struct sb_error *err)
{
	char *sql = subst_schema(tmpl, op->st->set.schema);
	int ret;

	if (sql == NULL)
		return sb_error_set(err, SB_ENOMEM, "postgres: out of memory");
	ret = pg_exec_sql(op, sql, NULL, err);
	free(sql);
	return ret;
}

int pg_schema_migrate(struct pg_op *op, void *arg, struct sb_error *err)
{
	const struct sb_host *h = op->st->host;
	const char *schema = op->st->set.schema;
	char sql[512], cell[64];
	long version;
	int ret;

	(void)arg;
	ret = pg_begin(op, NULL, err);
	if (ret != SB_OK)
		return ret;
	/* Two brokers starting at once queue here; the second finds the
	 * work done. The lock is keyed by schema and ends with the
	 * transaction. (The schema name was validated: no quoting issue.) */
	snprintf(sql, sizeof(sql),
		 "SELECT pg_advisory_xact_lock(hashtext('secretbroker:%s'))",
		 schema);
	if ((ret = pg_exec_sql(op, sql, NULL, err)) != SB_OK)
		return ret;
	/* Only CREATE what is missing: CREATE ... IF NOT EXISTS would still
	 * demand the CREATE privilege that a pre-created schema spares the
	 * broker's role. */
	snprintf(sql, sizeof(sql),
		 "SELECT 1 FROM pg_namespace WHERE nspname = '%s'", schema);
	if ((ret = query_cell(op, sql, cell, sizeof(cell), err)) != SB_OK)
		return ret;
	if (cell[0] == '\0') {
		h->log(h, SB_LOG_INFO, "creating schema %s", schema);
		if ((ret = exec_tmpl(op, "CREATE SCHEMA @S@", err)) != SB_OK)
			return ret;
	}
	if ((ret = query_cell(op, "SELECT to_regclass('@S@.schema_version')",
			      cell, sizeof(cell), err)) != SB_OK)
		return ret;
	if (cell[0] == '\0') {
		ret = exec_tmpl(op,
				"CREATE TABLE @S@.schema_version ("
				" id integer PRIMARY KEY CHECK (id = 1),"
				" version integer NOT NULL,"
				" migrated_at timestamptz NOT NULL"
				" DEFAULT now());"
				"INSERT INTO @S@.schema_version (id, version)"
				" VALUES (1, 0)",
				err);
		if (ret != SB_OK)
			return ret;
	}
	if ((ret = query_cell(op,
			      "SELECT version FROM @S@.schema_version "
			      "WHERE id = 1 FOR UPDATE",
			      cell, sizeof(cell), err)) != SB_OK)
		return ret;
	if (cell[0] == '\0')
		return pg_fail(op, err, SB_ERR,
			       "table %s.schema_version has no row: the schema "
			       "was altered by hand",
			       schema);
	version = strtol(cell, NULL, 10);
	if (version > PG_SCHEMA_VERSION)
		return pg_fail(op, err, SB_ERR,
			       "schema %s is at version %ld, newer than this "
			       "plugin understands (%d): upgrade the plugin",
			       schema, version, PG_SCHEMA_VERSION);
	if (version == PG_SCHEMA_VERSION)
		return pg_commit(op, err);
	for (long v = version + 1; v <= PG_SCHEMA_VERSION; v++) {
		h->log(h, SB_LOG_INFO, "migrating schema %s to version %ld",
		       schema, v);
		if ((ret = exec_tmpl(op, migrations[v - 1], err)) != SB_OK)
			return ret;
	}
	snprintf(sql, sizeof(sql),
		 "UPDATE @S@.schema_version SET version = %d, "
		 "migrated_at = now() WHERE id = 1",
		 PG_SCHEMA_VERSION);
	if ((ret = exec_tmpl(op, sql, err)) != SB_OK)
		return ret;
	return pg_commit(op, err);
}
