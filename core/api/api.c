/*
 * The API's dispatcher and what its handlers share about this node's state:
 * whether it may write (its fencing epoch) and whether it is an MSS node.
 * The handlers live in one file per resource (handlers.h).
 */
#define _GNU_SOURCE
#include "api/handlers.h"

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

int sb_req_write_epoch(struct sb_req *r)
{
	if (r->gen->conf->role == SB_ROLE_MEMBER) {
		r->write_epoch = 0;
		return 1;
	}
	return sb_api_active_epoch(r, &r->write_epoch) == 0;
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

struct route {
	int method;
	const char *path;
	void (*handler)(struct sb_req *r);
};

static const struct route routes[] = {
	{EVHTTP_REQ_GET, "/v1/health", sb_handle_health},
	{EVHTTP_REQ_GET, "/v1/status", sb_handle_status},
	{EVHTTP_REQ_GET, "/v1/secret", sb_handle_secret_status},
	{EVHTTP_REQ_POST, "/v1/secret/generate", sb_handle_secret_generate},
	{EVHTTP_REQ_POST, "/v1/secret/backup", sb_handle_secret_backup},
	{EVHTTP_REQ_POST, "/v1/secret/hint", sb_handle_secret_hint},
	{EVHTTP_REQ_POST, "/v1/secret/restore", sb_handle_secret_restore},
	{EVHTTP_REQ_GET, "/v1/cluster", sb_handle_cluster},
	{EVHTTP_REQ_POST, "/v1/cluster/designate", sb_handle_cluster_designate},
	{EVHTTP_REQ_GET, "/v1/cluster/secret", sb_handle_cluster_secret},
};

void sb_api_dispatch(struct sb_req *r)
{
	int path_known = 0;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (strcmp(routes[i].path, r->path) != 0)
			continue;
		path_known = 1;
		if (routes[i].method == r->method) {
			routes[i].handler(r);
			return;
		}
	}
	if (!path_known) {
		int rc = sb_api_store_dispatch(r);

		if (rc == 1)
			return;
		path_known = rc == -1;
	}
	if (path_known)
		sb_reply_error(r, 405, "method_not_allowed",
			       "method not allowed on %s", r->path);
	else
		sb_reply_error(r, 404, "not_found", "no such resource: %s",
			       r->path);
}
