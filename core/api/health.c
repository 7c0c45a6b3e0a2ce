/*
 * GET /v1/health and GET /v1/status (see docs/api.md): what this node is
 * and how it is doing, from memory only.
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "secret/secret.h"
#include "secret/rotate.h"
#include "store/store.h"
#include "cluster/fence.h"
#include "cluster/member.h"
#include "host/host.h"
#include "runtime/clock.h"

#include <stdlib.h>
#include <string.h>

/* The messages of l as a new JSON array of strings. */
static json_t *strlist_json(const struct sb_errlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->msgs[i]));
	return a;
}

/* "ok", "unreachable" or "unknown": how the last storage call went
 * (store_reachability). */
static const char *storage_word(void)
{
	switch (store_reachability()) {
	case STORE_REACH_OK: return "ok";
	case STORE_REACH_UNREACHABLE: return "unreachable";
	default: return "unknown";
	}
}

/* GET /v1/health: no authentication, never touches storage ("storage"
 * says how the last call that did went). */
void sb_handle_health(struct sb_req *r)
{
	char msid[SB_MSID_MAX + 1];
	int state, has_secret, member;
	uint64_t epoch;
	json_t *j;

	struct sb_fence_status fs = {0};

	sb_fence_view(r->d, &state, &epoch);
	fs.lease_left_ms = -1;
	/* In memory only: a fencing plugin's status never touches storage. */
	if (r->gen->fencing_owned && r->gen->fops &&
	    SB_OPS_HAS(r->gen->fops, status))
		r->gen->fops->status(r->gen->fencing.inst, &fs);
	has_secret = sb_secret_current_msid(r->d->secret, msid) == 0;
	member = r->gen->conf->role == SB_ROLE_MEMBER;
	j = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I, s:s}", "status",
		      !has_secret		 ? "no_secret"
		      : member			 ? "member"
		      : state == SB_FENCE_ACTIVE ? "active"
						 : "standby",
		      "node", r->gen->conf->node_name, "role",
		      member ? "member" : "mss", "secret", has_secret, "epoch",
		      (json_int_t)epoch, "lease_left_ms",
		      (json_int_t)fs.lease_left_ms, "storage", storage_word());
	/* Why this node is in its role ("superseded at epoch 7 by sso2"),
	 * for an operator or a cluster manager's log; "" when the fencing
	 * plugin says nothing. */
	json_object_set_new(j, "fencing", json_string(fs.detail));
	if (member)
		json_object_set_new(j, "mss_reachable",
				    json_boolean(sb_member_can_encrypt(r->d)));
	/* Codes in the manner of Vault's sys/health: 200 active MSS, 429
	 * standby MSS, 473 member, 503 no secret. */
	sb_reply_json(r,
		      !has_secret		 ? 503
		      : member			 ? 473
		      : state == SB_FENCE_ACTIVE ? 200
						 : 429,
		      j);
}

/* {"kind", "name", "version", "path"} of loaded plugin pi (null when none
 * is loaded), as a new JSON value. */
static json_t *plugin_json(const char *kind,
			   const struct sb_plugin_instance *pi)
{
	if (pi->plugin.desc == NULL)
		return json_null();
	return json_pack("{s:s, s:s, s:s, s:s}", "kind", kind, "name",
			 pi->plugin.desc->name, "version",
			 pi->plugin.desc->version, "path", pi->plugin.path);
}

/* GET /v1/status: any local caller. */
void sb_handle_status(struct sb_req *r)
{
	struct sb_daemon *d = r->d;
	struct sb_generation *g = r->gen;
	struct sb_fence_status fs = {0};
	char when[32], msid[SB_MSID_MAX + 1], prev[SB_MSID_MAX + 1];
	json_t *j, *plugins, *reload, *secret;
	struct sb_rotation rot;
	uint64_t created = 0, now = sb_wall_ms();
	int has_secret;

	if (g->fencing_owned && g->fops && SB_OPS_HAS(g->fops, status))
		g->fops->status(g->fencing.inst, &fs);
	else {
		uint64_t e;
		sb_fence_view(d, &fs.state, &e);
		fs.epoch = e;
		fs.lease_left_ms = -1;
	}
	plugins = json_array();
	json_array_append_new(plugins, plugin_json("storage", &g->storage));
	json_array_append_new(plugins, plugin_json("crypto", &g->crypto));
	json_array_append_new(plugins, plugin_json("fencing", &g->fencing));
	sb_iso_time((uint64_t)g->loaded_at * 1000, when, sizeof(when));
	has_secret =
		sb_secret_current_info(d->secret, msid, prev, &created) == 0;
	secret = json_pack("{s:b, s:o, s:o}", "present", has_secret, "msid",
			   has_secret ? json_string(msid) : json_null(),
			   "previous_msid",
			   prev[0] ? json_string(prev) : json_null());
	if (has_secret)
		sb_rotation_status_add(
			secret,
			sb_rotation_progress_get(d->secret, &rot) ? &rot : NULL,
			now > created ? now - created : 0,
			g->conf->max_age_days);

	pthread_mutex_lock(&d->lock);
	if (d->last_reload.attempted) {
		char at[32];

		sb_iso_time((uint64_t)d->last_reload.at * 1000, at, sizeof(at));
		reload = json_pack(
			"{s:s, s:s, s:o, s:o}", "at", at, "result",
			d->last_reload.ok ? "ok" : "failed", "errors",
			strlist_json(&d->last_reload.errors),
			"restart_required",
			strlist_json(&d->last_reload.restart_required));
	} else {
		reload = json_null();
	}
	pthread_mutex_unlock(&d->lock);

	j = json_pack(
		"{s:s, s:s, s:I, s:s, s:{s:s, s:s, s:I, s:I, s:s}, s:o, "
		"s:{s:s, s:I, s:s}, s:o, s:o}",
		"version", SB_VERSION, "node", g->conf->node_name, "uptime_s",
		(json_int_t)((sb_mono_ms() - d->started_mono_ms) / 1000),
		"role", g->conf->role == SB_ROLE_MEMBER ? "member" : "mss",
		"fencing", "plugin",
		g->fencing.plugin.desc ? g->fencing.plugin.desc->name : "",
		"state", fs.state == SB_FENCE_ACTIVE ? "active" : "standby",
		"epoch", (json_int_t)fs.epoch, "lease_left_ms",
		(json_int_t)fs.lease_left_ms, "detail", fs.detail, "plugins",
		plugins, "config", "file", g->conf->file, "generation",
		(json_int_t)g->number, "loaded_at", when, "last_reload", reload,
		"secret", secret);
	sb_reply_json(r, 200, j);
}
