/*
 * Internals of the sqlite storage plugin, shared by its source files.
 *
 * One instance (struct sq_store) owns:
 *   - one write connection, used under write_lock, for every transaction
 *     that changes the file (batches, lease operations, migrations);
 *   - a small pool of read connections so lookups from several threads
 *     run in parallel (WAL lets readers proceed beside the writer).
 * Each connection keeps its prepared statements, prepared on first use.
 * Across processes, SQLite's own file locks serialise writers; every write
 * transaction is BEGIN IMMEDIATE so it takes the write lock up front (and
 * waits up to busy_timeout_ms for it) instead of failing half-way.
 */
#ifndef SB_SQLITE_STORE_H
#define SB_SQLITE_STORE_H

#include <pthread.h>
#include <secretbroker/plugin.h>
#include <sqlite3.h>
#include <stddef.h>

/* Every SQL statement the plugin runs more than once. */
enum sq_stmt_id {
	SQ_BEGIN_IMMEDIATE,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_KV_GET,
	SQ_KV_GET_VERSION,
	SQ_KV_SCAN,
	SQ_KV_PUT,
	SQ_KV_DELETE,
	SQ_LEASE_READ,
	SQ_LEASE_WRITE,
	SQ_STMT_COUNT
};

struct sq_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[SQ_STMT_COUNT]; /* NULL until first use */
	struct sq_conn *next;		   /* idle list of the read pool */
};

struct sq_store {
	const struct sb_host *host;
	char *path;	     /* absolute (or ./-relative) file name */
	int busy_timeout_ms; /* how long a lock is waited for */
	size_t pool_size;    /* read connections kept open */

	pthread_mutex_t write_lock; /* guards writer */
	struct sq_conn *writer;

	pthread_mutex_t pool_lock; /* guards idle and n_idle */
	struct sq_conn *idle;
	size_t n_idle;
};

/* Reports a failed SQLite call rc on conn as "sqlite PATH: WHAT: REASON"
 * and returns the matching status: a lock not obtained within the busy
 * timeout is SB_ETIMEOUT ("database is locked after N ms"), out of memory
 * SB_ENOMEM, a file that cannot be opened SB_EUNAVAIL, anything else
 * SB_ERR. conn may be NULL (then sqlite3_errstr(rc) is the reason). */
int sq_fail(const struct sq_store *s, const struct sq_conn *conn, int rc,
	    struct sb_error *err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Opens one connection to s->path with the plugin's pragmas (busy timeout,
 * WAL, synchronous=FULL; query_only for readers). Returns SB_OK and *out,
 * or a status with err filled. */
int sq_conn_open(const struct sq_store *s, int reader, struct sq_conn **out,
		 struct sb_error *err);
/* Finalises the statements and closes the connection. NULL is a no-op. */
void sq_conn_close(struct sq_conn *c);

/* The prepared statement id on c, prepared on first use; reset and with
 * its bindings cleared, ready to bind. NULL with err filled on failure. */
sqlite3_stmt *sq_stmt(const struct sq_store *s, struct sq_conn *c,
		      enum sq_stmt_id id, struct sb_error *err);

/* A read connection from the pool. When every pooled connection is busy
 * (many threads, or a scan callback that calls back into the plugin), a
 * transient one is opened rather than waiting, so nested reads cannot
 * deadlock. Give it back with sq_reader_put. */
int sq_reader_get(struct sq_store *s, struct sq_conn **out,
		  struct sb_error *err);
/* Returns c to the pool, or closes it when the pool is full. */
void sq_reader_put(struct sq_store *s, struct sq_conn *c);

/* Write transactions on the write connection. sq_write_begin takes
 * write_lock and runs BEGIN IMMEDIATE (waiting up to the busy timeout for
 * other processes); on failure the lock is released again. sq_write_commit
 * commits; sq_write_end rolls back whatever is still open and releases the
 * lock (always call it, after a commit too). */
int sq_write_begin(struct sq_store *s, const char *what, struct sb_error *err);
int sq_write_commit(struct sq_store *s, const char *what, struct sb_error *err);
void sq_write_end(struct sq_store *s);

/* Creates or upgrades the schema on the write connection, one migration
 * step per transaction. Safe when several processes open the file at once.
 * Refuses a file whose schema is newer than this plugin. */
int sq_schema_migrate(struct sq_store *s, struct sb_error *err);

/* The storage ops (see struct sb_storage_ops in plugin.h). */
int sq_kv_get(void *inst, const char *key, uint8_t **value, size_t *value_len,
	      uint64_t *version, struct sb_error *err);
int sq_kv_scan(void *inst, const char *prefix, const char *after, size_t limit,
	       sb_scan_cb cb, void *arg, char *last_key, struct sb_error *err);
int sq_kv_batch_apply(void *inst, const struct sb_batch *batch,
		      struct sb_error *err);
int sq_lease_acquire(void *inst, const char *holder, uint32_t ttl_ms,
		     uint64_t *epoch, struct sb_error *err);
int sq_lease_renew(void *inst, const char *holder, uint64_t epoch,
		   uint32_t ttl_ms, struct sb_error *err);
int sq_lease_release(void *inst, const char *holder, uint64_t epoch,
		     struct sb_error *err);
int sq_lease_read(void *inst, struct sb_lease_info *info, struct sb_error *err);
int sq_fence_takeover(void *inst, const char *holder, uint32_t ttl_ms,
		      uint64_t *epoch, struct sb_error *err);

/* Reads the lease row inside the current transaction of c: holder (copied
 * into a buffer of 256 bytes), epoch and expiry (wall ms, 0 = never).
 * Used by the batch fencing check and the lease ops. */
int sq_lease_row(const struct sq_store *s, struct sq_conn *c, char *holder,
		 uint64_t *epoch, int64_t *expires_ms, struct sb_error *err);

/* At most this many bytes of a key are quoted in error messages. */
#define SQ_KEY_QUOTE 80

#endif
