/*
 * The credential lookup (GET /v1/lookup/{app}, see docs/api.md), the
 * request applications make thousands of times a second: the application
 * and the mapping are read through the thread's caches in decoded form
 * (map_decode.c), and the reply is written without jansson. It takes no
 * shared lock.
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "api/lookup_query.h"
#include "api/map_decode.h"
#include "api/reply_format.h"
#include "api/store_common.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The reply being written: pieces gather in a stack buffer and go to out
 * in a few evbuffer_add calls rather than one per piece. The buffer holds
 * plaintext values: every flush wipes it. */
struct reply_writer {
	struct evbuffer *out;
	size_t n;
	char buf[2048];
};

/* Moves what w holds into its evbuffer and wipes the stack copy. */
static void rw_flush(struct reply_writer *w)
{
	if (w->n)
		evbuffer_add(w->out, w->buf, w->n);
	explicit_bzero(w->buf, w->n);
	w->n = 0;
}

/* Appends len bytes at p to the reply. */
static void rw_add(struct reply_writer *w, const void *p, size_t len)
{
	if (len > sizeof(w->buf) - w->n) {
		rw_flush(w);
		if (len > sizeof(w->buf)) {
			evbuffer_add(w->out, p, len);
			return;
		}
	}
	memcpy(w->buf + w->n, p, len);
	w->n += len;
}

/* Appends s (len bytes, valid UTF-8) to the reply as a JSON string. */
static void json_quote(struct reply_writer *w, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t from = 0;

	rw_add(w, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[6];

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		esc[0] = '\\';
		esc[2] = esc[3] = '0';
		esc[4] = hex[ch >> 4];
		esc[5] = hex[ch & 15];
		rw_add(w, s + from, i - from);
		/* The short escapes jansson writes, so replies read alike. */
		switch (ch) {
		case '"':
		case '\\': esc[1] = (char)ch; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default: esc[1] = 'u';
		}
		rw_add(w, esc, esc[1] == 'u' ? 6 : 2);
		from = i + 1;
	}
	rw_add(w, s + from, len - from);
	rw_add(w, "\"", 1);
}

/* Appends the NUL-terminated string s to the reply as a JSON string. */
static void json_quote_str(struct reply_writer *w, const char *s)
{
	json_quote(w, s, strlen(s));
}

/* See store_common.h. */
void sb_api_reply_credentials(struct sb_req *r, const struct sb_app *app,
			      const char *identity, int show, int bypass)
{
	char key[160];
	struct sb_api_error e;
	struct sb_crypto_ctx cc;
	struct map_rec *m = NULL;
	struct reply_writer w;
	int borrowed = 0, rc;
	size_t mlen = 0;

	w.out = NULL;
	w.n = 0;
	if (!app->enabled) {
		sb_reply_error(r, 403, "app_disabled",
			       "application %s is disabled", app->name);
		goto done;
	}
	sb_str_join(key, sizeof(key), "map/", app->name, "/");
	sb_str_join(key + strlen(key), sizeof(key) - strlen(key), identity,
		    NULL, NULL);
	rc = sb_api_cached_decoded(r, key, bypass, sb_map_decode, (void **)&m,
				   &mlen, &borrowed, &e);
	if (rc == SB_ENOTFOUND) {
		sb_reply_error(r, 404, "no_mapping",
			       "%s has no credentials for application %s",
			       identity, app->name);
		goto done;
	}
	if (rc == 1 || (rc == SB_OK && m->n_fields != app->n_fields)) {
		sb_reply_error(r, 500, "record_damaged",
			       "the mapping %s/%s is damaged or does not match "
			       "the application's fields",
			       app->name, identity);
		goto done;
	}
	if (rc != SB_OK) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	if (!m->enabled) {
		sb_reply_error(
			r, 403, "mapping_disabled",
			"the credentials of %s for application %s are disabled",
			identity, app->name);
		goto done;
	}
	w.out = evbuffer_new();
	if (w.out == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	w.n = 0;
	cc = sb_api_crypto_ctx(r);
	rw_add(&w, "{\"app\":", 7);
	json_quote_str(&w, app->name);
	rw_add(&w, ",\"identity\":", 12);
	json_quote_str(&w, identity);
	rw_add(&w, ",\"values\":{", 11);
	for (size_t f = 0; f < app->n_fields; f++) {
		char *pt = NULL;
		size_t len = 0;

		if (f)
			rw_add(&w, ",", 1);
		json_quote_str(&w, app->fields[f].label);
		rw_add(&w, ":", 1);
		if (app->fields[f].masked && !show) {
			json_quote_str(&w, MASK);
			continue;
		}
		if (sb_value_open_raw(&cc, "map", app->name, identity,
				      app->fields[f].label, m->msid,
				      m->blob + m->off[f], m->len[f], &pt, &len,
				      &e) != 0) {
			sb_reply_api_error(r, &e);
			goto done;
		}
		json_quote(&w, pt, len);
		explicit_bzero(pt, len);
		free(pt);
	}
	rw_add(&w, "}}\n", 3);
	rw_flush(&w);
	sb_reply_buffer(r, 200, w.out);
done:
	if (w.out) {
		explicit_bzero(w.buf, w.n); /* an error mid-reply */
		evbuffer_free(w.out); /* chains wiped by the daemon's free */
	}
	if (m && !borrowed) {
		explicit_bzero(m, mlen);
		free(m);
	}
}

/* GET /v1/lookup/{app}[?show_masked=1][&user=U][&cache=bypass]
 * The hot path: one parse of the query, the app and mapping read through
 * the thread cache in decoded form, the reply written without jansson. */
void sb_handle_lookup(struct sb_req *r)
{
	const char *name = r->params.value[0];
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct lookup_query lq;
	char user[SB_NAME_MAX + 2];
	struct sb_app app = {0};
	const char *identity;
	int role, bypass = 0, show = 0, has_user = 0;

	sb_lookup_query_parse(q, &lq);
	bypass = lq.bypass;
	show = lq.show;
	has_user = lq.has_user;
	memcpy(user, lq.user, sizeof(user));
	sb_req_audit(r, "lookup", 3, name, NULL);
	/* As a mapping's identity is checked when it is created. */
	if (has_user && !sb_valid_identity(user)) {
		sb_reply_error(r, 400, "bad_request",
			       "user must be a user or group name (1..64 "
			       "characters of A-Z a-z 0-9 . _ - @)");
		return;
	}
	if (sb_api_app_load(r, name, bypass, &app, NULL) != 0)
		return;
	role = sb_api_app_role(r, &app);
	if (role < ROLE_USER) {
		sb_api_forbid_app(r, &app, "looking up credentials", ROLE_USER);
		goto done;
	}
	if (app.type == SB_APP_CONFIG_STORE) {
		sb_reply_error(r, 400, "wrong_app_type",
			       "application %s is a config-store application: "
			       "read it with GET /v1/apps/%s/config/ID",
			       name, name);
		goto done;
	}
	if (user[0] && role < ROLE_APP_ADMIN) {
		sb_api_forbid_app(r, &app,
				  "looking up another identity's credentials",
				  ROLE_APP_ADMIN);
		goto done;
	}
	identity = user[0]		      ? user
		   : app.type == SB_APP_GROUP ? app.user_group
					      : sb_caller_name(r);
	sb_str_copy(r->audit.target, sizeof(r->audit.target), identity);
	sb_api_reply_credentials(r, &app, identity, show, bypass);
done:
	sb_app_clear(&app);
}
