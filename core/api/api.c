/*
 * The API's dispatcher and what its handlers share about this node's state:
 * whether it may write (its fencing epoch) and whether it is an MSS node.
 * The handlers live in one file per resource (handlers.h).
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "api/routes.h"

#include "cluster/cluster.h"
#include "cluster/fence.h"

#include <string.h>

/* The epoch this node writes secret material with: its fencing epoch when
 * active. Replies 503 not_active and returns -1 on a standby node. */
int sb_api_active_epoch(struct sb_req *r, uint64_t *epoch)
{
	int state, st;
	json_t *mss;

	sb_fence_view(r->d, &state, epoch);
	if (state == SB_FENCE_ACTIVE)
		return 0;
	/* Refuse, naming the active node, rather than forward: the caller
	 * then knows where its administrative command belongs. */
	mss = sb_cluster_active_mss(r->gen, &st);
	if (mss)
		sb_reply_error(
			r, 503, "not_active",
			"this node (%s) is a standby; the active master secret "
			"server is %s (%s, epoch %lld): send this command "
			"there",
			r->gen->conf->node_name,
			json_string_value(json_object_get(mss, "node")),
			json_string_value(json_object_get(mss, "address")),
			(long long)json_integer_value(
				json_object_get(mss, "epoch")));
	else
		sb_reply_error(r, 503, "not_active",
			       "this node (%s) is not the active master secret "
			       "server, and no active one is recorded",
			       r->gen->conf->node_name);
	json_decref(mss);
	return -1;
}

/* See http.h. */
int sb_req_write_epoch(struct sb_req *r)
{
	if (r->gen->conf->role == SB_ROLE_MEMBER) {
		r->write_epoch = 0;
		return 1;
	}
	return sb_api_active_epoch(r, &r->write_epoch) == 0;
}

struct store_fencing sb_req_write_fencing(const struct sb_req *r)
{
	return r->write_epoch ? STORE_FENCED_AT(r->write_epoch)
			      : STORE_UNFENCED;
}

/* Replies 409 and returns 0 on a member node: it holds no secret at rest,
 * so it neither generates nor restores one. */
int sb_api_mss_only(struct sb_req *r)
{
	if (r->gen->conf->role == SB_ROLE_MSS)
		return 1;
	sb_reply_error(r, 409, "member_node",
		       "node %s is a member: it holds no master secret at rest "
		       "and takes it from the master secret server; run this "
		       "on an MSS node",
		       r->gen->conf->node_name);
	return 0;
}

/* Replies 400 bad_request for a malformed name in the path: the messages
 * the API has always given. */
static void reply_bad_segment(struct sb_req *r, const struct sb_route_match *m)
{
	switch (m->bad_check) {
	case SB_CHECK_APP:
		sb_reply_error(r, 400, "bad_request",
			       "\"%s\" is not a valid application name",
			       m->bad_value);
		break;
	case SB_CHECK_IDENTITY:
		sb_reply_error(r, 400, "bad_request",
			       "\"%s\" is not a valid identity", m->bad_value);
		break;
	case SB_CHECK_CONFIG:
	case SB_CHECK_NONE:
		sb_reply_error(r, 400, "bad_request",
			       "config ids and keys are 1..64 "
			       "characters of A-Z a-z 0-9 . _ -");
		break;
	}
}

/* See http.h. */
void sb_api_dispatch(struct sb_req *r)
{
	struct sb_route_match m;
	const struct sb_route *table;
	size_t n;

	table = sb_routes(&n);
	switch (sb_route_find(table, n, r->method, r->path, &r->params, &m)) {
	case SB_ROUTE_FOUND:
		r->route = m.route;
		m.route->handler(r);
		break;
	case SB_ROUTE_NO_METHOD:
		sb_reply_error(r, 405, "method_not_allowed",
			       "method not allowed on %s", r->path);
		break;
	case SB_ROUTE_BAD_SEGMENT: reply_bad_segment(r, &m); break;
	case SB_ROUTE_NOT_FOUND:
		sb_reply_error(r, 404, "not_found", "no such resource: %s",
			       r->path);
		break;
	}
}
