/* Server side of mutual TLS: see tls.h. */
#define _GNU_SOURCE
#include "runtime/tls.h"

#include "runtime/secure_mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A key file larger than this is not a PEM private key. */
#define KEY_FILE_MAX (1024 * 1024)

/* TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 keeps OpenSSL's
 * defaults, which are all of that kind. */
#define TLS12_CIPHERS "ECDHE+AESGCM:ECDHE+CHACHA20"

struct sb_tls {
	atomic_int refs;
	SSL_CTX *ctx;
};

/* Writes the reason of the oldest OpenSSL error queued on this thread (the
 * root cause; later entries only say which call failed) into buf, and
 * clears the queue. "unknown error" when the queue is empty. */
static const char *ssl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	if (r)
		snprintf(buf, len, "%s", r);
	else if (e)
		snprintf(buf, len, "OpenSSL error 0x%lx", e);
	else
		snprintf(buf, len, "unknown error");
	ERR_clear_error();
	return buf;
}

/* Checks that path names a regular file this process can open for
 * reading, so that a missing or unreadable file is reported with errno's
 * words rather than OpenSSL's. Returns 0 or -1 with msg. */
static int check_readable(const char *what, const char *path, char *msg,
			  size_t msglen)
{
	struct stat st;
	int fd;

	if (path == NULL || path[0] == '\0') {
		snprintf(msg, msglen, "no %s file is configured", what);
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(msg, msglen, "%s %s: cannot open: %s", what, path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "%s %s: not a regular file", what, path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int sb_tls_read_key_file(const char *what, const char *path, char **pem,
			 size_t *pem_len, size_t *pem_size, char *msg,
			 size_t msglen)
{
	int ret = -1;
	int fd = -1;
	struct stat st;
	char *buf = NULL;
	size_t size = 0, have = 0;

	*pem = NULL;
	*pem_len = 0;
	*pem_size = 0;
	if (path == NULL || path[0] == '\0') {
		snprintf(msg, msglen, "no %s file is configured", what);
		goto done;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(msg, msglen, "%s %s: cannot open: %s", what, path,
			 strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "%s %s: not a regular file", what, path);
		goto done;
	}
	/* The descriptor's own mode: the file checked is the file read. */
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(msg, msglen,
			 "%s %s is accessible to group or others (mode %04o); "
			 "a private key must be readable by its owner only "
			 "(chmod 600 %s)",
			 what, path, (unsigned)(st.st_mode & 07777), path);
		goto done;
	}
	if (st.st_size <= 0 || st.st_size > KEY_FILE_MAX) {
		snprintf(msg, msglen, "%s %s: %s", what, path,
			 st.st_size <= 0 ? "the file is empty"
					 : "too large for a PEM private key");
		goto done;
	}
	size = (size_t)st.st_size + 1;
	buf = sb_secure_alloc(size);
	if (buf == NULL) {
		snprintf(msg, msglen,
			 "%s %s: cannot allocate locked memory for it: %s",
			 what, path, strerror(errno));
		goto done;
	}
	while (have < size - 1) {
		ssize_t n = read(fd, buf + have, size - 1 - have);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(msg, msglen, "%s %s: read error: %s", what,
				 path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break; /* shrank while reading: parse what is there */
		have += (size_t)n;
	}
	buf[have] = '\0';
	*pem = buf;
	*pem_len = have;
	*pem_size = size;
	buf = NULL;
	ret = 0;
done:
	if (buf)
		sb_secure_free(buf, size);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* OpenSSL would otherwise prompt on the terminal for the passphrase of an
 * encrypted key; a daemon has nobody to ask. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* Parses the PEM private key in key_file. Returns the key or NULL with
 * msg. */
static EVP_PKEY *load_key(const char *key_file, char *msg, size_t msglen)
{
	EVP_PKEY *pkey = NULL;
	char *pem = NULL;
	size_t pem_len = 0, pem_size = 0;
	BIO *bio = NULL;
	char reason[256];

	if (sb_tls_read_key_file("TLS key", key_file, &pem, &pem_len, &pem_size,
				 msg, msglen) != 0)
		return NULL;
	bio = BIO_new_mem_buf(pem, (int)pem_len);
	if (bio == NULL) {
		snprintf(msg, msglen, "TLS key %s: out of memory", key_file);
		goto done;
	}
	ERR_clear_error();
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (pkey == NULL) {
		if (strstr(pem, "ENCRYPTED"))
			snprintf(msg, msglen,
				 "TLS key %s is encrypted with a passphrase, "
				 "which the daemon cannot enter; store it "
				 "unencrypted, readable by the daemon's user "
				 "only",
				 key_file);
		else
			snprintf(msg, msglen,
				 "TLS key %s: not a PEM private key (%s)",
				 key_file, ssl_reason(reason, sizeof(reason)));
		ERR_clear_error();
	}
done:
	BIO_free(bio);
	sb_secure_free(pem, pem_size);
	return pkey;
}

struct sb_tls *sb_tls_server_new(const char *cert_file, const char *key_file,
				 const char *ca_file, char *msg, size_t msglen)
{
	struct sb_tls *t = NULL;
	SSL_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	STACK_OF(X509_NAME) *ca_names = NULL;
	char reason[256];
	static const unsigned char sid_ctx[] = "secretbroker";

	if (check_readable("TLS certificate", cert_file, msg, msglen) != 0 ||
	    check_readable("TLS CA file", ca_file, msg, msglen) != 0)
		goto fail;
	pkey = load_key(key_file, msg, msglen);
	if (pkey == NULL)
		goto fail;

	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(msg, msglen, "cannot create a TLS context: %s",
			 ssl_reason(reason, sizeof(reason)));
		goto fail;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1) {
		snprintf(msg, msglen, "cannot set the TLS versions/ciphers: %s",
			 ssl_reason(reason, sizeof(reason)));
		goto fail;
	}
	/* No resumption: no ticket keys or cached master secrets to protect
	 * and rotate, and no session that skips the client's verification
	 * after a reload changed the CA. Peers are few and long-lived, so the
	 * full handshake costs little. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
					 SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);

	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		snprintf(msg, msglen,
			 "TLS certificate %s: cannot load a PEM certificate "
			 "chain (%s)",
			 cert_file, ssl_reason(reason, sizeof(reason)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pkey) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(msg, msglen,
			 "TLS key %s does not match the certificate in %s (%s)",
			 key_file, cert_file,
			 ssl_reason(reason, sizeof(reason)));
		goto fail;
	}

	if (SSL_CTX_load_verify_file(ctx, ca_file) != 1) {
		snprintf(msg, msglen,
			 "TLS CA file %s: cannot load PEM CA certificates (%s)",
			 ca_file, ssl_reason(reason, sizeof(reason)));
		goto fail;
	}
	/* The CA names go in the CertificateRequest, so a client holding
	 * several certificates can pick the right one. */
	ca_names = SSL_load_client_CA_file(ca_file);
	if (ca_names == NULL) {
		ERR_clear_error();
		snprintf(msg, msglen, "TLS CA file %s holds no certificate",
			 ca_file);
		goto fail;
	}
	SSL_CTX_set_client_CA_list(ctx, ca_names); /* takes ca_names */
	SSL_CTX_set_verify(
		ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);

	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(msg, msglen, "out of memory");
		goto fail;
	}
	atomic_init(&t->refs, 1);
	t->ctx = ctx;
	EVP_PKEY_free(pkey); /* the context holds its own reference */
	return t;
fail:
	SSL_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return NULL;
}

SSL_CTX *sb_tls_ctx(struct sb_tls *t)
{
	return t->ctx;
}

void sb_tls_ref(struct sb_tls *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

void sb_tls_unref(struct sb_tls *t)
{
	if (t == NULL)
		return;
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	SSL_CTX_free(t->ctx); /* open SSLs keep their own reference */
	free(t);
}

/* Copies a certificate name of len bytes into out; refuses empty names,
 * names with a NUL or control character (an embedded NUL is the classic
 * way to make "admin\0.evil" read as "admin"), and names that do not fit. */
static int copy_name(const unsigned char *s, int len, char *out, size_t outlen)
{
	if (len <= 0 || (size_t)len >= outlen)
		return -1;
	for (int i = 0; i < len; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	memcpy(out, s, (size_t)len);
	out[len] = '\0';
	return 0;
}

int sb_tls_peer_identity(SSL *ssl, char *out, size_t outlen)
{
	int ret = -1;
	X509 *cert;
	GENERAL_NAMES *gens = NULL;
	X509_NAME *subject;
	unsigned char *utf8 = NULL;
	int i, n;

	if (outlen > 0)
		out[0] = '\0';
	if (ssl == NULL)
		return -1;
	cert = SSL_get0_peer_certificate(ssl);
	if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK)
		return -1;
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	n = gens ? sk_GENERAL_NAME_num(gens) : 0;
	for (i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);

		if (g->type != GEN_DNS)
			continue;
		ret = copy_name(ASN1_STRING_get0_data(g->d.dNSName),
				ASN1_STRING_length(g->d.dNSName), out, outlen);
		goto done; /* the first DNS name decides, good or bad */
	}
	subject = X509_get_subject_name(cert);
	i = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1)
		    : -1;
	if (i < 0)
		goto done;
	n = ASN1_STRING_to_UTF8(
		&utf8,
		X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
	if (n < 0)
		goto done;
	ret = copy_name(utf8, n, out, outlen);
done:
	OPENSSL_free(utf8);
	GENERAL_NAMES_free(gens);
	ERR_clear_error();
	if (ret != 0 && outlen > 0)
		out[0] = '\0';
	return ret;
}

int sb_tls_request_identity(struct evhttp_request *req, char *out,
			    size_t outlen)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	SSL *ssl;

	if (outlen > 0)
		out[0] = '\0';
	bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
	ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
	return ssl ? sb_tls_peer_identity(ssl, out, outlen) : -1;
}

/*
 * Closing gracefully after a failed handshake.
 *
 * When the server refuses a client's certificate it sends a fatal alert
 * while the rest of the client's flight (its Finished, and in TLS 1.3 the
 * first request right behind it) is still unread in the socket. Closing a
 * socket with unread data, or receiving data after closing it, makes the
 * kernel send a RST, and a client that meets the RST before it reads the
 * alert reports "broken pipe" or "connection reset" instead of
 * "certificate required" or "unknown ca" — the one thing its operator
 * needs to know. (openssl s_server's do_server does the same.) So on a
 * fatal alert the socket is kept open through a duplicate descriptor, FIN
 * follows the alert, and what the client still sends is read and dropped
 * until it closes, for at most LINGER_ROUNDS rounds of LINGER_MS, before
 * the duplicate is closed too.
 *
 * The wait is an event_base_once on the connection's own loop: libevent
 * frees such events itself if the loop is freed first (the descriptor then
 * stays open, at shutdown only), and the state travels in the callback's
 * arguments — the descriptor, and the round in the low bits of the
 * event_base pointer (malloc'ed, so at least 8-byte aligned) — so there is
 * nothing of ours to free.
 */
#define LINGER_MS     1000
#define LINGER_ROUNDS 8 /* fits the 3 low bits of the base pointer */

static pthread_once_t base_index_once = PTHREAD_ONCE_INIT;
static int base_index = -1; /* SSL ex_data: the connection's event_base */

static void base_index_init(void)
{
	base_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static void linger_cb(evutil_socket_t fd, short what, void *arg);

/* Waits (without blocking the loop) for fd to become readable or for
 * LINGER_MS; closes fd when that cannot be arranged. */
static void linger_arm(struct event_base *base, int fd, unsigned round)
{
	struct timeval tv = {.tv_sec = LINGER_MS / 1000,
			     .tv_usec = (LINGER_MS % 1000) * 1000};
	void *arg = (void *)((uintptr_t)base | round);

	if (event_base_once(base, fd, EV_READ, linger_cb, arg, &tv) != 0)
		close(fd);
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct event_base *base = (void *)((uintptr_t)arg & ~(uintptr_t)7);
	unsigned round = (unsigned)((uintptr_t)arg & 7);
	char sink[4096];
	ssize_t n = -1;

	if (what & EV_READ) {
		/* At most 64 KiB a round: a client that keeps sending is cut
		 * off after LINGER_ROUNDS rounds. */
		for (int i = 0; i < 16; i++) {
			n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
			if (n <= 0)
				break;
		}
		if ((n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR))) &&
		    round + 1 < LINGER_ROUNDS) {
			linger_arm(base, fd, round + 1);
			return;
		}
	}
	close(fd); /* the client closed, an error, or time is up */
}

/* OpenSSL's info callback on server connections: starts the graceful
 * close above when this side sends a fatal alert. */
static void alert_info_cb(const SSL *ssl, int where, int ret)
{
	struct event_base *base;
	int fd, dup_fd;

	if (!(where & SSL_CB_WRITE_ALERT) || (ret >> 8) != SSL3_AL_FATAL)
		return;
	base = SSL_get_ex_data(ssl, base_index);
	fd = SSL_get_fd(ssl);
	if (base == NULL || fd < 0 || ((uintptr_t)base & 7) != 0)
		return;
	/* Once per connection. The cast drops a const OpenSSL's callback
	 * type imposes; ex_data is ours to change. */
	SSL_set_ex_data((SSL *)ssl, base_index, NULL);
	dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return; /* a plain close then: the client may see a RST */
	shutdown(dup_fd, SHUT_WR); /* FIN after the alert just written */
	linger_arm(base, dup_fd, 0);
}

struct bufferevent *sb_tls_bufferevent_new(struct event_base *base,
					   struct sb_tls *t)
{
	SSL *ssl;
	struct bufferevent *bev;

	pthread_once(&base_index_once, base_index_init);
	ssl = SSL_new(t->ctx);
	if (ssl == NULL) {
		ERR_clear_error();
		return NULL;
	}
	if (base_index >= 0 && SSL_set_ex_data(ssl, base_index, base) == 1)
		SSL_set_info_callback(ssl, alert_info_cb);
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
					     BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl); /* not taken over on failure */
		return NULL;
	}
	/* Clients that just close the socket after their last response are
	 * common (curl at exit); that is not an error worth a log line. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

/* Splits addr into host (numeric, or "*") and port. Returns 0 or -1 with
 * msg. */
static int split_addr(const char *addr, char *host, size_t hostlen, char *port,
		      size_t portlen, char *msg, size_t msglen)
{
	const char *h, *p, *end;
	size_t hl;
	char *stop;
	long v;

	if (addr == NULL || addr[0] == '\0') {
		snprintf(msg, msglen, "no TLS listen address is configured");
		return -1;
	}
	if (addr[0] == '[') {
		h = addr + 1;
		end = strchr(h, ']');
		if (end == NULL || end[1] != ':') {
			snprintf(msg, msglen,
				 "listen address %s: expected [IPV6]:PORT",
				 addr);
			return -1;
		}
		p = end + 2;
	} else {
		h = addr;
		end = strrchr(addr, ':');
		if (end == NULL) {
			snprintf(msg, msglen,
				 "listen address %s: expected HOST:PORT, "
				 "[IPV6]:PORT or *:PORT",
				 addr);
			return -1;
		}
		if (memchr(addr, ':', (size_t)(end - addr))) {
			snprintf(msg, msglen,
				 "listen address %s: write an IPv6 address in "
				 "brackets, [IPV6]:PORT",
				 addr);
			return -1;
		}
		p = end + 1;
	}
	hl = (size_t)(end - h);
	if (hl == 0 || hl >= hostlen) {
		snprintf(msg, msglen, "listen address %s: %s host", addr,
			 hl == 0 ? "empty" : "too long a");
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	errno = 0;
	v = strtol(p, &stop, 10);
	if (p[0] < '0' || p[0] > '9' || *stop != '\0' || errno != 0 || v < 0 ||
	    v > 65535 || strlen(p) >= portlen) {
		snprintf(msg, msglen,
			 "listen address %s: the port must be a number from 0 "
			 "to 65535",
			 addr);
		return -1;
	}
	memcpy(port, p, strlen(p) + 1);
	return 0;
}

/* Opens, configures, binds and listens one socket. Returns the fd, or -1
 * with errno set and *step naming what failed. */
static int open_listener(const struct sockaddr *sa, socklen_t salen, int v6only,
			 const char **step)
{
	int fd, one = 1, saved;

	*step = "socket";
	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_TCP);
	if (fd < 0)
		return -1;
	*step = "setsockopt";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		goto fail;
	if (v6only >= 0 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
				      sizeof(v6only)) != 0)
		goto fail;
	*step = "bind";
	if (bind(fd, sa, salen) != 0)
		goto fail;
	*step = "listen";
	if (listen(fd, 1024) != 0)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int sb_tls_listen_tcp(const char *addr, char *msg, size_t msglen)
{
	char host[INET6_ADDRSTRLEN + 8], port[8];
	struct addrinfo hints = {0}, *res = NULL;
	const char *step = "bind";
	int fd = -1, rc;

	if (split_addr(addr, host, sizeof(host), port, sizeof(port), msg,
		       msglen) != 0)
		return -1;
	if (strcmp(host, "*") == 0) {
		struct sockaddr_in6 any6 = {.sin6_family = AF_INET6,
					    .sin6_addr = IN6ADDR_ANY_INIT};
		struct sockaddr_in any4 = {.sin_family = AF_INET,
					   .sin_addr.s_addr =
						   htonl(INADDR_ANY)};

		any6.sin6_port = htons((uint16_t)atoi(port));
		any4.sin_port = any6.sin6_port;
		/* One dual-stack socket for both families; IPv4 alone on a
		 * host without IPv6. */
		fd = open_listener((struct sockaddr *)&any6, sizeof(any6), 0,
				   &step);
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL))
			fd = open_listener((struct sockaddr *)&any4,
					   sizeof(any4), -1, &step);
	} else {
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
		rc = getaddrinfo(host, port, &hints, &res);
		if (rc != 0) {
			snprintf(msg, msglen,
				 "listen address %s: %s is not a numeric IPv4 "
				 "or IPv6 address (%s)",
				 addr, host, gai_strerror(rc));
			return -1;
		}
		fd = open_listener(res->ai_addr, res->ai_addrlen, -1, &step);
		freeaddrinfo(res);
	}
	if (fd < 0) {
		snprintf(msg, msglen, "cannot listen on %s: %s: %s", addr, step,
			 strerror(errno));
		return -1;
	}
	return fd;
}

int sb_tls_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return -1;
}
