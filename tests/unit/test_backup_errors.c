/*
 * The API errors a damaged backup file gets (sb_secret_backup_error,
 * core/secret/secret.c) from the decoder's own messages
 * (core/secret/backup_format.c): each says what is wrong once. The fuzz
 * harness fuzz_api showed "not a secretbroker backup file: not a
 * secretbroker backup file (...)" and "the backup file is truncated:
 * backup file truncated: ...".
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/api_error.h"
#include "secret/backup_format.h"
#include "secret/secret.h"

/* The API error of reading blob's hint; expects result and code. */
static void api_error_of(const char *blob, size_t len, int result,
			 const char *code, struct sb_api_error *e)
{
	struct sb_error err = {{0}};
	char *hint = NULL;

	assert_int_equal(sb_backup_read_hint((const uint8_t *)blob, len, &hint,
					     NULL, &err),
			 result);
	assert_null(hint);
	assert_int_equal(sb_secret_backup_error(e, result, &err), -1);
	assert_string_equal(e->code, code);
	assert_int_equal(e->http, 400);
}

/* Fails when phrase occurs in msg other than exactly once. */
static void assert_once(const char *msg, const char *phrase)
{
	const char *first = strstr(msg, phrase);

	if (first == NULL)
		fail_msg("message '%s' lacks '%s'", msg, phrase);
	if (strstr(first + 1, phrase) != NULL)
		fail_msg("message '%s' says '%s' twice", msg, phrase);
}

static void foreign_said_once(void **state)
{
	struct sb_api_error e;

	(void)state;
	api_error_of("PK\3\4 a zip file", 16, SB_BACKUP_EFOREIGN,
		     "backup_foreign", &e);
	assert_once(e.msg, "not a secretbroker backup file");
}

static void truncated_said_once(void **state)
{
	struct sb_api_error e;

	(void)state;
	api_error_of("SBBACKUP", 8, SB_BACKUP_ETRUNCATED, "backup_truncated",
		     &e);
	assert_once(e.msg, "truncated");
	api_error_of("", 0, SB_BACKUP_ETRUNCATED, "backup_truncated", &e);
	assert_once(e.msg, "empty");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(foreign_said_once),
		cmocka_unit_test(truncated_said_once),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
