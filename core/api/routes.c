/*
 * The route table of /v1 and its matcher (routes.h). The table is in the
 * order of docs/api.md; the unit test unit.routes checks that the two name
 * the same routes.
 */
#define _GNU_SOURCE
#include "api/routes.h"
#include "api/handlers.h"
#include "api/records.h"

#include <event2/http.h>
#include <stdint.h>
#include <string.h>

#define GET    EVHTTP_REQ_GET
#define POST   EVHTTP_REQ_POST
#define PUT    EVHTTP_REQ_PUT
#define PATCH  EVHTTP_REQ_PATCH
#define DELETE EVHTTP_REQ_DELETE

static const struct sb_route route_table[] = {
	{GET, "/v1/health", SB_ACCESS_ANYONE, sb_handle_health, 0},
	{GET, "/v1/status", SB_ACCESS_LOCAL, sb_handle_status, 0},
	{GET, "/v1/secret", SB_ACCESS_SSO_ADMIN, sb_handle_secret_status, 0},
	{POST, "/v1/secret/generate", SB_ACCESS_SSO_ADMIN,
	 sb_handle_secret_generate, 0},
	{POST, "/v1/secret/backup", SB_ACCESS_SSO_ADMIN,
	 sb_handle_secret_backup, 0},
	{POST, "/v1/secret/hint", SB_ACCESS_LOCAL, sb_handle_secret_hint, 0},
	{POST, "/v1/secret/restore", SB_ACCESS_SSO_ADMIN,
	 sb_handle_secret_restore, 0},
	{POST, "/v1/secret/rotate", SB_ACCESS_SSO_ADMIN,
	 sb_handle_secret_rotate, 0},
	{POST, "/v1/secret/rotate/commit", SB_ACCESS_SSO_ADMIN,
	 sb_handle_secret_rotate_commit, 0},
	/* Lists the applications the caller has a role in. */
	{GET, "/v1/apps", SB_ACCESS_LOCAL, sb_handle_apps_list, 0},
	{POST, "/v1/apps", SB_ACCESS_AFFILIATE_ADMIN, sb_handle_apps_create, 0},
	{POST, "/v1/apps/import", SB_ACCESS_AFFILIATE_ADMIN,
	 sb_handle_apps_import, 0},
	{GET, "/v1/apps/{app}", SB_ACCESS_APP_USER, sb_handle_app_get, 0},
	{PATCH, "/v1/apps/{app}", SB_ACCESS_AFFILIATE_ADMIN,
	 sb_handle_app_update, 0},
	{DELETE, "/v1/apps/{app}", SB_ACCESS_AFFILIATE_ADMIN,
	 sb_handle_app_delete, 0},
	{GET, "/v1/apps/{app}/mappings", SB_ACCESS_APP_ADMIN,
	 sb_handle_mappings_of_app, 0},
	/* The caller's own mappings; another user's need an administrator. */
	{GET, "/v1/mappings", SB_ACCESS_LOCAL, sb_handle_mappings_of_user, 0},
	/* Users set and read their own mapping; administrators any. */
	{PUT, "/v1/apps/{app}/mappings/{identity}", SB_ACCESS_APP_USER,
	 sb_handle_mapping_set, 0},
	{GET, "/v1/apps/{app}/mappings/{identity}", SB_ACCESS_APP_USER,
	 sb_handle_mapping_get, 0},
	{PATCH, "/v1/apps/{app}/mappings/{identity}", SB_ACCESS_APP_ADMIN,
	 sb_handle_mapping_update, 0},
	{DELETE, "/v1/apps/{app}/mappings/{identity}", SB_ACCESS_APP_ADMIN,
	 sb_handle_mapping_delete, 0},
	{GET, "/v1/lookup/{app}", SB_ACCESS_APP_USER, sb_handle_lookup,
	 SB_ROUTE_LOOKUP},
	{PUT, "/v1/apps/{app}/config/{id}", SB_ACCESS_APP_ADMIN,
	 sb_handle_config_set, 0},
	{GET, "/v1/apps/{app}/config/{id}", SB_ACCESS_APP_USER,
	 sb_handle_config_get, 0},
	{DELETE, "/v1/apps/{app}/config/{id}/{key}", SB_ACCESS_APP_ADMIN,
	 sb_handle_config_delete, 0},
	/* A ticket for the caller's own credentials of {"app"}. */
	{POST, "/v1/tickets", SB_ACCESS_APP_USER, sb_handle_ticket_issue, 0},
	{POST, "/v1/tickets/redeem", SB_ACCESS_TICKET_REDEEMER,
	 sb_handle_ticket_redeem, 0},
	/* With "app": its administrators; without: SSO administrators. */
	{POST, "/v1/cache/purge", SB_ACCESS_APP_ADMIN, sb_handle_cache_purge,
	 0},
	{GET, "/v1/cluster", SB_ACCESS_LOCAL, sb_handle_cluster, 0},
	{POST, "/v1/cluster/designate", SB_ACCESS_SSO_ADMIN,
	 sb_handle_cluster_designate, 0},
	{POST, "/v1/cluster/promote", SB_ACCESS_SSO_ADMIN,
	 sb_handle_cluster_promote, 0},
	{POST, "/v1/cluster/demote", SB_ACCESS_SSO_ADMIN,
	 sb_handle_cluster_demote, 0},
	{GET, "/v1/cluster/secret", SB_ACCESS_CLUSTER_MEMBER,
	 sb_handle_cluster_secret, 0},
	{GET, "/v1/metrics", SB_ACCESS_METRICS, sb_handle_metrics, 0},
};

/* See routes.h. */
const struct sb_route *sb_routes(size_t *n)
{
	*n = sizeof(route_table) / sizeof(route_table[0]);
	return route_table;
}

/* See routes.h. */
const char *sb_route_method_name(int method)
{
	switch (method) {
	case GET: return "GET";
	case POST: return "POST";
	case PUT: return "PUT";
	case PATCH: return "PATCH";
	case DELETE: return "DELETE";
	default: return NULL;
	}
}

/* More than the longest pattern has, so a longer path simply fits none;
 * also the width of the literal masks below. */
#define MAX_SEGMENTS 8

/* A path split into its segments, in place in a copy of it. ok[i][check]
 * remembers whether segment i passed a check (0 not asked yet, 1 passed,
 * -1 failed), so that routes sharing a capture check it once. */
struct segments {
	size_t n;
	char *s[MAX_SEGMENTS];
	size_t len[MAX_SEGMENTS];
	signed char ok[MAX_SEGMENTS][SB_CHECK_CONFIG + 1];
};

/* Copies path into buf (cap bytes) and splits it at each '/' into sg
 * (pointing into buf). Returns 0, or -1 when path does not start with '/',
 * does not fit, has an empty segment (doubled or trailing slash) or more
 * than MAX_SEGMENTS. "/" has no segment. */
static int split_path(const char *path, char *buf, size_t cap,
		      struct segments *sg)
{
	size_t len = strlen(path);
	char *p, *slash;

	sg->n = 0;
	memset(sg->ok, 0, sizeof(sg->ok));
	if (path[0] != '/' || len >= cap)
		return -1;
	memcpy(buf, path, len + 1);
	p = buf + 1;
	if (*p == '\0')
		return 0;
	for (;;) {
		slash = strchr(p, '/');
		len = slash ? (size_t)(slash - p) : strlen(p);
		if (len == 0 || sg->n == MAX_SEGMENTS)
			return -1;
		sg->s[sg->n] = p;
		sg->len[sg->n++] = len;
		if (slash == NULL)
			return 0;
		*slash = '\0';
		p = slash + 1;
	}
}

/* The check a capture named name (len bytes, without the braces) asks
 * for. */
static enum sb_route_check check_of(const char *name, size_t len)
{
	if (len == 3 && memcmp(name, "app", 3) == 0)
		return SB_CHECK_APP;
	if (len == 8 && memcmp(name, "identity", 8) == 0)
		return SB_CHECK_IDENTITY;
	if ((len == 2 && memcmp(name, "id", 2) == 0) ||
	    (len == 3 && memcmp(name, "key", 3) == 0))
		return SB_CHECK_CONFIG;
	return SB_CHECK_NONE;
}

/* 1 when segment i of sg passes check (asked once per segment and check). */
static int segment_ok(struct segments *sg, size_t i, enum sb_route_check check)
{
	int ok;

	if (check == SB_CHECK_NONE)
		return 1;
	if (sg->ok[i][check] == 0) {
		ok = check == SB_CHECK_IDENTITY ? sb_valid_identity(sg->s[i])
						: sb_valid_name(sg->s[i]);
		sg->ok[i][check] = ok ? 1 : -1;
	}
	return sg->ok[i][check] == 1;
}

enum walk {
	WALK_NO,   /* a literal differs, or the lengths do */
	WALK_FULL, /* every segment fits */
	WALK_BAD,  /* the literals fit up to a capture that fails its check */
};

/* What fitting a route's pattern to a path found. */
struct fit {
	size_t cap[SB_PATH_PARAMS_MAX]; /* indexes of the captured segments */
	size_t ncap;
	unsigned literals; /* bit MAX_SEGMENTS-1-i: segment i is a literal */
	size_t bad;	   /* WALK_BAD: the failing segment */
	enum sb_route_check check; /* WALK_BAD: the check it failed */
};

/* Compares route rt's pattern with sg, segment by segment and character by
 * character (no library call on a literal: most routes differ from the path
 * at the first character of their second segment), and stops at the first
 * difference. Returns what it found, the details in *f. */
static inline enum walk walk(const struct sb_route *rt, struct segments *sg,
			     struct fit *f)
{
	const char *p = rt->pattern, *s, *close;
	enum sb_route_check check;
	size_t i = 0;

	f->ncap = 0;
	f->literals = 0;
	while (*p == '/') {
		p++;
		if (i == sg->n)
			return WALK_NO; /* the path is shorter */
		if (*p == '{') {
			close = strchr(p, '}');
			if (close == NULL)
				return WALK_NO; /* the unit test forbids it */
			check = check_of(p + 1, (size_t)(close - p - 1));
			if (!segment_ok(sg, i, check)) {
				f->bad = i;
				f->check = check;
				return WALK_BAD;
			}
			if (f->ncap == SB_PATH_PARAMS_MAX)
				return WALK_NO; /* the unit test forbids it */
			f->cap[f->ncap++] = i;
			p = close + 1;
		} else {
			for (s = sg->s[i]; *p && *p != '/' && *p == *s; p++)
				s++;
			if (*s != '\0' || (*p && *p != '/'))
				return WALK_NO;
			f->literals |= 1u << (MAX_SEGMENTS - 1 - i);
		}
		i++;
	}
	return *p == '\0' && i == sg->n ? WALK_FULL : WALK_NO;
}

/* 0 when walk() would answer WALK_NO because pattern's literal prefix, up
 * to its first capture, differs from path (the raw path: split_path's copy
 * holds the same bytes with '\0' for '/'). Most routes are ruled out here
 * at the first character of their second segment, without splitting. */
static inline int prefix_fits(const char *pattern, const char *path)
{
	while (*pattern == *path && *pattern != '{' && *pattern != '\0') {
		pattern++;
		path++;
	}
	return *pattern == '{' || (*pattern == '\0' && *path == '\0');
}

/* How many segments pattern has. */
static size_t pattern_segments(const char *pattern)
{
	size_t n = 0;

	for (const char *p = pattern; *p; p++)
		n += *p == '/';
	return n;
}

/* See routes.h. */
enum sb_route_result sb_route_find(const struct sb_route *table, size_t n,
				   int method, const char *path,
				   struct sb_path_params *params,
				   struct sb_route_match *match)
{
	const struct sb_route *chosen = NULL;
	struct segments sg;
	struct fit f, best = {.ncap = 0};
	size_t bad_at = SIZE_MAX;
	enum sb_route_check bad_check = SB_CHECK_NONE;
	int have_shape = 0;

	params->n = 0;
	memset(match, 0, sizeof(*match));
	if (split_path(path, params->buf, sizeof(params->buf), &sg) != 0)
		return SB_ROUTE_NOT_FOUND;
	for (size_t k = 0; k < n; k++) {
		const struct sb_route *rt = &table[k];

		if (!prefix_fits(rt->pattern, path))
			continue;
		switch (walk(rt, &sg, &f)) {
		case WALK_FULL:
			/* A literal beats a capture at the first segment
			 * where two fitting patterns differ. */
			if (!have_shape || f.literals > best.literals) {
				have_shape = 1;
				best = f;
				chosen = rt->method == method ? rt : NULL;
			} else if (f.literals == best.literals &&
				   chosen == NULL && rt->method == method) {
				chosen = rt;
			}
			break;
		case WALK_BAD:
			if (f.bad < bad_at &&
			    sg.n <= pattern_segments(rt->pattern)) {
				bad_at = f.bad;
				bad_check = f.check;
			}
			break;
		case WALK_NO: break;
		}
	}
	if (have_shape && chosen == NULL)
		return SB_ROUTE_NO_METHOD;
	if (chosen) {
		params->n = best.ncap;
		for (size_t i = 0; i < best.ncap; i++)
			params->value[i] = sg.s[best.cap[i]];
		match->route = chosen;
		return SB_ROUTE_FOUND;
	}
	if (bad_at != SIZE_MAX) {
		match->bad_value = sg.s[bad_at];
		match->bad_check = bad_check;
		return SB_ROUTE_BAD_SEGMENT;
	}
	return SB_ROUTE_NOT_FOUND;
}
