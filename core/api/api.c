/*
 * API routes of /v1 (see docs/api.md): health, status and the master secret
 * lifecycle. Handlers run on a worker thread; anything slow (scrypt) is
 * deferred to a job thread with sb_req_defer.
 */
#define _GNU_SOURCE
#include "api/http.h"
#include "secret/secret.h"

#include "cluster/cluster.h"
#include "cluster/fence.h"
#include "host/host.h"
#include "cluster/member.h"
#include "runtime/log.h"
#include "runtime/secure_mem.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_HINT 1024
#define MAX_BLOB (64 * 1024)

static json_t *strlist_json(const struct sb_errlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(a, json_string(l->msgs[i]));
	return a;
}

/* The epoch this node writes secret material with: its fencing epoch when
 * active. Replies 503 not_active and returns -1 on a standby node. */
static int active_epoch(struct sb_req *r, uint64_t *epoch)
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
	return active_epoch(r, &r->write_epoch) == 0;
}

/* Replies 409 and returns 0 on a member node: it holds no secret at rest,
 * so it neither generates nor restores one. */
static int mss_only(struct sb_req *r)
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

/* GET /v1/health: no authentication, never touches storage. */
static void handle_health(struct sb_req *r)
{
	char msid[SB_MSID_MAX + 1];
	int state, has_secret, member;
	uint64_t epoch;
	json_t *j;

	struct sb_fence_status fs = {0};

	sb_fence_view(r->d, &state, &epoch);
	fs.lease_left_ms = -1;
	/* In memory only: a fencing plugin's status never touches storage. */
	if (r->gen->fencing_owned && r->gen->fops && r->gen->fops->status)
		r->gen->fops->status(r->gen->fencing.inst, &fs);
	has_secret = sb_secret_current_msid(r->d->secret, msid) == 0;
	member = r->gen->conf->role == SB_ROLE_MEMBER;
	j = json_pack("{s:s, s:s, s:s, s:b, s:I, s:I}", "status",
		      !has_secret		 ? "no_secret"
		      : member			 ? "member"
		      : state == SB_FENCE_ACTIVE ? "active"
						 : "standby",
		      "node", r->gen->conf->node_name, "role",
		      member ? "member" : "mss", "secret", has_secret, "epoch",
		      (json_int_t)epoch, "lease_left_ms",
		      (json_int_t)fs.lease_left_ms);
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
static void handle_status(struct sb_req *r)
{
	struct sb_daemon *d = r->d;
	struct sb_generation *g = r->gen;
	struct sb_fence_status fs = {0};
	char when[32], msid[SB_MSID_MAX + 1];
	json_t *j, *plugins, *reload;
	int has_secret;

	if (g->fencing_owned && g->fops && g->fops->status)
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
	has_secret = sb_secret_current_msid(d->secret, msid) == 0;

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
		"s:{s:s, s:I, s:s}, s:o, s:{s:b, s:o}}",
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
		"secret", "present", has_secret, "msid",
		has_secret ? json_string(msid) : json_null());
	sb_reply_json(r, 200, j);
}

/* GET /v1/secret */
static void handle_secret_status(struct sb_req *r)
{
	struct sb_api_error e;
	json_t *j;

	sb_req_audit(r, "secret.status", 3, NULL, NULL);
	if (!sb_require_admin(r))
		return;
	j = sb_secret_status_json(r->d, r->gen, &e);
	if (j == NULL)
		sb_reply_api_error(r, &e);
	else
		sb_reply_json(r, 200, j);
}

/* POST /v1/secret/generate */
static void handle_secret_generate(struct sb_req *r)
{
	char msid[SB_MSID_MAX + 1], when[32];
	struct sb_api_error e;
	uint64_t epoch, created;

	sb_req_audit(r, "secret.generate", 1, NULL, NULL);
	if (!sb_require_admin(r) || !mss_only(r) ||
	    active_epoch(r, &epoch) != 0)
		return;
	if (sb_secret_generate(r->d, r->gen, epoch, msid, &created, &e) != 0) {
		sb_reply_api_error(r, &e);
		return;
	}
	snprintf(r->audit.target, sizeof(r->audit.target), "%s", msid);
	sb_info("request %s: uid %u generated master secret %s", r->id,
		(unsigned)r->caller.uid, msid);
	sb_iso_time(created, when, sizeof(when));
	sb_reply_json(
		r, 201,
		json_pack("{s:s, s:s}", "msid", msid, "created_at", when));
}

/* A backup or restore job: inputs copied out of the request (the password
 * into secure memory), outputs filled on the job thread. */
struct secret_job {
	struct sb_daemon *d;
	struct sb_generation *gen; /* ref held by the request */
	uint64_t epoch;
	char *password; /* secure memory of password_cap bytes */
	size_t password_cap;
	char *hint;
	uint8_t *blob;
	size_t blob_len;
	int ok;
	struct sb_api_error e;
	char msid[SB_MSID_MAX + 1];
	char previous_msid[SB_MSID_MAX + 1];
	uid_t uid;
};

static void secret_job_free(struct secret_job *j)
{
	SB_SECURE_PURGE(&j->password, j->password_cap);
	free(j->hint);
	free(j->blob);
	free(j);
}

static struct secret_job *secret_job_new(struct sb_req *r, const char *password)
{
	struct secret_job *j = calloc(1, sizeof(*j));
	size_t len = strlen(password);

	if (j == NULL)
		return NULL;
	j->d = r->d;
	j->gen = r->gen;
	j->uid = r->caller.uid;
	j->password_cap = len + 1;
	j->password = sb_secure_alloc(j->password_cap);
	if (j->password == NULL) {
		free(j);
		return NULL;
	}
	memcpy(j->password, password, len);
	return j;
}

static void backup_run(void *arg)
{
	struct secret_job *j = arg;

	j->ok = sb_secret_backup(j->d, j->gen, j->epoch, j->password, j->hint,
				 &j->blob, &j->blob_len, j->msid, &j->e) == 0;
}

static void backup_done(struct sb_req *r, void *arg)
{
	struct secret_job *j = arg;
	char *b64 = NULL;

	if (!j->ok) {
		sb_reply_api_error(r, &j->e);
		goto done;
	}
	b64 = malloc(4 * ((j->blob_len + 2) / 3) + 1);
	if (b64 == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	EVP_EncodeBlock((unsigned char *)b64, j->blob, (int)j->blob_len);
	snprintf(r->audit.target, sizeof(r->audit.target), "%s", j->msid);
	sb_info("request %s: uid %u made a backup of master secret %s", r->id,
		(unsigned)j->uid, j->msid);
	sb_reply_json(r, 200,
		      json_pack("{s:s, s:s}", "msid", j->msid, "blob", b64));
done:
	free(b64);
	secret_job_free(j);
}

/* POST /v1/secret/backup {"password", "hint"} */
static void handle_secret_backup(struct sb_req *r)
{
	const char *password, *hint;
	struct secret_job *j;
	json_t *hv;
	uint64_t epoch = 0;
	int state;

	sb_req_audit(r, "secret.backup", 1, NULL, NULL);
	if (!sb_require_admin(r))
		return;
	if ((password = sb_body_string(r, "password", 1)) == NULL)
		return;
	hv = json_object_get(r->body, "hint");
	if (hv && !json_is_null(hv) && !json_is_string(hv)) {
		sb_reply_error(r, 400, "bad_request",
			       "field \"hint\" must be a string");
		return;
	}
	hint = json_is_string(hv) ? json_string_value(hv) : NULL;
	if (strlen(password) < SB_MIN_PASSWORD_LEN) {
		sb_reply_error(
			r, 400, "weak_password",
			"the backup password must have at least %d characters",
			SB_MIN_PASSWORD_LEN);
		return;
	}
	if (hint && strlen(hint) > MAX_HINT) {
		sb_reply_error(r, 400, "bad_request",
			       "the hint is longer than %d bytes", MAX_HINT);
		return;
	}
	/* A standby may still back up its copy; only the record is fenced. */
	sb_fence_view(r->d, &state, &epoch);
	j = secret_job_new(r, password);
	if (j == NULL || (hint && (j->hint = strdup(hint)) == NULL)) {
		if (j)
			secret_job_free(j);
		sb_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	j->epoch = state == SB_FENCE_ACTIVE ? epoch : 0;
	if (sb_req_defer(r, backup_run, backup_done, j) != 0)
		secret_job_free(j);
}

/* Decodes the "blob" field into j->blob; replies 400 and returns -1 when it
 * is missing, too big or not base64. */
static int body_blob(struct sb_req *r, uint8_t **blob, size_t *len)
{
	const char *b64 = sb_body_string(r, "blob", 1);
	size_t b64_len, cap;
	uint8_t *out;
	int n;

	if (b64 == NULL)
		return -1;
	b64_len = strlen(b64);
	if (b64_len == 0 || b64_len % 4 != 0 ||
	    b64_len > MAX_BLOB * 4 / 3 + 4) {
		sb_reply_error(r, 400, "bad_request",
			       "field \"blob\" must be non-empty base64 of a "
			       "backup file (at most %d bytes)",
			       MAX_BLOB);
		return -1;
	}
	cap = b64_len / 4 * 3 + 1;
	out = malloc(cap);
	if (out == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		return -1;
	}
	n = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)b64_len);
	if (n < 0) {
		free(out);
		sb_reply_error(r, 400, "bad_request",
			       "field \"blob\" is not valid base64");
		return -1;
	}
	/* EVP_DecodeBlock counts the padding bytes as data. */
	if (b64_len >= 1 && b64[b64_len - 1] == '=')
		n--;
	if (b64_len >= 2 && b64[b64_len - 2] == '=')
		n--;
	*blob = out;
	*len = (size_t)n;
	return 0;
}

/* POST /v1/secret/hint {"blob"}: any local caller, no password. */
static void handle_secret_hint(struct sb_req *r)
{
	struct sb_error err = {{0}};
	struct sb_api_error e;
	uint8_t *blob = NULL;
	size_t len = 0;
	char *hint = NULL;
	unsigned version = 0;
	int rc;

	if (body_blob(r, &blob, &len) != 0)
		return;
	rc = sb_backup_read_hint(blob, len, &hint, &version, &err);
	free(blob);
	if (rc != SB_BACKUP_OK) {
		sb_secret_backup_error(&e, rc, &err);
		sb_reply_api_error(r, &e);
		return;
	}
	sb_reply_json(r, 200,
		      json_pack("{s:s, s:i}", "hint", hint ? hint : "",
				"format_version", (int)version));
	free(hint);
}

static void restore_run(void *arg)
{
	struct secret_job *j = arg;

	j->ok = sb_secret_restore(j->d, j->gen, j->epoch, j->blob, j->blob_len,
				  j->password, j->msid, j->previous_msid,
				  &j->e) == 0;
}

static void restore_done(struct sb_req *r, void *arg)
{
	struct secret_job *j = arg;

	if (!j->ok) {
		sb_info("request %s: uid %u: restore refused: %s (%s)", r->id,
			(unsigned)j->uid, j->e.msg, j->e.code);
		sb_reply_api_error(r, &j->e);
	} else {
		snprintf(r->audit.target, sizeof(r->audit.target), "%s",
			 j->msid);
		sb_info("request %s: uid %u restored master secret %s", r->id,
			(unsigned)j->uid, j->msid);
		sb_reply_json(r, 200,
			      json_pack("{s:s, s:o}", "msid", j->msid,
					"previous_msid",
					j->previous_msid[0]
						? json_string(j->previous_msid)
						: json_null()));
	}
	secret_job_free(j);
}

/* POST /v1/secret/restore {"blob", "password"} */
static void handle_secret_restore(struct sb_req *r)
{
	const char *password;
	struct secret_job *j;
	uint64_t epoch = 0;
	int state;

	sb_req_audit(r, "secret.restore", 1, NULL, NULL);
	if (!sb_require_admin(r) || !mss_only(r))
		return;
	if ((password = sb_body_string(r, "password", 1)) == NULL)
		return;
	sb_fence_view(r->d, &state, &epoch);
	j = secret_job_new(r, password);
	if (j == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		return;
	}
	j->epoch = state == SB_FENCE_ACTIVE ? epoch : 0;
	if (body_blob(r, &j->blob, &j->blob_len) != 0) {
		secret_job_free(j);
		return;
	}
	if (sb_req_defer(r, restore_run, restore_done, j) != 0)
		secret_job_free(j);
}

/* GET /v1/cluster: this node, the active MSS recorded in the database,
 * the lease, and every node that has reported in. */
static void handle_cluster(struct sb_req *r)
{
	char msg[SB_ERROR_MAX - 8];
	struct sb_api_error e;
	struct sb_error err;
	json_t *j;
	int st;

	j = sb_cluster_view(r->d, r->gen, &st, msg, sizeof(msg));
	if (j == NULL) {
		snprintf(err.msg, sizeof(err.msg), "%s", msg);
		sb_api_fail_storage(&e, st, &err, "reading the cluster state");
		sb_reply_api_error(r, &e);
		return;
	}
	sb_reply_json(r, 200, j);
}

/* POST /v1/cluster/designate {"node"}: ENTSSO's "designate a new master
 * secret server", run on the node to designate. Promotes it through the
 * fencing plugin when the plugin takes orders (promote); a node that is
 * already active just records itself as the MSS again. */
static void handle_cluster_designate(struct sb_req *r)
{
	struct sb_generation *g = r->gen;
	const char *node;
	char msg[SB_ERROR_MAX];
	struct sb_error err = {{0}};
	uint64_t epoch;
	int state, rc;

	sb_req_audit(r, "cluster.designate", 1, NULL, NULL);
	if (!sb_require_admin(r) || !mss_only(r))
		return;
	if ((node = sb_body_string(r, "node", 1)) == NULL)
		return;
	snprintf(r->audit.target, sizeof(r->audit.target), "%s", node);
	if (strcmp(node, g->conf->node_name) != 0) {
		sb_reply_error(r, 400, "wrong_node",
			       "this is node %s: run the designation on node "
			       "%s itself",
			       g->conf->node_name, node);
		return;
	}
	sb_fence_view(r->d, &state, &epoch);
	if (state != SB_FENCE_ACTIVE) {
		if (!g->fencing_owned || g->fops->promote == NULL) {
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
		sb_api_fail_storage(&e, rc, &err,
				    "recording the master secret server");
		sb_reply_api_error(r, &e);
		return;
	}
	sb_info("request %s: uid %u designated %s as the master secret server "
		"(epoch %llu)",
		r->id, (unsigned)r->caller.uid, node,
		(unsigned long long)epoch);
	sb_reply_json(r, 200,
		      json_pack("{s:s, s:I}", "active", node, "epoch",
				(json_int_t)epoch));
}

/* GET /v1/cluster/secret: the current and previous master secret, for a
 * member node, over mutual TLS only, to certificate identities named in
 * [access] cluster_members, from the active MSS only. */
static void handle_cluster_secret(struct sb_req *r)
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
	if (active_epoch(r, &epoch) != 0)
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

struct route {
	int method;
	const char *path;
	void (*handler)(struct sb_req *r);
};

static const struct route routes[] = {
	{EVHTTP_REQ_GET, "/v1/health", handle_health},
	{EVHTTP_REQ_GET, "/v1/status", handle_status},
	{EVHTTP_REQ_GET, "/v1/secret", handle_secret_status},
	{EVHTTP_REQ_POST, "/v1/secret/generate", handle_secret_generate},
	{EVHTTP_REQ_POST, "/v1/secret/backup", handle_secret_backup},
	{EVHTTP_REQ_POST, "/v1/secret/hint", handle_secret_hint},
	{EVHTTP_REQ_POST, "/v1/secret/restore", handle_secret_restore},
	{EVHTTP_REQ_GET, "/v1/cluster", handle_cluster},
	{EVHTTP_REQ_POST, "/v1/cluster/designate", handle_cluster_designate},
	{EVHTTP_REQ_GET, "/v1/cluster/secret", handle_cluster_secret},
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
