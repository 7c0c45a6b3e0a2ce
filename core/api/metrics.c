/*
 * GET /v1/metrics: the Prometheus text exposition format (version 0.0.4)
 * of the counters in runtime/metrics.c and of this node's state, read from
 * memory only (docs/monitoring.md lists every metric).
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "cluster/fence.h"
#include "cluster/member.h"
#include "runtime/clock.h"
#include "runtime/metrics.h"
#include "secret/rotate.h"
#include "secret/secret.h"
#include "store/store.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>

#define PROMETHEUS_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* Writes one unlabelled gauge with its # HELP and # TYPE lines. */
static void gauge(FILE *f, const char *name, const char *help, double v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n", name, help,
		name, name, v);
}

/* Writes the progress of a master secret rotation's re-encryption as this
 * MSS node last saw it (docs/rotation.md): running, the pass, records done
 * of the total, and the rate; 0s when none runs. */
static void reencrypt_gauges(FILE *f, struct sb_daemon *d)
{
	struct sb_rotation rot = {0};
	int running = sb_rotation_progress_get(d->secret, &rot);

	gauge(f, "secretbroker_reencrypt_running",
	      "1 while a rotation's re-encryption is in progress (the "
	      "previous master secret is still kept).",
	      running);
	gauge(f, "secretbroker_reencrypt_pass",
	      "The re-encryption's pass: 1 re-encrypting, 2 and more "
	      "verifying; 0 when none runs.",
	      running ? (double)rot.pass : 0);
	gauge(f, "secretbroker_reencrypt_records",
	      "Records in the SSO database when the rotation began.",
	      running ? (double)rot.total : 0);
	gauge(f, "secretbroker_reencrypt_records_done",
	      "Records passed by the running pass.",
	      running ? (double)rot.done : 0);
	gauge(f, "secretbroker_reencrypt_records_per_second",
	      "Records re-encrypted per second by this node (0: none).",
	      running ? rot.rate : 0);
}

/* Writes the gauges of this node's state: what it is (role, fencing state
 * and epoch, generation, secret), how its last reload went, whether
 * storage answered. */
static void state_gauges(FILE *f, struct sb_req *r)
{
	struct sb_daemon *d = r->d;
	const struct sb_conf *c = r->gen->conf;
	char msid[SB_MSID_MAX + 1];
	int state, member = c->role == SB_ROLE_MEMBER, reach, attempted, ok;
	uint64_t epoch;
	time_t at;

	sb_fence_view(d, &state, &epoch);
	fprintf(f,
		"# HELP secretbroker_build_info The daemon's version.\n"
		"# TYPE secretbroker_build_info gauge\n"
		"secretbroker_build_info{version=\"%s\"} 1\n",
		SB_VERSION);
	gauge(f, "secretbroker_start_time_seconds",
	      "When the daemon started, in seconds since the epoch.",
	      (double)d->started_at);
	fprintf(f,
		"# HELP secretbroker_node_role This node's [cluster] role.\n"
		"# TYPE secretbroker_node_role gauge\n"
		"secretbroker_node_role{role=\"mss\"} %d\n"
		"secretbroker_node_role{role=\"member\"} %d\n",
		!member, member);
	gauge(f, "secretbroker_fencing_active",
	      "1 when this node is the active master secret server.",
	      !member && state == SB_FENCE_ACTIVE);
	gauge(f, "secretbroker_fencing_epoch",
	      "The fencing epoch this node holds while active (0 otherwise).",
	      (double)epoch);
	gauge(f, "secretbroker_secret_present",
	      "1 when this node holds the master secret.",
	      sb_secret_current_msid(d->secret, msid) == 0);
	if (member)
		gauge(f, "secretbroker_member_mss_reachable",
		      "1 when this member node can reach the master secret "
		      "server (and so may encrypt).",
		      sb_member_can_encrypt(d));
	gauge(f, "secretbroker_config_generation",
	      "The running configuration generation (1 at start, +1 per "
	      "applied reload).",
	      (double)r->gen->number);
	pthread_mutex_lock(&d->lock);
	attempted = d->last_reload.attempted;
	ok = d->last_reload.ok;
	at = d->last_reload.at;
	pthread_mutex_unlock(&d->lock);
	gauge(f, "secretbroker_config_last_reload_successful",
	      "0 when the last reload was refused (the old configuration "
	      "runs on); 1 when it was applied or none was tried.",
	      !attempted || ok);
	if (attempted)
		gauge(f, "secretbroker_config_last_reload_timestamp_seconds",
		      "When the last reload was tried, in seconds since the "
		      "epoch.",
		      (double)at);
	reach = store_reachability();
	if (reach != STORE_REACH_UNKNOWN)
		gauge(f, "secretbroker_storage_reachable",
		      "1 when the last call to the SSO database got an "
		      "answer, 0 when it was unavailable or timed out.",
		      reach == STORE_REACH_OK);
	gauge(f, "secretbroker_requests_in_flight",
	      "Requests accepted and not yet answered.",
	      (double)atomic_load(&d->inflight));
	if (!member)
		reencrypt_gauges(f, d);
}

/* 1 when the caller may read metrics (an SSO administrator or a member of
 * [access] metrics); otherwise replies 403 naming the group and returns
 * 0. */
static int may_read_metrics(struct sb_req *r)
{
	const struct sb_conf *c = r->gen->conf;

	if (sb_caller_is_admin(r))
		return 1;
	if (c->metrics_group && sb_caller_in_group(&r->caller, c->metrics_gid))
		return 1;
	if (c->metrics_group)
		sb_reply_error(r, 403, "forbidden",
			       "reading metrics requires membership of the "
			       "[access] metrics group '%s' or an SSO "
			       "administrator (%s is neither)",
			       c->metrics_group, sb_caller_name(r));
	else
		sb_reply_error(r, 403, "forbidden",
			       "reading metrics requires an SSO administrator; "
			       "no [access] metrics group is configured (%s is "
			       "not an administrator)",
			       sb_caller_name(r));
	return 0;
}

/* GET /v1/metrics: [access] metrics or SSO administrators. */
void sb_handle_metrics(struct sb_req *r)
{
	struct evbuffer *out = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	if (!may_read_metrics(r))
		return;
	f = open_memstream(&text, &len);
	if (f == NULL)
		goto fail;
	state_gauges(f, r);
	if (sb_metrics_write(f) != 0) {
		fclose(f);
		goto fail;
	}
	if (fclose(f) != 0)
		goto fail;
	out = evbuffer_new();
	if (out == NULL || evbuffer_add(out, text, len) != 0)
		goto fail;
	sb_reply_typed(r, 200, PROMETHEUS_TEXT, out);
	evbuffer_free(out);
	free(text);
	return;
fail:
	if (out)
		evbuffer_free(out);
	free(text);
	sb_reply_error(r, 500, "internal", "out of memory writing metrics");
}
