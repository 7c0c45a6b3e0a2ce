/*
 * Connection pool, (re)connection with bounded backoff, and statement
 * execution under a deadline.
 *
 * Every wait for the server goes through poll() on the connection's socket
 * with the operation's deadline, in libpq's non-blocking mode, so an
 * operation whose server has vanished returns SB_ETIMEOUT at its deadline
 * instead of hanging. The server side has the same bound
 * (statement_timeout), and the socket has TCP keepalives and
 * tcp_user_timeout, so neither end keeps a dead peer's locks.
 *
 * A connection is returned to the pool only when it is healthy and idle
 * (not inside a transaction); anything else is closed, and the next
 * operation on that slot reconnects.
 */
#define _GNU_SOURCE
#include "pg_store.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* First reconnect delay after a failed attempt; it doubles from here. */
#define PG_BACKOFF_MIN_MS 50

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Copies a libpq message into dst as one line: newlines become "; ",
 * trailing separators are dropped. */
static void one_line(char *dst, size_t n, const char *src)
{
	size_t o = 0;

	if (src == NULL)
		src = "(no message)";
	for (; *src != '\0' && o + 3 < n; src++) {
		if (*src == '\n' || *src == '\r') {
			if (o > 0 && dst[o - 1] != ' ') {
				dst[o++] = ';';
				dst[o++] = ' ';
			}
			/* libpq indents continuation lines with a tab. */
			while (src[1] == '\t' || src[1] == ' ')
				src++;
			continue;
		}
		dst[o++] = *src == '\t' ? ' ' : *src;
	}
	while (o > 0 && (dst[o - 1] == ' ' || dst[o - 1] == ';'))
		o--;
	dst[o] = '\0';
	/* libpq may repeat its connection message ("server closed the
	 * connection unexpectedly ...") in one error text: keep one copy. */
	if (o > 60) {
		char head[41];
		char *again;

		memcpy(head, dst, 40);
		head[40] = '\0';
		again = strstr(dst + 1, head);
		if (again != NULL && again - dst >= 2 && again[-2] == ';' &&
		    again[-1] == ' ')
			again[-2] = '\0';
	}
}

int pg_fail(struct pg_op *op, struct sb_error *err, int status, const char *fmt,
	    ...)
{
	char detail[SB_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return sb_error_set(err, status, "postgres %s: %s: %s",
			    op->slot && op->slot->where[0]
				    ? op->slot->where
				    : op->st->set.targets,
			    op->what, detail);
}

void pg_put_int8(char buf[8], int64_t v)
{
	uint64_t u = (uint64_t)v;

	for (int i = 7; i >= 0; i--) {
		buf[i] = (char)(u & 0xff);
		u >>= 8;
	}
}

int64_t pg_get_int8(const PGresult *res, int row, int col)
{
	const unsigned char *p =
		(const unsigned char *)PQgetvalue(res, row, col);
	uint64_t u = 0;

	if (PQgetisnull(res, row, col) || PQgetlength(res, row, col) != 8)
		return 0;
	for (int i = 0; i < 8; i++)
		u = (u << 8) | p[i];
	return (int64_t)u;
}

int pg_pool_init(struct pg_store *st, struct sb_error *err)
{
	pthread_condattr_t ca;

	st->n_slots = (size_t)st->set.pool_size;
	st->slots = calloc(st->n_slots, sizeof(*st->slots));
	if (st->slots == NULL)
		return sb_error_set(err, SB_ENOMEM, "postgres: out of memory");
	for (size_t i = 0; i < st->n_slots; i++)
		st->slots[i].st = st;
	pthread_mutex_init(&st->mu, NULL);
	/* Slot waits are deadlines on the monotonic clock. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->cv, &ca);
	pthread_condattr_destroy(&ca);
	return SB_OK;
}

void pg_pool_destroy(struct pg_store *st)
{
	if (st->slots == NULL)
		return;
	for (size_t i = 0; i < st->n_slots; i++)
		if (st->slots[i].conn)
			PQfinish(st->slots[i].conn);
	free(st->slots);
	st->slots = NULL;
	pthread_cond_destroy(&st->cv);
	pthread_mutex_destroy(&st->mu);
}

void pg_op_extend(struct pg_op *op)
{
	op->deadline = mono_ms() + (uint64_t)op->st->set.op_timeout_ms;
}

/* Closes the op's connection; the slot reconnects on next use. */
static void drop_conn(struct pg_op *op)
{
	if (op->slot->conn) {
		PQfinish(op->slot->conn);
		op->slot->conn = NULL;
		op->slot->prepared = 0;
	}
	op->drop = 0;
}

/* Checks out a free slot, preferring a connected one, waiting until the
 * op's deadline when all are busy. */
static int slot_checkout(struct pg_op *op, struct sb_error *err)
{
	struct pg_store *st = op->st;
	struct timespec ts;
	int ret = SB_OK;

	ts.tv_sec = (time_t)(op->deadline / 1000);
	ts.tv_nsec = (long)(op->deadline % 1000) * 1000000L;
	pthread_mutex_lock(&st->mu);
	for (;;) {
		struct pg_slot *pick = NULL;

		for (size_t i = 0; i < st->n_slots; i++) {
			if (st->slots[i].busy)
				continue;
			if (pick == NULL || (!pick->conn && st->slots[i].conn))
				pick = &st->slots[i];
		}
		if (pick != NULL) {
			pick->busy = 1;
			op->slot = pick;
			break;
		}
		if (pthread_cond_timedwait(&st->cv, &st->mu, &ts) ==
		    ETIMEDOUT) {
			ret = sb_error_set(
				err, SB_ETIMEOUT,
				"postgres %s: %s: all %zu connections "
				"of the pool stayed busy for %lld ms "
				"(op_timeout_ms; raise pool_size?)",
				st->set.targets, op->what, st->n_slots,
				st->set.op_timeout_ms);
			break;
		}
	}
	pthread_mutex_unlock(&st->mu);
	return ret;
}

/* Returns the slot to the pool, closing its connection unless it is
 * healthy and idle. */
static void slot_release(struct pg_op *op)
{
	struct pg_store *st = op->st;
	PGconn *c = op->slot->conn;

	if (c != NULL && (op->drop || PQstatus(c) != CONNECTION_OK ||
			  PQtransactionStatus(c) != PQTRANS_IDLE ||
			  PQpipelineStatus(c) != PQ_PIPELINE_OFF))
		drop_conn(op);
	pthread_mutex_lock(&st->mu);
	op->slot->busy = 0;
	pthread_cond_signal(&st->cv);
	pthread_mutex_unlock(&st->mu);
	op->slot = NULL;
}

/* An idle pooled connection must have nothing to read: readable means the
 * server closed it or sent a FATAL (restart, failover, terminated). Catching
 * that before sending saves a doomed round trip. */
static int conn_looks_alive(PGconn *c)
{
	struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};

	if (pfd.fd < 0 || PQstatus(c) != CONNECTION_OK)
		return 0;
	if (poll(&pfd, 1, 0) > 0) {
		if (!PQconsumeInput(c) || PQstatus(c) != CONNECTION_OK)
			return 0;
		/* Notices are consumed (and logged); a hang-up is not
		 * always visible to libpq until the next read. */
		if (pfd.revents & (POLLHUP | POLLERR))
			return 0;
	}
	return PQtransactionStatus(c) == PQTRANS_IDLE;
}

/* Waits until the socket is ready for events or the deadline passes.
 * *revents gets what poll() saw. */
static int wait_sock(struct pg_op *op, short events, short *revents,
		     struct sb_error *err);

/* Reports the deadline passing on the op's connection, which is then
 * dropped: its state is unknown. */
static int timed_out(struct pg_op *op, struct sb_error *err)
{
	op->drop = 1;
	op->retry = 0;
	if (op->in_commit)
		return pg_fail(op, err, SB_ETIMEOUT,
			       "commit outcome unknown: no answer to COMMIT "
			       "within %lld ms (op_timeout_ms); the changes "
			       "may or may not have been applied",
			       op->st->set.op_timeout_ms);
	return pg_fail(op, err, SB_ETIMEOUT,
		       "no answer within %lld ms (op_timeout_ms); connection "
		       "closed%s",
		       op->st->set.op_timeout_ms,
		       op->in_txn ? ", nothing was committed" : "");
}

/* Reports a lost connection (msg: libpq's reason). Before COMMIT was sent
 * the server rolls the transaction back, so the op may be retried. */
static int conn_lost(struct pg_op *op, const char *msg, struct sb_error *err)
{
	char line[SB_ERROR_MAX / 2];

	one_line(line, sizeof(line),
		 msg ? msg : PQerrorMessage(op->slot->conn));
	op->drop = 1;
	if (op->in_commit) {
		op->retry = 0;
		return pg_fail(op, err, SB_EUNAVAIL,
			       "commit outcome unknown: connection lost while "
			       "COMMIT was in flight (%s); the changes may or "
			       "may not have been applied",
			       line);
	}
	op->retry = 1;
	return pg_fail(op, err, SB_EUNAVAIL, "connection lost (%s)%s", line,
		       op->in_txn ? "; nothing was committed" : "");
}

static int wait_sock(struct pg_op *op, short events, short *revents,
		     struct sb_error *err)
{
	struct pollfd pfd = {.fd = PQsocket(op->slot->conn), .events = events};
	uint64_t now;
	int n;

	if (pfd.fd < 0)
		return conn_lost(op, NULL, err);
	for (;;) {
		now = mono_ms();
		/* Past the deadline -- perhaps only because this process did
		 * not run for a while (SIGSTOP, a frozen VM) -- look once more
		 * without waiting: an answer the server sent meanwhile is
		 * used, not turned into "outcome unknown". */
		n = poll(&pfd, 1,
			 now >= op->deadline ? 0 : (int)(op->deadline - now));
		if (n > 0)
			break;
		if (n == 0)
			return timed_out(op, err);
		if (errno != EINTR)
			return conn_lost(op, strerror(errno), err);
	}
	if (revents)
		*revents = pfd.revents;
	return SB_OK;
}

/* Maps a failed result to a status and message. */
static int classify(struct pg_op *op, PGresult *res, struct sb_error *err)
{
	PGconn *c = op->slot->conn;
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char msg[SB_ERROR_MAX / 2];

	one_line(msg, sizeof(msg),
		 primary ? primary : PQresultErrorMessage(res));
	if (state == NULL)
		state = "";
	if (PQstatus(c) == CONNECTION_BAD || strncmp(state, "08", 2) == 0 ||
	    strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
	    strcmp(state, "57P03") == 0)
		return conn_lost(op, msg, err);
	/* The batch checks (sb_fence, sb_expect in pg_schema.c): the
	 * transaction is aborted, nothing applied. */
	if (strcmp(state, "SBF01") == 0)
		return pg_fail(op, err, SB_EFENCED, "%s; nothing applied", msg);
	if (strcmp(state, "SBC01") == 0)
		return pg_fail(op, err, SB_ECONFLICT, "%s; nothing applied",
			       msg);
	if (strcmp(state, "25006") == 0) {
		/* Connected to a server that is (now) a standby: drop it so
		 * the reconnect looks for the primary again. */
		op->drop = 1;
		op->retry = !op->in_commit;
		return pg_fail(op, err, SB_EUNAVAIL,
			       "server is read-only (a standby?): %s", msg);
	}
	if (strcmp(state, "57014") == 0)
		return pg_fail(op, err, SB_ETIMEOUT,
			       "statement cancelled by the server (%s; "
			       "statement_timeout = op_timeout_ms = %lld); "
			       "nothing was committed",
			       msg, op->st->set.op_timeout_ms);
	if (strcmp(state, "55P03") == 0)
		return pg_fail(op, err, SB_ETIMEOUT, "lock not available: %s",
			       msg);
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
		/* The server rolled the transaction back; it may be rerun. */
		op->retry = 1;
		return pg_fail(op, err, SB_ERR,
			       "transaction aborted by the server (%s): %s; "
			       "nothing was committed",
			       state, msg);
	}
	if (strncmp(state, "22", 2) == 0)
		return pg_fail(op, err, SB_EINVAL, "invalid data (%s): %s",
			       state, msg);
	if (strcmp(state, "42P01") == 0 || strcmp(state, "3F000") == 0)
		return pg_fail(op, err, SB_ERR,
			       "schema \"%s\" or one of its tables is missing "
			       "(%s): %s",
			       op->st->set.schema, state, msg);
	return pg_fail(op, err, SB_ERR, "server error %s: %s", state, msg);
}

/* Flushes what was queued and collects every result of the command,
 * keeping the first error (or else the last result). */
/* Sends everything queued, reading meanwhile so that a server blocked on
 * sending its results never deadlocks against us. */
static int flush_out(struct pg_op *op, struct sb_error *err)
{
	PGconn *c = op->slot->conn;
	short rev = 0;
	int ret, f;

	while ((f = PQflush(c)) != 0) {
		if (f < 0)
			return conn_lost(op, NULL, err);
		ret = wait_sock(op, POLLIN | POLLOUT, &rev, err);
		if (ret != SB_OK)
			return ret;
		if ((rev & POLLIN) && !PQconsumeInput(c))
			return conn_lost(op, NULL, err);
	}
	return SB_OK;
}

static int collect(struct pg_op *op, PGresult **out, struct sb_error *err)
{
	PGconn *c = op->slot->conn;
	PGresult *first = NULL, *r;
	int ret;

	if ((ret = flush_out(op, err)) != SB_OK)
		return ret;
	for (;;) {
		while (PQisBusy(c)) {
			ret = wait_sock(op, POLLIN, NULL, err);
			if (ret != SB_OK)
				goto fail;
			if (!PQconsumeInput(c)) {
				ret = conn_lost(op, NULL, err);
				goto fail;
			}
		}
		r = PQgetResult(c);
		if (r == NULL)
			break;
		if (first == NULL) {
			first = r;
		} else if (PQresultStatus(first) != PGRES_FATAL_ERROR) {
			PQclear(first);
			first = r;
		} else {
			PQclear(r);
		}
		if (PQstatus(c) == CONNECTION_BAD)
			break;
	}
	if (first == NULL)
		return conn_lost(op, NULL, err);
	switch (PQresultStatus(first)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		if (out)
			*out = first;
		else
			PQclear(first);
		return SB_OK;
	default: break;
	}
	ret = classify(op, first, err);
fail:
	PQclear(first);
	return ret;
}

int pg_stmt_prepare(struct pg_op *op, enum pg_stmt id, struct sb_error *err)
{
	const struct pg_stmt_def *d = &op->st->stmts[id];
	int ret;

	if (op->slot->prepared & (1u << id))
		return SB_OK;
	if (!PQsendPrepare(op->slot->conn, d->name, d->sql, d->n_params,
			   d->types))
		return conn_lost(op, NULL, err);
	ret = collect(op, NULL, err);
	if (ret == SB_OK)
		op->slot->prepared |= 1u << id;
	return ret;
}

int pg_exec(struct pg_op *op, enum pg_stmt id, const char *const *values,
	    const int *lengths, PGresult **res, struct sb_error *err)
{
	static const int binary[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	const struct pg_stmt_def *d = &op->st->stmts[id];
	int ret;

	ret = pg_stmt_prepare(op, id, err);
	if (ret != SB_OK)
		return ret;
	if (!PQsendQueryPrepared(op->slot->conn, d->name, d->n_params, values,
				 lengths, binary, 1))
		return conn_lost(op, NULL, err);
	return collect(op, res, err);
}

/* Waits for the next result of a pipeline (NULL between queries). */
static int next_result(struct pg_op *op, PGresult **out, struct sb_error *err)
{
	PGconn *c = op->slot->conn;
	int ret;

	*out = NULL;
	while (PQisBusy(c)) {
		if ((ret = wait_sock(op, POLLIN, NULL, err)) != SB_OK)
			return ret;
		if (!PQconsumeInput(c))
			return conn_lost(op, NULL, err);
	}
	*out = PQgetResult(c);
	return SB_OK;
}

int pg_exec_pipeline(struct pg_op *op, size_t n, const struct pg_call *calls,
		     PGresult **res, size_t *failed, struct sb_error *err)
{
	static const int binary[8] = {1, 1, 1, 1, 1, 1, 1, 1};
	PGconn *c = op->slot->conn;
	PGresult *r = NULL;
	const char *state;
	size_t got = 0;
	int ret = SB_OK, synced = 0, retry;

	*failed = n;
	for (size_t i = 0; i < n; i++)
		res[i] = NULL;
	/* Prepared beforehand: a Parse inside the pipeline would add a
	 * result to tell apart. */
	for (size_t i = 0; i < n; i++)
		if ((ret = pg_stmt_prepare(op, calls[i].id, err)) != SB_OK)
			return ret;
	if (!PQenterPipelineMode(c))
		return conn_lost(op, NULL, err);
	for (size_t i = 0; i < n; i++) {
		const struct pg_stmt_def *d = &op->st->stmts[calls[i].id];

		if (!PQsendQueryPrepared(c, d->name, d->n_params,
					 calls[i].values, calls[i].lengths,
					 binary, 1))
			return conn_lost(op, NULL, err);
	}
	if (!PQpipelineSync(c))
		return conn_lost(op, NULL, err);
	/* From here the server may commit: a lost answer is unknown. */
	op->in_commit = 1;
	if ((ret = flush_out(op, err)) != SB_OK)
		return ret;
	while (!synced) {
		if ((ret = next_result(op, &r, err)) != SB_OK)
			return ret;
		if (r == NULL) /* end of one statement's results */
			continue;
		switch (PQresultStatus(r)) {
		case PGRES_PIPELINE_SYNC:
			synced = 1;
			PQclear(r);
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			if (got < n)
				res[got++] = r;
			else
				PQclear(r);
			break;
		case PGRES_PIPELINE_ABORTED:
			got++;
			PQclear(r);
			break;
		default:
			/* An error the server sent for statement got means
			 * it never reached the commit: nothing applied. An
			 * error after every statement's result came at the
			 * commit itself: classify tells a refusal (known)
			 * from a lost connection (unknown). A connection
			 * lost mid-way (libpq's own error, no SQLSTATE or
			 * class 08) proves nothing: the server sends the
			 * results when it reaches the Sync, after the
			 * commit. */
			state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			if (got < n && state != NULL &&
			    strncmp(state, "08", 2) != 0)
				op->in_commit = 0;
			*failed = got;
			ret = classify(op, r, err);
			PQclear(r);
			if (PQstatus(c) != CONNECTION_OK)
				return ret;
			got++;
			/* Drain to the Sync, keeping this first error and
			 * its verdict on retrying. */
			retry = op->retry;
			while (!synced) {
				int r2 = next_result(op, &r, NULL);

				if (r2 != SB_OK) {
					op->drop = 1;
					op->retry = retry;
					return ret;
				}
				if (r &&
				    PQresultStatus(r) == PGRES_PIPELINE_SYNC)
					synced = 1;
				PQclear(r);
			}
			op->retry = retry;
			break;
		}
	}
	op->in_commit = 0;
	if (!PQexitPipelineMode(c))
		op->drop = 1;
	if (ret == SB_OK && got != n)
		ret = pg_fail(op, err, SB_ERR,
			      "pipeline returned %zu results for %zu "
			      "statements",
			      got, n);
	return ret;
}

int pg_exec_sql(struct pg_op *op, const char *sql, PGresult **res,
		struct sb_error *err)
{
	if (!PQsendQuery(op->slot->conn, sql))
		return conn_lost(op, NULL, err);
	return collect(op, res, err);
}

int pg_begin(struct pg_op *op, const char *mode, struct sb_error *err)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "BEGIN%s%s", mode ? " " : "",
		 mode ? mode : "");
	op->in_txn = 1;
	return pg_exec_sql(op, sql, NULL, err);
}

int pg_commit(struct pg_op *op, struct sb_error *err)
{
	PGresult *res = NULL;
	int ret;

	op->in_commit = 1;
	ret = pg_exec_sql(op, "COMMIT", &res, err);
	op->in_commit = 0;
	op->in_txn = 0;
	if (ret != SB_OK)
		return ret;
	/* COMMIT of a transaction that failed answers ROLLBACK. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		ret = pg_fail(op, err, SB_ERR,
			      "the server rolled the transaction back (%s)",
			      PQcmdStatus(res));
	PQclear(res);
	return ret;
}

/* Server notices and warnings go to the host's log, not to libpq's
 * default of stderr. A WARNING can matter (e.g. "canceling wait for
 * synchronous replication": committed locally only), so it is logged as a
 * warning; the rest at debug level. */
static void notice_receiver(void *arg, const PGresult *res)
{
	const struct pg_slot *slot = arg;
	const struct sb_host *h = slot->st->host;
	const char *sev =
		PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char line[SB_ERROR_MAX];
	int warn;

	if (sev == NULL)
		sev = "NOTICE";
	warn = strcmp(sev, "WARNING") == 0 || strcmp(sev, "FATAL") == 0 ||
	       strcmp(sev, "PANIC") == 0 || strcmp(sev, "ERROR") == 0;
	one_line(line, sizeof(line), msg ? msg : PQresultErrorMessage(res));
	h->log(h, warn ? SB_LOG_WARNING : SB_LOG_DEBUG, "server %s: %s: %s",
	       slot->where, sev, line);
}

/* Sets the session's server-side limits on a new connection. */
static int session_setup(struct pg_op *op, struct sb_error *err)
{
	const struct pg_settings *s = &op->st->set;
	long long idle_tx = s->op_timeout_ms * 2;
	char sql[256];
	int n;

	if (idle_tx < 10000)
		idle_tx = 10000;
	/* statement_timeout: the server gives up when we would.
	 * idle_in_transaction_session_timeout: a vanished client's
	 * transaction (and its lease row lock) does not linger.
	 * client_connection_check_interval (14+): a running statement
	 * notices a vanished client. */
	n = snprintf(sql, sizeof(sql),
		     "SET statement_timeout = %lld; "
		     "SET idle_in_transaction_session_timeout = %lld",
		     s->op_timeout_ms, idle_tx);
	if (PQserverVersion(op->slot->conn) >= 140000)
		snprintf(sql + n, sizeof(sql) - (size_t)n,
			 "; SET client_connection_check_interval = 1000");
	return pg_exec_sql(op, sql, NULL, err);
}

/* Connects the op's slot, honouring the shared backoff, retrying until
 * the op's deadline. */
static int slot_connect(struct pg_op *op, struct sb_error *err)
{
	struct pg_store *st = op->st;
	const struct sb_host *h = st->host;
	char msg[sizeof(st->last_connect_error)];
	uint64_t now, gate;
	PGconn *c;
	int ret, recovered;

	for (;;) {
		pthread_mutex_lock(&st->mu);
		gate = st->next_connect_ms;
		snprintf(msg, sizeof(msg), "%s", st->last_connect_error);
		pthread_mutex_unlock(&st->mu);
		now = mono_ms();
		if (now < gate) {
			if (gate >= op->deadline)
				return sb_error_set(
					err, SB_EUNAVAIL,
					"postgres %s: %s: cannot connect "
					"within op_timeout_ms (%lld ms); last "
					"attempt: %s",
					st->set.targets, op->what,
					st->set.op_timeout_ms, msg);
			sleep_ms(gate - now);
		}

		c = PQconnectdbParams((const char *const *)st->set.kw,
				      (const char *const *)st->set.val, 0);
		if (c != NULL && PQstatus(c) == CONNECTION_OK) {
			op->slot->conn = c;
			op->slot->prepared = 0;
			snprintf(op->slot->where, sizeof(op->slot->where),
				 "%s:%s", PQhost(c), PQport(c));
			PQsetNoticeReceiver(c, notice_receiver, op->slot);
			if (PQsetnonblocking(c, 1) != 0) {
				ret = pg_fail(op, err, SB_ERR,
					      "cannot make the connection "
					      "non-blocking");
				drop_conn(op);
				return ret;
			}
			ret = session_setup(op, err);
			if (ret != SB_OK) {
				drop_conn(op);
				return ret;
			}
			pthread_mutex_lock(&st->mu);
			recovered = st->backoff_ms != 0;
			st->next_connect_ms = 0;
			st->backoff_ms = 0;
			pthread_mutex_unlock(&st->mu);
			/* A reconnection after failures is news; routine
			 * pool growth is not. */
			h->log(h, recovered ? SB_LOG_INFO : SB_LOG_DEBUG,
			       "connected to %s (server %d, schema %s)",
			       op->slot->where, PQserverVersion(c),
			       st->set.schema);
			return SB_OK;
		}

		one_line(msg, sizeof(msg),
			 c ? PQerrorMessage(c) : "out of memory");
		if (c)
			PQfinish(c);
		now = mono_ms();
		pthread_mutex_lock(&st->mu);
		st->backoff_ms = st->backoff_ms == 0 ? PG_BACKOFF_MIN_MS
						     : st->backoff_ms * 2;
		if (st->backoff_ms > (uint64_t)st->set.reconnect_backoff_max_ms)
			st->backoff_ms =
				(uint64_t)st->set.reconnect_backoff_max_ms;
		st->next_connect_ms = now + st->backoff_ms;
		snprintf(st->last_connect_error, sizeof(st->last_connect_error),
			 "%s", msg);
		gate = st->next_connect_ms;
		pthread_mutex_unlock(&st->mu);
		h->log(h, SB_LOG_WARNING,
		       "cannot connect to %s: %s (next attempt in %llu ms)",
		       st->set.targets, msg, (unsigned long long)(gate - now));
		if (gate >= op->deadline)
			return sb_error_set(
				err, SB_EUNAVAIL,
				"postgres %s: %s: cannot connect: %s",
				st->set.targets, op->what, msg);
	}
}

/* Rolls back whatever transaction an attempt left open, or drops the
 * connection when that cannot be done within the deadline. */
static void end_transaction(struct pg_op *op)
{
	PGconn *c = op->slot->conn;
	int retry;

	if (c == NULL || op->drop)
		return;
	if (PQstatus(c) != CONNECTION_OK) {
		op->drop = 1;
		return;
	}
	if (PQtransactionStatus(c) == PQTRANS_IDLE)
		return;
	/* The attempt's verdict stands whatever happens to the ROLLBACK. */
	retry = op->retry;
	if (mono_ms() >= op->deadline ||
	    pg_exec_sql(op, "ROLLBACK", NULL, NULL) != SB_OK ||
	    PQtransactionStatus(c) != PQTRANS_IDLE)
		op->drop = 1;
	op->retry = retry;
}

int pg_run(struct pg_store *st, const char *what, pg_attempt_fn attempt,
	   void *arg, struct sb_error *err)
{
	struct pg_op op = {.st = st, .what = what};
	int ret, tries = 0;

	op.deadline = mono_ms() + (uint64_t)st->set.op_timeout_ms;
	ret = slot_checkout(&op, err);
	if (ret != SB_OK)
		return ret;
	for (;;) {
		op.retry = 0;
		op.in_txn = 0;
		op.in_commit = 0;
		if (op.slot->conn && !conn_looks_alive(op.slot->conn)) {
			st->host->log(st->host, SB_LOG_INFO,
				      "connection to %s was closed by the "
				      "server; reconnecting",
				      op.slot->where);
			drop_conn(&op);
		}
		if (op.slot->conn == NULL) {
			ret = slot_connect(&op, err);
			if (ret != SB_OK)
				break;
		}
		ret = attempt(&op, arg, err);
		end_transaction(&op);
		if (ret == SB_OK || !op.retry || ++tries > 2 ||
		    mono_ms() >= op.deadline)
			break;
		st->host->log(st->host, SB_LOG_INFO, "%s: retrying: %s", what,
			      err ? err->msg : "");
		if (op.drop)
			drop_conn(&op);
	}
	slot_release(&op);
	return ret;
}
