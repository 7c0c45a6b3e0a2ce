/*
 * The cluster under /v1/cluster (see docs/api.md): its view, designating
 * the master secret server, and handing the master secret to member nodes.
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "secret/secret.h"
#include "secret/secret_codec.h"
#include "cluster/cluster.h"
#include "cluster/fence.h"
#include "host/host.h"
#include "runtime/log.h"
#include "runtime/secure_mem.h"

#include <openssl/evp.h>

#include <stdlib.h>
#include <string.h>

/* GET /v1/cluster: this node, the active MSS recorded in the database,
 * the lease, and every node that has reported in. */
void sb_handle_cluster(struct sb_req *r)
{
	char msg[SB_ERROR_MAX - 8];
	struct sb_api_error e;
	struct sb_error err;
	json_t *j;
	int st;

	j = sb_cluster_view(r->d, r->gen, &st, msg, sizeof(msg));
	if (j == NULL) {
		snprintf(err.msg, sizeof(err.msg), "%s", msg);
		store_error_to_api(&e, st, &err, "reading the cluster state");
		sb_reply_api_error(r, &e);
		return;
	}
	sb_reply_json(r, 200, j);
}

/* Makes this node the active MSS for r (designate, promote): through the
 * fencing plugin's promote when standby and the plugin takes orders, then
 * the cluster/mss record written at the node's epoch. how ("designated",
 * "promoted") goes into the log. Replies to r in every case. */
static void promote_self(struct sb_req *r, const char *how)
{
	struct sb_generation *g = r->gen;
	const char *node = g->conf->node_name;
	char msg[SB_ERROR_MAX];
	struct sb_error err = {{0}};
	uint64_t epoch;
	int state, rc;

	sb_fence_view(r->d, &state, &epoch);
	if (state != SB_FENCE_ACTIVE) {
		if (!g->fencing_owned || !SB_OPS_HAS(g->fops, promote)) {
			sb_reply_error(
				r, 409, "automatic_failover",
				"fencing plugin %s elects the master secret "
				"server by itself; manual designation is for "
				"clusters without automatic failover",
				g->fencing.plugin.desc->name);
			return;
		}
		rc = g->fops->promote(g->fencing.inst, &err);
		if (rc != SB_OK) {
			sb_reply_error(r, 409, "promote_failed",
				       "cannot promote %s: %s", node, err.msg);
			return;
		}
		sb_fence_view(r->d, &state, &epoch);
	}
	if (state != SB_FENCE_ACTIVE) {
		sb_reply_error(r, 409, "promote_failed",
			       "node %s did not become active", node);
		return;
	}
	rc = sb_cluster_write_mss(r->d, g, epoch, msg, sizeof(msg));
	if (rc != SB_OK) {
		struct sb_api_error e;

		snprintf(err.msg, sizeof(err.msg), "%s", msg);
		store_error_to_api(&e, rc, &err,
				   "recording the master secret server");
		sb_reply_api_error(r, &e);
		return;
	}
	sb_info("request %s: uid %u %s %s as the master secret server "
		"(epoch %llu)",
		r->id, (unsigned)r->caller.uid, how, node,
		(unsigned long long)epoch);
	sb_reply_json(r, 200,
		      json_pack("{s:s, s:I}", "active", node, "epoch",
				(json_int_t)epoch));
}

/* POST /v1/cluster/designate {"node"}: ENTSSO's "designate a new master
 * secret server", run on the node to designate. Promotes it through the
 * fencing plugin when the plugin takes orders (promote); a node that is
 * already active just records itself as the MSS again. */
void sb_handle_cluster_designate(struct sb_req *r)
{
	const char *node;

	sb_req_audit(r, "cluster.designate", 1, NULL, NULL);
	if (!sb_require_admin(r) || !sb_api_mss_only(r))
		return;
	if ((node = sb_body_string(r, "node", 1)) == NULL)
		return;
	snprintf(r->audit.target, sizeof(r->audit.target), "%s", node);
	if (strcmp(node, r->gen->conf->node_name) != 0) {
		sb_reply_error(r, 400, "wrong_node",
			       "this is node %s: run the designation on node "
			       "%s itself",
			       r->gen->conf->node_name, node);
		return;
	}
	promote_self(r, "designated");
}

/* POST /v1/cluster/promote: what a cluster manager's resource agent sends
 * to the node it promotes (no body): designate, for this node. */
void sb_handle_cluster_promote(struct sb_req *r)
{
	sb_req_audit(r, "cluster.promote", 1, NULL, NULL);
	snprintf(r->audit.target, sizeof(r->audit.target), "%s",
		 r->gen->conf->node_name);
	if (!sb_require_admin(r) || !sb_api_mss_only(r))
		return;
	promote_self(r, "promoted");
}

/* POST /v1/cluster/demote: this node becomes standby through the fencing
 * plugin's demote (standby at once, then its lease released). A standby
 * node answers the same (idempotent). */
void sb_handle_cluster_demote(struct sb_req *r)
{
	struct sb_generation *g = r->gen;
	struct sb_error err = {{0}};
	uint64_t epoch;
	int state, rc;

	sb_req_audit(r, "cluster.demote", 1, NULL, NULL);
	snprintf(r->audit.target, sizeof(r->audit.target), "%s",
		 g->conf->node_name);
	if (!sb_require_admin(r) || !sb_api_mss_only(r))
		return;
	if (!g->fencing_owned || !SB_OPS_HAS(g->fops, demote)) {
		sb_reply_error(r, 409, "automatic_failover",
			       "fencing plugin %s elects the master secret "
			       "server by itself and takes no demote",
			       g->fencing.plugin.desc->name);
		return;
	}
	rc = g->fops->demote(g->fencing.inst, &err);
	sb_fence_view(r->d, &state, &epoch);
	if (state == SB_FENCE_ACTIVE) {
		sb_reply_error(r, 409, "demote_failed",
			       "node %s is still active: %s",
			       g->conf->node_name,
			       rc != SB_OK ? err.msg : "the plugin kept it");
		return;
	}
	/* Standby whatever the release said: no write of this node is sent
	 * any more, and a lease left behind is taken over unconditionally. */
	if (rc != SB_OK)
		sb_warn("request %s: demoted %s, but releasing the lease "
			"failed: %s",
			r->id, g->conf->node_name, err.msg);
	sb_info("request %s: uid %u demoted %s to standby", r->id,
		(unsigned)r->caller.uid, g->conf->node_name);
	sb_reply_json(r, 200,
		      json_pack("{s:s, s:s}", "node", g->conf->node_name,
				"state", "standby"));
}

/* GET /v1/cluster/secret: the current and previous master secret, for a
 * member node, over mutual TLS only, to certificate identities named in
 * [access] cluster_members, from the active MSS only. */
void sb_handle_cluster_secret(struct sb_req *r)
{
	struct sb_backup_secret *copy;
	struct sb_error err = {{0}};
	json_t *arr, *out;
	uint64_t epoch;
	size_t n;

	sb_req_audit(r, "secret.fetch", 1, NULL, r->caller.name);
	if (!r->tls ||
	    !sb_conf_list_has(r->gen->conf->cluster_members, r->caller.name)) {
		sb_reply_error(
			r, 403, "forbidden",
			"the master secret is handed only to member nodes over "
			"mutual TLS whose certificate identity is listed in "
			"[access] cluster_members (caller: %s)",
			r->tls ? r->caller.name : "local socket");
		return;
	}
	if (r->gen->conf->role != SB_ROLE_MSS) {
		sb_reply_error(
			r, 503, "not_active",
			"this node is a member, not a master secret server");
		return;
	}
	if (sb_api_active_epoch(r, &epoch) != 0)
		return; /* replied: r is gone */
	copy = sb_secure_alloc(2 * sizeof(*copy));
	if (copy == NULL) {
		sb_reply_error(r, 500, "internal", "cannot lock memory");
		return;
	}
	n = sb_secret_copy(r->d->secret, copy);
	if (n == 0) {
		sb_secure_free(copy, 2 * sizeof(*copy));
		sb_reply_error(
			r, 503, "no_secret",
			"the master secret server holds no master secret");
		return;
	}
	arr = sb_secret_list_to_json(copy, n, &err);
	sb_secure_free(copy, 2 * sizeof(*copy));
	if (arr == NULL) {
		sb_reply_error(r, 500, "internal", "%s", err.msg);
		return;
	}
	out = json_pack("{s:o, s:I}", "secrets", arr, "epoch",
			(json_int_t)epoch);
	sb_reply_json(r, 200, out);
}
