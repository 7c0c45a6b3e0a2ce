/*
 * The HTTP/1.1 + JSON API on the Unix socket (libevent evhttp, jansson).
 * Several worker threads each run their own event loop and evhttp on the
 * same listening socket, so requests are served on more than one core with
 * no lock shared on the request path.
 */
#ifndef SB_HTTP_H
#define SB_HTTP_H

#include "runtime/api_error.h"
#include "host/daemon.h"
#include "store/store.h"

#include <event2/http.h>
#include <jansson.h>
#include <sys/types.h>

#define SB_MAX_GROUPS 256

/* Who is calling, from SO_PEERCRED and SO_PEERGROUPS. */
struct sb_caller {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int ngroups;
	gid_t groups[SB_MAX_GROUPS];
	char name[256]; /* user name, certificate identity, or the uid */
};

struct sb_worker;
struct sb_route;

#define SB_NAME_CACHE 64

/* State each request thread keeps for itself, so the request path takes no
 * lock shared with other threads: its credential cache, its copy of the
 * record keys, and small caches of user and group names. */
struct sb_local {
	struct sb_cache *cache;
	struct sb_record_keys *rkeys; /* secure memory */
	uint64_t rkeys_seq;
	struct {
		uid_t uid;
		char name[64];
		uint64_t at_ms;
	} users[SB_NAME_CACHE];
	struct {
		char name[65];
		gid_t gid; /* (gid_t)-1: no such group */
		uint64_t at_ms;
	} groups[SB_NAME_CACHE];
	unsigned next_user, next_group;
	/* The application generation this thread last read (api/app_cache.c):
	 * cached application definitions filled under an older epoch are
	 * misses. */
	struct {
		uint64_t epoch;	     /* bumped when the generation changed */
		uint64_t checked_ms; /* when it was last read */
		int known;
		size_t len;
		uint8_t token[128];
	} app_gen;
};

#define SB_PATH_PARAMS_MAX 3

/* The path segments a route's pattern captured ({app}, {identity}, ...),
 * in the pattern's order: value[i] points into buf, NUL-terminated. */
struct sb_path_params {
	size_t n;
	const char *value[SB_PATH_PARAMS_MAX];
	char buf[1024]; /* as big as struct sb_req's path */
};

/* One request, from arrival to reply. Owns a generation reference. */
struct sb_req {
	struct evhttp_request *ev;
	struct sb_worker *worker;
	struct sb_daemon *d;
	struct sb_generation *gen;
	struct sb_caller caller;
	int method;		      /* enum evhttp_cmd_type */
	const struct sb_route *route; /* set by the dispatcher */
	json_t *body;		      /* parsed JSON body, or NULL when empty */
	char id[17];		      /* request id, also in logs */
	struct sb_local *local;
	int tls; /* arrived over mutual TLS: caller.name is the certificate
		    identity */
	int name_resolved;
	const char *error_code;	  /* of the reply, for the audit record */
	uint64_t write_epoch;	  /* set by sb_req_write_epoch */
	uint64_t started_us;	  /* sb_mono_us() at arrival, for metrics */
	const char *content_type; /* of the reply; NULL: application/json */
	/* What the audit record of this request says; set by the handler. */
	struct {
		const char *op; /* NULL: not audited */
		int level;
		char app[65];
		char target[129];
	} audit;
	/* From here on not zeroed when the request is allocated (2 KB per
	 * request on the lookup path): path is written before it is read,
	 * params by the dispatcher. */
	char path[1024];
	struct sb_path_params params; /* set by the dispatcher */
};

/* Opens the listening socket from d's current configuration and starts the
 * worker threads. Returns NULL with msg on failure. */
struct sb_http *sb_http_start(struct sb_daemon *d, char *msg, size_t msglen);
/* Stops accepting new connections (the socket file is removed). */
void sb_http_stop_accepting(struct sb_http *h);
/* Stops the loops and joins the workers; call once inflight is 0. */
void sb_http_free(struct sb_http *h);

/* Reloading the TLS certificate, key and CA (SIGHUP) in two steps, so
 * they change only together with the rest of the configuration:
 * sb_http_tls_prepare loads them into *out (NULL when this daemon has no
 * TLS listener) and returns 0, or -1 with msg; sb_http_tls_swap makes them
 * the ones new connections use (connections already open keep theirs) and
 * takes over the reference. */
struct sb_tls;
int sb_http_tls_prepare(struct sb_http *h, const struct sb_conf *conf,
			struct sb_tls **out, char *msg, size_t msglen);
void sb_http_tls_swap(struct sb_http *h, struct sb_tls *t);

/* Sends status with body (taken over, may be NULL) and ends the request. */
void sb_reply_json(struct sb_req *r, int status, json_t *body);
/* Sends status with the JSON text in buf (the caller still frees buf) and
 * ends the request; audited like sb_reply_json. */
struct evbuffer;
void sb_reply_buffer(struct sb_req *r, int status, struct evbuffer *buf);
/* As sb_reply_buffer, with a Content-Type other than JSON (a static
 * string). */
void sb_reply_typed(struct sb_req *r, int status, const char *content_type,
		    struct evbuffer *buf);
/* Sends {"error": {"code", "message"}} and ends the request. */
void sb_reply_error(struct sb_req *r, int status, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void sb_reply_api_error(struct sb_req *r, const struct sb_api_error *e);

/* Runs run(arg) on a job thread and then done(r, arg) on r's worker thread,
 * which must reply. Returns 0, or -1 (already replied 500). */
int sb_req_defer(struct sb_req *r, void (*run)(void *arg),
		 void (*done)(struct sb_req *r, void *arg), void *arg);

/* 1 when the caller may manage the master secret: root or a member of the
 * [access] sso_admins group. */
int sb_caller_is_admin(const struct sb_req *r);
int sb_caller_in_group(const struct sb_caller *c, gid_t gid);

/* The caller's user name (from the thread's cache of the passwd database;
 * the uid in decimal when it has none). */
const char *sb_caller_name(struct sb_req *r);
/* 1 when the caller belongs to the named group (gid looked up through the
 * thread's cache); 0 for an empty name or a group that does not exist. */
int sb_caller_in_named_group(struct sb_req *r, const char *group);
/* The thread's copy of the record keys, refreshed when they changed. */
const struct sb_record_keys *sb_req_record_keys(struct sb_req *r);

/* Sets what this request's audit record will say. */
void sb_req_audit(struct sb_req *r, const char *op, int level, const char *app,
		  const char *target);

/* Replies 403 and returns 0 unless the caller is an SSO administrator. */
int sb_require_admin(struct sb_req *r);

/* Reads a string member of the body: returns it, or NULL after replying 400
 * naming the field (required) / NULL silently (optional, absent). */
const char *sb_body_string(struct sb_req *r, const char *field, int required);

/* Decides the fencing epoch of this request's writes to the SSO database
 * and keeps it in r->write_epoch: on a master secret server node its epoch
 * while it is the active one (writes on a standby are refused with 503
 * not_active naming the active node, and the reply is sent); on a member
 * node 0 (members take no part in the election; their credential writes
 * are not fenced). Returns 1 to go on, 0 when it replied. */
int sb_req_write_epoch(struct sb_req *r);

/* How this request's writes are fenced, after sb_req_write_epoch: at
 * r->write_epoch on a master secret server, unfenced on a member. */
struct store_fencing sb_req_write_fencing(const struct sb_req *r);

/* Answers r (api.c): runs the handler of its route in the route table
 * (routes.c), or replies 404 not_found (no such path), 405
 * method_not_allowed (the path exists, not with this method) or 400
 * bad_request (a malformed name in the path). */
void sb_api_dispatch(struct sb_req *r);

#endif
