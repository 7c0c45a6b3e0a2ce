/*
 * What the HTTP listeners do against clients that would exhaust the
 * daemon (issue 15): running out of file descriptors, slow requests and
 * too many connections from one peer.
 *
 * - Out of descriptors (EMFILE/ENFILE on accept): the worker closes its
 *   reserve descriptor, accepts and closes what waits in the backlog (so
 *   those clients are refused at once rather than left hanging), reopens
 *   the reserve and stops accepting for SB_ACCEPT_BACKOFF_MS; a timer
 *   resumes. Connections already open are served throughout. One log line
 *   per SB_ACCEPT_LOG_MS says how many connections were refused.
 * - Deadlines: a request's headers and body must all arrive within
 *   request_timeout_ms of its first byte, and a TLS handshake must finish
 *   within handshake_timeout_ms of the accept; otherwise the connection is
 *   cut. An idle keep-alive connection between requests is left to
 *   evhttp's idle timeout.
 * - Per-peer cap: at most max_connections_per_peer connections open at
 *   once per uid on the Unix socket (SO_PEERCRED) and per address on TCP;
 *   the next one is refused (the Unix socket gets a 503 first).
 *
 * Refusals and cuts are logged at most once a second, with the count of
 * those not logged. All of it runs on the worker threads; the per-peer
 * counts and the refusal counters are shared under a mutex taken only when
 * a connection opens or closes, never per request.
 */
#ifndef SB_CONN_LIMITS_H
#define SB_CONN_LIMITS_H

#include <event2/event.h>
#include <event2/http.h>
#include <stdint.h>

#define SB_ACCEPT_BACKOFF_MS 100
#define SB_ACCEPT_LOG_MS     5000

/* The limits, from [listen]; read for each new connection and request, so
 * a reload applies to the connections and requests that start after it. */
struct sb_conn_settings {
	uint64_t request_timeout_ms;
	uint64_t handshake_timeout_ms;
	unsigned max_per_peer; /* 0: no cap */
};

struct sb_conn_limits; /* process-wide */
struct sb_conn_worker; /* one per worker thread */

struct sb_conn_limits *sb_conn_limits_new(void);
void sb_conn_limits_free(struct sb_conn_limits *cl);

/* A worker's share, on its event base. Returns NULL when out of memory or
 * descriptors (the reserve). Free it after the worker's evhttps: freeing
 * them closes their connections, whose close callbacks free what this
 * keeps of them. */
struct sb_conn_worker *sb_conn_worker_new(struct sb_conn_limits *cl,
					  struct event_base *base);
void sb_conn_worker_free(struct sb_conn_worker *cw);

/* Watches the accept errors of bound (at most two per worker). Returns 0,
 * or -1 when bound has no listener. Call on start, before the loop runs. */
int sb_conn_worker_listen(struct sb_conn_worker *cw,
			  struct evhttp_bound_socket *bound);
/* Forgets the listeners (before they are deleted), on the worker thread. */
void sb_conn_worker_unlisten(struct sb_conn_worker *cw);

/* Watches bev, the bufferevent of a connection evhttp is accepting (from
 * evhttp's bufferevent callback, which returns what this returns: bev).
 * On the loop's next turn, once evhttp has set bev up, the connection is
 * counted against its peer's cap (or refused) and, over TLS, its handshake
 * deadline starts; the first byte of each request starts its deadline. */
struct bufferevent;
struct bufferevent *sb_conn_watch(struct sb_conn_worker *cw,
				  struct bufferevent *bev, int tls,
				  const struct sb_conn_settings *s);
/* The request's headers and body have all arrived: its deadline stops. */
void sb_conn_request_complete(struct sb_conn_worker *cw,
			      struct evhttp_request *req);
/* The reply is being sent: the connection's next request (its first byte)
 * gets a deadline of s->request_timeout_ms. */
void sb_conn_request_replied(struct sb_conn_worker *cw,
			     struct evhttp_request *req,
			     const struct sb_conn_settings *s);

#endif
