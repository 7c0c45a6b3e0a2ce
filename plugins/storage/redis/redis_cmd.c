/*
 * Running a command or script on a pooled connection (redis_internal.h,
 * rs_eval and rs_command): EVALSHA with NOSCRIPT reload, the retry rules
 * for a lost connection and a READONLY reply, WAIT for replicas, and the
 * messages that name the server. The failure policy is described at the
 * top of redis_conn.c, which owns the connections.
 */
#define _GNU_SOURCE
#include "redis_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* WAITs for wait_replicas replicas to acknowledge everything this
 * connection wrote. Returns SB_OK, SB_ETIMEOUT (too few acknowledged) or
 * another status; *drop is set when the connection is unusable. */
static int wait_replicas(struct rs_inst *in, struct rs_conn *conn,
			 const char *what, int *drop, struct sb_error *err)
{
	const struct rs_settings *set = &in->set;
	redisReply *r;
	int saved, ret;

	redisSetTimeout(conn->c,
			rs_ms_tv(set->wait_timeout_ms + set->op_timeout_ms));
	r = redisCommand(conn->c, "WAIT %d %d", set->wait_replicas,
			 set->wait_timeout_ms);
	saved = errno;
	if (r == NULL) {
		int timed_out = rs_io_timed_out(conn->c, saved);

		*drop = 1;
		if (!timed_out)
			rs_invalidate(in, conn->gen);
		return sb_error_set(
			err, timed_out ? SB_ETIMEOUT : SB_EUNAVAIL,
			"redis %s: %s was written on the primary but "
			"waiting for %d replica(s) failed: %s; the write "
			"may be lost if %s fails",
			conn->addr, what, set->wait_replicas, conn->c->errstr,
			conn->addr);
	}
	redisSetTimeout(conn->c, rs_ms_tv(set->op_timeout_ms));
	if (r->type == REDIS_REPLY_INTEGER &&
	    r->integer >= set->wait_replicas) {
		ret = SB_OK;
	} else if (r->type == REDIS_REPLY_INTEGER) {
		ret = sb_error_set(
			err, SB_ETIMEOUT,
			"redis %s: %s was written on the primary but "
			"acknowledged by only %lld of %d replica(s) within "
			"wait_timeout_ms = %d ms; the write may be lost if "
			"%s fails",
			conn->addr, what, r->integer, set->wait_replicas,
			set->wait_timeout_ms, conn->addr);
	} else {
		ret = sb_error_set(
			err, SB_ERR,
			"redis %s: %s was written on the primary but WAIT "
			"failed: %s",
			conn->addr, what,
			r->type == REDIS_REPLY_ERROR ? r->str
						     : "unexpected reply");
	}
	freeReplyObject(r);
	return ret;
}

/* Sends argv on a pooled connection and handles the failure policy
 * described at the top of this file. script is the script being run (for
 * NOSCRIPT reload, the retry rule and WAIT), or -1 for a plain command. */
static int exec_io(struct rs_inst *in, int script, const char *what, int writes,
		   int argc, const char **argv, const size_t *lens,
		   redisReply **reply, struct sb_error *err)
{
	struct rs_conn *conn = NULL;
	redisReply *r = NULL;
	int rc, saved, drop;

	*reply = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		int reloaded = 0;

		rc = rs_conn_get(in, &conn, err);
		if (rc != SB_OK)
			return rc;
		drop = 0;
	again:
		r = redisCommandArgv(conn->c, argc, argv, lens);
		saved = errno;
		if (r == NULL) {
			int timed_out = rs_io_timed_out(conn->c, saved);

			if (timed_out)
				rc = sb_error_set(
					err, SB_ETIMEOUT,
					"redis %s: no answer to %s within "
					"op_timeout_ms = %d ms%s",
					conn->addr, what, in->set.op_timeout_ms,
					writes ? "; it may or may not have "
						 "been applied"
					       : "");
			else
				rc = sb_error_set(
					err, SB_EUNAVAIL,
					"redis %s: connection lost during "
					"%s: %s%s",
					conn->addr, what, conn->c->errstr,
					writes ? "; it may or may not have "
						 "been applied"
					       : "");
			if (!timed_out)
				rs_invalidate(in, conn->gen);
			rs_conn_put(in, conn, 1);
			if (timed_out || writes)
				return rc;
			continue; /* a read: try once more */
		}
		if (r->type != REDIS_REPLY_ERROR)
			break;

		if (script >= 0 && !reloaded &&
		    strncmp(r->str, "NOSCRIPT", 8) == 0) {
			/* The server lost its script cache (restart, SCRIPT
			 * FLUSH, a new primary): load it and run it again. */
			redisReply *l;

			freeReplyObject(r);
			r = NULL;
			reloaded = 1;
			l = redisCommand(conn->c, "SCRIPT LOAD %s",
					 rs_scripts[script].source);
			if (l != NULL && l->type == REDIS_REPLY_STRING) {
				freeReplyObject(l);
				goto again;
			}
			rc = sb_error_set(
				err, SB_EUNAVAIL,
				"redis %s: reloading the %s script failed: "
				"%s",
				conn->addr, what,
				l == NULL ? conn->c->errstr
				: l->type == REDIS_REPLY_ERROR
					? l->str
					: "unexpected reply");
			if (l != NULL)
				freeReplyObject(l);
			rs_conn_put(in, conn, 1);
			return rc;
		}
		if (strncmp(r->str, "READONLY", 8) == 0) {
			/* A replica refused the write, so nothing was
			 * applied: find the primary again and retry once. */
			rc = sb_error_set(
				err, SB_EUNAVAIL,
				"redis %s: %s refused: the server is now a "
				"read-only replica (%s)",
				conn->addr, what, r->str);
			freeReplyObject(r);
			r = NULL;
			rs_invalidate(in, conn->gen);
			rs_conn_put(in, conn, 1);
			if (in->set.n_sentinels > 0 && attempt == 0) {
				in->host->log(
					in->host, SB_LOG_WARNING,
					"%s; asking the sentinels for the "
					"primary again",
					err->msg);
				continue;
			}
			return rc;
		}
		rc = rs_reply_error_status(r->str);
		sb_error_set(err, rc, "redis %s: %s failed: %s", conn->addr,
			     what, r->str);
		freeReplyObject(r);
		rs_conn_put(in, conn, 0);
		return rc;
	}
	if (r == NULL)
		return rc;

	rc = SB_OK;
	if (writes && in->set.wait_replicas > 0 &&
	    r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	    r->element[0]->type == REDIS_REPLY_INTEGER &&
	    r->element[0]->integer == 0)
		rc = wait_replicas(in, conn, what, &drop, err);
	rs_conn_put(in, conn, drop);
	*reply = r;
	return rc;
}

static int exec(struct rs_inst *in, int script, const char *what, int writes,
		int argc, const char **argv, const size_t *lens,
		redisReply **reply, struct sb_error *err)
{
	struct rs_sigpipe_guard g;
	int rc;

	rs_sigpipe_block(&g);
	rc = exec_io(in, script, what, writes, argc, argv, lens, reply, err);
	rs_sigpipe_restore(&g);
	return rc;
}

int rs_eval(struct rs_inst *in, enum rs_script s, int nargs, const char **argv,
	    const size_t *argvlen, redisReply **reply, struct sb_error *err)
{
	const char **av = NULL;
	size_t *al = NULL;
	char nk[12];
	int ret;

	av = calloc((size_t)nargs + 3, sizeof(*av));
	al = calloc((size_t)nargs + 3, sizeof(*al));
	if (av == NULL || al == NULL) {
		ret = sb_error_set(err, SB_ENOMEM, "redis: out of memory in %s",
				   rs_scripts[s].name);
		goto done;
	}
	snprintf(nk, sizeof(nk), "%d", rs_scripts[s].numkeys);
	av[0] = "EVALSHA";
	al[0] = 7;
	av[1] = in->sha[s];
	al[1] = 40;
	av[2] = nk;
	al[2] = strlen(nk);
	for (int i = 0; i < nargs; i++) {
		av[i + 3] = argv[i];
		al[i + 3] = argvlen[i];
	}
	ret = exec(in, (int)s, rs_scripts[s].name, rs_scripts[s].writes,
		   nargs + 3, av, al, reply, err);
done:
	free(av);
	free(al);
	return ret;
}

int rs_command(struct rs_inst *in, const char *what, int nargs,
	       const char **argv, const size_t *argvlen, redisReply **reply,
	       struct sb_error *err)
{
	return exec(in, -1, what, 0, nargs, argv, argvlen, reply, err);
}
