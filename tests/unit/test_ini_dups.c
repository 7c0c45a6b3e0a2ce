/* Duplicate keys in the INI file (core/runtime/ini_dups.c), read as
 * iniparser reads the file: case, comments, continuation lines, repeated
 * sections. Each case is a real file in a temporary directory. */
#include "runtime/ini_dups.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes text to a fresh file, runs the scanner on it and returns how
 * many duplicates it found; errs receives the messages. */
static size_t scan(const char *text, struct sb_errlist *errs, char *path,
		   size_t pathlen)
{
	FILE *f;
	int fd;
	size_t n;

	snprintf(path, pathlen, "/tmp/sb_ini_dups.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	n = sb_ini_find_duplicates(path, errs);
	unlink(path);
	return n;
}

static void test_no_duplicates(void **state)
{
	struct sb_errlist errs = {0};
	char path[64];

	(void)state;
	assert_int_equal(scan("[broker]\nthreads = 2\n; threads = 3\n"
			      "# threads = 4\n\n[listen]\nthreads = 5\n"
			      "[broker]\nlog_level = info\n",
			      &errs, path, sizeof(path)),
			 0);
	assert_int_equal(errs.n, 0);
	sb_errlist_clear(&errs);
}

static void test_both_lines_named(void **state)
{
	struct sb_errlist errs = {0};
	char path[64], want[256];

	(void)state;
	assert_int_equal(scan("[storage]\nplugin = sqlite\npath = x\n\n"
			      "[crypto]\nplugin = openssl\n"
			      "[Storage]\n  PLUGIN=postgres\n",
			      &errs, path, sizeof(path)),
			 1);
	assert_int_equal(errs.n, 1);
	snprintf(want, sizeof(want),
		 "%s:8: [storage] plugin: set twice (first on line 2); keep "
		 "one",
		 path);
	assert_string_equal(errs.msgs[0], want);
	sb_errlist_clear(&errs);
}

static void test_continuation_is_no_key(void **state)
{
	struct sb_errlist errs = {0};
	char path[64];

	(void)state;
	/* The second physical line continues the value: not a key. */
	assert_int_equal(scan("[access]\nsso_admins = a,\\  \r\n"
			      "sso_admins = b\n",
			      &errs, path, sizeof(path)),
			 0);
	assert_int_equal(scan("[access]\nx = 1 \\\n  more\nx = 2\n", &errs,
			      path, sizeof(path)),
			 1);
	sb_errlist_clear(&errs);
}

static void test_every_repeat_counted(void **state)
{
	struct sb_errlist errs = {0};
	char path[64];

	(void)state;
	assert_int_equal(scan("top = 1\ntop = 2\n[a]\nk = 1\nk = 2\nk = 3\n",
			      &errs, path, sizeof(path)),
			 3);
	assert_non_null(strstr(errs.msgs[2], ":6: [a] k: set twice (first "
					     "on line 4)"));
	sb_errlist_clear(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_duplicates),
		cmocka_unit_test(test_both_lines_named),
		cmocka_unit_test(test_continuation_is_no_key),
		cmocka_unit_test(test_every_repeat_counted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
