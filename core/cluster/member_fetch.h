/*
 * The client side of the cluster's secret hand-out: a member node fetches
 * the current and previous master secret from the active master secret
 * server over mutual TLS (libcurl with OpenSSL, jansson).
 *
 * The request is GET https://ADDR/v1/cluster/secret with this node's
 * client certificate; the server is verified against the cluster's CA and
 * its certificate must name ADDR's host (a DNS or IP subjectAltName). The
 * answer is
 *   {"secrets": [{"msid": "...", "created_at_ms": N,
 *                 "key": "<base64 of 32 bytes>"}, ...]}
 * current first, one or two entries: the JSON encoding of the secret list,
 * decoded and checked by secret/secret_codec.h.
 *
 * Key material is kept out of ordinary memory where this code owns it: the
 * client key's PEM text is read into locked memory and handed to curl
 * without a copy, the response is received into a locked buffer, decoded
 * keys pass through a stack buffer that is wiped, and the JSON document is
 * freed through jansson's free, which the daemon replaces with a wiping
 * one (json_set_alloc_funcs). OpenSSL's and curl's internal record buffers
 * are outside this module's reach.
 *
 * The process should call curl_global_init() once at start, before any
 * thread (libcurl >= 7.84 also initialises itself safely on first use), and
 * must ignore SIGPIPE: curl runs with CURLOPT_NOSIGNAL, so it does not
 * guard writes to a closed connection. Each call uses its own easy handle,
 * so calls may run on several threads at once.
 */
#ifndef SB_MEMBER_FETCH_H
#define SB_MEMBER_FETCH_H

#include "secret/backup_format.h"

#include <stddef.h>

/* The member's TLS material (PEM files). cert_file and key_file may both be
 * NULL to connect without a client certificate (the MSS will refuse; used
 * by tests). The key file must be accessible to its owner only. */
struct sb_member_tls {
	const char *cert_file;
	const char *key_file;
	const char *ca_file;
};

/* Largest answer accepted, in bytes. */
#define SB_MEMBER_FETCH_MAX_BODY 16384

/* Fetches the cluster's secrets from the MSS at addr ("HOST:PORT" or
 * "[IPV6]:PORT"), within timeout_ms overall (connect, TLS handshake and
 * answer; > 0). On success returns 0 and *secrets is sb_secure_alloc'ed
 * memory of *n (1 or 2) entries, current first (free with
 * sb_secure_free(*secrets, *n * sizeof(**secrets))). Returns -1 with msg
 * naming addr and the reason — cannot connect (refused, no route),
 * timed out, TLS verification of the server failed (OpenSSL's reason), the
 * server refused this node's certificate, HTTP status with the server's
 * error code and message, or a malformed answer — and *secrets NULL, *n
 * 0. msg never holds key material. */
int sb_member_fetch_secrets(const char *addr, const struct sb_member_tls *tls,
			    long timeout_ms, struct sb_backup_secret **secrets,
			    size_t *n, char *msg, size_t msglen);

#endif
