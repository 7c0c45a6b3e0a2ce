/*
 * The connection pool and everything between a storage operation and the
 * wire: connecting (directly, over a Unix socket, or to the primary a
 * sentinel names), the handshake (AUTH, SELECT, ROLE, SCRIPT LOAD), the
 * durability check and reconnect backoff. Running a command on a pooled
 * connection (EVALSHA with NOSCRIPT reload, WAIT, turning Redis and socket
 * errors into sb_status codes with messages that name the server) is in
 * redis_cmd.c; the failure policy below covers both files.
 *
 * Concurrency: pool_size connections, each used by one thread at a time (a
 * hiredis context is not thread-safe). A thread takes a free slot, waiting
 * at most op_timeout_ms for one. Shared state (primary address, generation,
 * backoff) is guarded by in->mu; no network I/O happens under in->mu.
 *
 * Failure policy:
 *   - an idle pooled connection the server closed (restart) is noticed
 *     with a zero-timeout poll() before use and reopened, so the first
 *     command after a server restart does not fail needlessly;
 *   - a failed connection attempt starts a backoff (RS_BACKOFF_MIN_MS
 *     doubling up to reconnect_backoff_max_ms); an operation that needs a
 *     connection waits for the next attempt when it comes within
 *     op_timeout_ms, and otherwise fails at once with SB_EUNAVAIL and the
 *     last error, so a dead server never makes callers queue behind
 *     connect timeouts;
 *   - a lost connection bumps the generation (and, with Sentinel, forgets
 *     the primary), so the next use rediscovers and reconnects;
 *   - read-only scripts are retried once on a fresh connection after a
 *     lost connection; write scripts are not (the write may have been
 *     applied), and their error says so;
 *   - a READONLY reply (we talked to a demoted primary) means the write
 *     was refused, so the primary is forgotten and the operation retried
 *     once against the primary found again;
 *   - a socket timeout is SB_ETIMEOUT; the connection is dropped since its
 *     reply may still arrive.
 */
#define _GNU_SOURCE
#include "redis_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void rs_endpoint_str(const struct rs_endpoint *e, char *buf, size_t len)
{
	if (strchr(e->host, ':') != NULL)
		snprintf(buf, len, "[%s]:%d", e->host, e->port);
	else
		snprintf(buf, len, "%s:%d", e->host, e->port);
}

/* See redis_internal.h. */
struct timeval rs_ms_tv(int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	return tv;
}

/* See redis_internal.h. */
void rs_sigpipe_block(struct rs_sigpipe_guard *g)
{
	sigset_t s, pend;

	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &s, &g->old);
	sigemptyset(&pend);
	sigpending(&pend);
	g->was_pending = sigismember(&pend, SIGPIPE);
}

/* See redis_internal.h. */
void rs_sigpipe_restore(struct rs_sigpipe_guard *g)
{
	static const struct timespec zero = {0, 0};
	sigset_t s, pend;

	sigemptyset(&s);
	sigaddset(&s, SIGPIPE);
	sigemptyset(&pend);
	sigpending(&pend);
	if (!g->was_pending && sigismember(&pend, SIGPIPE))
		sigtimedwait(&s, NULL, &zero);
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {(time_t)(ms / 1000),
			      (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* A failed read or write: did the socket timeout (SO_RCVTIMEO) expire? */
int rs_io_timed_out(const redisContext *c, int saved_errno)
{
	return c->err == REDIS_ERR_IO &&
	       (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK ||
		strstr(c->errstr, "temporarily unavailable") != NULL ||
		strstr(c->errstr, "timed out") != NULL);
}

/* Maps a Redis error reply to a status. */
int rs_reply_error_status(const char *msg)
{
	if (strncmp(msg, "NOAUTH", 6) == 0 || strncmp(msg, "WRONGPASS", 9) == 0)
		return SB_EAUTH;
	if (strncmp(msg, "NOPERM", 6) == 0)
		return SB_EINVAL;
	if (strncmp(msg, "LOADING", 7) == 0 || strncmp(msg, "BUSY", 4) == 0 ||
	    strncmp(msg, "MASTERDOWN", 10) == 0 ||
	    strncmp(msg, "READONLY", 8) == 0 ||
	    strncmp(msg, "NOREPLICAS", 10) == 0 ||
	    strncmp(msg, "TRYAGAIN", 8) == 0)
		return SB_EUNAVAIL;
	if (strncmp(msg, "OOM", 3) == 0)
		return SB_ERR;
	return SB_ERR;
}

/* True when an idle connection can be used: no error recorded, and the
 * socket has nothing to read (no EOF from a server that went away, no
 * stray data). */
static int conn_idle_ok(redisContext *c)
{
	struct pollfd p;

	if (c == NULL || c->err)
		return 0;
	p.fd = c->fd;
	p.events = POLLIN;
	p.revents = 0;
	return poll(&p, 1, 0) == 0;
}

/* Reads the durability settings of a newly reached server and logs a clear
 * warning when acknowledged writes could be lost. Done once per server
 * address (again after a failover to another one). replicas is the number
 * of replicas ROLE reported, -1 when unknown. */
static void check_durability(struct rs_inst *in, redisContext *c,
			     const char *addr, long replicas)
{
	const struct sb_host *h = in->host;
	redisReply *r1 = NULL, *r2 = NULL, *r3 = NULL;
	const char *aof = "?", *fsync = "?", *minrep = "?";

	pthread_mutex_lock(&in->mu);
	if (strcmp(in->checked_addr, addr) == 0) {
		pthread_mutex_unlock(&in->mu);
		return;
	}
	snprintf(in->checked_addr, sizeof(in->checked_addr), "%s", addr);
	pthread_mutex_unlock(&in->mu);

	r1 = redisCommand(c, "CONFIG GET appendonly");
	if (r1 != NULL)
		r2 = redisCommand(c, "CONFIG GET appendfsync");
	if (r2 != NULL)
		r3 = redisCommand(c, "CONFIG GET min-replicas-to-write");
	if (r1 == NULL || r2 == NULL) {
		h->log(h, SB_LOG_WARNING,
		       "redis %s: cannot check durability settings: %s", addr,
		       c->errstr);
	} else if (r1->type == REDIS_REPLY_ERROR ||
		   r2->type == REDIS_REPLY_ERROR) {
		h->log(h, SB_LOG_WARNING,
		       "redis %s: cannot check durability settings: CONFIG GET "
		       "is not permitted (%s); make sure the server runs with "
		       "appendonly yes and appendfsync always, or "
		       "acknowledged writes can be lost in a crash",
		       addr, r1->type == REDIS_REPLY_ERROR ? r1->str : r2->str);
	} else {
		if (r1->type == REDIS_REPLY_ARRAY && r1->elements == 2 &&
		    r1->element[1]->type == REDIS_REPLY_STRING)
			aof = r1->element[1]->str;
		if (r2->type == REDIS_REPLY_ARRAY && r2->elements == 2 &&
		    r2->element[1]->type == REDIS_REPLY_STRING)
			fsync = r2->element[1]->str;
		if (strcmp(aof, "yes") != 0)
			h->log(h, SB_LOG_WARNING,
			       "redis %s: appendonly is \"%s\": acknowledged "
			       "writes since the last snapshot are LOST if "
			       "the server stops or crashes; set appendonly "
			       "yes and appendfsync always for zero loss",
			       addr, aof);
		else if (strcmp(fsync, "always") != 0)
			h->log(h, SB_LOG_WARNING,
			       "redis %s: appendfsync is \"%s\" (not "
			       "\"always\"): up to about a second of "
			       "acknowledged writes can be lost if the machine "
			       "crashes; set appendfsync always for zero loss",
			       addr, fsync);
		else
			h->log(h, SB_LOG_INFO,
			       "redis %s: durability OK (appendonly yes, "
			       "appendfsync always)",
			       addr);
	}
	if (r3 != NULL && r3->type == REDIS_REPLY_ARRAY && r3->elements == 2 &&
	    r3->element[1]->type == REDIS_REPLY_STRING)
		minrep = r3->element[1]->str;
	/* Measured in tests/integration/redis: a SENTINEL FAILOVER lost 1-2 s
	 * of writes the demoted primary had acknowledged, unless one of these
	 * held. */
	if (in->set.n_sentinels > 0 && in->set.wait_replicas == 0 &&
	    strcmp(minrep, "0") == 0)
		h->log(h, SB_LOG_WARNING,
		       "redis %s: wait_replicas = 0 and min-replicas-to-write "
		       "0: writes the old primary acknowledges during a "
		       "Sentinel failover are lost; set wait_replicas >= 1 "
		       "(or min-replicas-to-write on the servers)",
		       addr);
	if (in->set.wait_replicas > 0 && replicas >= 0 &&
	    replicas < in->set.wait_replicas)
		h->log(h, SB_LOG_WARNING,
		       "redis %s: %ld replica(s) connected but wait_replicas "
		       "= %d: writes will fail until enough replicas "
		       "acknowledge them",
		       addr, replicas, in->set.wait_replicas);
	if (r1 != NULL)
		freeReplyObject(r1);
	if (r2 != NULL)
		freeReplyObject(r2);
	if (r3 != NULL)
		freeReplyObject(r3);
}

/* Opens and prepares one connection to ep (NULL: the Unix socket):
 * connects within connect_timeout_ms, then pipelines AUTH, SELECT, ROLE and
 * SCRIPT LOAD of every script, each answered within op_timeout_ms. With
 * Sentinel, ROLE must say "master" (the sentinel's answer is verified on
 * the server itself); without, a replica is refused too, and a user not
 * allowed to run ROLE is tolerated. On SB_OK *out is the ready context
 * (caller frees with redisFree) and *replicas the replica count ROLE
 * reported (-1 if unknown). */
static int conn_open(struct rs_inst *in, const struct rs_endpoint *ep,
		     const char *addr, redisContext **out, long *replicas,
		     struct sb_error *err)
{
	const struct rs_settings *set = &in->set;
	const char *argv[4];
	size_t lens[4];
	char dbbuf[24];
	redisContext *c = NULL;
	redisReply *r = NULL;
	int n_pipelined = 0, i_auth = -1, i_select = -1, i_role = -1;
	int i_scripts;
	int ret = SB_EUNAVAIL;
	int first_err = SB_OK;

	*replicas = -1;
	if (ep != NULL)
		c = redisConnectWithTimeout(ep->host, ep->port,
					    rs_ms_tv(set->connect_timeout_ms));
	else
		c = redisConnectUnixWithTimeout(
			set->socket_path, rs_ms_tv(set->connect_timeout_ms));
	if (c == NULL) {
		ret = sb_error_set(err, SB_ENOMEM, "redis %s: out of memory",
				   addr);
		goto done;
	}
	if (c->err) {
		if (strstr(c->errstr, "timed out") != NULL)
			ret = sb_error_set(err, SB_ETIMEOUT,
					   "redis %s: connect timed out after "
					   "connect_timeout_ms = %d ms",
					   addr, set->connect_timeout_ms);
		else
			ret = sb_error_set(err, SB_EUNAVAIL,
					   "redis %s: cannot connect: %s", addr,
					   c->errstr);
		goto done;
	}
	if (redisSetTimeout(c, rs_ms_tv(set->op_timeout_ms)) != REDIS_OK) {
		ret = sb_error_set(err, SB_EUNAVAIL,
				   "redis %s: cannot set socket timeout: %s",
				   addr, c->errstr);
		goto done;
	}
	if (ep != NULL)
		redisEnableKeepAlive(c);

	if (set->password != NULL) {
		int argc = 0;

		argv[argc] = "AUTH";
		lens[argc++] = 4;
		if (set->user != NULL) {
			argv[argc] = set->user;
			lens[argc++] = strlen(set->user);
		}
		argv[argc] = set->password;
		lens[argc++] = strlen(set->password);
		redisAppendCommandArgv(c, argc, argv, lens);
		i_auth = n_pipelined++;
	}
	if (set->db != 0) {
		snprintf(dbbuf, sizeof(dbbuf), "%lld", set->db);
		argv[0] = "SELECT";
		lens[0] = 6;
		argv[1] = dbbuf;
		lens[1] = strlen(dbbuf);
		redisAppendCommandArgv(c, 2, argv, lens);
		i_select = n_pipelined++;
	}
	argv[0] = "ROLE";
	lens[0] = 4;
	redisAppendCommandArgv(c, 1, argv, lens);
	i_role = n_pipelined++;
	i_scripts = n_pipelined;
	for (int s = 0; s < RS_SCRIPT_COUNT; s++) {
		argv[0] = "SCRIPT";
		lens[0] = 6;
		argv[1] = "LOAD";
		lens[1] = 4;
		argv[2] = rs_scripts[s].source;
		lens[2] = strlen(rs_scripts[s].source);
		redisAppendCommandArgv(c, 3, argv, lens);
		n_pipelined++;
	}

	/* Read every reply (the pipeline must be drained) and keep the first
	 * error in err. */
	for (int i = 0; i < n_pipelined; i++) {
		void *vr = NULL;
		int saved;

		if (redisGetReply(c, &vr) != REDIS_OK || vr == NULL) {
			saved = errno;
			if (rs_io_timed_out(c, saved))
				ret = sb_error_set(
					err, SB_ETIMEOUT,
					"redis %s: no answer to the "
					"connection handshake within "
					"op_timeout_ms = %d ms",
					addr, set->op_timeout_ms);
			else
				ret = sb_error_set(
					err, SB_EUNAVAIL,
					"redis %s: connection lost during "
					"the handshake: %s",
					addr, c->errstr);
			goto done;
		}
		r = vr;
		if (r->type == REDIS_REPLY_ERROR) {
			if (i == i_role && strncmp(r->str, "NOPERM", 6) == 0 &&
			    set->n_sentinels == 0) {
				/* ROLE is only a safety check here. */
			} else if (first_err == SB_OK) {
				const char *what = i == i_auth	   ? "AUTH"
						   : i == i_select ? "SELECT"
						   : i == i_role   ? "ROLE"
								   : "SCRIPT "
								     "LOAD";

				first_err = rs_reply_error_status(r->str);
				if (i == i_auth)
					first_err = SB_EAUTH;
				if (i == i_auth && set->user != NULL)
					sb_error_set(
						err, first_err,
						"redis %s: AUTH as user \"%s\" "
						"(password from %s) failed: %s",
						addr, set->user,
						set->password_file, r->str);
				else if (i == i_auth)
					sb_error_set(err, first_err,
						     "redis %s: AUTH with the "
						     "password "
						     "from %s failed: %s",
						     addr, set->password_file,
						     r->str);
				else
					sb_error_set(
						err, first_err,
						"redis %s: %s failed: %s%s",
						addr, what, r->str,
						strncmp(r->str, "NOAUTH", 6) ==
								0
							? " (set user and "
							  "password_file)"
							: "");
			}
		} else if (i == i_role) {
			const char *role = "?";

			if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
			    r->element[0]->type == REDIS_REPLY_STRING)
				role = r->element[0]->str;
			if (strcmp(role, "master") != 0 && first_err == SB_OK) {
				first_err = SB_EUNAVAIL;
				if (set->n_sentinels > 0)
					sb_error_set(
						err, first_err,
						"redis %s: named primary of "
						"\"%s\" by a sentinel but "
						"reports role \"%s\" (failover "
						"in progress?)",
						addr, set->master_name, role);
				else
					sb_error_set(
						err, first_err,
						"redis %s: reports role "
						"\"%s\", "
						"not master: point host or "
						"socket at the primary, or use "
						"sentinels",
						addr, role);
			}
			if (r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
			    r->element[2]->type == REDIS_REPLY_ARRAY)
				*replicas = (long)r->element[2]->elements;
		} else if (i >= i_scripts) {
			int s = i - i_scripts;

			if (r->type != REDIS_REPLY_STRING || r->len != 40) {
				if (first_err == SB_OK)
					first_err = sb_error_set(
						err, SB_ERR,
						"redis %s: SCRIPT LOAD of %s: "
						"unexpected reply",
						addr, rs_scripts[s].name);
			} else {
				pthread_mutex_lock(&in->mu);
				if (in->sha[s][0] == '\0')
					memcpy(in->sha[s], r->str, 41);
				pthread_mutex_unlock(&in->mu);
			}
		}
		freeReplyObject(r);
		r = NULL;
	}
	if (first_err != SB_OK) {
		ret = first_err;
		goto done;
	}
	*out = c;
	c = NULL;
	ret = SB_OK;
done:
	if (r != NULL)
		freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return ret;
}

/* Forgets the primary after a connection to it (opened in generation gen)
 * failed or answered READONLY: every pooled connection of that generation
 * is dropped on next use and, with Sentinel, the primary is asked for
 * again. A no-op when another thread already did it. */
void rs_invalidate(struct rs_inst *in, uint64_t gen)
{
	pthread_mutex_lock(&in->mu);
	if (gen == in->gen) {
		in->gen++;
		if (in->set.n_sentinels > 0)
			in->have_primary = 0;
	}
	pthread_mutex_unlock(&in->mu);
}

/* Records a failed connection attempt: starts or lengthens the backoff. */
static void note_failure(struct rs_inst *in, uint64_t gen,
			 const struct sb_error *err)
{
	uint64_t backoff;

	pthread_mutex_lock(&in->mu);
	if (in->fail_count < 16)
		in->fail_count++;
	backoff = (uint64_t)RS_BACKOFF_MIN_MS << (in->fail_count - 1);
	if (backoff > (uint64_t)in->set.reconnect_backoff_max_ms)
		backoff = (uint64_t)in->set.reconnect_backoff_max_ms;
	in->retry_at_ms = in->host->mono_ms() + backoff;
	snprintf(in->last_err, sizeof(in->last_err), "%s", err->msg);
	if (gen == in->gen) {
		in->gen++;
		if (in->set.n_sentinels > 0)
			in->have_primary = 0;
	}
	pthread_mutex_unlock(&in->mu);
}

/* With Sentinel, at most every sentinel_check_interval_ms (and by one
 * thread at a time), asks the sentinels who the primary is while
 * everything seems fine. Needed because a Sentinel failover does not always
 * break the connections to the old primary at once: after a manual
 * SENTINEL FAILOVER (or a network partition) the old primary keeps
 * accepting writes until the sentinels reconfigure it, and every write it
 * acknowledges meanwhile is lost when it resyncs from the new one. When the
 * sentinels name another server, the primary is switched and every pooled
 * connection to the old one is dropped on its next use. A sentinel that
 * cannot be asked changes nothing. */
static void sentinel_recheck(struct rs_inst *in)
{
	struct rs_endpoint ep;
	struct sb_error err = {{0}};
	char was[RS_ADDR_MAX], now_addr[RS_ADDR_MAX];
	uint64_t now = in->host->mono_ms();
	int changed = 0;

	pthread_mutex_lock(&in->mu);
	if (!in->have_primary || in->rechecking || now < in->recheck_at_ms) {
		pthread_mutex_unlock(&in->mu);
		return;
	}
	in->rechecking = 1;
	pthread_mutex_unlock(&in->mu);

	if (pthread_mutex_trylock(&in->discover_mu) == 0) {
		if (rs_sentinel_discover(in, &ep, &err) == SB_OK) {
			pthread_mutex_lock(&in->mu);
			if (in->have_primary &&
			    (strcmp(ep.host, in->primary.host) != 0 ||
			     ep.port != in->primary.port)) {
				rs_endpoint_str(&in->primary, was, sizeof(was));
				rs_endpoint_str(&ep, now_addr,
						sizeof(now_addr));
				in->primary = ep;
				in->last_primary = ep;
				in->gen++;
				changed = 1;
			}
			pthread_mutex_unlock(&in->mu);
		}
		pthread_mutex_unlock(&in->discover_mu);
	}
	if (changed)
		in->host->log(in->host, SB_LOG_WARNING,
			      "redis: the sentinels name %s as primary of "
			      "\"%s\" (was %s): switching to it",
			      now_addr, in->set.master_name, was);

	pthread_mutex_lock(&in->mu);
	in->rechecking = 0;
	in->recheck_at_ms = in->host->mono_ms() +
			    (uint64_t)in->set.sentinel_check_interval_ms;
	pthread_mutex_unlock(&in->mu);
}

/* Asks the sentinels for the primary when nobody else has since it was
 * forgotten (one discovery at a time; a thread that waited here uses the
 * result of the one before), records it and logs each change of primary
 * once. On SB_OK *ep is the primary and *gen the generation to open the
 * connection in; on failure the backoff is started. */
static int discover_primary(struct rs_inst *in, struct rs_endpoint *ep,
			    uint64_t *gen, struct sb_error *err)
{
	char was[RS_ADDR_MAX] = "", now_addr[RS_ADDR_MAX];
	int have, is_new = 0, rc;

	pthread_mutex_lock(&in->discover_mu);
	pthread_mutex_lock(&in->mu);
	have = in->have_primary;
	*ep = in->primary;
	*gen = in->gen;
	pthread_mutex_unlock(&in->mu);
	if (have) {
		pthread_mutex_unlock(&in->discover_mu);
		return SB_OK;
	}
	rc = rs_sentinel_discover(in, ep, err);
	if (rc != SB_OK) {
		pthread_mutex_unlock(&in->discover_mu);
		note_failure(in, *gen, err);
		return rc;
	}
	pthread_mutex_lock(&in->mu);
	if (*gen == in->gen) {
		in->primary = *ep;
		in->have_primary = 1;
		in->recheck_at_ms =
			in->host->mono_ms() +
			(uint64_t)in->set.sentinel_check_interval_ms;
		if (in->last_primary.port == 0 ||
		    strcmp(in->last_primary.host, ep->host) != 0 ||
		    in->last_primary.port != ep->port) {
			if (in->last_primary.port != 0)
				rs_endpoint_str(&in->last_primary, was,
						sizeof(was));
			in->last_primary = *ep;
			is_new = 1;
		}
	}
	pthread_mutex_unlock(&in->mu);
	pthread_mutex_unlock(&in->discover_mu);
	if (is_new) {
		rs_endpoint_str(ep, now_addr, sizeof(now_addr));
		in->host->log(in->host, SB_LOG_INFO,
			      "redis: the sentinels name %s as primary of "
			      "\"%s\"%s%s%s",
			      now_addr, in->set.master_name,
			      was[0] ? " (was " : "", was, was[0] ? ")" : "");
	}
	return SB_OK;
}

/* Makes conn hold a usable connection to the current primary, reconnecting
 * (and with Sentinel rediscovering) when needed. Returns SB_OK or a status
 * with err. */
static int conn_ensure(struct rs_inst *in, struct rs_conn *conn,
		       struct sb_error *err)
{
	const struct rs_settings *set = &in->set;
	struct rs_endpoint ep;
	char addr[RS_ADDR_MAX];
	redisContext *c = NULL;
	uint64_t gen, now;
	long replicas = -1;
	int have, rc;

	if (set->n_sentinels > 0 && set->sentinel_check_interval_ms > 0)
		sentinel_recheck(in);

	pthread_mutex_lock(&in->mu);
	if (conn->c != NULL && conn->gen == in->gen && conn_idle_ok(conn->c)) {
		pthread_mutex_unlock(&in->mu);
		return SB_OK;
	}
	pthread_mutex_unlock(&in->mu);
	if (conn->c != NULL) {
		redisFree(conn->c);
		conn->c = NULL;
	}

	pthread_mutex_lock(&in->mu);
	now = in->host->mono_ms();
	if (now < in->retry_at_ms) {
		uint64_t wait = in->retry_at_ms - now;

		if (wait > (uint64_t)set->op_timeout_ms) {
			/* Too far off: fail now rather than hold the
			 * caller. */
			rc = sb_error_set(
				err, SB_EUNAVAIL,
				"%s (next reconnect attempt in %llu ms)",
				in->last_err, (unsigned long long)wait);
			pthread_mutex_unlock(&in->mu);
			return rc;
		}
		/* Within this operation's time: wait for the attempt. */
		pthread_mutex_unlock(&in->mu);
		sleep_ms(wait);
		pthread_mutex_lock(&in->mu);
	}
	gen = in->gen;
	have = in->have_primary;
	ep = in->primary;
	pthread_mutex_unlock(&in->mu);

	if (set->n_sentinels > 0 && !have) {
		rc = discover_primary(in, &ep, &gen, err);
		if (rc != SB_OK)
			return rc;
	}

	if (set->socket_path != NULL) {
		snprintf(addr, sizeof(addr), "unix:%s", set->socket_path);
		rc = conn_open(in, NULL, addr, &c, &replicas, err);
	} else {
		if (set->n_sentinels == 0) {
			snprintf(ep.host, sizeof(ep.host), "%s", set->host);
			ep.port = set->port;
		}
		rs_endpoint_str(&ep, addr, sizeof(addr));
		rc = conn_open(in, &ep, addr, &c, &replicas, err);
	}
	if (rc != SB_OK) {
		note_failure(in, gen, err);
		return rc;
	}

	pthread_mutex_lock(&in->mu);
	if (in->fail_count > 0)
		in->host->log(in->host, SB_LOG_INFO,
			      "redis %s: connected again", addr);
	in->fail_count = 0;
	in->retry_at_ms = 0;
	pthread_mutex_unlock(&in->mu);
	conn->c = c;
	conn->gen = gen;
	snprintf(conn->addr, sizeof(conn->addr), "%s", addr);
	check_durability(in, c, addr, replicas);
	if (c->err) {
		/* Lost while checking: report it now, not on the next use. */
		rc = sb_error_set(
			err, SB_EUNAVAIL,
			"redis %s: connection lost after the handshake: %s",
			addr, c->errstr);
		redisFree(c);
		conn->c = NULL;
		rs_invalidate(in, gen);
		return rc;
	}
	return SB_OK;
}

/* Takes a free pool slot, waiting at most op_timeout_ms, and makes sure it
 * is connected. On SB_OK the caller owns *out until conn_put. */
int rs_conn_get(struct rs_inst *in, struct rs_conn **out, struct sb_error *err)
{
	struct rs_conn *conn = NULL;
	struct timespec deadline;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += in->set.op_timeout_ms / 1000;
	deadline.tv_nsec += (long)(in->set.op_timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&in->mu);
	for (;;) {
		/* Prefer a slot that is already connected. */
		for (int i = 0; i < in->set.pool_size; i++) {
			struct rs_conn *p = &in->pool[i];

			if (p->busy)
				continue;
			if (conn == NULL || (conn->c == NULL && p->c != NULL &&
					     p->gen == in->gen))
				conn = p;
		}
		if (conn != NULL)
			break;
		if (pthread_cond_timedwait(&in->cv, &in->mu, &deadline) ==
		    ETIMEDOUT) {
			pthread_mutex_unlock(&in->mu);
			return sb_error_set(
				err, SB_ETIMEOUT,
				"redis: all %d pooled connections stayed "
				"busy for op_timeout_ms = %d ms",
				in->set.pool_size, in->set.op_timeout_ms);
		}
	}
	conn->busy = 1;
	pthread_mutex_unlock(&in->mu);

	rc = conn_ensure(in, conn, err);
	if (rc != SB_OK) {
		pthread_mutex_lock(&in->mu);
		conn->busy = 0;
		pthread_cond_signal(&in->cv);
		pthread_mutex_unlock(&in->mu);
		return rc;
	}
	*out = conn;
	return SB_OK;
}

/* Returns a slot to the pool; drop closes its connection first (after an
 * error that leaves it unusable). */
void rs_conn_put(struct rs_inst *in, struct rs_conn *conn, int drop)
{
	if (drop && conn->c != NULL) {
		redisFree(conn->c);
		conn->c = NULL;
	}
	pthread_mutex_lock(&in->mu);
	conn->busy = 0;
	pthread_cond_signal(&in->cv);
	pthread_mutex_unlock(&in->mu);
}

int rs_pool_init(struct rs_inst *in, struct sb_error *err)
{
	pthread_condattr_t ca;
	struct rs_sigpipe_guard g;
	struct rs_conn *conn;
	int rc;

	pthread_mutex_init(&in->mu, NULL);
	pthread_mutex_init(&in->discover_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&in->cv, &ca);
	pthread_condattr_destroy(&ca);
	in->gen = 1;

	/* Connect once now: open fails clearly on a wrong address, password
	 * or ACL, loads the scripts (their SHA1s come from the server) and
	 * logs the durability check. */
	rs_sigpipe_block(&g);
	rc = rs_conn_get(in, &conn, err);
	rs_sigpipe_restore(&g);
	if (rc != SB_OK)
		return rc;
	rs_conn_put(in, conn, 0);
	for (int s = 0; s < RS_SCRIPT_COUNT; s++)
		if (in->sha[s][0] == '\0')
			return sb_error_set(err, SB_ERR,
					    "redis: script %s was not loaded",
					    rs_scripts[s].name);
	return SB_OK;
}

void rs_pool_destroy(struct rs_inst *in)
{
	for (int i = 0; i < RS_POOL_MAX; i++) {
		if (in->pool[i].c != NULL) {
			redisFree(in->pool[i].c);
			in->pool[i].c = NULL;
		}
	}
	pthread_cond_destroy(&in->cv);
	pthread_mutex_destroy(&in->discover_mu);
	pthread_mutex_destroy(&in->mu);
}
