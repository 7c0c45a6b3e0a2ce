/* Request framing and media type: see request_checks.h. */
#define _GNU_SOURCE
#include "api/request_checks.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <string.h>
#include <strings.h>

const char *sb_request_framing_problem(struct evhttp_request *ev)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(ev);
	struct evkeyval *kv;
	int lengths = 0, encodings = 0;

	for (kv = h->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
		if (strcasecmp(kv->key, "Content-Length") == 0)
			lengths++;
		else if (strcasecmp(kv->key, "Transfer-Encoding") == 0)
			encodings++;
	}
	if (lengths > 1)
		return "the request has more than one Content-Length header";
	if (lengths > 0 && encodings > 0)
		return "the request has both Content-Length and "
		       "Transfer-Encoding headers";
	return NULL;
}

int sb_request_media_type_ok(struct evhttp_request *ev, int tls,
			     size_t body_len)
{
	static const char json[] = "application/json";
	enum evhttp_cmd_type m = evhttp_request_get_command(ev);
	const char *ct;
	size_t n;

	if (body_len == 0 &&
	    !(tls && (m == EVHTTP_REQ_POST || m == EVHTTP_REQ_PUT ||
		      m == EVHTTP_REQ_PATCH)))
		return 1;
	ct = evhttp_find_header(evhttp_request_get_input_headers(ev),
				"Content-Type");
	if (ct == NULL)
		return 0;
	ct += strspn(ct, " \t");
	if (strncasecmp(ct, json, sizeof(json) - 1) != 0)
		return 0;
	ct += sizeof(json) - 1;
	n = strspn(ct, " \t");
	return ct[n] == '\0' || ct[n] == ';';
}
