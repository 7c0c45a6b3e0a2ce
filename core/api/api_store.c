/*
 * The credential store's routes (see docs/api.md) until the route table
 * replaces them.
 */
#include "api/handlers.h"
#include "api/records.h"

#include <stdio.h>
#include <string.h>

/* Splits path (after "/v1/") into at most max segments; returns how many,
 * or -1 when a segment is empty or there are too many. */
static int split_path(char *path, char **seg, int max)
{
	int n = 0;
	char *p = path, *slash;

	while (*p) {
		if (n == max)
			return -1;
		slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (*p == '\0')
			return -1;
		seg[n++] = p;
		if (!slash)
			break;
		p = slash + 1;
		if (*p == '\0')
			return -1; /* trailing slash */
	}
	return n;
}

int sb_api_store_dispatch(struct sb_req *r)
{
	char path[sizeof(r->path)];
	char *s[6];
	int n, m = r->method;

	if (strncmp(r->path, "/v1/", 4) != 0)
		return 0;
	snprintf(path, sizeof(path), "%s", r->path + 4);
	n = split_path(path, s, 6);
	if (n < 1)
		return 0;
	if (n == 1 && strcmp(s[0], "apps") == 0) {
		if (m == EVHTTP_REQ_GET)
			sb_handle_apps_list(r);
		else if (m == EVHTTP_REQ_POST)
			sb_handle_apps_create(r);
		else
			return -1;
		return 1;
	}
	if (n == 1 && strcmp(s[0], "mappings") == 0) {
		if (m != EVHTTP_REQ_GET)
			return -1;
		sb_handle_mappings_of_user(r);
		return 1;
	}
	if (n == 2 && strcmp(s[0], "cache") == 0 &&
	    strcmp(s[1], "purge") == 0) {
		if (m != EVHTTP_REQ_POST)
			return -1;
		sb_handle_cache_purge(r);
		return 1;
	}
	if (n == 2 && strcmp(s[0], "lookup") == 0) {
		if (m != EVHTTP_REQ_GET)
			return -1;
		(r->params.n = 1, r->params.value[0] = s[1],
		 sb_handle_lookup(r));
		return 1;
	}
	if (strcmp(s[0], "apps") != 0 || n < 2)
		return 0;
	if (n == 2 && strcmp(s[1], "import") == 0) {
		if (m != EVHTTP_REQ_POST)
			return -1;
		sb_handle_apps_import(r);
		return 1;
	}
	if (!sb_valid_name(s[1])) {
		sb_reply_error(r, 400, "bad_request",
			       "\"%s\" is not a valid application name", s[1]);
		return 1;
	}
	if (n == 2) {
		if (m == EVHTTP_REQ_GET)
			(r->params.n = 1, r->params.value[0] = s[1],
			 sb_handle_app_get(r));
		else if (m == EVHTTP_REQ_PATCH)
			(r->params.n = 1, r->params.value[0] = s[1],
			 sb_handle_app_update(r));
		else if (m == EVHTTP_REQ_DELETE)
			(r->params.n = 1, r->params.value[0] = s[1],
			 sb_handle_app_delete(r));
		else
			return -1;
		return 1;
	}
	if (strcmp(s[2], "mappings") == 0) {
		if (n == 3) {
			if (m != EVHTTP_REQ_GET)
				return -1;
			(r->params.n = 1, r->params.value[0] = s[1],
			 sb_handle_mappings_of_app(r));
			return 1;
		}
		if (n != 4)
			return 0;
		if (!sb_valid_identity(s[3])) {
			sb_reply_error(r, 400, "bad_request",
				       "\"%s\" is not a valid identity", s[3]);
			return 1;
		}
		if (m == EVHTTP_REQ_PUT)
			(r->params.n = 2, r->params.value[0] = s[1],
			 r->params.value[1] = s[3], sb_handle_mapping_set(r));
		else if (m == EVHTTP_REQ_GET)
			(r->params.n = 2, r->params.value[0] = s[1],
			 r->params.value[1] = s[3], sb_handle_mapping_get(r));
		else if (m == EVHTTP_REQ_PATCH)
			(r->params.n = 2, r->params.value[0] = s[1],
			 r->params.value[1] = s[3],
			 sb_handle_mapping_update(r));
		else if (m == EVHTTP_REQ_DELETE)
			(r->params.n = 2, r->params.value[0] = s[1],
			 r->params.value[1] = s[3],
			 sb_handle_mapping_delete(r));
		else
			return -1;
		return 1;
	}
	if (strcmp(s[2], "config") == 0 && (n == 4 || n == 5)) {
		if (!sb_valid_name(s[3]) || (n == 5 && !sb_valid_name(s[4]))) {
			sb_reply_error(r, 400, "bad_request",
				       "config ids and keys are 1..64 "
				       "characters of A-Z a-z 0-9 . _ -");
			return 1;
		}
		if (n == 4 && m == EVHTTP_REQ_PUT)
			(r->params.n = 2, r->params.value[0] = s[1],
			 r->params.value[1] = s[3], sb_handle_config_set(r));
		else if (n == 4 && m == EVHTTP_REQ_GET)
			(r->params.n = 2, r->params.value[0] = s[1],
			 r->params.value[1] = s[3], sb_handle_config_get(r));
		else if (n == 5 && m == EVHTTP_REQ_DELETE)
			(r->params.n = 3, r->params.value[0] = s[1],
			 r->params.value[1] = s[3], r->params.value[2] = s[4],
			 sb_handle_config_delete(r));
		else
			return -1;
		return 1;
	}
	return 0;
}
