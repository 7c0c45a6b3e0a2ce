/*
 * The lookup's mapping record decode (core/api/map_decode.c): the small
 * scanner must read every record as jansson does, or leave it to jansson.
 * Each record below is decoded both ways; the results (NULL, or the same
 * bytes) must agree, and the plain records must take the scanner.
 */
#include "api/map_decode.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Decodes rec both ways and compares. Returns whether the scanner took
 * it. */
static int both_ways(const char *rec)
{
	size_t len = strlen(rec), fl = 0, jl = 0;
	void *fast = NULL, *ref;
	int took = sb_map_decode_fast((const uint8_t *)rec, len, &fast, &fl);
	void *all;
	size_t al = 0;

	printf("record: %s (scanner: %s)\n", rec, took ? "yes" : "no");
	ref = sb_map_decode_jansson((const uint8_t *)rec, len, &jl);
	if (took) {
		assert_non_null(ref);
		assert_int_equal(fl, jl);
		assert_memory_equal(fast, ref, fl);
	}
	all = sb_map_decode((const uint8_t *)rec, len, &al);
	assert_int_equal(all == NULL, ref == NULL);
	if (all) {
		assert_int_equal(al, jl);
		assert_memory_equal(all, ref, al);
	}
	free(fast);
	free(ref);
	free(all);
	return took;
}

static void plain_records_take_the_scanner(void **state)
{
	(void)state;
	/* As mappings.c writes them (json_dumps, compact, sorted). */
	assert_true(both_ways(
		"{\"created_at_ms\":1765150000000,\"enabled\":true,\"epoch\":3,"
		"\"fields\":[\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\","
		"\"YWJjZA==\",\"YWJj\"],\"msid\":\"ms-0123abcd\","
		"\"updated_at_ms\":1765150000001}"));
	assert_true(
		both_ways("{\"enabled\":false,\"fields\":[],\"msid\":\"m\"}"));
	assert_true(
		both_ways(" {\n \"msid\" : \"m2\" , \"fields\" : [ \"YQ==\" ] ,"
			  " \"x\" : null , \"y\" : -0 } \n"));
	assert_true(both_ways(
		"{\"enabled\":1,\"fields\":[\"YWI=\"],\"msid\":\"m\"}"));
}

static void other_records_agree_with_jansson(void **state)
{
	static const char *const recs[] = {
		"",
		"[]",
		"{}",
		"{\"fields\":[\"YQ==\"]}",
		"{\"msid\":\"m\"}",
		"{\"msid\":7,\"fields\":[]}",
		"{\"msid\":\"m\",\"fields\":\"YQ==\"}",
		"{\"msid\":\"m\",\"fields\":[1]}",
		"{\"msid\":\"m\",\"fields\":[\"YQ=\"]}",
		"{\"msid\":\"m\",\"fields\":[\"\"]}",
		"{\"msid\":\"m\",\"fields\":[\"Y!==\"]}",
		"{\"msid\":\"m\\u0041\",\"fields\":[\"YQ==\"]}",
		"{\"msid\":\"m\",\"fields\":[\"YQ==\"],\"enabled\":true,"
		"\"enabled\":false}",
		"{\"msid\":\"a\",\"msid\":\"b\",\"fields\":[]}",
		"{\"msid\":\"m\",\"fields\":[],\"n\":{\"a\":1}}",
		"{\"msid\":\"m\",\"fields\":[],\"n\":[1,2]}",
		"{\"msid\":\"m\",\"fields\":[],\"n\":1.5}",
		"{\"msid\":\"m\",\"fields\":[],\"n\":1e999}",
		"{\"msid\":\"m\",\"fields\":[],\"n\":123456789012345678901234}",
		"{\"msid\":\"m\",\"fields\":[],\"n\":01}",
		"{\"msid\":\"m\",\"fields\":[]} x",
		"{\"msid\":\"m\",\"fields\":[],}",
		"{\"msid\":\"m\",\"fields\":[\"YQ==\",]}",
		"{\"msid\":\"m\" \"fields\":[]}",
		"{\"msid\":\"\xc3\xa9\",\"fields\":[]}",
		"{\"msid\":"
		"\"0123456789012345678901234567890123456789012345678901"
		"2345678901234567890\",\"fields\":[]}",
		"{\"msid\":\"m\",\"fields\":[\"YQ==\",\"YQ==\",\"YQ==\",\"YQ=="
		"\","
		"\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\",\"YQ=="
		"\","
		"\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\"]}",
		"{\"msid\":\"m\",\"fields\":[],\"enabled\":tru}",
		"{\"msid\":\"m\",\"fields\":[]",
	};
	(void)state;

	for (size_t i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
		both_ways(recs[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_records_take_the_scanner),
		cmocka_unit_test(other_records_agree_with_jansson),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
