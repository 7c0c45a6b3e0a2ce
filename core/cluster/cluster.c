/* Cluster state: see cluster.h. */
#define _GNU_SOURCE
#include "cluster/cluster.h"

#include "host/daemon.h"
#include "host/host.h"
#include "runtime/log.h"
#include "store/store.h"
#include "cluster/fence.h"
#include "cluster/member.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cluster_thread {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wake, stop, started;
};

static struct cluster_thread ct = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

/* Writes rec at key, fenced at epoch (0: unfenced, the node reports).
 * Returns a status; on failure msg holds the plugin's message. */
static int put_record(struct sb_generation *g, const char *key, json_t *rec,
		      uint64_t epoch, char *msg, size_t msglen)
{
	char *val = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	struct sb_error err = {{0}};
	int rc;

	if (val == NULL) {
		snprintf(msg, msglen, "out of memory");
		return SB_ENOMEM;
	}
	rc = store_put_record(g,
			      epoch ? STORE_FENCED_AT(epoch) : STORE_UNFENCED,
			      key, val, strlen(val), &err);
	if (rc != SB_OK)
		snprintf(msg, msglen, "%s",
			 err.msg[0] ? err.msg : sb_status_name(rc));
	free(val);
	return rc;
}

static const char *advertised(struct sb_generation *g)
{
	return g->conf->cluster_address ? g->conf->cluster_address : "";
}

int sb_cluster_write_mss(struct sb_daemon *d, struct sb_generation *g,
			 uint64_t epoch, char *msg, size_t msglen)
{
	json_t *rec =
		json_pack("{s:s, s:s, s:I, s:I}", "node", g->conf->node_name,
			  "address", advertised(g), "epoch", (json_int_t)epoch,
			  "since_ms", (json_int_t)sb_wall_ms());
	int rc;

	(void)d;
	if (rec == NULL)
		return SB_ENOMEM;
	rc = put_record(g, "cluster/mss", rec, epoch, msg, msglen);
	json_decref(rec);
	return rc;
}

static void report(struct sb_daemon *d, struct sb_generation *g, int state,
		   uint64_t epoch)
{
	char key[300], msg[SB_ERROR_MAX];
	json_t *rec;
	int rc;

	int member = g->conf->role == SB_ROLE_MEMBER;

	snprintf(key, sizeof(key), "cluster/nodes/%s", g->conf->node_name);
	rec = json_pack(
		"{s:s, s:s, s:s, s:I, s:s, s:s, s:I}", "node",
		g->conf->node_name, "role", member ? "member" : "mss", "state",
		member			   ? "member"
		: state == SB_FENCE_ACTIVE ? "active"
					   : "standby",
		"epoch", (json_int_t)epoch, "address", advertised(g), "version",
		SB_VERSION, "last_seen_ms", (json_int_t)sb_wall_ms());
	if (rec == NULL)
		return;
	if (member)
		json_object_set_new(rec, "mss_reachable",
				    json_boolean(sb_member_can_encrypt(d)));
	rc = put_record(g, key, rec, 0, msg, sizeof(msg));
	if (rc != SB_OK)
		sb_debug("cluster: cannot report this node: %s", msg);
	json_decref(rec);
	(void)d;
}

static void *cluster_main(void *arg)
{
	struct sb_daemon *d = arg;
	uint64_t written_epoch = 0, next_report = 0, reported_epoch = 0;
	int reported_state = -1;

	pthread_mutex_lock(&ct.lock);
	while (!ct.stop) {
		struct sb_generation *g;
		struct timespec ts;
		uint64_t epoch, now;
		int state;

		ct.wake = 0;
		pthread_mutex_unlock(&ct.lock);

		g = sb_gen_current(d);
		sb_fence_view(d, &state, &epoch);
		/* A change of role is reported at once, so no node shows as
		 * active for a report interval after it stepped down. */
		if (state != reported_state || epoch != reported_epoch)
			next_report = 0;
		if (g && g->conf->role == SB_ROLE_MSS &&
		    state == SB_FENCE_ACTIVE && epoch != written_epoch) {
			char msg[SB_ERROR_MAX];
			int rc = sb_cluster_write_mss(d, g, epoch, msg,
						      sizeof(msg));

			if (rc == SB_OK) {
				written_epoch = epoch;
				sb_info("cluster: recorded %s as the active "
					"master secret server (epoch %llu)",
					g->conf->node_name,
					(unsigned long long)epoch);
				next_report = 0;
			} else if (rc == SB_EFENCED) {
				written_epoch =
					epoch; /* superseded: never retry */
				sb_warn("cluster: cannot record this node as "
					"master secret server at epoch %llu: a "
					"newer epoch exists (%s)",
					(unsigned long long)epoch, msg);
			} else {
				sb_warn("cluster: cannot record this node as "
					"master secret server yet: %s",
					msg);
			}
		}
		now = sb_mono_ms();
		if (g && now >= next_report) {
			report(d, g, state, epoch);
			reported_state = state;
			reported_epoch = epoch;
			next_report = now + SB_CLUSTER_REPORT_MS;
		}
		sb_gen_unref(g);

		pthread_mutex_lock(&ct.lock);
		if (ct.stop)
			break;
		if (!ct.wake) {
			clock_gettime(CLOCK_REALTIME, &ts);
			/* Retry a failed MSS record soon; otherwise report. */
			ts.tv_nsec += (state == SB_FENCE_ACTIVE &&
						       epoch != written_epoch
					       ? 200
					       : 1000) *
				      1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&ct.cond, &ct.lock, &ts);
		}
	}
	pthread_mutex_unlock(&ct.lock);
	return NULL;
}

int sb_cluster_start(struct sb_daemon *d)
{
	ct.stop = 0;
	if (pthread_create(&ct.thread, NULL, cluster_main, d) != 0)
		return -1;
	ct.started = 1;
	return 0;
}

void sb_cluster_notify(struct sb_daemon *d)
{
	(void)d;
	pthread_mutex_lock(&ct.lock);
	ct.wake = 1;
	pthread_cond_signal(&ct.cond);
	pthread_mutex_unlock(&ct.lock);
}

void sb_cluster_stop(struct sb_daemon *d)
{
	(void)d;
	if (!ct.started)
		return;
	pthread_mutex_lock(&ct.lock);
	ct.stop = 1;
	pthread_cond_signal(&ct.cond);
	pthread_mutex_unlock(&ct.lock);
	pthread_join(ct.thread, NULL);
	ct.started = 0;
}

static json_t *get_json(struct sb_generation *g, const char *key, int *status)
{
	struct sb_error err;
	uint8_t *val = NULL;
	size_t len;
	uint64_t ver;
	json_t *j;

	*status = store_get_record(g, key, &val, &len, &ver, &err);
	if (*status != SB_OK)
		return NULL;
	j = json_loadb((char *)val, len, 0, NULL);
	free(val);
	return j;
}

json_t *sb_cluster_active_mss(struct sb_generation *g, int *status)
{
	return get_json(g, "cluster/mss", status);
}

struct nodes_acc {
	json_t *nodes;
};

static int nodes_cb(void *arg, const char *key, const uint8_t *value,
		    size_t len, uint64_t version)
{
	struct nodes_acc *acc = arg;
	json_t *j = json_loadb((const char *)value, len, 0, NULL);

	(void)key;
	(void)version;
	if (j) {
		json_int_t seen =
			json_integer_value(json_object_get(j, "last_seen_ms"));

		json_object_set_new(
			j, "seen_ago_ms",
			json_integer((json_int_t)sb_wall_ms() - seen));
		json_array_append_new(acc->nodes, j);
	}
	return 0;
}

json_t *sb_cluster_view(struct sb_daemon *d, struct sb_generation *g,
			int *status, char *msg, size_t msglen)
{
	struct sb_fence_status fs = {.lease_left_ms = -1};
	struct sb_lease_info li;
	int member = g->conf->role == SB_ROLE_MEMBER;
	struct sb_error err = {{0}};
	struct nodes_acc acc = {json_array()};

	memset(&li, 0, sizeof(li));
	json_t *mss, *out;
	int st;

	if (g->fencing_owned && g->fops && SB_OPS_HAS(g->fops, status))
		g->fops->status(g->fencing.inst, &fs);
	mss = sb_cluster_active_mss(g, &st);
	if (st != SB_OK && st != SB_ENOTFOUND) {
		*status = st;
		snprintf(msg, msglen, "reading cluster/mss");
		json_decref(acc.nodes);
		return NULL;
	}
	*status = store_read_lease(g, &li, &err);
	if (*status != SB_OK) {
		snprintf(msg, msglen, "reading the lease: %s", err.msg);
		json_decref(mss);
		json_decref(acc.nodes);
		return NULL;
	}
	*status = store_scan(g, "cluster/nodes/", NULL, 1000, nodes_cb, &acc,
			     NULL, &err);
	if (*status != SB_OK) {
		snprintf(msg, msglen, "listing nodes: %s", err.msg);
		json_decref(mss);
		json_decref(acc.nodes);
		return NULL;
	}
	out = json_pack(
		"{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:o, s:{s:s, s:I, s:I, "
		"s:b}, s:o}",
		"node", g->conf->node_name, "role", member ? "member" : "mss",
		"state",
		member			      ? "member"
		: fs.state == SB_FENCE_ACTIVE ? "active"
					      : "standby",
		"epoch", (json_int_t)fs.epoch, "lease_left_ms",
		(json_int_t)fs.lease_left_ms, "fencing",
		g->fencing.plugin.desc ? g->fencing.plugin.desc->name : "",
		"detail", fs.detail, "active_mss", mss ? mss : json_null(),
		"lease", "holder", li.holder, "epoch", (json_int_t)li.epoch,
		"ttl_left_ms", (json_int_t)li.ttl_left_ms, "held", li.held,
		"nodes", acc.nodes);
	(void)d;
	return out;
}
