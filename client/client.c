/*
 * libsecretbroker: HTTP/1.1 + JSON over the daemon's Unix socket, with
 * libcurl for HTTP and jansson for JSON. See include/secretbroker/client.h.
 */
#define _GNU_SOURCE
#include <secretbroker/client.h>

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#ifndef SB_VERSION
#define SB_VERSION "0"
#endif

/* A reply larger than this is not one the API sends; refusing it keeps a
 * confused peer from making us allocate without bound. */
#define SB_CLIENT_MAX_REPLY	     ((size_t)8 << 20)
#define SB_CLIENT_CONNECT_TIMEOUT_MS 5000L
#define SB_CLIENT_DEFAULT_TIMEOUT_MS 60000L

struct sb_client {
	CURL *curl; /* one handle: libcurl keeps its connection alive */
	struct curl_slist *headers;
	char *socket_path;
	char errbuf[CURL_ERROR_SIZE];
};

/* The reply body as it arrives. */
struct reply_buf {
	char *data;
	size_t len, cap;
	int too_large;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT;

static void curl_init_once(void)
{
	curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Fills err (when not NULL) and returns result, so callers can write
 * `ret = set_error(...)`. */
static int set_error(struct sb_client_error *err, int result, long http_status,
		     const char *code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int set_error(struct sb_client_error *err, int result, long http_status,
		     const char *code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return result;
	err->result = result;
	err->http_status = http_status;
	snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return result;
}

static void clear_error(struct sb_client_error *err)
{
	if (err != NULL)
		memset(err, 0, sizeof(*err));
}

/* Frees a buffer that may have held secret material. */
static void wipe_free(char **pp, size_t n)
{
	if (*pp == NULL)
		return;
	explicit_bzero(*pp, n);
	free(*pp);
	*pp = NULL;
}

const char *sb_client_default_socket(void)
{
	/* secure_getenv: a set-id program linking us must not let its caller
	 * point it at another socket. */
	const char *env = secure_getenv(SB_CLIENT_SOCKET_ENV);

	if (env != NULL && env[0] != '\0')
		return env;
	return SB_CLIENT_DEFAULT_SOCKET;
}

/* libcurl write callback: appends to the reply buffer. Grows by copying so
 * that no stale copy of the reply is left unwiped in freed memory. */
static size_t reply_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct reply_buf *rb = userdata;
	size_t n = size * nmemb;

	if (n > SB_CLIENT_MAX_REPLY - rb->len) {
		rb->too_large = 1;
		return 0; /* makes libcurl fail with CURLE_WRITE_ERROR */
	}
	if (rb->len + n + 1 > rb->cap) {
		size_t cap = rb->cap ? rb->cap : 4096;
		char *p;

		while (cap < rb->len + n + 1)
			cap *= 2;
		p = malloc(cap);
		if (p == NULL)
			return 0;
		if (rb->len > 0)
			memcpy(p, rb->data, rb->len);
		wipe_free(&rb->data, rb->cap);
		rb->data = p;
		rb->cap = cap;
	}
	memcpy(rb->data + rb->len, ptr, n);
	rb->len += n;
	rb->data[rb->len] = '\0';
	return n;
}

struct sb_client *sb_client_new(const char *socket_path,
				struct sb_client_error *err)
{
	struct sb_client *c = NULL, *ret = NULL;
	struct sockaddr_un sun;
	const char *headers[] = {
		"Content-Type: application/json",
		"Accept: application/json",
		/* No "Expect: 100-continue" round trip before larger bodies. */
		"Expect:",
	};

	clear_error(err);
	if (socket_path == NULL)
		socket_path = sb_client_default_socket();
	if (socket_path[0] == '\0') {
		set_error(err, SB_CLIENT_ESYS, 0, NULL,
			  "the secretbrokerd socket path is empty");
		goto done;
	}
	if (strlen(socket_path) >= sizeof(sun.sun_path)) {
		set_error(err, SB_CLIENT_ESYS, 0, NULL,
			  "the secretbrokerd socket path %s is longer than a "
			  "Unix socket path may be (%zu bytes)",
			  socket_path, sizeof(sun.sun_path) - 1);
		goto done;
	}
	pthread_once(&curl_once, curl_init_once);
	if (curl_init_result != CURLE_OK) {
		set_error(err, SB_CLIENT_ESYS, 0, NULL,
			  "cannot initialise libcurl: %s",
			  curl_easy_strerror(curl_init_result));
		goto done;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->socket_path = strdup(socket_path)) == NULL)
		goto nomem;
	if ((c->curl = curl_easy_init()) == NULL)
		goto nomem;
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		struct curl_slist *l =
			curl_slist_append(c->headers, headers[i]);

		if (l == NULL)
			goto nomem;
		c->headers = l;
	}
	/* Options that hold for every request. The URL's host part is only
	 * the Host header: the connection goes to the Unix socket. An empty
	 * proxy keeps http_proxy & co. from the environment out of it. */
	if (curl_easy_setopt(c->curl, CURLOPT_UNIX_SOCKET_PATH,
			     c->socket_path) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_PROXY, "") != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http") !=
		    CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTP_VERSION,
			     (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
			     SB_CLIENT_CONNECT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
			     SB_CLIENT_DEFAULT_TIMEOUT_MS) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_USERAGENT,
			     "libsecretbroker/" SB_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers) !=
		    CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf) !=
		    CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, reply_write) !=
		    CURLE_OK) {
		set_error(err, SB_CLIENT_ESYS, 0, NULL,
			  "this libcurl (%s) lacks an option libsecretbroker "
			  "needs (Unix sockets, CURLOPT_PROTOCOLS_STR)",
			  curl_version());
		goto done;
	}
	ret = c;
	c = NULL;
	goto done;
nomem:
	set_error(err, SB_CLIENT_ESYS, 0, NULL,
		  "out of memory creating a client for %s", socket_path);
done:
	sb_client_free(c);
	return ret;
}

void sb_client_free(struct sb_client *c)
{
	if (c == NULL)
		return;
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	curl_slist_free_all(c->headers);
	free(c->socket_path);
	free(c);
}

const char *sb_client_socket_path(const struct sb_client *c)
{
	return c->socket_path;
}

void sb_client_set_timeout(struct sb_client *c, long timeout_ms)
{
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
			 timeout_ms > 0 ? timeout_ms : 0L);
}

/* A request target is an absolute path of visible ASCII: anything else is a
 * caller bug, and would otherwise reach libcurl's URL parser. */
static int path_ok(const char *path)
{
	if (path == NULL || path[0] != '/')
		return 0;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return 0;
	return 1;
}

static int method_ok(const char *method)
{
	return method != NULL &&
	       (strcmp(method, "GET") == 0 || strcmp(method, "POST") == 0 ||
		strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0 ||
		strcmp(method, "DELETE") == 0);
}

/* Sets method and body on the handle for this request. body may be NULL. */
static CURLcode set_method(CURL *curl, const char *method, const char *body,
			   size_t body_len)
{
	CURLcode rc;

	/* Back to a plain GET first: options stick between requests. */
	if ((rc = curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L)) != CURLE_OK ||
	    (rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, NULL)) !=
		    CURLE_OK)
		return rc;
	if (body == NULL && strcmp(method, "POST") == 0) {
		body = "";
		body_len = 0;
	}
	if (body != NULL &&
	    ((rc = curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
				    (curl_off_t)body_len)) != CURLE_OK ||
	     (rc = curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body)) !=
		     CURLE_OK))
		return rc;
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		rc = curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	return rc;
}

/* A few words after the errno of a failed connect, saying what is most
 * likely wrong: connect() says "Connection refused" for a regular file as
 * for a socket nobody listens on. */
static const char *connect_hint(const char *path, long os_errno)
{
	struct stat st;

	if (os_errno == ENOENT)
		return "; is secretbrokerd running, with this path as its "
		       "[listen] socket?";
	if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
		return "; this path is not a socket";
	if (os_errno == ECONNREFUSED)
		return "; no daemon is listening on it";
	if (os_errno == EACCES)
		return "; see [listen] socket_mode and socket_group";
	return "";
}

/* Turns a failed curl_easy_perform into err; returns the SB_CLIENT_* code. */
static int transfer_error(struct sb_client *c, CURLcode rc,
			  const struct reply_buf *rb, const char *method,
			  const char *path, struct sb_client_error *err)
{
	const char *detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
	long os_errno = 0;

	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		/* libcurl's own text names "localhost port 80"; the errno of
		 * the failed connect() is what the user needs. */
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &os_errno);
		return set_error(err, SB_CLIENT_ECONNECT, 0, "connect_failed",
				 "cannot connect to secretbrokerd at %s: %s%s",
				 c->socket_path,
				 os_errno ? strerror((int)os_errno) : detail,
				 connect_hint(c->socket_path, os_errno));
	case CURLE_OPERATION_TIMEDOUT:
		return set_error(err, SB_CLIENT_EPROTO, 0, "timeout",
				 "secretbrokerd at %s did not answer %s %s in "
				 "time: %s",
				 c->socket_path, method, path, detail);
	case CURLE_OUT_OF_MEMORY:
		return set_error(err, SB_CLIENT_ESYS, 0, NULL,
				 "out of memory during %s %s", method, path);
	case CURLE_WRITE_ERROR:
		if (rb->too_large)
			return set_error(err, SB_CLIENT_EPROTO, 0, "too_large",
					 "secretbrokerd at %s sent a reply to "
					 "%s %s larger than %zu bytes",
					 c->socket_path, method, path,
					 SB_CLIENT_MAX_REPLY);
		return set_error(err, SB_CLIENT_ESYS, 0, NULL,
				 "out of memory reading the reply to %s %s",
				 method, path);
	default:
		return set_error(err, SB_CLIENT_EPROTO, 0, "protocol_error",
				 "%s %s to secretbrokerd at %s failed: %s",
				 method, path, c->socket_path, detail);
	}
}

int sb_client_request(struct sb_client *c, const char *method, const char *path,
		      const json_t *body, long *http_status, json_t **response,
		      struct sb_client_error *err)
{
	int ret = SB_CLIENT_ESYS;
	char *url = NULL, *req = NULL;
	size_t req_len = 0;
	struct reply_buf rb = {0};
	json_error_t jerr;
	json_t *reply = NULL;
	CURLcode rc;
	long status = 0;

	clear_error(err);
	if (response != NULL)
		*response = NULL;
	if (http_status != NULL)
		*http_status = 0;
	if (c == NULL || !method_ok(method) || !path_ok(path) ||
	    response == NULL || http_status == NULL) {
		set_error(err, SB_CLIENT_ESYS, 0, NULL,
			  "invalid request %s %s (a method, an absolute path "
			  "of visible ASCII and result pointers are needed)",
			  method ? method : "(null)", path ? path : "(null)");
		goto done;
	}
	if (asprintf(&url, "http://localhost%s", path) < 0) {
		url = NULL;
		set_error(err, SB_CLIENT_ESYS, 0, NULL,
			  "out of memory building %s %s", method, path);
		goto done;
	}
	if (body != NULL) {
		/* Serialised into our own buffer (json_dumpb) so that it can
		 * be wiped: a request may carry a password. */
		size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;

		req_len = json_dumpb(body, NULL, 0, flags);
		if (req_len == 0 || (req = malloc(req_len)) == NULL ||
		    json_dumpb(body, req, req_len, flags) != req_len) {
			set_error(err, SB_CLIENT_ESYS, 0, NULL,
				  "cannot serialise the JSON body of %s %s",
				  method, path);
			goto done;
		}
	}
	c->errbuf[0] = '\0';
	if (curl_easy_setopt(c->curl, CURLOPT_URL, url) != CURLE_OK ||
	    set_method(c->curl, method, req, req_len) != CURLE_OK ||
	    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &rb) != CURLE_OK) {
		set_error(err, SB_CLIENT_ESYS, 0, NULL,
			  "cannot set up %s %s: %s", method, path,
			  c->errbuf[0] ? c->errbuf
				       : "libcurl refused an option");
		goto done;
	}
	rc = curl_easy_perform(c->curl);
	/* The handle keeps the pointers; none may outlive this call. */
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, NULL);
	if (rc != CURLE_OK) {
		ret = transfer_error(c, rc, &rb, method, path, err);
		goto done;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (rb.len > 0) {
		reply = json_loadb(rb.data, rb.len, 0, &jerr);
		if (reply == NULL && status >= 200 && status < 300) {
			ret = set_error(
				err, SB_CLIENT_EPROTO, status, "protocol_error",
				"secretbrokerd at %s answered %s %s "
				"with a body that is not JSON: %s",
				c->socket_path, method, path, jerr.text);
			goto done;
		}
	}
	*http_status = status;
	*response = reply;
	reply = NULL;
	ret = SB_CLIENT_OK;
done:
	json_decref(reply);
	wipe_free(&req, req_len);
	wipe_free(&rb.data, rb.cap);
	free(url);
	return ret;
}

/* A few words for an error status that came without the API's error body
 * (one the HTTP layer sent itself, or a peer that is not secretbrokerd). */
static const char *status_words(long status)
{
	switch (status) {
	case 400: return "bad request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not found";
	case 405: return "method not allowed";
	case 408: return "request timeout";
	case 413: return "request too large";
	case 431: return "request headers too large";
	case 500: return "internal error";
	case 503: return "service unavailable";
	default: return status >= 500 ? "server error" : "client error";
	}
}

/* Reads {"error": {"code", "message"}} from an error reply into err. */
static int server_error(const struct sb_client *c, const char *method,
			const char *path, long status, const json_t *body,
			struct sb_client_error *err)
{
	const json_t *e = json_object_get(body, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (msg != NULL && msg[0] != '\0')
		return set_error(err, SB_CLIENT_ESERVER, status, code, "%s",
				 msg);
	return set_error(err, SB_CLIENT_ESERVER, status, code,
			 "secretbrokerd at %s answered %s %s with HTTP %ld "
			 "(%s)",
			 c->socket_path, method, path, status,
			 status_words(status));
}

int sb_client_call(struct sb_client *c, const char *method, const char *path,
		   const json_t *body, json_t **response,
		   struct sb_client_error *err)
{
	int ret;
	long status = 0;
	json_t *reply = NULL;

	if (response == NULL)
		return set_error(err, SB_CLIENT_ESYS, 0, NULL,
				 "sb_client_call needs a response pointer");
	*response = NULL;
	ret = sb_client_request(c, method, path, body, &status, &reply, err);
	if (ret != SB_CLIENT_OK)
		goto done;
	if (status < 200 || status >= 300) {
		ret = server_error(c, method, path, status, reply, err);
		goto done;
	}
	if (reply == NULL && (reply = json_object()) == NULL) {
		ret = set_error(err, SB_CLIENT_ESYS, status, NULL,
				"out of memory");
		goto done;
	}
	if (err != NULL)
		err->http_status = status;
done:
	*response = reply;
	return ret;
}

/* Name rules of the API (docs/api.md, "Names"): 1..64 characters from the
 * plain set plus extra, and not a path step ("." or ".."). */
static int valid_chars(const char *s, const char *extra)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++) {
		char ch = s[n];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		      ch == '-' ||
		      (extra != NULL && strchr(extra, ch) != NULL)))
			return 0;
		if (n >= 64)
			return 0;
	}
	return n >= 1 && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

int sb_client_valid_name(const char *s)
{
	return valid_chars(s, NULL);
}

int sb_client_valid_identity(const char *s)
{
	return valid_chars(s, "@");
}

int sb_client_lookup_ex(struct sb_client *c, const char *app, const char *user,
			unsigned flags, json_t **reply,
			struct sb_client_error *err)
{
	char path[256];
	const char *sep = "?";
	int n;

	if (reply == NULL)
		return set_error(err, SB_CLIENT_ESYS, 0, NULL,
				 "sb_client_lookup needs a reply pointer");
	*reply = NULL;
	if (!sb_client_valid_name(app))
		return set_error(err, SB_CLIENT_ESYS, 0, NULL,
				 "\"%s\" is not an application name (1..64 "
				 "characters of A-Z a-z 0-9 . _ -)",
				 app ? app : "(null)");
	if (user != NULL && !sb_client_valid_identity(user))
		return set_error(err, SB_CLIENT_ESYS, 0, NULL,
				 "\"%s\" is not a user or group name (1..64 "
				 "characters of A-Z a-z 0-9 . _ - @)",
				 user);
	/* Every part is from the plain set: nothing needs escaping. */
	n = snprintf(path, sizeof(path), "/v1/lookup/%s", app);
	if (flags & SB_CLIENT_LOOKUP_SHOW_MASKED) {
		n += snprintf(path + n, sizeof(path) - (size_t)n,
			      "%sshow_masked=1", sep);
		sep = "&";
	}
	if (user != NULL) {
		n += snprintf(path + n, sizeof(path) - (size_t)n, "%suser=%s",
			      sep, user);
		sep = "&";
	}
	if (flags & SB_CLIENT_LOOKUP_NO_CACHE)
		snprintf(path + n, sizeof(path) - (size_t)n, "%scache=bypass",
			 sep);
	return sb_client_call(c, "GET", path, NULL, reply, err);
}

int sb_client_lookup(struct sb_client *c, const char *app, int show_masked,
		     json_t **values, struct sb_client_error *err)
{
	json_t *reply = NULL, *v;
	int ret;

	if (values == NULL)
		return set_error(err, SB_CLIENT_ESYS, 0, NULL,
				 "sb_client_lookup needs a values pointer");
	*values = NULL;
	ret = sb_client_lookup_ex(
		c, app, NULL, show_masked ? SB_CLIENT_LOOKUP_SHOW_MASKED : 0u,
		&reply, err);
	if (ret != SB_CLIENT_OK)
		goto done;
	v = json_object_get(reply, "values");
	if (!json_is_object(v)) {
		ret = set_error(err, SB_CLIENT_EPROTO, 200, "protocol_error",
				"secretbrokerd at %s answered the lookup of %s "
				"without a \"values\" object",
				c->socket_path, app);
		goto done;
	}
	*values = json_incref(v);
done:
	json_decref(reply);
	return ret;
}
