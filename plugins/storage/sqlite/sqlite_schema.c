/*
 * Schema of the sqlite storage plugin and its forward migrations.
 *
 * sb_schema_migrations records every step applied (version, when, what);
 * the schema version of a file is its highest version. Each step runs in
 * its own BEGIN IMMEDIATE transaction that first re-reads the version, so
 * two processes opening the same new file at once apply each step exactly
 * once: the second waits for the first's lock, then sees the step done.
 * Steps are only ever appended to the list below, never edited.
 */
#include "sqlite_store.h"

#include <stdint.h>
#include <stdio.h>

struct sq_migration {
	const char *description;
	const char *sql;
};

static const struct sq_migration migrations[] = {
	{
		"key/value table and the fencing lease",
		/* key BLOB: compared bytewise (memcmp), see sqlite_conn.c.
		 * WITHOUT ROWID: the rows live in the key's own b-tree, so a
		 * lookup or a range scan is one index walk. */
		"CREATE TABLE sb_kv ("
		" key BLOB NOT NULL PRIMARY KEY,"
		" value BLOB NOT NULL,"
		" version INTEGER NOT NULL CHECK (version >= 1)"
		") WITHOUT ROWID;"
		/* The store's one lease. holder '' = free. epoch is the
		 * store's fencing counter, never decreased (a release keeps
		 * it). expires_ms is wall-clock ms since the epoch, 0 = no
		 * expiry (fence_takeover with ttl 0). */
		"CREATE TABLE sb_lease ("
		" id INTEGER PRIMARY KEY CHECK (id = 1),"
		" holder TEXT NOT NULL,"
		" epoch INTEGER NOT NULL CHECK (epoch >= 0),"
		" expires_ms INTEGER NOT NULL"
		");"
		"INSERT INTO sb_lease(id, holder, epoch, expires_ms)"
		" VALUES (1, '', 0, 0);",
	},
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

/* Runs SQL text (one or more statements) on the write connection. */
static int exec_sql(struct sq_store *s, const char *sql, const char *what,
		    struct sb_error *err)
{
	int rc;

	rc = sqlite3_exec(s->writer->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sq_fail(s, s->writer, rc, err, "%s", what);
	return SB_OK;
}

/* The file's schema version inside the open transaction (0: new file). */
static int read_version(struct sq_store *s, int64_t *version,
			struct sb_error *err)
{
	sqlite3_stmt *st = NULL;
	int ret = SB_ERR;
	int rc;

	rc = sqlite3_prepare_v2(
		s->writer->db,
		"SELECT COALESCE(MAX(version), 0) FROM sb_schema_migrations",
		-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		ret = sq_fail(s, s->writer, rc, err, "read schema version");
		goto done;
	}
	*version = sqlite3_column_int64(st, 0);
	ret = SB_OK;
done:
	sqlite3_finalize(st);
	return ret;
}

static int record_step(struct sq_store *s, int64_t version,
		       const char *description, struct sb_error *err)
{
	sqlite3_stmt *st = NULL;
	int ret = SB_ERR;
	int rc;

	rc = sqlite3_prepare_v2(s->writer->db,
				"INSERT INTO sb_schema_migrations(version,"
				" applied_ms, description) VALUES (?1, ?2, ?3)",
				-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, version);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, (int64_t)s->host->wall_ms());
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 3, description, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		ret = sq_fail(s, s->writer, rc, err,
			      "record schema version %lld", (long long)version);
		goto done;
	}
	ret = SB_OK;
done:
	sqlite3_finalize(st);
	return ret;
}

/* Applies at most one step. Sets *finished when the file is current. */
static int migrate_one(struct sq_store *s, int *finished, struct sb_error *err)
{
	int64_t version = 0;
	int ret = SB_ERR;

	*finished = 0;
	ret = sq_write_begin(s, "begin schema migration", err);
	if (ret != SB_OK)
		return ret;
	ret = exec_sql(s,
		       "CREATE TABLE IF NOT EXISTS sb_schema_migrations ("
		       " version INTEGER PRIMARY KEY,"
		       " applied_ms INTEGER NOT NULL,"
		       " description TEXT NOT NULL)",
		       "create schema version table", err);
	if (ret != SB_OK)
		goto done;
	ret = read_version(s, &version, err);
	if (ret != SB_OK)
		goto done;
	if (version > (int64_t)N_MIGRATIONS) {
		ret = sb_error_set(
			err, SB_ERR,
			"sqlite %s: schema version %lld is newer than "
			"this plugin supports (%zu); upgrade the plugin",
			s->path, (long long)version, N_MIGRATIONS);
		goto done;
	}
	if (version == (int64_t)N_MIGRATIONS) {
		*finished = 1;
		ret = sq_write_commit(s, "commit schema check", err);
		goto done;
	}
	ret = exec_sql(s, migrations[version].sql,
		       migrations[version].description, err);
	if (ret != SB_OK)
		goto done;
	ret = record_step(s, version + 1, migrations[version].description, err);
	if (ret != SB_OK)
		goto done;
	ret = sq_write_commit(s, "commit schema migration", err);
	if (ret != SB_OK)
		goto done;
	s->host->log(s->host, SB_LOG_INFO,
		     "sqlite %s: schema migrated to version %lld (%s)", s->path,
		     (long long)version + 1, migrations[version].description);
done:
	sq_write_end(s);
	return ret;
}

int sq_schema_migrate(struct sq_store *s, struct sb_error *err)
{
	int finished = 0;
	int ret = SB_OK;

	/* One more round than there are steps: the last one confirms. */
	for (size_t i = 0; i <= N_MIGRATIONS && !finished; i++) {
		ret = migrate_one(s, &finished, err);
		if (ret != SB_OK)
			return ret;
	}
	if (!finished)
		return sb_error_set(
			err, SB_ERR,
			"sqlite %s: schema did not reach version %zu", s->path,
			N_MIGRATIONS);
	return SB_OK;
}
