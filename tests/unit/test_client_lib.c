/*
 * unit.client.lib: libsecretbroker's transport (client/client.c) against a
 * real HTTP/1.1 server on a Unix socket: libevent's evhttp, the server
 * library the daemon is built on, run in a thread by this test. It checks
 * what the library promises whatever the endpoint does: connection errors
 * that name the socket, keep-alive, bodies and headers as sent, error
 * bodies turned into code and message, non-JSON and oversized replies,
 * timeouts. The daemon's own endpoints are the end-to-end tests' business.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include <secretbroker/client.h>

static char dir[] = "/tmp/sbctl-lib-XXXXXX";
static char sock_path[96];

static struct event_base *base;
static struct evhttp *http;
static pthread_t server_thread;
/* Written by the server thread, read by the test after requests return. */
static int conn_closed;
static struct evhttp_connection *first_conn;
static int conns_seen;

static void reply_json(struct evhttp_request *req, int code, json_t *j)
{
	struct evbuffer *b = evbuffer_new();
	char *s = json_dumps(j, JSON_COMPACT);

	evbuffer_add(b, s, strlen(s));
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type", "application/json");
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
	free(s);
	json_decref(j);
}

static void reply_text(struct evhttp_request *req, int code, const char *s)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add(b, s, strlen(s));
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

static void on_close(struct evhttp_connection *c, void *arg)
{
	(void)c;
	(void)arg;
	conn_closed++;
}

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PATCH: return "PATCH";
	default: return "other";
	}
}

static void handle(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);

	(void)arg;
	if (conn != first_conn) {
		first_conn = conn;
		conns_seen++;
		evhttp_connection_set_closecb(conn, on_close, NULL);
	}
	if (strcmp(uri, "/ok") == 0) {
		reply_json(req, 200, json_pack("{s:s}", "hello", "world"));
	} else if (strcmp(uri, "/echo") == 0) {
		struct evbuffer *body = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_get_length(body);
		char *copy = calloc(1, n + 1);
		const char *ct = evhttp_find_header(in, "Content-Type");
		const char *expect = evhttp_find_header(in, "Expect");

		evbuffer_remove(body, copy, n);
		reply_json(
			req, 200,
			json_pack("{s:s, s:s?, s:s?, s:s, s:I}", "method",
				  method_name(evhttp_request_get_command(req)),
				  "content_type", ct, "expect", expect, "body",
				  copy, "length", (json_int_t)n));
		free(copy);
	} else if (strcmp(uri, "/forbidden") == 0) {
		reply_json(req, 403,
			   json_pack("{s:{s:s, s:s}}", "error", "code",
				     "forbidden", "message",
				     "secret commands require membership of "
				     "the sso_admins group 'ssoadm'"));
	} else if (strcmp(uri, "/html404") == 0) {
		reply_text(req, 404, "<html>not here</html>");
	} else if (strcmp(uri, "/notjson") == 0) {
		reply_text(req, 200, "this is not json");
	} else if (strcmp(uri, "/empty") == 0) {
		reply_text(req, 200, "");
	} else if (strcmp(uri, "/close") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Connection", "close");
		reply_json(req, 200, json_pack("{s:b}", "closing", 1));
	} else if (strcmp(uri, "/big") == 0) {
		size_t n = ((size_t)8 << 20) + 100;
		char *s = malloc(n);

		memset(s, 'x', n);
		s[0] = '"';
		s[n - 1] = '"';
		struct evbuffer *b = evbuffer_new();
		evbuffer_add(b, s, n);
		evhttp_send_reply(req, 200, NULL, b);
		evbuffer_free(b);
		free(s);
	} else if (strcmp(uri, "/v1/lookup/off") == 0) {
		reply_json(req, 403,
			   json_pack("{s:{s:s, s:s}}", "error", "code",
				     "app_disabled", "message",
				     "application off is disabled"));
	} else if (strcmp(uri, "/v1/lookup/novalues") == 0) {
		reply_json(req, 200, json_pack("{s:s}", "app", "novalues"));
	} else if (strncmp(uri, "/v1/lookup/", 11) == 0) {
		/* Says which target it was asked for, as the values. */
		reply_json(req, 200,
			   json_pack("{s:s, s:s, s:{s:s, s:s}}", "app", "x",
				     "identity", "me", "values", "user", "bob",
				     "uri", uri));
	} else if (strcmp(uri, "/slow") == 0) {
		/* Never answered: the client's timeout must fire. */
	} else {
		reply_json(req, 404,
			   json_pack("{s:{s:s, s:s}}", "error", "code",
				     "not_found", "message", "no such path"));
	}
}

static void *serve(void *arg)
{
	(void)arg;
	event_base_dispatch(base);
	return NULL;
}

static int setup(void **state)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/api.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    listen(fd, 16) != 0)
		return -1;
	evthread_use_pthreads();
	base = event_base_new();
	http = evhttp_new(base);
	if (base == NULL || http == NULL || evhttp_accept_socket(http, fd) != 0)
		return -1;
	evhttp_set_allowed_methods(
		http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
			      EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(http, handle, NULL);
	return pthread_create(&server_thread, NULL, serve, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[64];

	(void)state;
	event_base_loopbreak(base);
	pthread_join(server_thread, NULL);
	evhttp_free(http);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct sb_client *client(void)
{
	struct sb_client_error e;
	struct sb_client *c = sb_client_new(sock_path, &e);

	if (c == NULL)
		fail_msg("sb_client_new: %s", e.message);
	return c;
}

static void test_default_socket(void **state)
{
	(void)state;
	unsetenv(SB_CLIENT_SOCKET_ENV);
	assert_string_equal(sb_client_default_socket(),
			    "/run/secretbroker/secretbroker.sock");
	setenv(SB_CLIENT_SOCKET_ENV, "", 1);
	assert_string_equal(sb_client_default_socket(),
			    SB_CLIENT_DEFAULT_SOCKET);
	setenv(SB_CLIENT_SOCKET_ENV, "/tmp/other.sock", 1);
	assert_string_equal(sb_client_default_socket(), "/tmp/other.sock");
	{
		struct sb_client *c = sb_client_new(NULL, NULL);

		assert_non_null(c);
		assert_string_equal(sb_client_socket_path(c),
				    "/tmp/other.sock");
		sb_client_free(c);
	}
	unsetenv(SB_CLIENT_SOCKET_ENV);
}

static void test_new_rejects_bad_paths(void **state)
{
	struct sb_client_error e;
	char longpath[200];

	(void)state;
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	assert_null(sb_client_new(longpath, &e));
	assert_int_equal(e.result, SB_CLIENT_ESYS);
	assert_non_null(strstr(e.message, "longer than"));
	assert_null(sb_client_new("", &e));
	assert_non_null(strstr(e.message, "empty"));
	sb_client_free(NULL);
}

/* Each way of not reaching the daemon: ECONNECT, the path in the message,
 * and the likely cause. */
static void test_connect_errors(void **state)
{
	struct sb_client_error e;
	struct sb_client *c;
	json_t *r = (json_t *)1;
	long st = -1;
	char path[96];
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/missing.sock", dir);
	c = sb_client_new(path, &e);
	assert_non_null(c);
	assert_int_equal(sb_client_request(c, "GET", "/ok", NULL, &st, &r, &e),
			 SB_CLIENT_ECONNECT);
	assert_null(r);
	assert_int_equal(st, 0);
	assert_int_equal(e.result, SB_CLIENT_ECONNECT);
	assert_string_equal(e.code, "connect_failed");
	assert_non_null(
		strstr(e.message, "cannot connect to secretbrokerd at"));
	assert_non_null(strstr(e.message, path));
	assert_non_null(strstr(e.message, "No such file or directory"));
	sb_client_free(c);

	/* A regular file where the socket should be. */
	snprintf(path, sizeof(path), "%s/regular", dir);
	fclose(fopen(path, "w"));
	c = sb_client_new(path, &e);
	assert_int_equal(sb_client_call(c, "GET", "/ok", NULL, &r, &e),
			 SB_CLIENT_ECONNECT);
	assert_non_null(strstr(e.message, "not a socket"));
	sb_client_free(c);

	/* A socket nobody listens on (a daemon that died). */
	snprintf(path, sizeof(path), "%s/dead.sock", dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	c = sb_client_new(path, &e);
	assert_int_equal(sb_client_call(c, "GET", "/ok", NULL, &r, &e),
			 SB_CLIENT_ECONNECT);
	assert_non_null(strstr(e.message, "Connection refused"));
	assert_non_null(strstr(e.message, "no daemon is listening"));
	sb_client_free(c);
}

static void test_get_and_keepalive(void **state)
{
	struct sb_client *c = client();
	struct sb_client_error e;
	json_t *r;
	long st;

	(void)state;
	conns_seen = 0;
	conn_closed = 0;
	first_conn = NULL;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(
			sb_client_request(c, "GET", "/ok", NULL, &st, &r, &e),
			SB_CLIENT_OK);
		assert_int_equal(st, 200);
		assert_string_equal(
			json_string_value(json_object_get(r, "hello")),
			"world");
		json_decref(r);
	}
	/* Five requests, one connection, still open. */
	assert_int_equal(conns_seen, 1);
	assert_int_equal(conn_closed, 0);
	sb_client_free(c);
}

/* A server that closes after a reply costs a reconnect, not a failure. */
static void test_server_closes_between_requests(void **state)
{
	struct sb_client *c = client();
	struct sb_client_error e;
	json_t *r;

	(void)state;
	conns_seen = 0;
	first_conn = NULL;
	assert_int_equal(sb_client_call(c, "GET", "/close", NULL, &r, &e),
			 SB_CLIENT_OK);
	json_decref(r);
	assert_int_equal(sb_client_call(c, "GET", "/ok", NULL, &r, &e),
			 SB_CLIENT_OK);
	json_decref(r);
	assert_int_equal(conns_seen, 2);
	sb_client_free(c);
}

static void test_bodies_and_methods(void **state)
{
	struct sb_client *c = client();
	struct sb_client_error e;
	json_t *r, *body, *sent;
	char big[6000];
	json_error_t jerr;

	(void)state;
	memset(big, 'p', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	body = json_pack("{s:s, s:s}", "password", big, "hint", "h\xc3\xa9");
	assert_int_equal(sb_client_call(c, "POST", "/echo", body, &r, &e),
			 SB_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(r, "method")),
			    "POST");
	assert_string_equal(
		json_string_value(json_object_get(r, "content_type")),
		"application/json");
	/* No Expect: 100-continue round trip, even for a larger body. */
	assert_false(json_is_string(json_object_get(r, "expect")));
	sent = json_loads(json_string_value(json_object_get(r, "body")), 0,
			  &jerr);
	assert_non_null(sent);
	assert_true(json_equal(sent, body));
	json_decref(sent);
	json_decref(r);

	/* POST without a body sends an empty one. */
	assert_int_equal(sb_client_call(c, "POST", "/echo", NULL, &r, &e),
			 SB_CLIENT_OK);
	assert_int_equal(json_integer_value(json_object_get(r, "length")), 0);
	json_decref(r);
	/* Back to GET on the same handle: no body left over from the POST. */
	assert_int_equal(sb_client_call(c, "GET", "/echo", NULL, &r, &e),
			 SB_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(r, "method")),
			    "GET");
	assert_int_equal(json_integer_value(json_object_get(r, "length")), 0);
	json_decref(r);
	assert_int_equal(sb_client_call(c, "DELETE", "/echo", NULL, &r, &e),
			 SB_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(r, "method")),
			    "DELETE");
	json_decref(r);
	assert_int_equal(sb_client_call(c, "PUT", "/echo", body, &r, &e),
			 SB_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(r, "method")),
			    "PUT");
	assert_int_equal(json_integer_value(json_object_get(r, "length")),
			 (json_int_t)json_dumpb(body, NULL, 0, JSON_COMPACT));
	json_decref(r);
	json_decref(body);
	sb_client_free(c);
}

static void test_error_replies(void **state)
{
	struct sb_client *c = client();
	struct sb_client_error e;
	json_t *r;
	long st;

	(void)state;
	/* request(): any status is a reply. */
	assert_int_equal(
		sb_client_request(c, "GET", "/forbidden", NULL, &st, &r, &e),
		SB_CLIENT_OK);
	assert_int_equal(st, 403);
	assert_non_null(json_object_get(r, "error"));
	json_decref(r);
	/* call(): an error status is ESERVER with the server's words, and
	 * the body stays available. */
	assert_int_equal(sb_client_call(c, "GET", "/forbidden", NULL, &r, &e),
			 SB_CLIENT_ESERVER);
	assert_int_equal(e.result, SB_CLIENT_ESERVER);
	assert_int_equal(e.http_status, 403);
	assert_string_equal(e.code, "forbidden");
	assert_string_equal(e.message, "secret commands require membership "
				       "of the sso_admins group 'ssoadm'");
	assert_non_null(r);
	json_decref(r);
	/* An error without a JSON body still says what happened. */
	assert_int_equal(sb_client_call(c, "GET", "/html404", NULL, &r, &e),
			 SB_CLIENT_ESERVER);
	assert_null(r);
	assert_int_equal(e.http_status, 404);
	assert_string_equal(e.code, "");
	assert_non_null(strstr(e.message, "HTTP 404 (not found)"));
	assert_non_null(strstr(e.message, "GET /html404"));
	assert_non_null(strstr(e.message, sock_path));
	sb_client_free(c);
}

static void test_bad_success_replies(void **state)
{
	struct sb_client *c = client();
	struct sb_client_error e;
	json_t *r;

	(void)state;
	assert_int_equal(sb_client_call(c, "GET", "/notjson", NULL, &r, &e),
			 SB_CLIENT_EPROTO);
	assert_null(r);
	assert_non_null(strstr(e.message, "not JSON"));
	/* An empty 2xx body is an empty object for call(). */
	assert_int_equal(sb_client_call(c, "GET", "/empty", NULL, &r, &e),
			 SB_CLIENT_OK);
	assert_true(json_is_object(r));
	assert_int_equal(json_object_size(r), 0);
	json_decref(r);
	assert_int_equal(sb_client_call(c, "GET", "/big", NULL, &r, &e),
			 SB_CLIENT_EPROTO);
	assert_null(r);
	assert_string_equal(e.code, "too_large");
	/* The client is still usable afterwards. */
	assert_int_equal(sb_client_call(c, "GET", "/ok", NULL, &r, &e),
			 SB_CLIENT_OK);
	json_decref(r);
	sb_client_free(c);
}

static void test_timeout(void **state)
{
	struct sb_client *c = client();
	struct sb_client_error e;
	json_t *r;

	(void)state;
	sb_client_set_timeout(c, 300);
	assert_int_equal(sb_client_call(c, "GET", "/slow", NULL, &r, &e),
			 SB_CLIENT_EPROTO);
	assert_string_equal(e.code, "timeout");
	assert_non_null(strstr(e.message, "GET /slow"));
	sb_client_free(c);
}

static void test_invalid_arguments(void **state)
{
	struct sb_client *c = client();
	struct sb_client_error e;
	json_t *r;
	long st;

	(void)state;
	assert_int_equal(sb_client_call(c, "GET", "v1/status", NULL, &r, &e),
			 SB_CLIENT_ESYS);
	assert_int_equal(sb_client_call(c, "GET", "/v1/a b", NULL, &r, &e),
			 SB_CLIENT_ESYS);
	assert_int_equal(sb_client_call(c, "TRACE", "/ok", NULL, &r, &e),
			 SB_CLIENT_ESYS);
	assert_int_equal(sb_client_request(c, "GET", "/ok", NULL, NULL, &r, &e),
			 SB_CLIENT_ESYS);
	assert_int_equal(
		sb_client_request(NULL, "GET", "/ok", NULL, &st, &r, &e),
		SB_CLIENT_ESYS);
	/* err may be NULL. */
	assert_int_equal(sb_client_call(c, "GET", "/ok", NULL, &r, NULL),
			 SB_CLIENT_OK);
	json_decref(r);
	sb_client_free(c);
}

/* PATCH carries its body like PUT (the API's partial updates). */
static void test_patch(void **state)
{
	struct sb_client *c = client();
	struct sb_client_error e;
	json_t *body = json_pack("{s:b}", "enabled", 1), *r = NULL;

	(void)state;
	assert_int_equal(sb_client_call(c, "PATCH", "/echo", body, &r, &e),
			 SB_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(r, "method")),
			    "PATCH");
	assert_string_equal(json_string_value(json_object_get(r, "body")),
			    "{\"enabled\":true}");
	json_decref(r);
	json_decref(body);
	sb_client_free(c);
}

static void test_valid_names(void **state)
{
	char longname[66];

	(void)state;
	assert_true(sb_client_valid_name("crm-prod_2.app"));
	assert_false(sb_client_valid_name("a@b"));
	assert_true(sb_client_valid_identity("alice@EXAMPLE.COM"));
	assert_false(sb_client_valid_name(""));
	assert_false(sb_client_valid_name(NULL));
	assert_false(sb_client_valid_name("."));
	assert_false(sb_client_valid_identity(".."));
	assert_false(sb_client_valid_name("a/b"));
	assert_false(sb_client_valid_name("a b"));
	assert_false(sb_client_valid_name("a%2Fb"));
	assert_false(sb_client_valid_identity("caf\xc3\xa9"));
	memset(longname, 'a', sizeof(longname));
	longname[64] = '\0';
	assert_true(sb_client_valid_name(longname));
	longname[64] = 'a';
	longname[65] = '\0';
	assert_false(sb_client_valid_name(longname));
}

/* The lookup builds its query from the flags, returns the values (or the
 * whole reply), and passes refusals on with their code. */
static void test_lookup(void **state)
{
	struct sb_client *c = client();
	struct sb_client_error e;
	json_t *v = NULL, *r = NULL;

	(void)state;
	assert_int_equal(sb_client_lookup(c, "crm", 0, &v, &e), SB_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(v, "user")),
			    "bob");
	assert_string_equal(json_string_value(json_object_get(v, "uri")),
			    "/v1/lookup/crm");
	json_decref(v);
	assert_int_equal(sb_client_lookup(c, "crm", 1, &v, &e), SB_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(v, "uri")),
			    "/v1/lookup/crm?show_masked=1");
	json_decref(v);
	assert_int_equal(sb_client_lookup_ex(c, "crm", "alice@EX", 0, &r, &e),
			 SB_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(r, "values"), "uri")),
			    "/v1/lookup/crm?user=alice@EX");
	assert_string_equal(json_string_value(json_object_get(r, "identity")),
			    "me");
	json_decref(r);
	assert_int_equal(sb_client_lookup_ex(c, "crm", "al",
					     SB_CLIENT_LOOKUP_SHOW_MASKED |
						     SB_CLIENT_LOOKUP_NO_CACHE,
					     &r, &e),
			 SB_CLIENT_OK);
	assert_string_equal(
		json_string_value(
			json_object_get(json_object_get(r, "values"), "uri")),
		"/v1/lookup/crm?show_masked=1&user=al&cache=bypass");
	json_decref(r);
	assert_int_equal(sb_client_lookup_ex(c, "crm", NULL,
					     SB_CLIENT_LOOKUP_NO_CACHE, &r, &e),
			 SB_CLIENT_OK);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(r, "values"), "uri")),
			    "/v1/lookup/crm?cache=bypass");
	json_decref(r);

	v = (json_t *)1;
	assert_int_equal(sb_client_lookup(c, "off", 0, &v, &e),
			 SB_CLIENT_ESERVER);
	assert_null(v);
	assert_int_equal(e.http_status, 403);
	assert_string_equal(e.code, "app_disabled");
	assert_int_equal(sb_client_lookup(c, "novalues", 0, &v, &e),
			 SB_CLIENT_EPROTO);
	assert_null(v);
	assert_non_null(strstr(e.message, "values"));
	/* Bad names never reach the daemon. */
	assert_int_equal(sb_client_lookup(c, "../secret", 0, &v, &e),
			 SB_CLIENT_ESYS);
	assert_non_null(strstr(e.message, "../secret"));
	assert_int_equal(sb_client_lookup_ex(c, "crm", "a&b=c", 0, &r, &e),
			 SB_CLIENT_ESYS);
	assert_null(r);
	assert_int_equal(sb_client_lookup(c, "crm", 0, NULL, &e),
			 SB_CLIENT_ESYS);
	sb_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_socket),
		cmocka_unit_test(test_new_rejects_bad_paths),
		cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_get_and_keepalive),
		cmocka_unit_test(test_server_closes_between_requests),
		cmocka_unit_test(test_bodies_and_methods),
		cmocka_unit_test(test_error_replies),
		cmocka_unit_test(test_bad_success_replies),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_invalid_arguments),
		cmocka_unit_test(test_patch),
		cmocka_unit_test(test_valid_names),
		cmocka_unit_test(test_lookup),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
