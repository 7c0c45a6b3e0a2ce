/*
 * The real daemon inside a harness's process (fuzz_http, fuzz_api): the
 * embedded default (sqlite storage, openssl crypto, no fencing) in a
 * private directory, started the way main.c starts it, with a master
 * secret generated and one application of each type created, serving on
 * its Unix socket. Requests go over that socket as root (an SSO
 * administrator), so every route's handler runs exactly as in production.
 */
#ifndef SB_FUZZ_DAEMON_H
#define SB_FUZZ_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Starts the daemon once per process; aborts on any error. */
void fuzz_daemon_start(void);

/* Sends req[0..len) on a new connection, half-closes it and reads what the
 * daemon answers until it closes the connection, into reply (cap bytes,
 * NUL-terminated, the rest dropped). Returns the bytes read (up to cap -
 * 1); aborts when the daemon neither answers nor closes within 20 s. */
size_t fuzz_daemon_exchange(const uint8_t *req, size_t len, char *reply,
			    size_t cap);

/* The HTTP status of a reply ("HTTP/1.1 201 ..."; any version), or 0
 * when reply is not an HTTP response. */
int fuzz_reply_status(const char *reply);

#endif
