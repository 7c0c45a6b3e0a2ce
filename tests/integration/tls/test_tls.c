/*
 * Tests of core/tls.c (the server side of mutual TLS) and
 * core/member_fetch.c (a member fetching the secret from the MSS).
 *
 * A real evhttp server runs on 127.0.0.1:<free port> in a thread, over
 * bufferevent_openssl with a context from sb_tls_server_new, the way the
 * daemon serves its TCP listener. It serves /v1/cluster/secret (fixed
 * test keys; only identities "node1" and "cnonly" are members), echoes the
 * peer's identity on /v1/whoami and answers /v1/ping with 200 bytes. The
 * member side is the real sb_member_fetch_secrets (libcurl + OpenSSL).
 *
 * Usage: test_tls PKI_DIR [cmocka name filter]. PKI_DIR comes from
 * tests/lib/certs.sh (make_test_pki PKI_DIR mss1 node1 node2;
 * make_test_cert_cn_only PKI_DIR cnonly), made by the tls.pki fixture.
 */
#define _GNU_SOURCE
#include "cluster/member_fetch.h"
#include "runtime/secure_mem.h"
#include "runtime/tls.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>
#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static const char *pki;	 /* PKI_DIR */
static char tmpdir[256]; /* this run's scratch files */

/* ------------------------------------------------------------------ */
/* Helpers */

static const char *pki_path(const char *name)
{
	static char buf[8][512];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", pki, name);
	return p;
}

static char *tmp_path(const char *name)
{
	static char buf[8][512];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return p;
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char data[65536];
	FILE *in = fopen(from, "rb");
	FILE *out;
	size_t n;

	assert_non_null(in);
	n = fread(data, 1, sizeof(data), in);
	fclose(in);
	unlink(to);
	out = fopen(to, "wb");
	assert_non_null(out);
	assert_int_equal(fwrite(data, 1, n, out), n);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(chmod(to, mode), 0);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f;

	unlink(path);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Open descriptors of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

/* Waits up to 3 s for the number of open descriptors to come back to
 * want: the server closes refused connections, lingering or not. */
static void wait_fds(int want)
{
	uint64_t deadline = now_us() + 3000000;
	int n;

	while ((n = count_fds()) != want && now_us() < deadline)
		usleep(5000);
	if (n != want)
		fail_msg("%d descriptors open, expected %d", n, want);
}

/* Fails the test, showing both, unless needle occurs in msg. */
#define assert_msg_has(msg, needle)                                            \
	do {                                                                   \
		if (strstr((msg), (needle)) == NULL)                           \
			fail_msg("expected \"%s\" in message: %s", (needle),   \
				 (msg));                                       \
	} while (0)

/* The fixed test secrets the server hands out. */
static uint8_t test_key[2][32];
static char test_key_b64[2][64];

static void make_test_keys(void)
{
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 32; i++)
			test_key[k][i] = (uint8_t)(k * 0x80 + i * 7 + 1);
		EVP_EncodeBlock((unsigned char *)test_key_b64[k], test_key[k],
				32);
	}
}

/* ------------------------------------------------------------------ */
/* The test server */

enum answer_mode {
	ANSWER_OK,
	ANSWER_ONE,	    /* only the current secret */
	ANSWER_NOT_JSON,    /* truncated JSON that ends inside a key */
	ANSWER_EMPTY,	    /* "secrets": [] */
	ANSWER_THREE,	    /* three secrets */
	ANSWER_SHORT_KEY,   /* key of 16 bytes */
	ANSWER_BAD_BASE64,  /* key with a character outside base64 */
	ANSWER_LONG_MSID,   /* 65-character MSID */
	ANSWER_SAME_MSID,   /* current and previous share the MSID */
	ANSWER_NO_CREATED,  /* created_at_ms missing */
	ANSWER_HUGE,	    /* larger than SB_MEMBER_FETCH_MAX_BODY */
	ANSWER_500_PLAIN,   /* HTTP 500 with a text body */
	ANSWER_WRONG_SHAPE, /* {"secret": ...} */
};

struct server {
	struct sb_tls *tls;
	int port;
	pthread_t thread;
	struct event_base *base;
	struct evhttp *http;
	atomic_int mode;
	atomic_int requests;
	atomic_int nodelay; /* TCP_NODELAY of the last accepted socket */
	pthread_mutex_t lock;
	char identity[256]; /* of the last request, "" when none */
};

static void reply(struct evhttp_request *req, int status, const char *body)
{
	struct evbuffer *buf = evbuffer_new();

	evbuffer_add(buf, body, strlen(body));
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
}

static void secret_answer(struct server *s, struct evhttp_request *req,
			  const char *id)
{
	char body[32768];
	const char *k0 = test_key_b64[0], *k1 = test_key_b64[1];

	if (strcmp(id, "node1") != 0 && strcmp(id, "cnonly") != 0) {
		snprintf(body, sizeof(body),
			 "{\"error\":{\"code\":\"forbidden\",\"message\":"
			 "\"certificate identity '%s' is not in [access] "
			 "cluster_members\"}}",
			 id);
		reply(req, 403, body);
		return;
	}
	switch (atomic_load(&s->mode)) {
	case ANSWER_OK:
		snprintf(body, sizeof(body),
			 "{\"secrets\":[{\"msid\":\"msid-current\",\"created_"
			 "at_ms\":1700000000000,\"key\":\"%s\"},"
			 "{\"msid\":\"msid-previous\",\"created_at_ms\":"
			 "1600000000000,\"key\":\"%s\"}]}",
			 k0, k1);
		break;
	case ANSWER_ONE:
		snprintf(body, sizeof(body),
			 "{\"secrets\":[{\"msid\":\"only\",\"created_at_ms\":5,"
			 "\"key\":\"%s\"}]}",
			 k0);
		break;
	case ANSWER_NOT_JSON:
		snprintf(body, sizeof(body),
			 "{\"secrets\":[{\"msid\":\"m\",\"key\":\"%.30s", k0);
		break;
	case ANSWER_EMPTY:
		snprintf(body, sizeof(body), "{\"secrets\":[]}");
		break;
	case ANSWER_THREE:
		snprintf(
			body, sizeof(body),
			"{\"secrets\":[{\"msid\":\"a\",\"created_at_ms\":1,"
			"\"key\":\"%s\"},"
			"{\"msid\":\"b\",\"created_at_ms\":1,\"key\":\"%s\"},"
			"{\"msid\":\"c\",\"created_at_ms\":1,\"key\":\"%s\"}]}",
			k0, k1, k0);
		break;
	case ANSWER_SHORT_KEY:
		snprintf(body, sizeof(body),
			 "{\"secrets\":[{\"msid\":\"a\",\"created_at_ms\":1,"
			 "\"key\":\"AAECAwQFBgcICQoLDA0ODw==\"}]}");
		break;
	case ANSWER_BAD_BASE64:
		snprintf(body, sizeof(body),
			 "{\"secrets\":[{\"msid\":\"a\",\"created_at_ms\":1,"
			 "\"key\":\"%.20s*%.22s\"}]}",
			 k0, k0 + 21);
		break;
	case ANSWER_LONG_MSID:
		snprintf(body, sizeof(body),
			 "{\"secrets\":[{\"msid\":\"%065d\",\"created_at_ms\":"
			 "1,\"key\":\"%s\"}]}",
			 0, k0);
		break;
	case ANSWER_SAME_MSID:
		snprintf(body, sizeof(body),
			 "{\"secrets\":[{\"msid\":\"same\",\"created_at_ms\":1,"
			 "\"key\":\"%s\"},"
			 "{\"msid\":\"same\",\"created_at_ms\":1,\"key\":\"%"
			 "s\"}]}",
			 k0, k1);
		break;
	case ANSWER_NO_CREATED:
		snprintf(body, sizeof(body),
			 "{\"secrets\":[{\"msid\":\"a\",\"key\":\"%s\"}]}", k0);
		break;
	case ANSWER_HUGE: {
		size_t n = (size_t)snprintf(
			body, sizeof(body),
			"{\"secrets\":[{\"msid\":\"a\",\"created_at_ms\":1,"
			"\"key\":\"%s\"}],\"pad\":\"",
			k0);

		while (n < 20000)
			body[n++] = 'x';
		memcpy(body + n, "\"}", 3);
		break;
	}
	case ANSWER_500_PLAIN: reply(req, 500, "upstream\x01 exploded"); return;
	case ANSWER_WRONG_SHAPE:
		snprintf(body, sizeof(body), "{\"secret\":\"%s\"}", k0);
		break;
	}
	reply(req, 200, body);
}

static void request_cb(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
	int fd = (int)bufferevent_getfd(bev);
	int nodelay = -1;
	socklen_t len = sizeof(nodelay);
	char id[256], small[4];

	atomic_fetch_add(&s->requests, 1);
	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &len) != 0)
		nodelay = -1;
	atomic_store(&s->nodelay, nodelay);
	if (sb_tls_request_identity(req, id, sizeof(id)) != 0) {
		reply(req, 403,
		      "{\"error\":{\"code\":\"forbidden\",\"message\":\"no "
		      "verified client identity\"}}");
		return;
	}
	pthread_mutex_lock(&s->lock);
	snprintf(s->identity, sizeof(s->identity), "%s", id);
	pthread_mutex_unlock(&s->lock);

	if (strcmp(uri, "/v1/cluster/secret") == 0) {
		secret_answer(s, req, id);
	} else if (strcmp(uri, "/v1/whoami") == 0) {
		char body[300];

		snprintf(body, sizeof(body), "%s", id);
		reply(req, 200, body);
	} else if (strcmp(uri, "/v1/whoami-small") == 0) {
		/* An identity that does not fit is refused, not cut. */
		reply(req, 200,
		      sb_tls_request_identity(req, small, sizeof(small)) == 0
			      ? small
			      : "-1");
	} else if (strcmp(uri, "/v1/ping") == 0) {
		char body[201];

		memset(body, 'p', 200);
		body[200] = '\0';
		reply(req, 200, body);
	} else {
		reply(req, 404,
		      "{\"error\":{\"code\":\"not_found\",\"message\":\"no "
		      "such resource\"}}");
	}
}

static struct bufferevent *bev_cb(struct event_base *base, void *arg)
{
	struct server *s = arg;

	return sb_tls_bufferevent_new(base, s->tls);
}

static void *server_main(void *arg)
{
	struct server *s = arg;

	event_base_loop(s->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Starts a server on addr with the certificate of name, TCP_NODELAY on
 * the listener as sb_tls_listen_tcp leaves it (nodelay 1) or turned off
 * (0) for the comparison. */
static struct server *server_start(const char *addr, const char *name,
				   int nodelay)
{
	struct server *s = calloc(1, sizeof(*s));
	char msg[512], cert[64], key[64];
	int fd;

	assert_non_null(s);
	pthread_mutex_init(&s->lock, NULL);
	snprintf(cert, sizeof(cert), "%s.crt", name);
	snprintf(key, sizeof(key), "%s.key", name);
	s->tls = sb_tls_server_new(pki_path(cert), pki_path(key),
				   pki_path("ca.crt"), msg, sizeof(msg));
	if (s->tls == NULL)
		fail_msg("sb_tls_server_new: %s", msg);
	fd = sb_tls_listen_tcp(addr, msg, sizeof(msg));
	if (fd < 0)
		fail_msg("sb_tls_listen_tcp: %s", msg);
	if (!nodelay) {
		int off = 0;

		assert_int_equal(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &off,
					    sizeof(off)),
				 0);
	}
	s->port = sb_tls_local_port(fd);
	assert_true(s->port > 0);
	s->base = event_base_new();
	assert_non_null(s->base);
	s->http = evhttp_new(s->base);
	assert_non_null(s->http);
	evhttp_set_bevcb(s->http, bev_cb, s);
	evhttp_set_gencb(s->http, request_cb, s);
	evhttp_set_timeout(s->http, 10);
	assert_non_null(evhttp_accept_socket_with_handle(s->http, fd));
	assert_int_equal(pthread_create(&s->thread, NULL, server_main, s), 0);
	return s;
}

static void server_stop(struct server *s)
{
	if (s == NULL)
		return;
	event_base_loopexit(s->base, NULL);
	pthread_join(s->thread, NULL);
	evhttp_free(s->http);
	event_base_free(s->base);
	sb_tls_unref(s->tls);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void server_identity(struct server *s, char *out, size_t len)
{
	pthread_mutex_lock(&s->lock);
	snprintf(out, len, "%s", s->identity);
	pthread_mutex_unlock(&s->lock);
}

/* The member's TLS material for client cert name ("" for none) and CA. */
static struct sb_member_tls member(const char *name, const char *ca)
{
	static char cert[8][512], key[8][512];
	static int next;
	struct sb_member_tls t = {.ca_file = pki_path(ca)};
	int i = next++ % 8;

	if (name[0]) {
		snprintf(cert[i], sizeof(cert[i]), "%s/%s.crt", pki, name);
		snprintf(key[i], sizeof(key[i]), "%s/%s.key", pki, name);
		t.cert_file = cert[i];
		t.key_file = key[i];
	}
	return t;
}

/* Runs sb_member_fetch_secrets against host:port; returns its result with
 * msg filled and any secrets freed (checked first by the caller through
 * out/out_n when non-NULL). */
static int fetch(const char *host, int port, struct sb_member_tls t,
		 long timeout_ms, char *msg, size_t msglen,
		 struct sb_backup_secret **out, size_t *out_n)
{
	char addr[128];
	struct sb_backup_secret *sec = (void *)1;
	size_t n = 99;
	int rc;

	snprintf(addr, sizeof(addr), "%s:%d", host, port);
	msg[0] = '\0';
	rc = sb_member_fetch_secrets(addr, &t, timeout_ms, &sec, &n, msg,
				     msglen);
	if (rc != 0) {
		assert_null(sec);
		assert_int_equal(n, 0);
		assert_true(msg[0] != '\0');
		/* No error message may carry key material. */
		for (int k = 0; k < 2; k++) {
			char head[9];

			snprintf(head, sizeof(head), "%.8s", test_key_b64[k]);
			if (strstr(msg, head))
				fail_msg("key material in message: %s", msg);
		}
		printf("    [%s] %s\n", addr, msg);
	}
	if (out) {
		*out = sec;
		*out_n = n;
	} else if (rc == 0) {
		sb_secure_free(sec, n * sizeof(*sec));
	}
	return rc;
}

/* GET https://127.0.0.1:port/path with client cert name; the body into
 * out. Returns the HTTP status, or -1 on a transfer error. */
static size_t collect(char *p, size_t size, size_t nmemb, void *arg)
{
	char *out = arg;
	size_t have = strlen(out), n = size * nmemb;

	if (have + n >= 512)
		n = 511 - have;
	memcpy(out + have, p, n);
	out[have + n] = '\0';
	return size * nmemb;
}

static CURL *client_new(const char *name)
{
	CURL *c = curl_easy_init();
	char cert[512], key[512];

	assert_non_null(c);
	snprintf(cert, sizeof(cert), "%s/%s.crt", pki, name);
	snprintf(key, sizeof(key), "%s/%s.key", pki, name);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_CAINFO, pki_path("ca.crt"));
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
	curl_easy_setopt(c, CURLOPT_SSLKEY, key);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	return c;
}

static long get(CURL *c, int port, const char *path, char *out)
{
	char url[256];
	long status = -1;

	out[0] = '\0';
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (curl_easy_perform(c) != CURLE_OK)
		return -1;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* ------------------------------------------------------------------ */
/* sb_tls_server_new */

static struct sb_tls *server_new(const char *cert, const char *key,
				 const char *ca, char *msg, size_t len)
{
	struct sb_tls *t;

	msg[0] = '\0';
	t = sb_tls_server_new(cert, key, ca, msg, len);
	if (t == NULL) {
		assert_true(msg[0] != '\0');
		printf("    %s\n", msg);
	}
	return t;
}

static void server_new_good(void **state)
{
	char msg[512];
	struct sb_tls *t =
		server_new(pki_path("mss1.crt"), pki_path("mss1.key"),
			   pki_path("ca.crt"), msg, sizeof(msg));

	(void)state;
	assert_non_null(t);
	assert_non_null(sb_tls_ctx(t));
	assert_true(SSL_CTX_get_min_proto_version(sb_tls_ctx(t)) ==
		    TLS1_2_VERSION);
	assert_true(SSL_CTX_get_verify_mode(sb_tls_ctx(t)) ==
		    (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT));
	assert_true(SSL_CTX_get_options(sb_tls_ctx(t)) & SSL_OP_NO_TICKET);
	assert_int_equal(SSL_CTX_get_num_tickets(sb_tls_ctx(t)), 0);
	sb_tls_ref(t);
	sb_tls_unref(t);
	sb_tls_unref(t);
	sb_tls_unref(NULL);
}

static void server_new_key_modes(void **state)
{
	static const mode_t bad[] = {0644, 0640, 0604, 0660, 0620};
	char msg[512], want[16];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *k = tmp_path("mode.key");

		copy_file(pki_path("mss1.key"), k, bad[i]);
		assert_null(server_new(pki_path("mss1.crt"), k,
				       pki_path("ca.crt"), msg, sizeof(msg)));
		assert_msg_has(msg, k);
		snprintf(want, sizeof(want), "%04o", (unsigned)bad[i]);
		assert_msg_has(msg, want);
	}
	/* 0400 is as private as 0600. */
	copy_file(pki_path("mss1.key"), tmp_path("ro.key"), 0400);
	struct sb_tls *t = server_new(pki_path("mss1.crt"), tmp_path("ro.key"),
				      pki_path("ca.crt"), msg, sizeof(msg));
	assert_non_null(t);
	sb_tls_unref(t);
}

static void server_new_mismatch(void **state)
{
	char msg[512];

	(void)state;
	assert_null(server_new(pki_path("mss1.crt"), pki_path("node2.key"),
			       pki_path("ca.crt"), msg, sizeof(msg)));
	assert_msg_has(msg, pki_path("node2.key"));
	assert_msg_has(msg, pki_path("mss1.crt"));
	assert_msg_has(msg, "does not match");
}

static void server_new_missing(void **state)
{
	char msg[512];
	const char *nope = tmp_path("no-such-file.pem");

	(void)state;
	assert_null(server_new(nope, pki_path("mss1.key"), pki_path("ca.crt"),
			       msg, sizeof(msg)));
	assert_msg_has(msg, nope);
	assert_msg_has(msg, "TLS certificate");
	assert_msg_has(msg, "No such file");
	assert_null(server_new(pki_path("mss1.crt"), nope, pki_path("ca.crt"),
			       msg, sizeof(msg)));
	assert_msg_has(msg, nope);
	assert_msg_has(msg, "TLS key");
	assert_null(server_new(pki_path("mss1.crt"), pki_path("mss1.key"), nope,
			       msg, sizeof(msg)));
	assert_msg_has(msg, nope);
	assert_msg_has(msg, "TLS CA file");
	assert_null(server_new(pki_path("mss1.crt"), pki_path("mss1.key"),
			       tmpdir, msg, sizeof(msg)));
	assert_msg_has(msg, "not a regular file");
	assert_null(server_new(NULL, pki_path("mss1.key"), pki_path("ca.crt"),
			       msg, sizeof(msg)));
	assert_msg_has(msg, "no TLS certificate file");
}

static void server_new_garbage(void **state)
{
	char msg[512];
	const char *junk = tmp_path("junk.pem");
	const char *junk_key = tmp_path("junk.key");
	const char *empty = tmp_path("empty.pem");

	(void)state;
	write_file(junk, "this is not PEM\n", 0600);
	write_file(junk_key, "this is not PEM either\n", 0600);
	write_file(empty, "", 0600);
	assert_null(server_new(junk, pki_path("mss1.key"), pki_path("ca.crt"),
			       msg, sizeof(msg)));
	assert_msg_has(msg, junk);
	assert_null(server_new(pki_path("mss1.crt"), junk_key,
			       pki_path("ca.crt"), msg, sizeof(msg)));
	assert_msg_has(msg, junk_key);
	assert_msg_has(msg, "not a PEM private key");
	assert_null(server_new(pki_path("mss1.crt"), empty, pki_path("ca.crt"),
			       msg, sizeof(msg)));
	assert_msg_has(msg, empty);
	assert_null(server_new(pki_path("mss1.crt"), pki_path("mss1.key"), junk,
			       msg, sizeof(msg)));
	assert_msg_has(msg, junk);
	assert_msg_has(msg, "TLS CA file");
	assert_null(server_new(pki_path("mss1.crt"), pki_path("mss1.key"),
			       empty, msg, sizeof(msg)));
	assert_msg_has(msg, empty);
}

static void server_new_encrypted_key(void **state)
{
	char msg[512];
	const char *enc = tmp_path("enc.key");
	FILE *in = fopen(pki_path("mss1.key"), "r");
	FILE *out;
	EVP_PKEY *k;

	(void)state;
	assert_non_null(in);
	k = PEM_read_PrivateKey(in, NULL, NULL, NULL);
	fclose(in);
	assert_non_null(k);
	unlink(enc);
	out = fopen(enc, "w");
	assert_non_null(out);
	assert_int_equal(chmod(enc, 0600), 0);
	assert_int_equal(PEM_write_PrivateKey(out, k, EVP_aes_256_cbc(),
					      (unsigned char *)"secret", 6,
					      NULL, NULL),
			 1);
	fclose(out);
	EVP_PKEY_free(k);
	assert_null(server_new(pki_path("mss1.crt"), enc, pki_path("ca.crt"),
			       msg, sizeof(msg)));
	assert_msg_has(msg, enc);
	assert_msg_has(msg, "passphrase");
}

/* ------------------------------------------------------------------ */
/* sb_tls_listen_tcp */

static int getopt_int(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

/* Connects to the listener at loopback (AF_INET or AF_INET6) and returns
 * the accepted socket. */
static int accept_one(int lfd, int family)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	int c, a = -1, port = sb_tls_local_port(lfd);

	c = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
	for (int i = 0; i < 1000 && a < 0; i++) {
		a = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (a < 0 && errno == EAGAIN)
			usleep(1000);
	}
	assert_true(a >= 0);
	close(c);
	return a;
}

static void check_listener(int fd)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
	int a;

	assert_true(fd >= 0);
	assert_true(fl & O_NONBLOCK);
	assert_true(fdfl & FD_CLOEXEC);
	assert_int_equal(getopt_int(fd, SOL_SOCKET, SO_REUSEADDR), 1);
	assert_int_equal(getopt_int(fd, SOL_SOCKET, SO_ACCEPTCONN), 1);
	assert_int_equal(getopt_int(fd, IPPROTO_TCP, TCP_NODELAY), 1);
	assert_true(sb_tls_local_port(fd) > 0);
	/* What the listener's TCP_NODELAY is for: accepted sockets inherit
	 * it on Linux. */
	a = accept_one(fd, AF_INET);
	assert_int_equal(getopt_int(a, IPPROTO_TCP, TCP_NODELAY), 1);
	close(a);
}

static void listen_ipv4(void **state)
{
	char msg[256];
	int fd = sb_tls_listen_tcp("127.0.0.1:0", msg, sizeof(msg));

	(void)state;
	if (fd < 0)
		fail_msg("%s", msg);
	check_listener(fd);
	close(fd);
}

static void listen_ipv6_and_any(void **state)
{
	char msg[256];
	int fd, a;

	(void)state;
	fd = sb_tls_listen_tcp("[::1]:0", msg, sizeof(msg));
	if (fd < 0 && strstr(msg, "Address family not supported")) {
		printf("    no IPv6 here: %s\n", msg);
	} else {
		if (fd < 0)
			fail_msg("%s", msg);
		assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
		assert_int_equal(getopt_int(fd, IPPROTO_TCP, TCP_NODELAY), 1);
		a = accept_one(fd, AF_INET6);
		assert_int_equal(getopt_int(a, IPPROTO_TCP, TCP_NODELAY), 1);
		close(a);
		close(fd);
	}
	/* "*": both families on one socket (IPv4 is tried by
	 * check_listener). */
	fd = sb_tls_listen_tcp("*:0", msg, sizeof(msg));
	if (fd < 0)
		fail_msg("%s", msg);
	check_listener(fd);
	{
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len),
				 0);
		if (ss.ss_family == AF_INET6) {
			a = accept_one(fd, AF_INET6);
			close(a);
		}
	}
	close(fd);
}

static void listen_bad_addresses(void **state)
{
	static const char *bad[] = {
		"nohost",	"127.0.0.1:",	  "127.0.0.1:65536",
		":8443",	"::1:8443",	  "example.com:8443",
		"[::1]8443",	"[::1:8443",	  "127.0.0.1:84x3",
		"127.0.0.1:-1", "999.1.1.1:8443", "",
	};
	char msg[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msg[0] = '\0';
		assert_int_equal(sb_tls_listen_tcp(bad[i], msg, sizeof(msg)),
				 -1);
		printf("    %s\n", msg);
		if (bad[i][0])
			assert_msg_has(msg, bad[i]);
		else
			assert_msg_has(msg, "no TLS listen address");
	}
	assert_int_equal(sb_tls_listen_tcp(NULL, msg, sizeof(msg)), -1);
}

static void listen_port_in_use(void **state)
{
	char msg[256], addr[64];
	int fd = sb_tls_listen_tcp("127.0.0.1:0", msg, sizeof(msg));

	(void)state;
	assert_true(fd >= 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", sb_tls_local_port(fd));
	assert_int_equal(sb_tls_listen_tcp(addr, msg, sizeof(msg)), -1);
	printf("    %s\n", msg);
	assert_msg_has(msg, addr);
	assert_msg_has(msg, "Address already in use");
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Identity of the peer */

static void identity_san_and_cn(void **state)
{
	struct server *s = server_start("127.0.0.1:0", "mss1", 1);
	char body[512];
	CURL *c;

	(void)state;
	/* First DNS subjectAltName. */
	c = client_new("node1");
	assert_int_equal(get(c, s->port, "/v1/whoami", body), 200);
	assert_string_equal(body, "node1");
	/* Never cut to fit. */
	assert_int_equal(get(c, s->port, "/v1/whoami-small", body), 200);
	assert_string_equal(body, "-1");
	curl_easy_cleanup(c);
	/* No subjectAltName: the subject's CN. */
	c = client_new("cnonly");
	assert_int_equal(get(c, s->port, "/v1/whoami", body), 200);
	assert_string_equal(body, "cnonly");
	curl_easy_cleanup(c);
	c = client_new("node2");
	assert_int_equal(get(c, s->port, "/v1/whoami", body), 200);
	assert_string_equal(body, "node2");
	curl_easy_cleanup(c);
	server_stop(s);

	char out[8] = "x";
	assert_int_equal(sb_tls_peer_identity(NULL, out, sizeof(out)), -1);
	assert_string_equal(out, "");
}

/* ------------------------------------------------------------------ */
/* sb_member_fetch_secrets: success */

static void fetch_good(void **state)
{
	struct server *s = server_start("127.0.0.1:0", "mss1", 1);
	struct sb_backup_secret *sec;
	size_t n;
	char msg[1024], id[256];

	(void)state;
	assert_int_equal(fetch("127.0.0.1", s->port, member("node1", "ca.crt"),
			       5000, msg, sizeof(msg), &sec, &n),
			 0);
	assert_int_equal(n, 2);
	assert_string_equal(sec[0].msid, "msid-current");
	assert_string_equal(sec[1].msid, "msid-previous");
	assert_true(sec[0].created_at_ms == 1700000000000ull);
	assert_true(sec[1].created_at_ms == 1600000000000ull);
	assert_memory_equal(sec[0].key, test_key[0], 32);
	assert_memory_equal(sec[1].key, test_key[1], 32);
	sb_secure_free(sec, n * sizeof(*sec));
	server_identity(s, id, sizeof(id));
	assert_string_equal(id, "node1");
	/* The accepted connection inherited the listener's TCP_NODELAY. */
	assert_int_equal(atomic_load(&s->nodelay), 1);

	/* By name: the certificate names localhost too. */
	atomic_store(&s->mode, ANSWER_ONE);
	assert_int_equal(fetch("localhost", s->port, member("node1", "ca.crt"),
			       5000, msg, sizeof(msg), &sec, &n),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(sec[0].msid, "only");
	assert_memory_equal(sec[0].key, test_key[0], 32);
	sb_secure_free(sec, n * sizeof(*sec));

	/* A member whose certificate has a CN and no subjectAltName. */
	atomic_store(&s->mode, ANSWER_OK);
	assert_int_equal(fetch("127.0.0.1", s->port, member("cnonly", "ca.crt"),
			       5000, msg, sizeof(msg), NULL, NULL),
			 0);
	server_identity(s, id, sizeof(id));
	assert_string_equal(id, "cnonly");
	server_stop(s);
}

static void fetch_ipv6(void **state)
{
	char msg[1024];
	struct server *s;
	int fd = sb_tls_listen_tcp("[::1]:0", msg, sizeof(msg));

	(void)state;
	if (fd < 0) {
		printf("    no IPv6 here: %s\n", msg);
		skip();
	}
	close(fd);
	s = server_start("[::1]:0", "mss1", 1);
	/* The certificate does not name ::1: the name check must refuse
	 * it, which also shows the bracketed address reached the server. */
	assert_int_equal(fetch("[::1]", s->port, member("node1", "ca.crt"),
			       5000, msg, sizeof(msg), NULL, NULL),
			 -1);
	assert_msg_has(msg, "TLS verification");
	assert_msg_has(msg, "'::1'");
	server_stop(s);
}

/* ------------------------------------------------------------------ */
/* sb_member_fetch_secrets: refusals and failures */

static void fetcherr_not_member(void **state)
{
	struct server *s = server_start("127.0.0.1:0", "mss1", 1);
	char msg[1024];

	(void)state;
	assert_int_equal(fetch("127.0.0.1", s->port, member("node2", "ca.crt"),
			       5000, msg, sizeof(msg), NULL, NULL),
			 -1);
	assert_msg_has(msg, "HTTP 403");
	assert_msg_has(msg, "forbidden");
	assert_msg_has(msg, "'node2' is not in [access] cluster_members");
	server_stop(s);
}

static void fetcherr_no_client_cert(void **state)
{
	struct server *s = server_start("127.0.0.1:0", "mss1", 1);
	char msg[1024], addr[64];
	int fds = count_fds();

	(void)state;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", s->port);
	/* Several times: the alert must reach the client every time, not
	 * only when it wins the race against the server's close. */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(fetch("127.0.0.1", s->port,
				       member("", "ca.crt"), 5000, msg,
				       sizeof(msg), NULL, NULL),
				 -1);
		assert_msg_has(msg, addr);
		assert_msg_has(msg, "refused");
		assert_msg_has(msg, "certificate required");
	}
	assert_int_equal(atomic_load(&s->requests), 0);
	/* The server's lingering close ended when the client closed. */
	wait_fds(fds);
	server_stop(s);
}

static void fetcherr_foreign_client(void **state)
{
	struct server *s = server_start("127.0.0.1:0", "mss1", 1);
	char msg[1024];
	int fds = count_fds();

	(void)state;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(fetch("127.0.0.1", s->port,
				       member("foreign", "ca.crt"), 5000, msg,
				       sizeof(msg), NULL, NULL),
				 -1);
		assert_msg_has(msg, "refused this node's client certificate");
		assert_msg_has(msg, "unknown ca");
	}
	assert_int_equal(atomic_load(&s->requests), 0);
	wait_fds(fds);
	server_stop(s);
}

/* A client that is not speaking TLS properly gets the server's fatal alert
 * followed by an orderly FIN, not a RST; and a server stopped while such a
 * close still lingers frees everything (the ASan build checks). */
static void fetcherr_garbage_client(void **state)
{
	/* A TLS record holding a ClientHello whose body is too short. */
	static const unsigned char hello[] = {0x16, 0x03, 0x01, 0x00, 0x05,
					      0x01, 0x00, 0x00, 0x01, 0x00};
	struct server *s = server_start("127.0.0.1:0", "mss1", 1);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	unsigned char buf[64];
	ssize_t n, got = 0;
	int c;

	(void)state;
	sin.sin_port = htons((uint16_t)s->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(send(c, hello, sizeof(hello), MSG_NOSIGNAL),
			 (ssize_t)sizeof(hello));
	/* The alert record (content type 21), then end of stream. */
	struct timeval tv = {.tv_sec = 5};
	assert_int_equal(
		setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	while ((n = recv(c, buf + got, sizeof(buf) - (size_t)got, 0)) > 0)
		got += n;
	if (n < 0)
		fail_msg("after %zd bytes: %s (a RST instead of a FIN?)", got,
			 strerror(errno));
	assert_true(got >= 7);
	assert_int_equal(buf[0], 21);
	assert_int_equal(buf[5], 2); /* fatal */
	printf("    alert %u, then FIN\n", buf[6]);
	/* The client stays: the server still lingers when it stops. */
	server_stop(s);
	close(c);
}

static void fetcherr_foreign_server(void **state)
{
	struct server *s = server_start("127.0.0.1:0", "mss1", 1);
	char msg[1024];

	(void)state;
	/* The member trusts another CA than the one that signed the MSS. */
	assert_int_equal(fetch("127.0.0.1", s->port,
			       member("node1", "foreign-ca.crt"), 5000, msg,
			       sizeof(msg), NULL, NULL),
			 -1);
	assert_msg_has(msg, "TLS verification of the MSS");
	assert_msg_has(msg, pki_path("foreign-ca.crt"));
	/* OpenSSL's reason: the server sends its CA along (the chain is
	 * built from tls_ca), which the member does not trust. */
	if (strstr(msg, "self-signed certificate in certificate chain") ==
		    NULL &&
	    strstr(msg, "unable to get local issuer certificate") == NULL)
		fail_msg("no OpenSSL verification reason in: %s", msg);
	assert_int_equal(atomic_load(&s->requests), 0);
	server_stop(s);
}

static void fetcherr_wrong_name(void **state)
{
	/* Listening on every address, reached as 127.0.0.2, which the
	 * certificate (mss1, localhost, 127.0.0.1) does not name. */
	struct server *s = server_start("*:0", "mss1", 1);
	char msg[1024];

	(void)state;
	assert_int_equal(fetch("127.0.0.2", s->port, member("node1", "ca.crt"),
			       5000, msg, sizeof(msg), NULL, NULL),
			 -1);
	assert_msg_has(msg, "127.0.0.2");
	assert_msg_has(msg, "TLS verification");
	assert_msg_has(msg, "no alternative certificate subject name matches");
	assert_int_equal(atomic_load(&s->requests), 0);
	/* The same server by a name it has is fine. */
	assert_int_equal(fetch("127.0.0.1", s->port, member("node1", "ca.crt"),
			       5000, msg, sizeof(msg), NULL, NULL),
			 0);
	server_stop(s);
}

static void fetcherr_server_down(void **state)
{
	char msg[1024];
	int fd = sb_tls_listen_tcp("127.0.0.1:0", msg, sizeof(msg));
	int port = sb_tls_local_port(fd);
	uint64_t t0;

	(void)state;
	close(fd); /* nobody listens there now */
	t0 = now_us();
	assert_int_equal(fetch("127.0.0.1", port, member("node1", "ca.crt"),
			       5000, msg, sizeof(msg), NULL, NULL),
			 -1);
	assert_true(now_us() - t0 < 2000000);
	assert_msg_has(msg, "cannot connect");
	assert_msg_has(msg, "Connection refused");
}

static void fetcherr_timeout(void **state)
{
	/* A socket that listens but never answers: TCP connects from the
	 * backlog, the TLS handshake waits forever. */
	char msg[1024];
	int fd = sb_tls_listen_tcp("127.0.0.1:0", msg, sizeof(msg));
	uint64_t t0, ms;

	(void)state;
	assert_true(fd >= 0);
	t0 = now_us();
	assert_int_equal(fetch("127.0.0.1", sb_tls_local_port(fd),
			       member("node1", "ca.crt"), 300, msg, sizeof(msg),
			       NULL, NULL),
			 -1);
	ms = (now_us() - t0) / 1000;
	printf("    gave up after %llu ms\n", (unsigned long long)ms);
	assert_true(ms >= 250 && ms < 2000);
	assert_msg_has(msg, "no answer");
	assert_msg_has(msg, "300 ms");
	close(fd);
}

static void fetcherr_malformed(void **state)
{
	static const struct {
		enum answer_mode mode;
		const char *want;
	} cases[] = {
		{ANSWER_NOT_JSON, "not valid JSON"},
		{ANSWER_EMPTY, "array of 1 or 2"},
		{ANSWER_THREE, "array of 1 or 2"},
		{ANSWER_WRONG_SHAPE, "expected \"secrets\""},
		{ANSWER_SHORT_KEY, "secrets[0].key is not base64 of 32 bytes"},
		{ANSWER_BAD_BASE64, "secrets[0].key is not base64 of 32 bytes"},
		{ANSWER_LONG_MSID, "secrets[0].msid"},
		{ANSWER_SAME_MSID, "same MSID"},
		{ANSWER_NO_CREATED, "secrets[0].created_at_ms"},
		{ANSWER_HUGE, "larger than"},
		{ANSWER_500_PLAIN, "HTTP 500 without an API error body"},
	};
	struct server *s = server_start("127.0.0.1:0", "mss1", 1);
	char msg[1024];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		atomic_store(&s->mode, cases[i].mode);
		assert_int_equal(fetch("127.0.0.1", s->port,
				       member("node1", "ca.crt"), 5000, msg,
				       sizeof(msg), NULL, NULL),
				 -1);
		assert_msg_has(msg, cases[i].want);
		if (cases[i].mode != ANSWER_500_PLAIN)
			assert_msg_has(msg, "malformed answer from the MSS");
		/* The server's control character is not passed on. */
		assert_null(strchr(msg, '\x01'));
	}
	server_stop(s);
}

static void fetcherr_local_config(void **state)
{
	struct server *s = server_start("127.0.0.1:0", "mss1", 1);
	struct sb_member_tls t = member("node1", "ca.crt");
	const char *k = tmp_path("member.key");
	char msg[1024];

	(void)state;
	/* The member's own key readable by others. */
	copy_file(pki_path("node1.key"), k, 0644);
	t.key_file = k;
	assert_int_equal(fetch("127.0.0.1", s->port, t, 5000, msg, sizeof(msg),
			       NULL, NULL),
			 -1);
	assert_msg_has(msg, k);
	assert_msg_has(msg, "0644");
	/* Its key does not match its certificate. */
	t = member("node1", "ca.crt");
	t.key_file = pki_path("node2.key");
	assert_int_equal(fetch("127.0.0.1", s->port, t, 5000, msg, sizeof(msg),
			       NULL, NULL),
			 -1);
	assert_msg_has(msg, "client certificate");
	/* Missing CA file. */
	t = member("node1", "ca.crt");
	t.ca_file = tmp_path("no-ca.crt");
	assert_int_equal(fetch("127.0.0.1", s->port, t, 5000, msg, sizeof(msg),
			       NULL, NULL),
			 -1);
	assert_msg_has(msg, tmp_path("no-ca.crt"));
	/* Certificate without key. */
	t = member("node1", "ca.crt");
	t.key_file = NULL;
	assert_int_equal(fetch("127.0.0.1", s->port, t, 5000, msg, sizeof(msg),
			       NULL, NULL),
			 -1);
	assert_msg_has(msg, "go together");
	assert_int_equal(atomic_load(&s->requests), 0);
	server_stop(s);

	/* Addresses that could steer the URL elsewhere. */
	static const char *bad[] = {"evil/x:1", "a@b:1",  "host",  "h:",
				    "h:1/..",	"[::1:5", "h:1?x", "h :1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sb_backup_secret *sec = NULL;
		size_t n = 0;

		t = member("node1", "ca.crt");
		assert_int_equal(sb_member_fetch_secrets(bad[i], &t, 1000, &sec,
							 &n, msg, sizeof(msg)),
				 -1);
		assert_msg_has(msg, "not HOST:PORT");
	}
}

/* ------------------------------------------------------------------ */
/* Keep-alive over TLS: the Nagle stall that TCP_NODELAY prevents */

#define KEEPALIVE_REQUESTS 200
/* Without TCP_NODELAY each request costs about 40 ms: fewer of them show
 * it as well. */
#define NAGLE_REQUESTS 50

/* Times requests sequential GETs on one connection to a server whose
 * listener has TCP_NODELAY (nodelay 1) or not. Returns microseconds per
 * request. Printed, not asserted: timing depends on the machine. */
static double time_keepalive(int nodelay, int requests)
{
	struct server *s = server_start("127.0.0.1:0", "mss1", nodelay);
	CURL *c = client_new("node1");
	char body[512];
	long conns = 0, total_conns = 0;
	uint64_t t0, us;

	/* The handshake is not what is measured. */
	assert_int_equal(get(c, s->port, "/v1/ping", body), 200);
	t0 = now_us();
	for (int i = 0; i < requests; i++) {
		assert_int_equal(get(c, s->port, "/v1/ping", body), 200);
		assert_int_equal(strlen(body), 200);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
		total_conns += conns;
	}
	us = now_us() - t0;
	/* Keep-alive: no request needed a new connection. */
	assert_int_equal(total_conns, 0);
	assert_int_equal(atomic_load(&s->nodelay), nodelay);
	printf("    listener TCP_NODELAY %s: %d sequential keep-alive requests "
	       "over TLS in %.1f ms (%.0f us/request, %.0f requests/s)\n",
	       nodelay ? "on " : "off", requests, us / 1000.0,
	       (double)us / requests, requests * 1e6 / (double)us);
	curl_easy_cleanup(c);
	server_stop(s);
	return (double)us / requests;
}

static void keepalive_timing(void **state)
{
	double on, off;

	(void)state;
	on = time_keepalive(1, KEEPALIVE_REQUESTS);
	off = time_keepalive(0, NAGLE_REQUESTS);
	printf("    per request: %.0f us with TCP_NODELAY, %.0f us without "
	       "(%.0fx)\n",
	       on, off, off / on);
}

/* ------------------------------------------------------------------ */

/* The daemon frees jansson's memory through a wiping free; so does this
 * test, to run member_fetch.c the way it runs there. */
static void wiping_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

static int rm_tmpdir(void)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(server_new_good),
		cmocka_unit_test(server_new_key_modes),
		cmocka_unit_test(server_new_mismatch),
		cmocka_unit_test(server_new_missing),
		cmocka_unit_test(server_new_garbage),
		cmocka_unit_test(server_new_encrypted_key),
		cmocka_unit_test(listen_ipv4),
		cmocka_unit_test(listen_ipv6_and_any),
		cmocka_unit_test(listen_bad_addresses),
		cmocka_unit_test(listen_port_in_use),
		cmocka_unit_test(identity_san_and_cn),
		cmocka_unit_test(fetch_good),
		cmocka_unit_test(fetch_ipv6),
		cmocka_unit_test(fetcherr_not_member),
		cmocka_unit_test(fetcherr_no_client_cert),
		cmocka_unit_test(fetcherr_foreign_client),
		cmocka_unit_test(fetcherr_garbage_client),
		cmocka_unit_test(fetcherr_foreign_server),
		cmocka_unit_test(fetcherr_wrong_name),
		cmocka_unit_test(fetcherr_server_down),
		cmocka_unit_test(fetcherr_timeout),
		cmocka_unit_test(fetcherr_malformed),
		cmocka_unit_test(fetcherr_local_config),
		cmocka_unit_test(keepalive_timing),
	};
	struct stat st;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PKI_DIR [name filter]\n", argv[0]);
		return 2;
	}
	pki = argv[1];
	if (stat(pki_path("ca.crt"), &st) != 0) {
		fprintf(stderr, "%s: no test PKI (run the tls.pki fixture)\n",
			pki_path("ca.crt"));
		return 1;
	}
	if (argc > 2) {
		/* A filter that matches nothing would "pass" silently. */
		size_t matched = 0;

		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			matched += fnmatch(argv[2], tests[i].name, 0) == 0;
		if (matched == 0) {
			fprintf(stderr, "no test matches \"%s\"\n", argv[2]);
			return 1;
		}
		cmocka_set_test_filter(argv[2]);
	}
	signal(SIGPIPE, SIG_IGN);
	json_set_alloc_funcs(malloc, wiping_free);
	if (evthread_use_pthreads() != 0 ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "cannot initialise libevent threads / curl\n");
		return 1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sb-tls-test-XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	make_test_keys();
	rc = cmocka_run_group_tests_name("tls", tests, NULL, NULL);
	rm_tmpdir();
	curl_global_cleanup();
	libevent_global_shutdown();
	return rc;
}
