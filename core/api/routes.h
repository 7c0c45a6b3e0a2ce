/*
 * The API's one route table (routes.c): every method and path pattern of
 * /v1 with the access it needs and its handler, and the matcher the
 * dispatcher (api.c) runs on every request.
 *
 * A pattern is a path of segments: a literal ("apps") matches itself, a
 * capture ("{app}") matches any one non-empty segment and hands it to the
 * handler in r->params, in the pattern's order. Some captures must also be
 * well-formed names; a path that has the shape of a route but a malformed
 * name there answers 400 bad_request (see sb_route_find).
 */
#ifndef SB_ROUTES_H
#define SB_ROUTES_H

#include "api/http.h"

#include <stddef.h>

/* Who a route is for: the least a caller must be for its handler to do
 * more than refuse with 403 forbidden. The handler checks it itself, after
 * setting what the audit record says and, for the application roles,
 * loading the application (a missing one answers 404 first), so that the
 * refusal names the group needed. Each role includes the ones above it
 * except SB_ACCESS_CLUSTER_MEMBER, SB_ACCESS_METRICS and
 * SB_ACCESS_TICKET_REDEEMER (docs/api.md, Roles). */
enum sb_route_access {
	SB_ACCESS_ANYONE = 0,	   /* no identity needed, not even a group */
	SB_ACCESS_LOCAL,	   /* any caller that can open the socket */
	SB_ACCESS_APP_USER,	   /* the application's user_group */
	SB_ACCESS_APP_ADMIN,	   /* the application's admin_group */
	SB_ACCESS_AFFILIATE_ADMIN, /* [access] sso_affiliate_admins */
	SB_ACCESS_SSO_ADMIN,	   /* root, [access] sso_admins, tls_admins */
	SB_ACCESS_CLUSTER_MEMBER,  /* a mutual TLS identity listed in
				      [access] cluster_members */
	SB_ACCESS_METRICS,	   /* [access] metrics, or an SSO admin */
	SB_ACCESS_TICKET_REDEEMER, /* [access] ticket_redeemers (group) or
				      tls_ticket_redeemers (identities) */
};

struct sb_route {
	int method;	     /* enum evhttp_cmd_type */
	const char *pattern; /* "/v1/apps/{app}/mappings/{identity}" */
	enum sb_route_access access;
	void (*handler)(struct sb_req *r);
	unsigned flags; /* SB_ROUTE_* */
};

/* The route's replies are counted as lookups (secretbroker_lookups_total
 * and the lookup latency histogram, runtime/metrics.h). */
#define SB_ROUTE_LOOKUP 1u

/* The route table, read-only, and its length in *n. */
const struct sb_route *sb_routes(size_t *n);

/* The method's name as in docs/api.md ("GET"), or NULL for a method no
 * route uses. */
const char *sb_route_method_name(int method);

/* The checks a capture's value must pass, chosen by its name. */
enum sb_route_check {
	SB_CHECK_NONE = 0,
	SB_CHECK_APP,	   /* {app}: an application name (sb_valid_name) */
	SB_CHECK_IDENTITY, /* {identity}: a user or group name */
	SB_CHECK_CONFIG,   /* {id}, {key}: a config id or key name */
};

enum sb_route_result {
	SB_ROUTE_FOUND,	      /* match->route is the route */
	SB_ROUTE_NOT_FOUND,   /* no route has this path: 404 */
	SB_ROUTE_NO_METHOD,   /* routes have this path, none this method */
	SB_ROUTE_BAD_SEGMENT, /* match->bad_value fails match->bad_check */
};

struct sb_route_match {
	const struct sb_route *route; /* SB_ROUTE_FOUND */
	const char *bad_value;	      /* SB_ROUTE_BAD_SEGMENT: into params */
	enum sb_route_check bad_check;
};

/* Finds the route for method and path (percent-decoded, without the query)
 * in table[0..n): splits a copy of path into params->buf (path is not
 * changed), and on SB_ROUTE_FOUND fills params with the route's captures.
 * A path with an empty segment (a doubled or trailing slash) or more
 * segments than any route matches nothing. When several patterns fit a
 * path, the one with a literal at the first segment where they differ wins
 * ("/v1/apps/import" over "/v1/apps/{app}"), and its routes alone decide
 * between FOUND and NO_METHOD. When none fits, a path that follows a
 * pattern up to a capture whose value fails its check, and is no longer
 * than that pattern, is SB_ROUTE_BAD_SEGMENT (the first such segment).
 * Compares segments in place: no allocation, no lock, no regex. */
enum sb_route_result sb_route_find(const struct sb_route *table, size_t n,
				   int method, const char *path,
				   struct sb_path_params *params,
				   struct sb_route_match *match);

#endif
