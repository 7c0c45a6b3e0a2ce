/*
 * unit.client.store: the credential-store commands' local parsing
 * (client/sbctl_store.c): --fields lists, KEY=VALUE arguments, import files
 * and JSON values from standard input, including that no error message
 * quotes a value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbctl_store.h"

static char err[512];

/* The fields array as compact JSON, for comparing; the caller frees. */
static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	return s;
}

static void expect_fields(const char *list, const char *want)
{
	char *got;

	err[0] = '\0';
	got = dump(sbctl_fields_parse(list, err, sizeof(err)));
	if (got == NULL)
		fail_msg("fields \"%s\" refused: %s", list, err);
	assert_string_equal(got, want);
	free(got);
}

static void expect_fields_error(const char *list, const char *needle)
{
	json_t *j = sbctl_fields_parse(list, err, sizeof(err));

	if (j != NULL)
		fail_msg("fields \"%s\" accepted", list ? list : "(null)");
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_fields(void **state)
{
	(void)state;
	expect_fields("user,password:masked",
		      "[{\"label\":\"user\",\"masked\":false},"
		      "{\"label\":\"password\",\"masked\":true}]");
	expect_fields("user", "[{\"label\":\"user\",\"masked\":false}]");
	expect_fields("a.b,c-d:masked,e_f",
		      "[{\"label\":\"a.b\",\"masked\":false},"
		      "{\"label\":\"c-d\",\"masked\":true},"
		      "{\"label\":\"e_f\",\"masked\":false}]");
	expect_fields_error("", "needs a list");
	expect_fields_error(NULL, "needs a list");
	expect_fields_error("user,,password", "empty entry");
	expect_fields_error(",user", "empty entry");
	expect_fields_error("user,", "empty entry");
	expect_fields_error("user,password:hidden", "only \":masked\"");
	expect_fields_error("user,password:masked:masked", "only \":masked\"");
	expect_fields_error(":masked", "is not a label");
	expect_fields_error("user name", "is not a label");
	expect_fields_error("user,pin,user:masked", "names \"user\" twice");
}

static void test_pairs(void **state)
{
	char *ok[] = {"url=https://x/?a=b", "empty=", "k.2=v"};
	char *noeq[] = {"url=x", "hunter2"};
	char *nokey[] = {"=hunter2"};
	char *badkey[] = {"a b=hunter2"};
	char *twice[] = {"k=1", "k=hunter2"};
	char *got;

	(void)state;
	got = dump(sbctl_pairs_parse(ok, 3, err, sizeof(err)));
	assert_non_null(got);
	/* The value is all after the first '='. */
	assert_string_equal(got, "{\"url\":\"https://x/?a=b\",\"empty\":\"\","
				 "\"k.2\":\"v\"}");
	free(got);
	assert_null(sbctl_pairs_parse(noeq, 2, err, sizeof(err)));
	assert_non_null(strstr(err, "argument 2"));
	assert_null(strstr(err, "hunter2"));
	assert_null(sbctl_pairs_parse(nokey, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "empty"));
	assert_null(strstr(err, "hunter2"));
	assert_null(sbctl_pairs_parse(badkey, 1, err, sizeof(err)));
	assert_non_null(strstr(err, "\"a b\" is not a config key"));
	assert_null(strstr(err, "hunter2"));
	assert_null(sbctl_pairs_parse(twice, 2, err, sizeof(err)));
	assert_non_null(strstr(err, "\"k\" is given twice"));
	assert_null(strstr(err, "hunter2"));
}

static void expect_import(const char *text, const char *want)
{
	json_t *b = sbctl_import_body(text, strlen(text), "apps.json", err,
				      sizeof(err));
	char *got;

	if (b == NULL)
		fail_msg("import refused: %s", err);
	got = dump(b);
	assert_string_equal(got, want);
	free(got);
}

static void expect_import_error(const char *text, const char *needle)
{
	json_t *b = sbctl_import_body(text, strlen(text), "apps.json", err,
				      sizeof(err));

	if (b != NULL)
		fail_msg("import of %s accepted", text);
	if (strstr(err, needle) == NULL || strstr(err, "apps.json") == NULL)
		fail_msg("error \"%s\" does not mention \"%s\" and the file",
			 err, needle);
}

static void test_import(void **state)
{
	(void)state;
	expect_import("{\"apps\": [{\"name\": \"a\"}, {\"name\": \"b\"}]}",
		      "{\"apps\":[{\"name\":\"a\"},{\"name\":\"b\"}]}");
	expect_import("[{\"name\": \"a\"}]", "{\"apps\":[{\"name\":\"a\"}]}");
	/* The daemon judges each application, not sbctl. */
	expect_import("[1, \"x\"]", "{\"apps\":[1,\"x\"]}");
	expect_import_error("{\"apps\": [", "not valid JSON");
	expect_import_error("{\"apps\": []}", "no application");
	expect_import_error("[]", "no application");
	expect_import_error("{\"app\": []}", "neither");
	expect_import_error("{\"apps\": {}}", "neither");
	expect_import_error("\"apps\"", "not valid JSON");
	expect_import_error("{\"apps\": [], \"apps\": []}", "not valid JSON");
}

static void test_values(void **state)
{
	const char *good = "{\"user\": \"bob\", \"password\": \"p\\u00e4ss\"}";
	json_t *v;

	(void)state;
	v = sbctl_values_parse(good, strlen(good), "the credentials", err,
			       sizeof(err));
	assert_non_null(v);
	assert_string_equal(json_string_value(json_object_get(v, "password")),
			    "p\xc3\xa4ss");
	json_decref(v);
	/* jansson's own message would quote the token: a password. */
	assert_null(sbctl_values_parse("{\"password\": hunter2}", 21,
				       "the credentials", err, sizeof(err)));
	assert_non_null(strstr(err, "not valid JSON"));
	assert_non_null(strstr(err, "line 1"));
	assert_null(strstr(err, "hunter2"));
	assert_null(sbctl_values_parse("{\"pin\": 1234}", 13, "the credentials",
				       err, sizeof(err)));
	assert_non_null(strstr(err, "\"pin\" is not a string"));
	assert_null(strstr(err, "1234"));
	assert_null(sbctl_values_parse("[\"hunter2\"]", 11, "the credentials",
				       err, sizeof(err)));
	assert_non_null(strstr(err, "one JSON object"));
	assert_null(strstr(err, "hunter2"));
	assert_null(sbctl_values_parse("{}", 2, "the config values", err,
				       sizeof(err)));
	assert_non_null(strstr(err, "the config values"));
	assert_null(
		sbctl_values_parse("", 0, "the credentials", err, sizeof(err)));
	assert_null(sbctl_values_parse("{\"a\": \"1\", \"a\": \"2\"}", 20,
				       "the credentials", err, sizeof(err)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_import),
		cmocka_unit_test(test_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
