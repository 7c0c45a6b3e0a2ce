/*
 * The JSON bodies of every route, through the real handlers: the input is
 *
 *     R CAPTURES[?QUERY]\n BODY
 *
 * where R (one byte) picks a route of the table (core/api/routes.c,
 * modulo its length), CAPTURES are the values of its {app}, {identity},
 * {id}, {key} segments separated by '/' (empty: "crm", "root", "c1",
 * "k1"), and BODY is sent as the request's JSON body. The request is
 * well-formed HTTP (fuzz_http covers the rest), so the handlers' reading
 * of bodies, names and queries is what gets exercised. A reply must be an
 * HTTP response with a JSON body (an error with a code and a message for
 * 4xx and 5xx), and never a 500. SB_FUZZ_VERBOSE=1 prints each request
 * and the start of its reply.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"
#include "fuzz_daemon.h"

#include "api/routes.h"

#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_MAX (70 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_daemon_start();
	return 0;
}

/* Appends s[0..n) to out (at *o, cap bytes), percent-encoding every byte
 * but [A-Za-z0-9._@-]. */
static void put_encoded(char *out, size_t *o, size_t cap, const char *s,
			size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n && *o + 4 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("._@-", c)) {
			out[(*o)++] = (char)c;
		} else {
			out[(*o)++] = '%';
			out[(*o)++] = hex[c >> 4];
			out[(*o)++] = hex[c & 15];
		}
	}
}

static const char *capture_default(const char *name, size_t len)
{
	if (len == 5 && memcmp(name, "{app}", 5) == 0)
		return "crm";
	if (len == 10 && memcmp(name, "{identity}", 10) == 0)
		return "root";
	if (len == 4 && memcmp(name, "{id}", 4) == 0)
		return "c1";
	return "k1";
}

/* Fills the route's pattern with the captures of head (h bytes: "a/b?q"),
 * encoded, and appends the query as it is, minus spaces and controls. */
static void build_target(const struct sb_route *rt, const char *head, size_t h,
			 char *out, size_t cap)
{
	const char *q = memchr(head, '?', h);
	size_t caps_len = q ? (size_t)(q - head) : h, o = 0;
	const char *p = rt->pattern, *c = head, *cend = head + caps_len;

	while (*p && o + 4 < cap) {
		if (*p == '{') {
			const char *e = strchr(p, '}');
			const char *slash = memchr(c, '/', (size_t)(cend - c));
			size_t n = slash ? (size_t)(slash - c)
					 : (size_t)(cend - c);

			if (n == 0) {
				const char *def =
					capture_default(p, (size_t)(e - p + 1));

				put_encoded(out, &o, cap, def, strlen(def));
			} else {
				put_encoded(out, &o, cap, c, n);
			}
			c = slash ? slash + 1 : cend;
			p = e + 1;
		} else {
			out[o++] = *p++;
		}
	}
	if (q != NULL) {
		for (const char *s = q; s < head + h && o + 2 < cap; s++)
			if ((unsigned char)*s > ' ' && *s != 0x7f)
				out[o++] = *s;
	}
	out[o] = '\0';
}

static void check_reply(const char *reply, const char *target)
{
	int status = fuzz_reply_status(reply);
	const char *body = strstr(reply, "\r\n\r\n");
	json_t *doc, *err;

	if (status == 0)
		fuzz_fail("%s: not an HTTP response: %.200s", target, reply);
	if (status == 500)
		fuzz_fail("%s: answered 500: %.500s", target, reply);
	if (body == NULL || body[4] == '\0')
		return; /* 204, or a reply longer than the buffer */
	doc = json_loads(body + 4, 0, NULL);
	if (doc == NULL) {
		if (strlen(reply) < 8191)
			fuzz_fail("%s: the body is not JSON: %.300s", target,
				  body + 4);
		return; /* cut by our buffer */
	}
	err = json_object_get(doc, "error");
	if (status >= 400 && (!json_is_string(json_object_get(err, "code")) ||
			      !json_is_string(json_object_get(err, "message"))))
		fuzz_fail("%s: %d without an error code and message: %.300s",
			  target, status, body + 4);
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char request[REQUEST_MAX], reply[8192];
	const struct sb_route *table, *rt;
	const char *head, *nl, *body;
	size_t n, h, body_len, hdr;
	char target[1024];
	const char *method;

	if (size < 1)
		return 0;
	table = sb_routes(&n);
	rt = &table[data[0] % n];
	head = (const char *)data + 1;
	nl = memchr(head, '\n', size - 1);
	h = nl ? (size_t)(nl - head) : size - 1;
	body = nl ? nl + 1 : head + h;
	body_len = (size_t)((const char *)data + size - body);
	if (h > 512 || body_len > 65536) /* [listen] max_body */
		return -1;		 /* not worth keeping */
	build_target(rt, head, h, target, sizeof(target));
	method = sb_route_method_name(rt->method);
	hdr = (size_t)snprintf(request, sizeof(request),
			       "%s %s HTTP/1.1\r\nHost: fuzz\r\n"
			       "Connection: close\r\n"
			       "Content-Type: application/json\r\n"
			       "Content-Length: %zu\r\n\r\n",
			       method, target, body_len);
	memcpy(request + hdr, body, body_len);
	fuzz_daemon_exchange((const uint8_t *)request, hdr + body_len, reply,
			     sizeof(reply));
	if (getenv("SB_FUZZ_VERBOSE"))
		fprintf(stderr, "%s %s -> %.120s\n", method, target,
			strstr(reply, "\r\n\r\n")
				? strstr(reply, "\r\n\r\n") + 4
				: reply);
	check_reply(reply, target);
	return 0;
}
