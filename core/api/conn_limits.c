/* Connection limits: see conn_limits.h. */
#define _GNU_SOURCE
#include "api/conn_limits.h"

#include "runtime/clock.h"
#include "runtime/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define PEER_BUCKETS 256
#define RATELOG_MS   1000
#define SHED_MAX     4096 /* connections refused per accept error, at most */

/* One peer's open connections: "uid N" or "address A". */
struct peer {
	struct peer *next;
	unsigned open;
	char name[64];
};

/* A message logged at most once per RATELOG_MS, with the number of the
 * ones not logged in between. */
struct ratelog {
	uint64_t last_ms;
	uint64_t suppressed;
};

struct sb_conn_limits {
	pthread_mutex_t lock; /* guards everything below */
	struct peer *peers[PEER_BUCKETS];
	/* Out of descriptors: the window being counted (0: none). */
	uint64_t emfile_since_ms;
	uint64_t emfile_refused;
	struct ratelog cut_log, cap_log, accept_log;
};

enum guard_state {
	G_NEW,	     /* created with the bufferevent, before evhttp set it up */
	G_HANDSHAKE, /* TLS, before the handshake's end: deadline armed */
	G_IDLE,	     /* between requests: evhttp's idle timeout */
	G_READING,   /* a request's first byte came: deadline armed */
	G_HANDLING,  /* the request is complete: no deadline */
	G_REFUSED,   /* over the per-peer cap, being closed */
};

/* One connection of this worker, found by its descriptor once attached. */
struct guard {
	struct sb_conn_worker *cw;
	struct guard *prev, *next; /* every guard of the worker */
	struct bufferevent *bev;   /* referenced until attached */
	struct evhttp_connection *evcon;
	struct evbuffer *input;
	struct evbuffer_cb_entry *input_cb;
	struct event *deadline; /* also the attach step, at G_NEW */
	int fd;
	int tls;
	enum guard_state state;
	struct sb_conn_settings s;
	struct peer *peer; /* counted in, or NULL */
	char who[64];	   /* for the log */
};

struct sb_conn_worker {
	struct sb_conn_limits *cl;
	struct event_base *base;
	int reserve_fd; /* closed to accept-and-close when out of fds */
	struct evconnlistener *lev[2];
	struct event *resume_ev; /* re-enables lev after the back-off */
	struct event *emfile_log_ev;
	struct guard **by_fd; /* attached guards */
	size_t by_fd_cap;
	struct guard *guards; /* all, attached or not */
};

/* The workers, for the accept error callback: libevent hands it the
 * listener and the evhttp's argument, not ours. Filled before the worker
 * threads start; read on them. Two listeners for each of at most 64
 * workers ([broker] threads). */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct evconnlistener *lev;
	struct sb_conn_worker *cw;
} registry[256];

/* ------------------------------------------------------------------ */

/* Returns 1 when the message may be logged now (then *suppressed is how
 * many were not since the last one), 0 when it is to be counted only.
 * Called with cl->lock held. */
static int ratelog_due(struct ratelog *r, uint64_t now, uint64_t *suppressed)
{
	if (r->last_ms && now - r->last_ms < RATELOG_MS) {
		r->suppressed++;
		return 0;
	}
	*suppressed = r->suppressed;
	r->suppressed = 0;
	r->last_ms = now ? now : 1;
	return 1;
}

static void log_limited(struct sb_conn_limits *cl, struct ratelog *r,
			const char *msg)
{
	uint64_t n = 0;
	int due;

	pthread_mutex_lock(&cl->lock);
	due = ratelog_due(r, sb_mono_ms(), &n);
	pthread_mutex_unlock(&cl->lock);
	if (!due)
		return;
	if (n)
		sb_warn("%s (and %llu more like it in the last second)", msg,
			(unsigned long long)n);
	else
		sb_warn("%s", msg);
}

struct sb_conn_limits *sb_conn_limits_new(void)
{
	struct sb_conn_limits *cl = calloc(1, sizeof(*cl));

	if (cl)
		pthread_mutex_init(&cl->lock, NULL);
	return cl;
}

void sb_conn_limits_free(struct sb_conn_limits *cl)
{
	if (cl == NULL)
		return;
	for (size_t i = 0; i < PEER_BUCKETS; i++) {
		while (cl->peers[i]) {
			struct peer *p = cl->peers[i];

			cl->peers[i] = p->next;
			free(p);
		}
	}
	pthread_mutex_destroy(&cl->lock);
	free(cl);
}

/* ------------------------------------------------------------------ */
/* Out of descriptors */

static void emfile_log_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sb_conn_worker *cw = arg;
	struct sb_conn_limits *cl = cw->cl;
	uint64_t now = sb_mono_ms(), since, n;
	struct rlimit rl = {0, 0};

	(void)fd;
	(void)what;
	pthread_mutex_lock(&cl->lock);
	since = cl->emfile_since_ms;
	n = cl->emfile_refused;
	cl->emfile_since_ms = 0;
	cl->emfile_refused = 0;
	pthread_mutex_unlock(&cl->lock);
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	sb_warn("accept: too many open files; %llu connections refused in "
		"the last %.1f s (open files limit %llu)",
		(unsigned long long)n, (double)(now - since) / 1000.0,
		(unsigned long long)rl.rlim_cur);
}

/* Counts n refused connections in the current window, opening one (and
 * arming its log line on this worker) when none is open. */
static void emfile_count(struct sb_conn_worker *cw, uint64_t n)
{
	struct sb_conn_limits *cl = cw->cl;
	int opened = 0;

	pthread_mutex_lock(&cl->lock);
	if (cl->emfile_since_ms == 0) {
		cl->emfile_since_ms = sb_mono_ms();
		opened = 1;
	}
	cl->emfile_refused += n;
	pthread_mutex_unlock(&cl->lock);
	if (opened) {
		struct timeval tv = {SB_ACCEPT_LOG_MS / 1000,
				     (SB_ACCEPT_LOG_MS % 1000) * 1000};

		evtimer_add(cw->emfile_log_ev, &tv);
	}
}

/* Accepts and closes what waits on lfd, with the reserve descriptor
 * released for it. Returns how many were refused. */
static uint64_t shed(struct sb_conn_worker *cw, int lfd)
{
	uint64_t n = 0;

	if (cw->reserve_fd >= 0) {
		close(cw->reserve_fd);
		cw->reserve_fd = -1;
	}
	while (n < SHED_MAX) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			break;
		close(fd);
		n++;
	}
	cw->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return n;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sb_conn_worker *cw = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < 2; i++)
		if (cw->lev[i])
			evconnlistener_enable(cw->lev[i]);
}

static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	int err = errno;
	struct sb_conn_worker *cw = NULL;
	struct timeval tv = {0, SB_ACCEPT_BACKOFF_MS * 1000};

	(void)arg;
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (registry[i].lev == lev)
			cw = registry[i].cw;
	pthread_mutex_unlock(&registry_lock);
	if (cw == NULL)
		return;
	if (err == EMFILE || err == ENFILE) {
		emfile_count(cw, shed(cw, evconnlistener_get_fd(lev)));
	} else {
		char msg[256];

		snprintf(msg, sizeof(msg),
			 "accept: %s; not accepting for %d ms", strerror(err),
			 SB_ACCEPT_BACKOFF_MS);
		log_limited(cw->cl, &cw->cl->accept_log, msg);
	}
	/* Whatever the error, stop the listener spinning on it. */
	for (int i = 0; i < 2; i++)
		if (cw->lev[i])
			evconnlistener_disable(cw->lev[i]);
	evtimer_add(cw->resume_ev, &tv);
}

/* ------------------------------------------------------------------ */

struct sb_conn_worker *sb_conn_worker_new(struct sb_conn_limits *cl,
					  struct event_base *base)
{
	struct sb_conn_worker *cw = calloc(1, sizeof(*cw));

	if (cw == NULL)
		return NULL;
	cw->cl = cl;
	cw->base = base;
	cw->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cw->resume_ev = evtimer_new(base, resume_cb, cw);
	cw->emfile_log_ev = evtimer_new(base, emfile_log_cb, cw);
	if (cw->reserve_fd < 0 || cw->resume_ev == NULL ||
	    cw->emfile_log_ev == NULL) {
		sb_conn_worker_free(cw);
		return NULL;
	}
	return cw;
}

int sb_conn_worker_listen(struct sb_conn_worker *cw,
			  struct evhttp_bound_socket *bound)
{
	struct evconnlistener *lev = evhttp_bound_socket_get_listener(bound);
	int ret = -1;

	if (lev == NULL)
		return -1;
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++) {
		if (registry[i].lev == NULL) {
			registry[i].lev = lev;
			registry[i].cw = cw;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&registry_lock);
	if (ret != 0)
		return -1;
	cw->lev[cw->lev[0] ? 1 : 0] = lev;
	evconnlistener_set_error_cb(lev, accept_error_cb);
	return 0;
}

void sb_conn_worker_unlisten(struct sb_conn_worker *cw)
{
	if (cw == NULL)
		return;
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (registry[i].cw == cw)
			registry[i].lev = NULL, registry[i].cw = NULL;
	pthread_mutex_unlock(&registry_lock);
	cw->lev[0] = cw->lev[1] = NULL;
	evtimer_del(cw->resume_ev);
}

/* ------------------------------------------------------------------ */
/* Per-peer counts */

static size_t peer_hash(const char *s)
{
	size_t h = 5381;

	while (*s)
		h = h * 33 + (unsigned char)*s++;
	return h % PEER_BUCKETS;
}

/* Counts one more connection of name; returns the peer, or NULL when it
 * already has max open (*open says how many) or out of memory. */
static struct peer *peer_take(struct sb_conn_limits *cl, const char *name,
			      unsigned max, unsigned *open)
{
	size_t h = peer_hash(name);
	struct peer *p;

	pthread_mutex_lock(&cl->lock);
	for (p = cl->peers[h]; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			break;
	if (p == NULL && (p = calloc(1, sizeof(*p))) != NULL) {
		snprintf(p->name, sizeof(p->name), "%s", name);
		p->next = cl->peers[h];
		cl->peers[h] = p;
	}
	*open = p ? p->open : 0;
	if (p && p->open >= max)
		p = NULL;
	else if (p)
		p->open++;
	pthread_mutex_unlock(&cl->lock);
	return p;
}

static void peer_release(struct sb_conn_limits *cl, struct peer *p)
{
	struct peer **pp;

	if (p == NULL)
		return;
	pthread_mutex_lock(&cl->lock);
	if (--p->open == 0) {
		for (pp = &cl->peers[peer_hash(p->name)]; *pp;
		     pp = &(*pp)->next)
			if (*pp == p) {
				*pp = p->next;
				free(p);
				break;
			}
	}
	pthread_mutex_unlock(&cl->lock);
}

/* Names the peer of fd: "uid N" (Unix socket) or "address A" (TCP). */
static int peer_name(int fd, int tls, char *out, size_t outlen)
{
	if (!tls) {
		struct ucred cred;
		socklen_t len = sizeof(cred);

		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
			return -1;
		snprintf(out, outlen, "uid %u", (unsigned)cred.uid);
	} else {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char addr[INET6_ADDRSTRLEN] = "?";

		if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
			return -1;
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET,
				  &((struct sockaddr_in *)&ss)->sin_addr, addr,
				  sizeof(addr));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((struct sockaddr_in6 *)&ss)->sin6_addr,
				  addr, sizeof(addr));
		snprintf(out, outlen, "address %s", addr);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Connections */

static void guard_arm(struct guard *g, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(g->deadline, &tv);
}

static void guard_free(struct guard *g)
{
	struct sb_conn_worker *cw = g->cw;

	if (g->fd >= 0 && (size_t)g->fd < cw->by_fd_cap &&
	    cw->by_fd[g->fd] == g)
		cw->by_fd[g->fd] = NULL;
	if (g->prev)
		g->prev->next = g->next;
	else if (cw->guards == g)
		cw->guards = g->next;
	if (g->next)
		g->next->prev = g->prev;
	if (g->input_cb)
		evbuffer_remove_cb_entry(g->input, g->input_cb);
	if (g->deadline)
		event_free(g->deadline);
	if (g->bev)
		bufferevent_decref(g->bev);
	peer_release(cw->cl, g->peer);
	free(g);
}

static void close_cb(struct evhttp_connection *evcon, void *arg)
{
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	guard_free(arg);
}

/* Replies 503 on a fresh Unix socket connection before it is dropped, so
 * a local client learns why (best effort: the socket is new, its buffer
 * empty). */
static void refuse_unix(int fd)
{
	static const char body[] =
		"{\"error\":{\"code\":\"too_many_connections\",\"message\":"
		"\"this uid has as many connections open as [listen] "
		"max_connections_per_peer allows\"}}\n";
	char reply[512];
	int len = snprintf(reply, sizeof(reply),
			   "HTTP/1.1 503 Service Unavailable\r\n"
			   "Content-Type: application/json\r\n"
			   "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
			   sizeof(body) - 1, body);

	if (len > 0 && (size_t)len < sizeof(reply))
		(void)!send(fd, reply, (size_t)len,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
}

static int by_fd_grow(struct sb_conn_worker *cw, int fd)
{
	size_t cap = cw->by_fd_cap ? cw->by_fd_cap : 64;
	struct guard **m;

	if ((size_t)fd < cw->by_fd_cap)
		return 0;
	while (cap <= (size_t)fd)
		cap *= 2;
	m = realloc(cw->by_fd, cap * sizeof(*m));
	if (m == NULL)
		return -1;
	memset(m + cw->by_fd_cap, 0, (cap - cw->by_fd_cap) * sizeof(*m));
	cw->by_fd = m;
	cw->by_fd_cap = cap;
	return 0;
}

/* First turn of the loop after the accept: evhttp has given the
 * bufferevent its descriptor and its callbacks (their argument is the
 * connection). Counts the peer, or refuses it; arms the handshake
 * deadline. Returns 0, or -1 when g was freed. */
static int guard_attach(struct guard *g)
{
	struct sb_conn_worker *cw = g->cw;
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	void *cbarg = NULL;
	int fd = (int)bufferevent_getfd(g->bev);

	bufferevent_getcb(g->bev, &rd, &wr, &ev, &cbarg);
	if (cbarg == NULL || fd < 0 || by_fd_grow(cw, fd) != 0 ||
	    peer_name(fd, g->tls, g->who, sizeof(g->who)) != 0) {
		/* Closed already (bufferevent_free clears the callbacks),
		 * or out of memory: not watched. */
		guard_free(g);
		return -1;
	}
	if (cw->by_fd[fd]) {
		/* A connection whose close was missed: it and its buffers are
		 * gone, only the guard is left. */
		cw->by_fd[fd]->input_cb = NULL;
		guard_free(cw->by_fd[fd]);
	}
	g->evcon = cbarg;
	g->fd = fd;
	cw->by_fd[fd] = g;
	evhttp_connection_set_closecb(g->evcon, close_cb, g);
	bufferevent_decref(g->bev); /* close_cb tells when it goes */
	g->bev = NULL;
	if (g->s.max_per_peer) {
		unsigned open = 0;

		g->peer = peer_take(cw->cl, g->who, g->s.max_per_peer, &open);
		if (g->peer == NULL) {
			char msg[256];

			snprintf(msg, sizeof(msg),
				 "connection from %s refused: it has %u open, "
				 "[listen] max_connections_per_peer is %u",
				 g->who, open, g->s.max_per_peer);
			log_limited(cw->cl, &cw->cl->cap_log, msg);
			if (!g->tls)
				refuse_unix(fd);
			g->state = G_REFUSED;
			/* evhttp reads the end of the stream and frees the
			 * connection, which calls close_cb. */
			shutdown(fd, SHUT_RDWR);
			return 0;
		}
	}
	return 0;
}

/* 1 when g's TLS handshake has finished (the client may not have sent a
 * request yet: its first byte would have moved g to G_READING). */
static int handshake_done(struct guard *g)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(g->evcon);
	SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;

	return ssl && SSL_is_init_finished(ssl);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;
	char msg[256];

	(void)fd;
	(void)what;
	if (g->state == G_NEW) {
		g->state = g->tls ? G_HANDSHAKE : G_IDLE;
		if (guard_attach(g) != 0)
			return;
		if (g->state == G_HANDSHAKE)
			guard_arm(g, g->s.handshake_timeout_ms);
		else if (g->state == G_IDLE &&
			 evbuffer_get_length(g->input) > 0) {
			g->state = G_READING;
			guard_arm(g, g->s.request_timeout_ms);
		}
		return;
	}
	if (g->state == G_HANDSHAKE && handshake_done(g)) {
		g->state = G_IDLE; /* done, and no request yet: idle */
		return;
	}
	if (g->state != G_HANDSHAKE && g->state != G_READING)
		return;
	snprintf(msg, sizeof(msg),
		 "connection from %s cut: %s not complete within %s (%llu ms)",
		 g->who, g->state == G_HANDSHAKE ? "TLS handshake" : "request",
		 g->state == G_HANDSHAKE ? "[listen] handshake_timeout_ms"
					 : "[listen] request_timeout_ms",
		 (unsigned long long)(g->state == G_HANDSHAKE
					      ? g->s.handshake_timeout_ms
					      : g->s.request_timeout_ms));
	log_limited(g->cw->cl, &g->cw->cl->cut_log, msg);
	/* evhttp sees the end of the stream and frees the connection (and
	 * calls close_cb); nothing of it is freed here. */
	g->state = G_REFUSED;
	shutdown(g->fd, SHUT_RDWR);
}

/* The input buffer grew: a request's first byte (after a TLS handshake,
 * the first decrypted one) starts its deadline. */
static void input_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
		     void *arg)
{
	struct guard *g = arg;

	(void)buf;
	if (info->n_added == 0)
		return;
	if (g->state == G_HANDSHAKE || g->state == G_IDLE) {
		g->state = G_READING;
		guard_arm(g, g->s.request_timeout_ms);
	}
}

struct bufferevent *sb_conn_watch(struct sb_conn_worker *cw,
				  struct bufferevent *bev, int tls,
				  const struct sb_conn_settings *s)
{
	struct guard *g;
	struct timeval now = {0, 0};

	if (bev == NULL || (g = calloc(1, sizeof(*g))) == NULL)
		return bev;
	g->cw = cw;
	g->fd = -1;
	g->tls = tls;
	g->s = *s;
	g->state = G_NEW;
	g->bev = bev;
	bufferevent_incref(bev);
	g->next = cw->guards;
	if (cw->guards)
		cw->guards->prev = g;
	cw->guards = g;
	g->input = bufferevent_get_input(bev);
	g->deadline = evtimer_new(cw->base, deadline_cb, g);
	g->input_cb = g->input ? evbuffer_add_cb(g->input, input_cb, g) : NULL;
	if (g->deadline == NULL || g->input_cb == NULL) {
		sb_warn("out of memory: a connection is not under the "
			"[listen] limits");
		guard_free(g);
		return bev;
	}
	evtimer_add(g->deadline, &now);
	return bev;
}

static struct guard *guard_of(struct sb_conn_worker *cw,
			      struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev =
		evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	int fd = bev ? (int)bufferevent_getfd(bev) : -1;
	struct guard *g;

	if (fd < 0 || (size_t)fd >= cw->by_fd_cap)
		return NULL;
	g = cw->by_fd[fd];
	return g && g->evcon == evcon ? g : NULL;
}

void sb_conn_request_complete(struct sb_conn_worker *cw,
			      struct evhttp_request *req)
{
	struct guard *g = guard_of(cw, req);

	if (g == NULL || g->state == G_REFUSED)
		return;
	g->state = G_HANDLING;
	evtimer_del(g->deadline);
}

void sb_conn_request_replied(struct sb_conn_worker *cw,
			     struct evhttp_request *req,
			     const struct sb_conn_settings *s)
{
	struct guard *g = guard_of(cw, req);

	if (g == NULL || g->state != G_HANDLING)
		return;
	g->s.request_timeout_ms = s->request_timeout_ms;
	if (evbuffer_get_length(g->input) > 0) {
		/* Pipelined: the next request's bytes are already here. */
		g->state = G_READING;
		guard_arm(g, g->s.request_timeout_ms);
	} else {
		g->state = G_IDLE;
	}
}

void sb_conn_worker_free(struct sb_conn_worker *cw)
{
	if (cw == NULL)
		return;
	sb_conn_worker_unlisten(cw);
	/* Connections still open are freed with their evhttp, which calls
	 * close_cb: free the evhttps before this. */
	while (cw->guards) {
		/* Attached ones (no reference of ours on the bufferevent)
		 * whose close was missed: their input buffer is gone. */
		if (cw->guards->bev == NULL)
			cw->guards->input_cb = NULL;
		guard_free(cw->guards);
	}
	free(cw->by_fd);
	if (cw->resume_ev)
		event_free(cw->resume_ev);
	if (cw->emfile_log_ev)
		event_free(cw->emfile_log_ev);
	if (cw->reserve_fd >= 0)
		close(cw->reserve_fd);
	free(cw);
}
