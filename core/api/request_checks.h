/*
 * What a request must say about itself before its body is parsed: how it
 * is framed and what its body is (http.c calls these for every request).
 */
#ifndef SB_REQUEST_CHECKS_H
#define SB_REQUEST_CHECKS_H

#include <stddef.h>

struct evhttp_request;

/* Returns NULL when ev's framing is unambiguous, else a message saying
 * what is not: two Content-Length headers, or Content-Length together with
 * Transfer-Encoding. A proxy in front may frame such a request otherwise
 * than libevent does (request smuggling), so it is refused, not guessed. */
const char *sb_request_framing_problem(struct evhttp_request *ev);

/* Returns 1 when ev's Content-Type is acceptable: a request with a body
 * (body_len > 0) must say application/json (parameters such as charset
 * allowed), and over TCP (tls) so must every POST, PUT and PATCH, body or
 * not, since a browser cannot send that type to another site without a
 * CORS preflight. Returns 0 otherwise (the caller answers 415). */
int sb_request_media_type_ok(struct evhttp_request *ev, int tls,
			     size_t body_len);

#endif
