/*
 * Connections of the sqlite storage plugin: opening with the right pragmas,
 * the per-connection prepared statements, the read pool, write
 * transactions, and turning SQLite errors into one clear line.
 */
#include "sqlite_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SQL of each enum sq_stmt_id. Keys are stored and bound as BLOBs so that
 * SQLite compares them with memcmp(): bytewise order, whatever the bytes. */
static const char *const stmt_sql[SQ_STMT_COUNT] = {
	[SQ_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_KV_GET] = "SELECT value, version FROM sb_kv WHERE key = ?1",
	[SQ_KV_GET_VERSION] = "SELECT version FROM sb_kv WHERE key = ?1",
	/* ?1 inclusive lower bound, ?2 exclusive upper bound, ?3 limit (-1:
	 * none). A plain range keeps the primary key index in use and takes
	 * the prefix literally (no LIKE/GLOB wildcards). */
	[SQ_KV_SCAN] = "SELECT key, value, version FROM sb_kv"
		       " WHERE key >= ?1 AND key < ?2 ORDER BY key LIMIT ?3",
	[SQ_KV_PUT] =
		"INSERT INTO sb_kv(key, value, version) VALUES (?1, ?2, ?3)"
		" ON CONFLICT(key) DO UPDATE SET value = excluded.value,"
		" version = excluded.version",
	[SQ_KV_DELETE] = "DELETE FROM sb_kv WHERE key = ?1",
	[SQ_LEASE_READ] =
		"SELECT holder, epoch, expires_ms FROM sb_lease WHERE id = 1",
	[SQ_LEASE_WRITE] = "UPDATE sb_lease SET holder = ?1, epoch = ?2,"
			   " expires_ms = ?3 WHERE id = 1",
};

int sq_fail(const struct sq_store *s, const struct sq_conn *conn, int rc,
	    struct sb_error *err, const char *fmt, ...)
{
	char what[256];
	char reason[200];
	int status;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		/* The busy handler already waited this long. */
		snprintf(reason, sizeof(reason),
			 "database is locked after %d ms", s->busy_timeout_ms);
		status = SB_ETIMEOUT;
		break;
	case SQLITE_NOMEM:
		snprintf(reason, sizeof(reason), "out of memory");
		status = SB_ENOMEM;
		break;
	default:
		snprintf(reason, sizeof(reason), "%s",
			 conn != NULL && conn->db != NULL
				 ? sqlite3_errmsg(conn->db)
				 : sqlite3_errstr(rc));
		status = (rc & 0xff) == SQLITE_CANTOPEN ? SB_EUNAVAIL : SB_ERR;
		break;
	}
	return sb_error_set(err, status, "sqlite %s: %s: %s", s->path, what,
			    reason);
}

/* Runs one pragma (or other statement without rows worth keeping) and, when
 * want is not NULL, checks that its first result column equals want. */
static int run_pragma(const struct sq_store *s, struct sq_conn *c,
		      const char *sql, const char *want, struct sb_error *err)
{
	sqlite3_stmt *st = NULL;
	const unsigned char *got;
	int ret = SB_ERR;
	int rc;

	rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = sq_fail(s, c, rc, err, "%s", sql);
		goto done;
	}
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = sq_fail(s, c, rc, err, "%s", sql);
		goto done;
	}
	if (want != NULL) {
		got = rc == SQLITE_ROW ? sqlite3_column_text(st, 0) : NULL;
		if (got == NULL || strcmp((const char *)got, want) != 0) {
			ret = sb_error_set(
				err, SB_ERR,
				"sqlite %s: %s: got \"%s\", want \"%s\"",
				s->path, sql, got ? (const char *)got : "",
				want);
			goto done;
		}
	}
	ret = SB_OK;
done:
	sqlite3_finalize(st);
	return ret;
}

/* Switches c's file to WAL. On a new file several processes may try at
 * once; each needs the exclusive lock, and SQLite answers a would-be
 * deadlock with SQLITE_BUSY at once, without its busy handler. So retry
 * here, for as long as the busy timeout allows. */
static int set_wal(const struct sq_store *s, struct sq_conn *c,
		   struct sb_error *err)
{
	uint64_t deadline = s->host->mono_ms() + (uint64_t)s->busy_timeout_ms;
	unsigned pause_ms = 1;
	int ret;

	for (;;) {
		ret = run_pragma(s, c, "PRAGMA journal_mode=WAL", "wal", err);
		if (ret != SB_ETIMEOUT || s->host->mono_ms() >= deadline)
			return ret;
		/* Back off a little, differently in each process. */
		usleep((pause_ms + (unsigned)getpid() % 3) * 1000);
		if (pause_ms < 20)
			pause_ms *= 2;
	}
}

int sq_conn_open(const struct sq_store *s, int reader, struct sq_conn **out,
		 struct sb_error *err)
{
	struct sq_conn *c;
	int ret = SB_ERR;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return sb_error_set(err, SB_ENOMEM, "sqlite %s: out of memory",
				    s->path);
	/* NOMUTEX: a connection is only ever used by one thread at a time
	 * (the writer under write_lock, readers taken from the pool), so
	 * SQLite's per-connection mutex would only cost. The file itself
	 * was created 0600 by the caller, so no CREATE flag here. */
	rc = sqlite3_open_v2(s->path, &c->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ret = sq_fail(s, c, rc, err, "open");
		goto done;
	}
	sqlite3_extended_result_codes(c->db, 1);
	rc = sqlite3_busy_timeout(c->db, s->busy_timeout_ms);
	if (rc != SQLITE_OK) {
		ret = sq_fail(s, c, rc, err, "set busy timeout");
		goto done;
	}
	/* WAL: readers never block the writer nor the other way round, and
	 * a commit is one append plus one fsync. The mode is stored in the
	 * file; asking again on an existing WAL file is a cheap no-op. */
	ret = set_wal(s, c, err);
	if (ret != SB_OK)
		goto done;
	/* FULL: a commit that returned is on disk, even after power loss. */
	ret = run_pragma(s, c, "PRAGMA synchronous=FULL", NULL, err);
	if (ret != SB_OK)
		goto done;
	if (reader) {
		/* A reader that ever tried to write would be a plugin bug;
		 * make SQLite refuse it rather than write outside
		 * write_lock. */
		ret = run_pragma(s, c, "PRAGMA query_only=1", NULL, err);
		if (ret != SB_OK)
			goto done;
	}
	*out = c;
	c = NULL;
	ret = SB_OK;
done:
	sq_conn_close(c);
	return ret;
}

void sq_conn_close(struct sq_conn *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < SQ_STMT_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	/* close_v2: never fails for unfinalised statements; all are
	 * finalised above anyway. */
	sqlite3_close_v2(c->db);
	free(c);
}

sqlite3_stmt *sq_stmt(const struct sq_store *s, struct sq_conn *c,
		      enum sq_stmt_id id, struct sb_error *err)
{
	int rc;

	if (c->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(c->db, stmt_sql[id], -1,
					SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
					NULL);
		if (rc != SQLITE_OK) {
			sq_fail(s, c, rc, err, "prepare \"%s\"", stmt_sql[id]);
			c->stmt[id] = NULL;
			return NULL;
		}
	} else {
		sqlite3_reset(c->stmt[id]);
		sqlite3_clear_bindings(c->stmt[id]);
	}
	return c->stmt[id];
}

int sq_reader_get(struct sq_store *s, struct sq_conn **out,
		  struct sb_error *err)
{
	struct sq_conn *c;

	pthread_mutex_lock(&s->pool_lock);
	c = s->idle;
	if (c != NULL) {
		s->idle = c->next;
		s->n_idle--;
		c->next = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	if (c != NULL) {
		*out = c;
		return SB_OK;
	}
	return sq_conn_open(s, 1, out, err);
}

void sq_reader_put(struct sq_store *s, struct sq_conn *c)
{
	if (c == NULL)
		return;
	/* A statement left mid-step would hold its read transaction, and
	 * with it an old snapshot, into the next caller's lookups. */
	for (size_t i = 0; i < SQ_STMT_COUNT; i++)
		if (c->stmt[i] != NULL)
			sqlite3_reset(c->stmt[i]);
	pthread_mutex_lock(&s->pool_lock);
	if (s->n_idle < s->pool_size) {
		c->next = s->idle;
		s->idle = c;
		s->n_idle++;
		c = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	sq_conn_close(c);
}

/* Steps a statement that returns no rows (BEGIN, COMMIT, writes). */
static int step_done(const struct sq_store *s, struct sq_conn *c,
		     enum sq_stmt_id id, const char *what, struct sb_error *err)
{
	sqlite3_stmt *st;
	int rc;

	st = sq_stmt(s, c, id, err);
	if (st == NULL)
		return SB_ERR;
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, c, rc, err, "%s", what);
	return SB_OK;
}

int sq_write_begin(struct sq_store *s, const char *what, struct sb_error *err)
{
	int ret;

	pthread_mutex_lock(&s->write_lock);
	ret = step_done(s, s->writer, SQ_BEGIN_IMMEDIATE, what, err);
	if (ret != SB_OK)
		pthread_mutex_unlock(&s->write_lock);
	return ret;
}

int sq_write_commit(struct sq_store *s, const char *what, struct sb_error *err)
{
	return step_done(s, s->writer, SQ_COMMIT, what, err);
}

void sq_write_end(struct sq_store *s)
{
	/* Reset every statement first: a pending statement would make the
	 * rollback fail with SQLITE_BUSY. */
	for (size_t i = 0; i < SQ_STMT_COUNT; i++)
		if (s->writer->stmt[i] != NULL)
			sqlite3_reset(s->writer->stmt[i]);
	/* After a failed statement or commit SQLite may already have rolled
	 * back; only roll back a transaction that is still open. */
	if (!sqlite3_get_autocommit(s->writer->db))
		step_done(s, s->writer, SQ_ROLLBACK, "rollback", NULL);
	pthread_mutex_unlock(&s->write_lock);
}
