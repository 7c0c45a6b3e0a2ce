/*
 * unit.routes: the API's route table (core/api/routes.c) against the
 * headings of docs/api.md, and the matcher the dispatcher runs.
 * Usage: test_routes [API_MD] (default: the source tree's docs/api.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api/handlers.h"
#include "api/routes.h"

static const char *api_md = SB_API_MD;

#define MAX_DOCUMENTED 128

/* The routes documented in api_md as "METHOD /path" (query hints such as
 * "[?show_masked=1]" or "?user=U" stripped), into out[0..*n); each
 * malloc'ed, the caller frees them. */
static void documented_routes(char **out, size_t *n)
{
	static const char *const methods[] = {"GET ", "POST ", "PUT ", "PATCH ",
					      "DELETE "};
	FILE *f = fopen(api_md, "r");
	char line[512];

	*n = 0;
	if (f == NULL)
		fail_msg("cannot open %s", api_md);
	while (fgets(line, sizeof(line), f)) {
		char *h = line + 3, *end;
		int is_route = 0;

		if (strncmp(line, "## ", 3) != 0)
			continue;
		for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]);
		     i++)
			is_route |=
				strncmp(h, methods[i], strlen(methods[i])) == 0;
		if (!is_route)
			continue; /* "## Conventions", "## Roles", ... */
		end = h + strcspn(h, "[?\r\n");
		while (end > h && end[-1] == ' ')
			end--;
		*end = '\0';
		assert_true(*n < MAX_DOCUMENTED);
		out[(*n)++] = strdup(h);
	}
	fclose(f);
}

/* "METHOD pattern" of route rt into buf. */
static const char *route_text(const struct sb_route *rt, char *buf, size_t len)
{
	const char *m = sb_route_method_name(rt->method);

	snprintf(buf, len, "%s %s", m ? m : "?", rt->pattern);
	return buf;
}

/* Every route has a heading in docs/api.md, and every documented route is
 * in the table. */
static void test_table_matches_docs(void **state)
{
	char *doc[MAX_DOCUMENTED], buf[256];
	size_t ndoc, nroutes, missing = 0;
	const struct sb_route *t = sb_routes(&nroutes);

	(void)state;
	documented_routes(doc, &ndoc);
	assert_true(ndoc > 0);
	for (size_t i = 0; i < nroutes; i++) {
		size_t k;

		route_text(&t[i], buf, sizeof(buf));
		for (k = 0; k < ndoc; k++)
			if (strcmp(doc[k], buf) == 0)
				break;
		if (k == ndoc) {
			print_error("route %s has no heading \"## %s\" in %s\n",
				    buf, buf, api_md);
			missing++;
		}
	}
	for (size_t k = 0; k < ndoc; k++) {
		size_t i;

		for (i = 0; i < nroutes; i++)
			if (strcmp(doc[k],
				   route_text(&t[i], buf, sizeof(buf))) == 0)
				break;
		if (i == nroutes) {
			print_error("%s documents \"%s\", which the route "
				    "table does not have\n",
				    api_md, doc[k]);
			missing++;
		}
		free(doc[k]);
	}
	assert_int_equal(missing, 0);
}

/* Each entry is well-formed: a known method, a handler, a pattern of
 * non-empty segments with at most SB_PATH_PARAMS_MAX captures, and no
 * method and pattern twice. */
static void test_table_well_formed(void **state)
{
	size_t n;
	const struct sb_route *t = sb_routes(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		const char *p = t[i].pattern;
		size_t caps = 0;

		assert_non_null(sb_route_method_name(t[i].method));
		assert_non_null(t[i].handler);
		assert_int_equal(p[0], '/');
		assert_null(strstr(p, "//"));
		assert_int_not_equal(p[strlen(p) - 1], '/');
		for (; *p; p++)
			caps += *p == '{';
		assert_true(caps <= SB_PATH_PARAMS_MAX);
		for (size_t k = 0; k < i; k++)
			assert_false(t[k].method == t[i].method &&
				     strcmp(t[k].pattern, t[i].pattern) == 0);
	}
}

/* Runs the real table's matcher on method and path. */
static enum sb_route_result find(int method, const char *path,
				 struct sb_path_params *pp,
				 struct sb_route_match *m)
{
	size_t n;
	const struct sb_route *t = sb_routes(&n);

	return sb_route_find(t, n, method, path, pp, m);
}

static void test_match_literal(void **state)
{
	struct sb_path_params pp;
	struct sb_route_match m;

	(void)state;
	assert_int_equal(find(EVHTTP_REQ_GET, "/v1/health", &pp, &m),
			 SB_ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, sb_handle_health);
	assert_int_equal(m.route->access, SB_ACCESS_ANYONE);
	assert_int_equal(pp.n, 0);
	assert_int_equal(
		find(EVHTTP_REQ_POST, "/v1/cluster/designate", &pp, &m),
		SB_ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, sb_handle_cluster_designate);
	assert_int_equal(find(EVHTTP_REQ_GET, "/v1/apps", &pp, &m),
			 SB_ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, sb_handle_apps_list);
	assert_int_equal(find(EVHTTP_REQ_POST, "/v1/apps", &pp, &m),
			 SB_ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, sb_handle_apps_create);
}

static void test_match_captures(void **state)
{
	static const char path[] = "/v1/apps/crm/mappings/alice@corp";
	struct sb_path_params pp;
	struct sb_route_match m;

	(void)state;
	assert_int_equal(find(EVHTTP_REQ_GET, path, &pp, &m), SB_ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, sb_handle_mapping_get);
	assert_int_equal(pp.n, 2);
	assert_string_equal(pp.value[0], "crm");
	assert_string_equal(pp.value[1], "alice@corp");
	assert_string_equal(path, "/v1/apps/crm/mappings/alice@corp");
	assert_int_equal(find(EVHTTP_REQ_DELETE,
			      "/v1/apps/cfgapp/config/default/url", &pp, &m),
			 SB_ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, sb_handle_config_delete);
	assert_int_equal(pp.n, 3);
	assert_string_equal(pp.value[0], "cfgapp");
	assert_string_equal(pp.value[1], "default");
	assert_string_equal(pp.value[2], "url");
	assert_int_equal(find(EVHTTP_REQ_GET, "/v1/lookup/crm", &pp, &m),
			 SB_ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, sb_handle_lookup);
	assert_int_equal(pp.n, 1);
	assert_string_equal(pp.value[0], "crm");
	/* The lookup's name is checked like every other application name
	 * (it used to reach the handler and answer 404 no_such_app). */
	assert_int_equal(find(EVHTTP_REQ_GET, "/v1/lookup/no!such", &pp, &m),
			 SB_ROUTE_BAD_SEGMENT);
	assert_int_equal(m.bad_check, SB_CHECK_APP);
}

/* A literal beats a capture: "import" is not an application here. */
static void test_match_literal_wins(void **state)
{
	struct sb_path_params pp;
	struct sb_route_match m;

	(void)state;
	assert_int_equal(find(EVHTTP_REQ_POST, "/v1/apps/import", &pp, &m),
			 SB_ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, sb_handle_apps_import);
	assert_int_equal(find(EVHTTP_REQ_GET, "/v1/apps/import", &pp, &m),
			 SB_ROUTE_NO_METHOD);
	assert_int_equal(find(EVHTTP_REQ_DELETE, "/v1/apps/import", &pp, &m),
			 SB_ROUTE_NO_METHOD);
	/* Deeper down it is a name like any other. */
	assert_int_equal(
		find(EVHTTP_REQ_GET, "/v1/apps/import/mappings", &pp, &m),
		SB_ROUTE_FOUND);
	assert_ptr_equal(m.route->handler, sb_handle_mappings_of_app);
	assert_string_equal(pp.value[0], "import");
}

static void test_no_match(void **state)
{
	static const char *const paths[] = {
		"",
		"/",
		"/v1",
		"/v1/",
		"/v2/health",
		"v1/health",
		"/v1/nothing",
		"/v1/lookup",
		"/v1/lookup/crm/extra",
		"/v1/mappings/alice",
		"/v1/cache",
		"/v1/apps/crm/nothing",
		"/v1/apps/crm/config",
		"/v1/apps/crm/mappings/alice/extra",
		"/v1/apps/crm/config/default/url/extra",
		"/v1/a/b/c/d/e/f/g/h/i/j",
		/* No empty segment: doubled and trailing slashes. */
		"//v1/health",
		"/v1//health",
		"/v1/health/",
		"/v1/apps/",
		"/v1/apps/crm/",
		"/v1/apps//mappings",
		"/v1/apps/bad!/",
	};
	struct sb_path_params pp;
	struct sb_route_match m;

	(void)state;
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		enum sb_route_result rc =
			find(EVHTTP_REQ_GET, paths[i], &pp, &m);

		if (rc != SB_ROUTE_NOT_FOUND)
			fail_msg("%s: %d, not SB_ROUTE_NOT_FOUND", paths[i],
				 (int)rc);
		assert_null(m.route);
		assert_int_equal(pp.n, 0);
	}
}

/* The path exists, not with this method: 405. */
static void test_no_method(void **state)
{
	struct sb_path_params pp;
	struct sb_route_match m;

	(void)state;
	assert_int_equal(find(EVHTTP_REQ_POST, "/v1/health", &pp, &m),
			 SB_ROUTE_NO_METHOD);
	assert_int_equal(find(EVHTTP_REQ_GET, "/v1/secret/generate", &pp, &m),
			 SB_ROUTE_NO_METHOD);
	assert_int_equal(find(EVHTTP_REQ_PUT, "/v1/apps", &pp, &m),
			 SB_ROUTE_NO_METHOD);
	assert_int_equal(
		find(EVHTTP_REQ_POST, "/v1/apps/crm/mappings/alice", &pp, &m),
		SB_ROUTE_NO_METHOD);
	assert_int_equal(
		find(EVHTTP_REQ_DELETE, "/v1/apps/crm/config/default", &pp, &m),
		SB_ROUTE_NO_METHOD);
	assert_int_equal(find(EVHTTP_REQ_GET, "/v1/apps/crm/config/default/url",
			      &pp, &m),
			 SB_ROUTE_NO_METHOD);
	assert_int_equal(find(EVHTTP_REQ_HEAD, "/v1/lookup/crm", &pp, &m),
			 SB_ROUTE_NO_METHOD);
}

/* A malformed name where a route has a checked capture: 400, before the
 * method is looked at. */
static void test_bad_segment(void **state)
{
	static const struct {
		int method;
		const char *path, *value;
		enum sb_route_check check;
	} cases[] = {
		{EVHTTP_REQ_GET, "/v1/apps/bad!", "bad!", SB_CHECK_APP},
		{EVHTTP_REQ_POST, "/v1/apps/bad!", "bad!", SB_CHECK_APP},
		{EVHTTP_REQ_GET, "/v1/apps/a@b/mappings", "a@b", SB_CHECK_APP},
		{EVHTTP_REQ_GET, "/v1/apps/bad!/anything", "bad!",
		 SB_CHECK_APP},
		{EVHTTP_REQ_PUT, "/v1/apps/bad!/mappings/also!bad", "bad!",
		 SB_CHECK_APP},
		{EVHTTP_REQ_GET, "/v1/apps/crm/mappings/not!valid", "not!valid",
		 SB_CHECK_IDENTITY},
		{EVHTTP_REQ_POST, "/v1/apps/crm/mappings/not!valid",
		 "not!valid", SB_CHECK_IDENTITY},
		{EVHTTP_REQ_GET, "/v1/apps/crm/config/a@b", "a@b",
		 SB_CHECK_CONFIG},
		{EVHTTP_REQ_DELETE, "/v1/apps/crm/config/default/..", "..",
		 SB_CHECK_CONFIG},
	};
	struct sb_path_params pp;
	struct sb_route_match m;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sb_route_result rc =
			find(cases[i].method, cases[i].path, &pp, &m);

		if (rc != SB_ROUTE_BAD_SEGMENT)
			fail_msg("%s: %d, not SB_ROUTE_BAD_SEGMENT",
				 cases[i].path, (int)rc);
		assert_string_equal(m.bad_value, cases[i].value);
		assert_int_equal(m.bad_check, cases[i].check);
	}
	/* Longer than the route that would check it: no such path. */
	assert_int_equal(find(EVHTTP_REQ_GET,
			      "/v1/apps/crm/mappings/not!valid/extra", &pp, &m),
			 SB_ROUTE_NOT_FOUND);
}

/* A table of one's own: the matcher is not tied to the API's. */
static void test_own_table(void **state)
{
	static const struct sb_route t[] = {
		{EVHTTP_REQ_GET, "/x/{a}/y/{b}", SB_ACCESS_LOCAL,
		 sb_handle_health, 0},
		{EVHTTP_REQ_GET, "/x/{a}/y/z", SB_ACCESS_LOCAL,
		 sb_handle_status, 0},
	};
	struct sb_path_params pp;
	struct sb_route_match m;

	(void)state;
	assert_int_equal(
		sb_route_find(t, 2, EVHTTP_REQ_GET, "/x/1/y/2", &pp, &m),
		SB_ROUTE_FOUND);
	assert_ptr_equal(m.route, &t[0]);
	assert_int_equal(pp.n, 2);
	assert_string_equal(pp.value[0], "1");
	assert_string_equal(pp.value[1], "2");
	assert_int_equal(
		sb_route_find(t, 2, EVHTTP_REQ_GET, "/x/1/y/z", &pp, &m),
		SB_ROUTE_FOUND);
	assert_ptr_equal(m.route, &t[1]);
	assert_int_equal(pp.n, 1);
	assert_int_equal(
		sb_route_find(t, 2, EVHTTP_REQ_POST, "/x/1/y/z", &pp, &m),
		SB_ROUTE_NO_METHOD);
	assert_int_equal(
		sb_route_find(t, 0, EVHTTP_REQ_GET, "/x/1/y/z", &pp, &m),
		SB_ROUTE_NOT_FOUND);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_matches_docs),
		cmocka_unit_test(test_table_well_formed),
		cmocka_unit_test(test_match_literal),
		cmocka_unit_test(test_match_captures),
		cmocka_unit_test(test_match_literal_wins),
		cmocka_unit_test(test_no_match),
		cmocka_unit_test(test_no_method),
		cmocka_unit_test(test_bad_segment),
		cmocka_unit_test(test_own_table),
	};

	if (argc > 1)
		api_md = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
