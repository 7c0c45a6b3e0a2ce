/*
 * Finding the primary through Redis Sentinel, as the Sentinel client
 * guidelines describe: ask each sentinel in turn for
 * SENTINEL get-master-addr-by-name, start with the one that answered last
 * time, and let the caller verify the answer with ROLE on the primary
 * itself (a sentinel may be partitioned away and name an old primary).
 */
#define _GNU_SOURCE
#include "redis_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Asks one sentinel. Returns SB_OK with *out filled, or a status with a
 * short reason in why. */
static int ask_sentinel(struct rs_inst *in, const struct rs_endpoint *s,
			struct rs_endpoint *out, char *why, size_t whylen)
{
	const struct rs_settings *set = &in->set;
	struct timeval ctv = {set->connect_timeout_ms / 1000,
			      (set->connect_timeout_ms % 1000) * 1000};
	struct timeval otv = {set->op_timeout_ms / 1000,
			      (set->op_timeout_ms % 1000) * 1000};
	redisContext *c = NULL;
	redisReply *r = NULL;
	char *end;
	long port;
	int ret = SB_EUNAVAIL;

	c = redisConnectWithTimeout(s->host, s->port, ctv);
	if (c == NULL) {
		snprintf(why, whylen, "out of memory");
		ret = SB_ENOMEM;
		goto done;
	}
	if (c->err) {
		snprintf(why, whylen, "%s", c->errstr);
		goto done;
	}
	redisSetTimeout(c, otv);
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
			 set->master_name);
	if (r == NULL) {
		snprintf(why, whylen, "%s", c->errstr);
		goto done;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "%s", r->str);
		goto done;
	}
	if (r->type == REDIS_REPLY_NIL) {
		snprintf(why, whylen, "does not monitor a master named \"%s\"",
			 set->master_name);
		goto done;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len >= sizeof(out->host)) {
		snprintf(why, whylen, "unexpected reply");
		goto done;
	}
	port = strtol(r->element[1]->str, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535) {
		snprintf(why, whylen, "bad port \"%s\"", r->element[1]->str);
		goto done;
	}
	memcpy(out->host, r->element[0]->str, r->element[0]->len);
	out->host[r->element[0]->len] = '\0';
	out->port = (int)port;
	ret = SB_OK;
done:
	if (r != NULL)
		freeReplyObject(r);
	if (c != NULL)
		redisFree(c);
	return ret;
}

int rs_sentinel_discover(struct rs_inst *in, struct rs_endpoint *out,
			 struct sb_error *err)
{
	const struct rs_settings *set = &in->set;
	size_t first, n = set->n_sentinels;
	size_t used = 0;
	char why[256];
	int rc;

	pthread_mutex_lock(&in->mu);
	first = in->sentinel_next;
	pthread_mutex_unlock(&in->mu);

	used = (size_t)snprintf(
		err->msg, sizeof(err->msg),
		"no sentinel named the primary of \"%s\":", set->master_name);
	for (size_t i = 0; i < n; i++) {
		size_t k = (first + i) % n;
		const struct rs_endpoint *s = &set->sentinels[k];

		rc = ask_sentinel(in, s, out, why, sizeof(why));
		if (rc == SB_OK) {
			pthread_mutex_lock(&in->mu);
			in->sentinel_next = k;
			pthread_mutex_unlock(&in->mu);
			return SB_OK;
		}
		if (rc == SB_ENOMEM)
			return sb_error_set(
				err, SB_ENOMEM,
				"redis: out of memory asking a sentinel");
		if (used < sizeof(err->msg))
			used += (size_t)snprintf(
				err->msg + used, sizeof(err->msg) - used,
				" sentinel %s:%d: %s;", s->host, s->port, why);
	}
	return SB_EUNAVAIL;
}
