/*
 * The lookup's allocation-free query reader (core/api/lookup_query.c)
 * against libevent's own evhttp_parse_query_str + evhttp_find_header,
 * which it replaces on the hot path: for each query string both must
 * read the same cache, show_masked and user.
 */
#include "api/lookup_query.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* What the lookup read before: libevent's parse. */
static void libevent_reading(const char *q, struct lookup_query *lq)
{
	struct evkeyvalq params = {0};
	const char *v;

	memset(lq, 0, sizeof(*lq));
	if (q == NULL || evhttp_parse_query_str(q, &params) != 0)
		return;
	v = evhttp_find_header(&params, "cache");
	lq->bypass = v && strcmp(v, "bypass") == 0;
	v = evhttp_find_header(&params, "show_masked");
	lq->show = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
	v = evhttp_find_header(&params, "user");
	if (v)
		snprintf(lq->user, sizeof(lq->user), "%s", v);
	lq->has_user = v != NULL;
	evhttp_clear_headers(&params);
}

static void same_as_libevent(void **state)
{
	static const char *const cases[] = {
		"",
		"show_masked=1",
		"show_masked=true",
		"show_masked=0",
		"show_masked=1&cache=bypass",
		"cache=bypass&user=alice",
		"user=alice&user=bob",
		"USER=carol",
		"Cache=Bypass",
		"cache=%62ypass",
		"user=a%40b.example",
		"user=a+b",
		"user=%4",
		"user=%zz",
		"user=%",
		"user=",
		"user",
		"show_masked=1&foo",
		"show_masked=1&=x",
		"show_masked=1&",
		"&show_masked=1",
		"show_masked=1&&cache=bypass",
		"a=b=c&user=d=e",
		"user=%00x",
		"user="
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		"aaaaaaaaaaa",
		"other=1&show_masked=true&cache=bypass&user=svc.batch-1",
		NULL,
	};
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lookup_query want, got;

		libevent_reading(cases[i], &want);
		sb_lookup_query_parse(cases[i], &got);
		printf("case %zu: \"%s\"\n", i, cases[i] ? cases[i] : "(null)");
		assert_int_equal(got.bypass, want.bypass);
		assert_int_equal(got.show, want.show);
		assert_int_equal(got.has_user, want.has_user);
		assert_string_equal(got.user, want.user);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_as_libevent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
