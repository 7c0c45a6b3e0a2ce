/*
 * The server side of mutual TLS for secretbrokerd's network API (OpenSSL 3,
 * served by libevent's evhttp over bufferevent_openssl).
 *
 * A struct sb_tls is one loaded server context: certificate chain, private
 * key and the CA that client certificates must chain to. It is
 * reference-counted so that a SIGHUP reload can swap in a new one while
 * connections that began on the old one keep it (each SSL also holds its
 * own reference on the SSL_CTX, taken by SSL_new, so an SSL outlives
 * sb_tls_unref safely).
 *
 * Every client must present a certificate that chains to the CA; the
 * connection's identity is the first DNS subjectAltName of that
 * certificate, else its subject CN (sb_tls_peer_identity). What an
 * identity may do is the daemon's business ([access] in docs/tls.md).
 */
#ifndef SB_TLS_H
#define SB_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

struct event_base;
struct bufferevent;
struct evhttp_request;

struct sb_tls;

/* Builds a server TLS context: TLS 1.2 minimum (1.3 preferred; 1.2 limited
 * to ECDHE with AES-GCM or ChaCha20), the certificate chain in cert_file
 * (PEM, leaf first) and the key in key_file (PEM, unencrypted), client
 * certificates required and verified against ca_file (PEM, one or more CA
 * certificates), the key checked against the certificate. A key file that
 * group or others may access is refused (message naming the path and the
 * mode), as is one that is not a regular file. Session tickets and the
 * session cache are off: no resumption secrets to manage, and every
 * connection is verified afresh. Returns a context holding one reference,
 * or NULL with one clear message in msg naming the file at fault. */
struct sb_tls *sb_tls_server_new(const char *cert_file, const char *key_file,
				 const char *ca_file, char *msg, size_t msglen);

/* The OpenSSL context of t, borrowed: valid while the caller holds a
 * reference on t. SSL_new(sb_tls_ctx(t)) takes its own. */
SSL_CTX *sb_tls_ctx(struct sb_tls *t);

/* Takes / drops a reference (thread-safe). The last unref frees t. NULL is
 * a no-op for unref. */
void sb_tls_ref(struct sb_tls *t);
void sb_tls_unref(struct sb_tls *t);

/* Copies the verified peer's identity into out: the first DNS
 * subjectAltName of its certificate, else the subject's CN (UTF-8).
 * Returns 0, or -1 when ssl has no verified peer certificate, the
 * certificate has neither name, the name holds a NUL or control character,
 * or it does not fit in outlen (an identity is never truncated). */
int sb_tls_peer_identity(SSL *ssl, char *out, size_t outlen);

/* sb_tls_peer_identity of the connection that carries req (an evhttp
 * request on a bufferevent from sb_tls_bufferevent_new). Returns 0 or -1
 * (not a TLS connection, or no verified identity). */
int sb_tls_request_identity(struct evhttp_request *req, char *out,
			    size_t outlen);

/* A server-side bufferevent_openssl for one new connection, for evhttp's
 * evhttp_set_bevcb: created with fd -1 (evhttp sets the accepted fd) and
 * a new SSL of t's context in the accepting state, closing socket and SSL
 * when freed, and tolerating a peer that closes without close_notify.
 * Returns NULL when memory runs out (evhttp then drops the connection). */
struct bufferevent *sb_tls_bufferevent_new(struct event_base *base,
					   struct sb_tls *t);

/* Opens a TCP listener on addr: "HOST:PORT" with an IPv4 address or a
 * host name, "[IPV6]:PORT", or "*:PORT" (every address, IPv6 and IPv4 when
 * the host has IPv6, else IPv4). PORT 0 picks a free port (see
 * sb_tls_local_port). The socket is non-blocking, close-on-exec,
 * SO_REUSEADDR, listening with a backlog of 1024, and has TCP_NODELAY set:
 * accepted sockets inherit it on Linux, and without it evhttp over TLS
 * stalls about 40 ms per response (Nagle against the client's delayed
 * ACK). Returns the fd, or -1 with msg naming addr and the reason. */
int sb_tls_listen_tcp(const char *addr, char *msg, size_t msglen);

/* The local port a socket is bound to, or -1. */
int sb_tls_local_port(int fd);

/* Reads a PEM private key file into secure memory after checking it: a
 * regular file that neither group nor others may access (checked on the
 * open descriptor, so the file checked is the file read), at most 1 MiB.
 * On success *pem is sb_secure_alloc'ed, NUL-terminated, of *pem_size
 * bytes allocated (free with sb_secure_free(*pem, *pem_size)) and *pem_len
 * bytes of text. Returns 0, or -1 with msg naming the file (what names it
 * in the message: e.g. "tls_key"). */
int sb_tls_read_key_file(const char *what, const char *path, char **pem,
			 size_t *pem_len, size_t *pem_size, char *msg,
			 size_t msglen);

#endif
