/*
 * Rotation's pieces that need no daemon: the status fields
 * (sb_rotation_status_add: progress, age, the max_age_days warning) and
 * the [secret] settings (each bad value one error naming section and key).
 */
#define _GNU_SOURCE
#include "runtime/config.h"
#include "secret/rotate.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define DAY_MS (86400ULL * 1000)

static void test_no_rotation_young(void **state)
{
	json_t *out = json_object();

	(void)state;
	sb_rotation_status_add(out, NULL, 10 * DAY_MS + 5, 365);
	assert_true(json_is_null(json_object_get(out, "rotation")));
	assert_int_equal(json_integer_value(json_object_get(out, "age_days")),
			 10);
	assert_int_equal(
		json_integer_value(json_object_get(out, "max_age_days")), 365);
	assert_null(json_object_get(out, "age_warning"));
	json_decref(out);
}

static void test_age_warning(void **state)
{
	json_t *out = json_object();
	const char *w;

	(void)state;
	sb_rotation_status_add(out, NULL, 400 * DAY_MS, 365);
	w = json_string_value(json_object_get(out, "age_warning"));
	assert_non_null(w);
	assert_non_null(strstr(w, "400 days old"));
	assert_non_null(strstr(w, "[secret] max_age_days (365)"));
	assert_non_null(strstr(w, "sbctl secret rotate"));
	json_decref(out);

	/* From the day it reaches the limit, not a day later. */
	out = json_object();
	sb_rotation_status_add(out, NULL, 365 * DAY_MS, 365);
	assert_non_null(json_object_get(out, "age_warning"));
	json_decref(out);
	out = json_object();
	sb_rotation_status_add(out, NULL, 365 * DAY_MS - 1, 365);
	assert_null(json_object_get(out, "age_warning"));
	json_decref(out);
}

static void test_age_warning_off(void **state)
{
	json_t *out = json_object();

	(void)state;
	sb_rotation_status_add(out, NULL, 10000 * DAY_MS, 0);
	assert_null(json_object_get(out, "age_warning"));
	assert_int_equal(
		json_integer_value(json_object_get(out, "max_age_days")), 0);
	json_decref(out);
}

static void test_progress(void **state)
{
	struct sb_rotation rot = {.from = "old-msid",
				  .to = "new-msid",
				  .cursor = "cfg/a/b/c",
				  .pass = 1,
				  .done = 4200,
				  .total = 10000,
				  .skipped = 2,
				  .started_at_ms = 1,
				  .rate = 1987.5};
	json_t *out = json_object(), *r;

	(void)state;
	sb_rotation_status_add(out, &rot, 0, 365);
	r = json_object_get(out, "rotation");
	assert_true(json_is_object(r));
	assert_string_equal(json_string_value(json_object_get(r, "from")),
			    "old-msid");
	assert_string_equal(json_string_value(json_object_get(r, "to")),
			    "new-msid");
	assert_string_equal(json_string_value(json_object_get(r, "state")),
			    "re-encrypting");
	assert_int_equal(json_integer_value(json_object_get(r, "done")), 4200);
	assert_int_equal(json_integer_value(json_object_get(r, "total")),
			 10000);
	assert_int_equal(json_integer_value(json_object_get(r, "skipped")), 2);
	assert_true(json_real_value(json_object_get(r, "rate")) > 1987.0);
	/* The cursor is the database's business, not the status's. */
	assert_null(json_object_get(r, "cursor"));
	json_decref(out);

	rot.pass = 2;
	out = json_object();
	sb_rotation_status_add(out, &rot, 0, 365);
	assert_string_equal(json_string_value(json_object_get(
				    json_object_get(out, "rotation"), "state")),
			    "verifying");
	json_decref(out);
}

/* Loads an INI of the [secret] section text; returns the joined errors
 * ("" when it loaded). */
static char *load_secret_section(const char *text)
{
	char path[] = "/tmp/sbtest-rotation-XXXXXX";
	int fd = mkstemp(path);
	struct sb_errlist errs = {0};
	struct sb_conf *conf;
	char *joined = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&joined, &len);
	FILE *f;

	assert_true(fd >= 0 && mem != NULL);
	f = fdopen(fd, "w");
	fprintf(f,
		"[broker]\nstate_dir = /tmp\nplugin_dir = /tmp\n\n"
		"[secret]\n%s\n",
		text);
	fclose(f);
	conf = sb_conf_load(path, &errs);
	for (size_t i = 0; i < errs.n; i++)
		fprintf(mem, "%s\n", errs.msgs[i]);
	fclose(mem);
	if (conf)
		sb_conf_free(conf);
	sb_errlist_clear(&errs);
	unlink(path);
	return joined;
}

static void expect_secret_error(const char *text, const char *needle)
{
	char *errs = load_secret_section(text);

	if (strstr(errs, needle) == NULL)
		fail_msg("[secret] %s: errors \"%s\" do not mention \"%s\"",
			 text, errs, needle);
	free(errs);
}

static void test_settings(void **state)
{
	char *errs;

	(void)state;
	errs = load_secret_section("reencrypt_batch = 50\nreencrypt_rate = 0\n"
				   "reencrypt_delay_s = 0\nmax_age_days = 0");
	if (strstr(errs, "[secret]") != NULL)
		fail_msg("good [secret] values refused: %s", errs);
	free(errs);
	expect_secret_error("reencrypt_batch = 0",
			    "[secret] reencrypt_batch: \"0\" is not a number "
			    "of records from 1 to 10000");
	expect_secret_error("reencrypt_batch = lots",
			    "[secret] reencrypt_batch: \"lots\"");
	expect_secret_error("reencrypt_rate = -1",
			    "[secret] reencrypt_rate: \"-1\" is not a number "
			    "of records per second from 0 to 1000000");
	expect_secret_error("reencrypt_delay_s = 1d",
			    "[secret] reencrypt_delay_s: \"1d\"");
	expect_secret_error("max_age_days = 36501",
			    "[secret] max_age_days: \"36501\" is not a number "
			    "of days from 0 to 36500");
	expect_secret_error("reencrypt_speed = 5",
			    "[secret] reencrypt_speed: unknown key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_rotation_young),
		cmocka_unit_test(test_age_warning),
		cmocka_unit_test(test_age_warning_off),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
