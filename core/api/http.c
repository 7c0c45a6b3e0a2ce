/* HTTP API server: see http.h. */
#define _GNU_SOURCE
#include "api/http.h"
#include "api/conn_limits.h"
#include "api/reply_format.h"
#include "api/request_checks.h"
#include "api/routes.h"
#include "api/unix_socket.h"
#include "secret/secret.h"

#include "runtime/audit.h"
#include "runtime/cache.h"
#include "host/host.h"
#include "runtime/jobs.h"
#include "runtime/log.h"
#include "runtime/clock.h"
#include "runtime/metrics.h"
#include "runtime/secure_mem.h"
#include "runtime/tls.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

struct sb_worker {
	struct sb_http *h;
	int index;
	pthread_t thread;
	int thread_started;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct event *stop_accept_ev;
	/* This thread's view of the current generation, refreshed when
	 * d->gen_seq moves, so requests take no shared lock to find it. */
	struct sb_generation *gen;
	uint64_t gen_seq;
	uint64_t next_req;
	struct sb_date_cache date; /* the Date header of this second */
	struct sb_local local;
	/* The mutual TLS listener of this thread, when [listen] tls_address. */
	struct evhttp *https;
	struct evhttp_bound_socket *tls_bound;
	/* Deadlines, per-peer counts and accept back-off (conn_limits.h). */
	struct sb_conn_worker *conn;
};

#define NAME_TTL_MS 30000

struct sb_http {
	struct sb_daemon *d;
	int listen_fd;
	int tls_fd;
	pthread_mutex_t tls_lock; /* guards tls */
	struct sb_tls *tls;
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int n_workers;
	struct sb_worker *workers;
	struct sb_conn_limits *limits;
};

/* ------------------------------------------------------------------ */

static struct sb_generation *worker_gen(struct sb_worker *w)
{
	struct sb_daemon *d = w->h->d;
	uint64_t seq = atomic_load_explicit(&d->gen_seq, memory_order_acquire);

	if (w->gen == NULL || seq != w->gen_seq) {
		struct sb_generation *g = sb_gen_current(d);

		sb_gen_unref(w->gen);
		w->gen = g;
		w->gen_seq = seq;
	}
	if (w->gen)
		sb_gen_ref(w->gen);
	return w->gen;
}

/* The connection limits of conf (conn_limits.h); the defaults without. */
static struct sb_conn_settings conf_conn_settings(const struct sb_conf *c)
{
	struct sb_conn_settings s = {10000, 10000, 64};

	if (c) {
		s.request_timeout_ms = c->request_timeout_ms;
		s.handshake_timeout_ms = c->handshake_timeout_ms;
		s.max_per_peer = c->max_connections_per_peer;
	}
	return s;
}

static int peer_identity(struct evhttp_request *req, struct sb_caller *c)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	if (conn == NULL)
		return -1;
	bev = evhttp_connection_get_bufferevent(conn);
	fd = bev ? bufferevent_getfd(bev) : -1;
	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return -1;
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	len = sizeof(c->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, c->groups, &len) == 0)
		c->ngroups = (int)(len / sizeof(gid_t));
	else
		c->ngroups = 0; /* too many groups: only the primary counts */
	sb_str_uint(c->name, sizeof(c->name), (unsigned)c->uid);
	return 0;
}

const char *sb_caller_name(struct sb_req *r)
{
	struct sb_local *l = r->local;
	uint64_t now = sb_mono_ms();
	struct passwd pw, *res = NULL;
	char buf[4096];
	unsigned i;

	if (r->name_resolved || r->tls)
		return r->caller.name;
	r->name_resolved = 1;
	for (i = 0; i < SB_NAME_CACHE; i++) {
		if (l->users[i].at_ms && l->users[i].uid == r->caller.uid &&
		    now - l->users[i].at_ms < NAME_TTL_MS) {
			memcpy(r->caller.name, l->users[i].name,
			       sizeof(r->caller.name));
			return r->caller.name;
		}
	}
	if (getpwuid_r(r->caller.uid, &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(r->caller.name, sizeof(r->caller.name), "%s",
			 pw.pw_name);
	i = l->next_user++ % SB_NAME_CACHE;
	l->users[i].uid = r->caller.uid;
	memcpy(l->users[i].name, r->caller.name, sizeof(l->users[i].name));
	l->users[i].at_ms = now;
	return r->caller.name;
}

int sb_caller_in_named_group(struct sb_req *r, const char *group)
{
	struct sb_local *l = r->local;
	uint64_t now = sb_mono_ms();
	struct group gr, *res = NULL;
	char buf[16384];
	gid_t gid = (gid_t)-1;
	unsigned i;

	if (group == NULL || group[0] == '\0')
		return 0;
	for (i = 0; i < SB_NAME_CACHE; i++) {
		if (l->groups[i].at_ms &&
		    now - l->groups[i].at_ms < NAME_TTL_MS &&
		    strcmp(l->groups[i].name, group) == 0)
			return sb_caller_in_group(&r->caller, l->groups[i].gid);
	}
	if (getgrnam_r(group, &gr, buf, sizeof(buf), &res) == 0 && res)
		gid = gr.gr_gid;
	i = l->next_group++ % SB_NAME_CACHE;
	snprintf(l->groups[i].name, sizeof(l->groups[i].name), "%s", group);
	l->groups[i].gid = gid;
	l->groups[i].at_ms = now;
	return sb_caller_in_group(&r->caller, gid);
}

const struct sb_record_keys *sb_req_record_keys(struct sb_req *r)
{
	struct sb_local *l = r->local;
	uint64_t seq = atomic_load_explicit(&r->d->secret->keys_seq,
					    memory_order_acquire);

	if (seq != l->rkeys_seq)
		sb_secret_copy_record_keys(r->d->secret, l->rkeys,
					   &l->rkeys_seq);
	return l->rkeys;
}

void sb_req_audit(struct sb_req *r, const char *op, int level, const char *app,
		  const char *target)
{
	r->audit.op = op;
	r->audit.level = level;
	sb_str_copy(r->audit.app, sizeof(r->audit.app), app ? app : "");
	sb_str_copy(r->audit.target, sizeof(r->audit.target),
		    target ? target : "");
}

int sb_caller_in_group(const struct sb_caller *c, gid_t gid)
{
	if (gid == (gid_t)-1)
		return 0;
	if (c->gid == gid)
		return 1;
	for (int i = 0; i < c->ngroups; i++)
		if (c->groups[i] == gid)
			return 1;
	return 0;
}

int sb_caller_is_admin(const struct sb_req *r)
{
	if (r->tls &&
	    sb_conf_list_has(r->gen->conf->tls_admins, r->caller.name))
		return 1;
	return (!r->tls && r->caller.uid == 0) ||
	       sb_caller_in_group(&r->caller, r->gen->conf->sso_admins_gid);
}

/* A TLS caller is the certificate's identity; its groups are those of the
 * local user of the same name, if there is one, so application roles work
 * the same over TLS as over the Unix socket. */
static int tls_identity(struct evhttp_request *ev, struct sb_caller *c)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int n = SB_MAX_GROUPS;

	if (sb_tls_request_identity(ev, c->name, sizeof(c->name)) != 0)
		return -1;
	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	c->pid = 0;
	c->ngroups = 0;
	if (getpwnam_r(c->name, &pw, buf, sizeof(buf), &res) == 0 && res &&
	    getgrouplist(c->name, pw.pw_gid, c->groups, &n) >= 0)
		c->ngroups = n;
	return 0;
}

int sb_require_admin(struct sb_req *r)
{
	if (sb_caller_is_admin(r))
		return 1;
	if (r->gen->conf->sso_admins)
		sb_reply_error(
			r, 403, "forbidden",
			"this operation requires membership of the SSO "
			"administrators group '%s' (uid %u is not a member)",
			r->gen->conf->sso_admins, (unsigned)r->caller.uid);
	else
		sb_reply_error(r, 403, "forbidden",
			       "this operation requires an SSO administrator; "
			       "no [access] sso_admins group is configured, so "
			       "only root may (uid %u)",
			       (unsigned)r->caller.uid);
	return 0;
}

const char *sb_body_string(struct sb_req *r, const char *field, int required)
{
	json_t *v = r->body ? json_object_get(r->body, field) : NULL;

	if (v == NULL || json_is_null(v)) {
		if (required)
			sb_reply_error(
				r, 400, "bad_request",
				"the request body needs a string field \"%s\"",
				field);
		return NULL;
	}
	if (!json_is_string(v)) {
		sb_reply_error(r, 400, "bad_request",
			       "field \"%s\" must be a string", field);
		return NULL;
	}
	return json_string_value(v);
}

/* ------------------------------------------------------------------ */

static void req_finish(struct sb_req *r)
{
	struct sb_daemon *d = r->d;

	sb_gen_unref(r->gen);
	json_decref(r->body);
	free(r);
	atomic_fetch_sub(&d->inflight, 1);
}

/* Writes the request's audit record. When it cannot be written, a
 * success becomes 500 audit_failed (fail closed: a lookup's values are
 * withheld; a change has already been made, and the reply says so). */
static void audit_reply(struct sb_req *r, int *status, json_t **body)
{
	struct sb_audit_event ev = {0};
	char msg[1024];

	if (r->audit.op == NULL || r->d->audit == NULL)
		return;
	ev.operation = r->audit.op;
	ev.level = r->audit.level;
	ev.success = *status < 400;
	ev.uid = r->caller.uid;
	ev.user = sb_caller_name(r);
	ev.app = r->audit.app[0] ? r->audit.app : NULL;
	ev.target = r->audit.target[0] ? r->audit.target : NULL;
	ev.result = *status < 400   ? "ok"
		    : r->error_code ? r->error_code
				    : "error";
	ev.http_status = *status;
	ev.request_id = r->id;
	if (sb_audit_write(r->d->audit, &ev, msg, sizeof(msg)) == 0)
		return;
	sb_metrics_event(SB_ME_AUDIT_FAILURE);
	sb_err("request %s: %s", r->id, msg);
	if (*status >= 400)
		return;
	json_decref(*body);
	*body = json_pack("{s:{s:s, s:s}}", "error", "code", "audit_failed",
			  "message",
			  r->method == EVHTTP_REQ_GET
				  ? "the audit record could not be written, so "
				    "the answer is withheld"
				  : "the change was made, but its audit record "
				    "could not be written");
	*status = 500;
}

static void send_reply(struct sb_req *r, int status, struct evbuffer *buf)
{
	struct evkeyvalq *hdr = evhttp_request_get_output_headers(r->ev);
	struct sb_conn_settings cs;

	evhttp_add_header(hdr, "Content-Type",
			  r->content_type ? r->content_type
					  : "application/json");
	evhttp_add_header(hdr, "X-Request-Id", r->id);
	evhttp_add_header(hdr, "Cache-Control", "no-store");
	sb_reply_add_date(&r->worker->date, r->ev, hdr);
	if (evhttp_request_get_command(r->ev) == EVHTTP_REQ_HEAD && buf) {
		/* HEAD: the GET answer's headers, its length, no body. */
		char len[32];

		snprintf(len, sizeof(len), "%zu", evbuffer_get_length(buf));
		evhttp_add_header(hdr, "Content-Length", len);
		evbuffer_drain(buf, evbuffer_get_length(buf));
	}
	sb_debug("request %s uid %u %s -> %d", r->id, (unsigned)r->caller.uid,
		 r->path, status);
	if (r->route && (r->route->flags & SB_ROUTE_LOOKUP))
		sb_metrics_lookup(status, sb_mono_us() - r->started_us);
	cs = conf_conn_settings(r->gen ? r->gen->conf : NULL);
	sb_conn_request_replied(r->worker->conn, r->ev, &cs);
	evhttp_send_reply(r->ev, status, NULL, buf);
	req_finish(r);
}

/* evbuffer cleanup of a reply's text handed over by reference: it may
 * hold credentials or key material, so it is wiped before it is freed. */
static void wipe_reply_text(const void *data, size_t len, void *arg)
{
	(void)arg;
	explicit_bzero((void *)data, len);
	free((void *)data);
}

void sb_reply_json(struct sb_req *r, int status, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();

	audit_reply(r, &status, &body);
	if (body && buf) {
		char *s = json_dumps(body, JSON_COMPACT);

		/* Handed to the evbuffer without a copy; the evbuffer wipes
		 * and frees it once it is written (or on failure here). */
		if (s && evbuffer_add_reference(buf, s, strlen(s),
						wipe_reply_text, NULL) != 0)
			wipe_reply_text(s, strlen(s), NULL);
		else if (s)
			evbuffer_add(buf, "\n", 1);
	}
	json_decref(body);
	send_reply(r, status, buf);
	if (buf)
		evbuffer_free(buf);
}

void sb_reply_buffer(struct sb_req *r, int status, struct evbuffer *buf)
{
	json_t *err = NULL;

	audit_reply(r, &status, &err);
	if (err) {
		/* The audit record failed: the answer is withheld (and not
		 * audited twice). */
		r->audit.op = NULL;
		sb_reply_json(r, status, err);
		return;
	}
	send_reply(r, status, buf);
}

void sb_reply_typed(struct sb_req *r, int status, const char *content_type,
		    struct evbuffer *buf)
{
	r->content_type = content_type;
	sb_reply_buffer(r, status, buf);
}

void sb_reply_error(struct sb_req *r, int status, const char *code,
		    const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (status >= 500)
		sb_warn("request %s %s: %s (%s)", r->id, r->path, msg, code);
	r->error_code = code;
	sb_reply_json(r, status,
		      json_pack("{s:{s:s, s:s}}", "error", "code", code,
				"message", msg));
}

void sb_reply_api_error(struct sb_req *r, const struct sb_api_error *e)
{
	sb_reply_error(r, e->http, e->code, "%s", e->msg);
}

struct deferred {
	struct sb_req *r;
	void (*run)(void *);
	void (*done)(struct sb_req *, void *);
	void *arg;
};

static void deferred_run(void *p)
{
	struct deferred *df = p;

	df->run(df->arg);
}

static void deferred_done(void *p)
{
	struct deferred *df = p;

	df->done(df->r, df->arg);
	free(df);
}

int sb_req_defer(struct sb_req *r, void (*run)(void *arg),
		 void (*done)(struct sb_req *r, void *arg), void *arg)
{
	struct deferred *df = calloc(1, sizeof(*df));

	if (df == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		return -1;
	}
	df->r = r;
	df->run = run;
	df->done = done;
	df->arg = arg;
	if (sb_jobs_submit(r->d->jobs, r->worker->base, deferred_run,
			   deferred_done, df) != 0) {
		free(df);
		sb_reply_error(r, 500, "internal", "cannot queue the job");
		return -1;
	}
	return 0;
}

static void request_common(struct evhttp_request *ev, struct sb_worker *w,
			   int tls);

static struct sb_conn_settings worker_conn_settings(struct sb_worker *w)
{
	struct sb_generation *g = worker_gen(w);
	struct sb_conn_settings s = conf_conn_settings(g ? g->conf : NULL);

	sb_gen_unref(g);
	return s;
}

/* evhttp's bufferevent for a Unix socket connection: the one it would
 * make itself, watched by the connection limits. */
static struct bufferevent *unix_bev_cb(struct event_base *base, void *arg)
{
	struct sb_worker *w = arg;
	struct sb_conn_settings s = worker_conn_settings(w);

	return sb_conn_watch(
		w->conn,
		bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE), 0, &s);
}

static void request_cb(struct evhttp_request *ev, void *arg)
{
	request_common(ev, arg, 0);
}

static void request_tls_cb(struct evhttp_request *ev, void *arg)
{
	request_common(ev, arg, 1);
}

static struct bufferevent *tls_bev_cb(struct event_base *base, void *arg)
{
	struct sb_worker *w = arg;
	struct bufferevent *bev;
	struct sb_conn_settings s;
	struct sb_tls *t;

	pthread_mutex_lock(&w->h->tls_lock);
	t = w->h->tls;
	sb_tls_ref(t);
	pthread_mutex_unlock(&w->h->tls_lock);
	bev = sb_tls_bufferevent_new(base, t);
	sb_tls_unref(t); /* the SSL holds its own reference on the context */
	s = worker_conn_settings(w);
	return sb_conn_watch(w->conn, bev, 1, &s);
}

static void request_common(struct evhttp_request *ev, struct sb_worker *w,
			   int tls)
{
	struct sb_daemon *d = w->h->d;
	struct sb_req *r;
	const struct evhttp_uri *uri;
	const char *path;
	struct evbuffer *in;
	size_t in_len;
	const char *problem;
	char *decoded;
	size_t dlen = 0;

	sb_conn_request_complete(w->conn, ev);
	r = malloc(sizeof(*r));
	if (r == NULL) {
		evhttp_send_error(ev, 500, "out of memory");
		return;
	}
	memset(r, 0, offsetof(struct sb_req, path));
	r->path[0] = '\0';
	r->params.n = 0;
	r->started_us = sb_mono_us();
	r->started_us = sb_mono_us();
	atomic_fetch_add(&d->inflight, 1);
	r->ev = ev;
	r->worker = w;
	r->local = &w->local;
	r->d = d;
	r->method = evhttp_request_get_command(ev);
	if (r->method == EVHTTP_REQ_HEAD)
		r->method = EVHTTP_REQ_GET; /* answered as GET, bodiless */
	sb_req_id_format(r->id, w->index, ++w->next_req);
	r->gen = worker_gen(w);
	if (r->gen == NULL) {
		snprintf(r->path, sizeof(r->path), "?");
		sb_reply_error(r, 503, "shutting_down",
			       "the daemon is stopping");
		return;
	}
	r->tls = tls;
	if ((tls ? tls_identity(ev, &r->caller)
		 : peer_identity(ev, &r->caller)) != 0) {
		snprintf(r->path, sizeof(r->path), "?");
		sb_reply_error(
			r, 403, "forbidden",
			tls ? "no verified client certificate identity"
			    : "cannot identify the caller (SO_PEERCRED)");
		return;
	}
	uri = evhttp_request_get_evhttp_uri(ev);
	path = uri ? evhttp_uri_get_path(uri) : NULL;
	decoded = path ? evhttp_uridecode(path, 0, &dlen) : NULL;
	if (decoded == NULL || dlen >= sizeof(r->path) ||
	    strlen(decoded) != dlen) {
		free(decoded);
		snprintf(r->path, sizeof(r->path), "?");
		sb_reply_error(r, 400, "bad_request",
			       "the request path is missing, too long or holds "
			       "a NUL byte");
		return;
	}
	memcpy(r->path, decoded, dlen + 1);
	free(decoded);

	if ((problem = sb_request_framing_problem(ev)) != NULL) {
		evhttp_add_header(evhttp_request_get_output_headers(ev),
				  "Connection", "close");
		sb_reply_error(r, 400, "bad_request", "%s", problem);
		return;
	}
	in = evhttp_request_get_input_buffer(ev);
	in_len = in ? evbuffer_get_length(in) : 0;
	if (!sb_request_media_type_ok(ev, tls, in_len)) {
		sb_reply_error(r, 415, "unsupported_media_type",
			       "%s must be sent with Content-Type: "
			       "application/json",
			       tls ? "over TCP, every POST, PUT and PATCH"
				   : "a request body");
		return;
	}
	if (in_len > 0) {
		json_error_t jerr;
		const char *data = (const char *)evbuffer_pullup(in, -1);

		r->body =
			json_loadb(data, in_len, JSON_REJECT_DUPLICATES, &jerr);
		/* The body may hold a password: wipe libevent's copy. */
		explicit_bzero((void *)data, in_len);
		if (r->body == NULL) {
			sb_reply_error(r, 400, "bad_request",
				       "the request body is not valid JSON: %s "
				       "at line %d column %d",
				       jerr.text, jerr.line, jerr.column);
			return;
		}
		if (!json_is_object(r->body)) {
			sb_reply_error(
				r, 400, "bad_request",
				"the request body must be a JSON object");
			return;
		}
	}
	sb_api_dispatch(r);
}

/* ------------------------------------------------------------------ */

static void stop_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sb_worker *w = arg;

	(void)fd;
	(void)what;
	sb_conn_worker_unlisten(w->conn);
	if (w->bound) {
		evhttp_del_accept_socket(w->http, w->bound);
		w->bound = NULL;
	}
	if (w->tls_bound) {
		evhttp_del_accept_socket(w->https, w->tls_bound);
		w->tls_bound = NULL;
	}
}

static void *worker_main(void *arg)
{
	struct sb_worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

struct sb_http *sb_http_start(struct sb_daemon *d, char *msg, size_t msglen)
{
	struct sb_generation *g = sb_gen_current(d);
	const struct sb_conf *conf = g->conf;
	struct sb_http *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		snprintf(msg, msglen, "out of memory");
		sb_gen_unref(g);
		return NULL;
	}
	h->d = d;
	h->tls_fd = -1;
	h->limits = sb_conn_limits_new();
	if (h->limits == NULL) {
		snprintf(msg, msglen, "out of memory");
		sb_gen_unref(g);
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->tls_lock, NULL);
	h->listen_fd = sb_listen_unix(conf->socket_path, conf->socket_mode,
				      conf->socket_gid, msg, msglen);
	if (h->listen_fd < 0)
		goto fail;
	if (conf->tls_address) {
		h->tls = sb_tls_server_new(conf->tls_cert, conf->tls_key,
					   conf->tls_ca, msg, msglen);
		if (h->tls == NULL)
			goto fail;
		h->tls_fd = sb_tls_listen_tcp(conf->tls_address, msg, msglen);
		if (h->tls_fd < 0)
			goto fail;
	}
	snprintf(h->socket_path, sizeof(h->socket_path), "%s",
		 conf->socket_path);
	h->n_workers = conf->threads;
	h->workers = calloc((size_t)h->n_workers, sizeof(*h->workers));
	if (h->workers == NULL)
		goto fail_oom;
	for (int i = 0; i < h->n_workers; i++) {
		struct sb_worker *w = &h->workers[i];
		int fd;

		w->h = h;
		w->index = i;
		w->local.cache = sb_cache_new(conf->cache_max_entries);
		w->local.rkeys = sb_secure_alloc(sizeof(*w->local.rkeys));
		if (w->local.cache == NULL || w->local.rkeys == NULL)
			goto fail_oom;
		/* No EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST: it is unsafe with
		 * the dup()ed listener each worker holds (libevent's caveat on
		 * fds closed while a dup stays open). */
		w->base = event_base_new();
		w->http = w->base ? evhttp_new(w->base) : NULL;
		w->conn =
			w->http ? sb_conn_worker_new(h->limits, w->base) : NULL;
		if (w->conn == NULL)
			goto fail_oom;
		evhttp_set_gencb(w->http, request_cb, w);
		evhttp_set_bevcb(w->http, unix_bev_cb, w);
		evhttp_set_max_body_size(w->http, (ev_ssize_t)conf->max_body);
		evhttp_set_max_headers_size(w->http, 8192);
		evhttp_set_timeout(w->http, 60);
		evhttp_set_allowed_methods(
			w->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
					 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
					 EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD);
		fd = dup(h->listen_fd); /* each listener closes its own */
		if (fd < 0)
			goto fail_oom;
		evutil_make_socket_closeonexec(fd);
		w->bound = evhttp_accept_socket_with_handle(w->http, fd);
		if (w->bound == NULL) {
			close(fd);
			snprintf(msg, msglen, "cannot accept on %s",
				 h->socket_path);
			goto fail;
		}
		if (sb_conn_worker_listen(w->conn, w->bound) != 0)
			goto fail_oom;
		if (h->tls_fd >= 0) {
			w->https = evhttp_new(w->base);
			if (w->https == NULL)
				goto fail_oom;
			evhttp_set_gencb(w->https, request_tls_cb, w);
			evhttp_set_bevcb(w->https, tls_bev_cb, w);
			evhttp_set_max_body_size(w->https,
						 (ev_ssize_t)conf->max_body);
			evhttp_set_max_headers_size(w->https, 8192);
			evhttp_set_timeout(w->https, 60);
			evhttp_set_allowed_methods(
				w->https,
				EVHTTP_REQ_GET | EVHTTP_REQ_POST |
					EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
					EVHTTP_REQ_PATCH | EVHTTP_REQ_HEAD);
			fd = dup(h->tls_fd);
			if (fd < 0)
				goto fail_oom;
			evutil_make_socket_closeonexec(fd);
			w->tls_bound =
				evhttp_accept_socket_with_handle(w->https, fd);
			if (w->tls_bound == NULL) {
				close(fd);
				snprintf(msg, msglen, "cannot accept on %s",
					 conf->tls_address);
				goto fail;
			}
			if (sb_conn_worker_listen(w->conn, w->tls_bound) != 0)
				goto fail_oom;
		}
		w->stop_accept_ev =
			event_new(w->base, -1, 0, stop_accept_cb, w);
		if (w->stop_accept_ev == NULL)
			goto fail_oom;
	}
	for (int i = 0; i < h->n_workers; i++) {
		if (pthread_create(&h->workers[i].thread, NULL, worker_main,
				   &h->workers[i]) != 0) {
			snprintf(msg, msglen, "cannot start worker threads");
			goto fail;
		}
		h->workers[i].thread_started = 1;
	}
	sb_gen_unref(g);
	return h;
fail_oom:
	snprintf(msg, msglen, "out of memory starting the HTTP workers");
fail:
	sb_gen_unref(g);
	sb_http_stop_accepting(h);
	sb_http_free(h);
	return NULL;
}

void sb_http_stop_accepting(struct sb_http *h)
{
	if (h == NULL)
		return;
	for (int i = 0; h->workers && i < h->n_workers; i++) {
		struct sb_worker *w = &h->workers[i];

		if (w->thread_started && w->stop_accept_ev)
			event_active(w->stop_accept_ev, EV_READ, 0);
		else if (w->http)
			stop_accept_cb(-1, 0, w);
	}
	if (h->tls_fd >= 0) {
		close(h->tls_fd);
		h->tls_fd = -1;
	}
	if (h->listen_fd >= 0) {
		close(h->listen_fd);
		h->listen_fd = -1;
		if (h->socket_path[0])
			unlink(h->socket_path);
	}
}

void sb_http_free(struct sb_http *h)
{
	if (h == NULL)
		return;
	for (int i = 0; h->workers && i < h->n_workers; i++) {
		struct sb_worker *w = &h->workers[i];

		if (w->thread_started) {
			event_base_loopexit(w->base, NULL);
			pthread_join(w->thread, NULL);
		}
	}
	for (int i = 0; h->workers && i < h->n_workers; i++) {
		struct sb_worker *w = &h->workers[i];

		if (w->stop_accept_ev)
			event_free(w->stop_accept_ev);
		if (w->http)
			evhttp_free(w->http);
		if (w->https)
			evhttp_free(w->https);
		sb_conn_worker_free(w->conn); /* after the evhttps: see there */
		if (w->base)
			event_base_free(w->base);
		sb_gen_unref(w->gen);
		sb_cache_free(w->local.cache);
		SB_SECURE_PURGE(&w->local.rkeys, sizeof(*w->local.rkeys));
	}
	free(h->workers);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	if (h->tls_fd >= 0)
		close(h->tls_fd);
	sb_tls_unref(h->tls);
	sb_conn_limits_free(h->limits);
	pthread_mutex_destroy(&h->tls_lock);
	free(h);
}

int sb_http_tls_prepare(struct sb_http *h, const struct sb_conf *conf,
			struct sb_tls **out, char *msg, size_t msglen)
{
	*out = NULL;
	if (h == NULL || h->tls == NULL)
		return 0;
	*out = sb_tls_server_new(conf->tls_cert, conf->tls_key, conf->tls_ca,
				 msg, msglen);
	return *out ? 0 : -1;
}

void sb_http_tls_swap(struct sb_http *h, struct sb_tls *t)
{
	struct sb_tls *old;

	if (h == NULL || t == NULL)
		return;
	pthread_mutex_lock(&h->tls_lock);
	old = h->tls;
	h->tls = t;
	pthread_mutex_unlock(&h->tls_lock);
	sb_tls_unref(old);
}
