/*
 * PostgreSQL storage plugin: shared internals.
 *
 * One instance (struct pg_store) owns a small pool of libpq connections.
 * Each operation checks out one connection for its whole duration (so one
 * connection is only ever used by one thread at a time), runs under one
 * deadline of op_timeout_ms, and returns the connection to the pool, or
 * drops it when it is in any doubtful state; the next operation that finds
 * an empty slot reconnects, spaced by a shared bounded backoff.
 *
 * Files: pg_settings.c (the [storage] settings), pg_conn.c (pool, connect,
 * deadline-bounded statement execution, error classification),
 * pg_schema.c (schema, migrations, statement texts), pg_kv.c (get, scan,
 * batch_apply), pg_lease.c (the lease and the fencing epoch), pg_plugin.c
 * (descriptor, open, close).
 */
#ifndef SB_PG_STORE_H
#define SB_PG_STORE_H

#include <secretbroker/plugin.h>

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>

/* Longest schema name PostgreSQL accepts (NAMEDATALEN - 1). */
#define PG_SCHEMA_MAX 63

/* Settings read from [storage]; see docs/storage-postgres.md. */
struct pg_settings {
	const char *conninfo; /* as configured; may hold a password */
	char schema[PG_SCHEMA_MAX + 1];
	long long op_timeout_ms;
	long long pool_size;
	long long reconnect_backoff_max_ms;
	long long scan_page_size;
	/* libpq keyword/value arrays: the user's conninfo, expanded, plus
	 * this plugin's defaults for the keywords it left unset. NULL
	 * terminated. Owned by the settings (pg_settings_free). */
	char **kw;
	char **val;
	/* "host:port[,host:port...]" for messages, without credentials. */
	char targets[256];
};

/* Prepared statements, one set per connection (see pg_schema.c). */
enum pg_stmt {
	PG_GET,
	PG_GET_VERSION,
	PG_SCAN,
	PG_EPOCH_FOR_SHARE,
	PG_PUT_ANY,
	PG_PUT_ABSENT,
	PG_PUT_VERSION,
	PG_DEL_ANY,
	PG_DEL_ABSENT,
	PG_DEL_VERSION,
	PG_LEASE_ACQUIRE,
	PG_LEASE_RENEW,
	PG_LEASE_RELEASE,
	PG_LEASE_READ,
	PG_FENCE_TAKEOVER,
	PG_STMT_COUNT
};

struct pg_stmt_def {
	const char *name; /* prepared statement name */
	int n_params;	  /* number of parameters */
	const Oid *types; /* their types */
	char *sql;	  /* text, schema substituted (owned by pg_store) */
};

/* One pool slot. conn is NULL when not connected. */
struct pg_slot {
	struct pg_store *st; /* owner, for the notice receiver */
	PGconn *conn;
	int busy;	   /* checked out by an operation */
	uint32_t prepared; /* bit i: statement i is prepared on conn */
	char where[128];   /* "host:port" of conn, for messages */
};

struct pg_store {
	const struct sb_host *host;
	struct pg_settings set;
	struct pg_stmt_def stmts[PG_STMT_COUNT];

	pthread_mutex_t mu;
	pthread_cond_t cv; /* a slot was released */
	struct pg_slot *slots;
	size_t n_slots;

	/* Reconnect backoff, shared by every slot (under mu): no connection
	 * attempt starts before next_connect_ms (monotonic); backoff_ms
	 * doubles on each failed attempt up to reconnect_backoff_max_ms and
	 * resets on success. */
	uint64_t next_connect_ms;
	uint64_t backoff_ms;
	char last_connect_error[SB_ERROR_MAX];
};

/* One operation in progress: a checked-out slot and a deadline. */
struct pg_op {
	struct pg_store *st;
	struct pg_slot *slot;
	const char *what;  /* operation name for messages, e.g. "get" */
	uint64_t deadline; /* monotonic ms */
	int in_txn;	   /* inside BEGIN ... COMMIT or ROLLBACK */
	int in_commit;	   /* COMMIT was sent: a lost answer is "unknown" */
	int retry;	   /* the last failure may be retried from scratch */
	int drop;	   /* the connection must not be reused */
};

/* pg_settings.c */

/* Reads and checks every setting; on failure returns SB_EINVAL (or
 * SB_ENOMEM) with a message naming the key. */
int pg_settings_load(const struct sb_host *host, const struct sb_config *cfg,
		     struct pg_settings *set, struct sb_error *err);
/* Frees what pg_settings_load allocated, wiping the connection values. */
void pg_settings_free(struct pg_settings *set);

/* pg_conn.c */

int pg_pool_init(struct pg_store *st, struct sb_error *err);
void pg_pool_destroy(struct pg_store *st);

/* Runs attempt(op, arg, err) on a checked-out, connected slot under one
 * deadline of op_timeout_ms, retrying it from scratch (reconnecting when
 * the connection was lost) while it reports op->retry and time is left.
 * Returns attempt's status. */
typedef int (*pg_attempt_fn)(struct pg_op *op, void *arg, struct sb_error *err);
int pg_run(struct pg_store *st, const char *what, pg_attempt_fn attempt,
	   void *arg, struct sb_error *err);

/* Moves the op's deadline to now + op_timeout_ms (a scan does so for each
 * page, because its caller's callback sets the pace). */
void pg_op_extend(struct pg_op *op);

/* Executes prepared statement id with binary parameters and binary
 * results. On SB_OK *res holds the result (caller PQclear()s it); on
 * failure err is filled and op->retry/op->drop set as fits. */
int pg_exec(struct pg_op *op, enum pg_stmt id, const char *const *values,
	    const int *lengths, PGresult **res, struct sb_error *err);
/* One statement of a pipeline: id and its binary parameters. */
struct pg_call {
	enum pg_stmt id;
	const char *values[3];
	int lengths[3];
};

/* Sends n statements as one pipeline ending in a Sync, so they run as one
 * implicit transaction in one round trip, and collects their results:
 * on SB_OK res[i] holds statement i's result (caller PQclear()s each).
 * On failure *failed is the index of the statement that failed (n when
 * none did: a lost connection or a timeout), every res[i] is NULL or to be
 * cleared, and err is filled; a loss after the Sync was queued is reported
 * as "commit outcome unknown". */
int pg_exec_pipeline(struct pg_op *op, size_t n, const struct pg_call *calls,
		     PGresult **res, size_t *failed, struct sb_error *err);
/* Executes a parameterless SQL string (BEGIN, COMMIT, DDL) in the simple
 * query protocol. res may be NULL when the caller needs no rows. */
int pg_exec_sql(struct pg_op *op, const char *sql, PGresult **res,
		struct sb_error *err);
/* BEGIN / COMMIT helpers. pg_commit sets op->in_commit while COMMIT is in
 * flight and reports an unknown outcome distinctly. */
int pg_begin(struct pg_op *op, const char *mode, struct sb_error *err);
int pg_commit(struct pg_op *op, struct sb_error *err);

/* Formats "postgres HOST:PORT: WHAT: " followed by fmt into err. */
int pg_fail(struct pg_op *op, struct sb_error *err, int status, const char *fmt,
	    ...) __attribute__((format(printf, 4, 5)));

/* Binary int8 helpers for parameters and results. */
void pg_put_int8(char buf[8], int64_t v);
int64_t pg_get_int8(const PGresult *res, int row, int col);

/* pg_schema.c */

/* Fills st->stmts (SQL with the schema name substituted). */
int pg_stmts_init(struct pg_store *st, struct sb_error *err);
void pg_stmts_free(struct pg_store *st);
/* Prepares statement id on op's connection unless it already is (lazily,
 * because the first connection runs before the tables exist). */
int pg_stmt_prepare(struct pg_op *op, enum pg_stmt id, struct sb_error *err);
/* Creates or migrates the schema, serialised across brokers by an advisory
 * transaction lock. */
int pg_schema_migrate(struct pg_op *op, void *arg, struct sb_error *err);

/* Schema version this plugin creates and understands. */
#define PG_SCHEMA_VERSION 1

/* pg_kv.c */

int pg_get(void *inst, const char *key, uint8_t **value, size_t *value_len,
	   uint64_t *version, struct sb_error *err);
int pg_scan(void *inst, const char *prefix, const char *after, size_t limit,
	    sb_scan_cb cb, void *arg, char *last_key, struct sb_error *err);
int pg_batch_apply(void *inst, const struct sb_batch *batch,
		   struct sb_error *err);

/* pg_lease.c */

int pg_lease_acquire(void *inst, const char *holder, uint32_t ttl_ms,
		     uint64_t *epoch, struct sb_error *err);
int pg_lease_renew(void *inst, const char *holder, uint64_t epoch,
		   uint32_t ttl_ms, struct sb_error *err);
int pg_lease_release(void *inst, const char *holder, uint64_t epoch,
		     struct sb_error *err);
int pg_lease_read(void *inst, struct sb_lease_info *info, struct sb_error *err);
int pg_fence_takeover(void *inst, const char *holder, uint32_t ttl_ms,
		      uint64_t *epoch, struct sb_error *err);

#endif
