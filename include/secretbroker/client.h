/*
 * libsecretbroker: the client side of the secretbroker API.
 *
 * secretbrokerd serves HTTP/1.1 with JSON bodies on a Unix socket (see
 * docs/api.md). This library opens that socket with libcurl, keeps the
 * connection alive between requests, and hands requests and replies over as
 * jansson values. sbctl is built on it; applications use the same calls.
 *
 * Threads: a struct sb_client is used by one thread at a time; open one per
 * thread. The library initialises libcurl once (thread-safely) on the first
 * sb_client_new() and never cleans it up, since it cannot know whether the
 * application uses libcurl too.
 *
 * Secrets: the serialised request body is wiped (explicit_bzero) after each
 * request, and so is the raw reply. Values inside the caller's json_t are the
 * caller's to wipe: jansson copies strings with its own allocator, which an
 * application can replace (json_set_alloc_funcs) by one that wipes on free.
 */
#ifndef SECRETBROKER_CLIENT_H
#define SECRETBROKER_CLIENT_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Where the daemon listens unless told otherwise: the config's default for
 * [listen] socket. */
#define SB_CLIENT_DEFAULT_SOCKET "/run/secretbroker/secretbroker.sock"
/* Environment variable naming another socket. */
#define SB_CLIENT_SOCKET_ENV "SECRETBROKER_SOCKET"

/* Results. Zero is success, every failure is negative. */
#define SB_CLIENT_OK 0
/* The daemon could not be reached: the socket is missing, nobody listens on
 * it, or the caller may not open it. */
#define SB_CLIENT_ECONNECT (-1)
/* The daemon was reached but the exchange failed: timeout, connection
 * dropped, or a reply that is not the JSON the API promises. */
#define SB_CLIENT_EPROTO (-2)
/* A local failure: invalid argument, out of memory. */
#define SB_CLIENT_ESYS (-3)
/* sb_client_call() only: the daemon answered with an error status; code and
 * message carry its {"error": {"code", "message"}}. */
#define SB_CLIENT_ESERVER (-4)

/* What went wrong, filled by every call that takes one (it may be NULL).
 * Never contains secret material. */
struct sb_client_error {
	int result;	  /* the SB_CLIENT_* value the call returned */
	long http_status; /* the reply's status, 0 when there was no reply */
	/* The server's stable error code (docs/api.md), or one of the
	 * client's own: connect_failed, timeout, too_large, protocol_error;
	 * "" for local failures (SB_CLIENT_ESYS). */
	char code[64];
	char message[512]; /* one sentence saying what failed and where */
};

struct sb_client;

/* Returns the socket a client should use when none is given explicitly:
 * $SECRETBROKER_SOCKET when set and not empty (ignored in set-id programs),
 * else SB_CLIENT_DEFAULT_SOCKET. The string is not owned by the caller. */
const char *sb_client_default_socket(void);

/* Creates a client for the daemon at socket_path (NULL: see
 * sb_client_default_socket). Does not connect yet: the first request does,
 * and later requests reuse the connection. Returns NULL with err filled when
 * the path is unusable (empty, longer than a Unix socket path may be) or
 * memory runs out. Free with sb_client_free(). */
struct sb_client *sb_client_new(const char *socket_path,
				struct sb_client_error *err);

/* Closes the connection and frees c. NULL is a no-op. */
void sb_client_free(struct sb_client *c);

/* The socket path c talks to (owned by c). */
const char *sb_client_socket_path(const struct sb_client *c);

/* Sets the limit on a whole request, in milliseconds (default 60000; the
 * connect itself is limited to 5000). 0 means no limit. */
void sb_client_set_timeout(struct sb_client *c, long timeout_ms);

/*
 * Sends one request and waits for the reply.
 *   method: "GET", "POST", "PUT", "PATCH", "DELETE".
 *   path:   the request target, e.g. "/v1/status"; already escaped.
 *   body:   sent as application/json when not NULL (not consumed); NULL sends
 *           no body.
 * On SB_CLIENT_OK a reply came back, whatever its status: *http_status holds
 * it and *response the parsed JSON body, or NULL when the body was empty or,
 * for an error status only, not JSON. The caller owns *response
 * (json_decref). On failure *response is NULL and err says why.
 */
int sb_client_request(struct sb_client *c, const char *method, const char *path,
		      const json_t *body, long *http_status, json_t **response,
		      struct sb_client_error *err);

/*
 * As sb_client_request(), but a reply is a success only with a 2xx status.
 * Returns SB_CLIENT_OK with *response the JSON body (an empty body gives an
 * empty object), or SB_CLIENT_ESERVER with err->code and err->message taken
 * from the server's error body and *response holding that body when it was
 * JSON (NULL otherwise); the caller owns *response in both cases. Transport
 * failures return as for sb_client_request() with *response NULL.
 */
int sb_client_call(struct sb_client *c, const char *method, const char *path,
		   const json_t *body, json_t **response,
		   struct sb_client_error *err);

/*
 * Names in request paths. The API's names are plain: application names,
 * config ids and config keys are 1..64 characters of A-Z a-z 0-9 . _ -
 * (not "." or ".."); identities (user or group names) may also hold '@'.
 * These return 1 when s is one, 0 otherwise (NULL included), so that a
 * caller can refuse a bad name before sending it.
 */
int sb_client_valid_name(const char *s);
int sb_client_valid_identity(const char *s);

/* Flags of sb_client_lookup_ex(). */
/* Return masked values in clear. The daemon does so only for the caller's
 * own credentials or an entitled administrator, and refuses otherwise. */
#define SB_CLIENT_LOOKUP_SHOW_MASKED 0x1u
/* Skip the daemon's cache of encrypted records for this one lookup. */
#define SB_CLIENT_LOOKUP_NO_CACHE 0x2u

/*
 * Looks up the caller's own credentials for the affiliate application app
 * (GET /v1/lookup/{app}): for an individual application the mapping of the
 * caller's user name, for a group application the mapping of its user
 * group. On SB_CLIENT_OK *values is the object of field values in the
 * application's field order, {"user": "...", "password": "********"};
 * masked fields read "********" unless show_masked. The caller owns
 * *values (json_decref; see the note on secrets above). Refusals return
 * SB_CLIENT_ESERVER with err->code: app_disabled, mapping_disabled,
 * forbidden, no_such_app, no_mapping, no_secret, ... (docs/api.md). An
 * invalid app name returns SB_CLIENT_ESYS without a request.
 */
int sb_client_lookup(struct sb_client *c, const char *app, int show_masked,
		     json_t **values, struct sb_client_error *err);

/*
 * As sb_client_lookup(), with more control. user, when not NULL, looks up
 * that identity's credentials instead (application administrators only);
 * flags are SB_CLIENT_LOOKUP_*. *reply is the daemon's whole reply,
 * {"app", "identity", "values"}, owned by the caller.
 */
int sb_client_lookup_ex(struct sb_client *c, const char *app, const char *user,
			unsigned flags, json_t **reply,
			struct sb_client_error *err);

#ifdef __cplusplus
}
#endif

#endif
