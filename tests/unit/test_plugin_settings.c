/*
 * The helpers plugin.h gives plugins (sb_error_set, sb_error_vset,
 * sb_setting_int, sb_setting_ms, sb_setting_bool), run against the real
 * host services table and config section of the daemon (core/host/host.c,
 * core/runtime/section.c), so the messages a plugin reports are the ones an
 * operator sees.
 */
#include "host/host.h"
#include "runtime/section.h"

#include <secretbroker/plugin.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

struct fixture {
	struct sb_host *host;
	struct sb_config *cfg;
};

static int setup(void **state)
{
	static struct fixture f;

	f.host = sb_host_new("storage", "test", "/nonexistent", "node-a");
	f.cfg = sb_config_new("storage");
	if (f.host == NULL || f.cfg == NULL)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	sb_config_free(f->cfg);
	sb_host_free(f->host);
	return 0;
}

static void error_set_formats_and_returns_status(void **state)
{
	struct sb_error err = {{0}};

	(void)state;
	assert_int_equal(
		sb_error_set(&err, SB_EINVAL, "[%s] %s: bad", "x", "y"),
		SB_EINVAL);
	assert_string_equal(err.msg, "[x] y: bad");
	/* err may be NULL: the status still comes back. */
	assert_int_equal(sb_error_set(NULL, SB_EFENCED, "dropped %d", 1),
			 SB_EFENCED);
}

static void error_set_truncates(void **state)
{
	struct sb_error err;
	char big[SB_ERROR_MAX * 2];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(err.msg, 'z', sizeof(err.msg));
	sb_error_set(&err, SB_ERR, "%s", big);
	assert_int_equal(strlen(err.msg), SB_ERROR_MAX - 1);
}

static void setting_int_default_and_value(void **state)
{
	struct fixture *f = *state;
	struct sb_error err = {{0}};
	long long v = 0;

	assert_int_equal(sb_setting_int(f->host, f->cfg, "pool_size", 4, 1, 64,
					&v, &err),
			 SB_OK);
	assert_int_equal(v, 4);
	assert_int_equal(sb_config_set(f->cfg, "pool_size", "64"), 0);
	assert_int_equal(sb_setting_int(f->host, f->cfg, "pool_size", 4, 1, 64,
					&v, &err),
			 SB_OK);
	assert_int_equal(v, 64);
}

static void setting_int_out_of_range_names_section_and_key(void **state)
{
	struct fixture *f = *state;
	struct sb_error err = {{0}};
	long long v = 0;

	assert_int_equal(sb_config_set(f->cfg, "pool_size", "0"), 0);
	assert_int_equal(sb_setting_int(f->host, f->cfg, "pool_size", 4, 1, 64,
					&v, &err),
			 SB_EINVAL);
	assert_string_equal(err.msg,
			    "[storage] pool_size: 0 is out of range (1..64)");
	assert_int_equal(sb_config_set(f->cfg, "pool_size", "65"), 0);
	assert_int_equal(sb_setting_int(f->host, f->cfg, "pool_size", 4, 1, 64,
					&v, &err),
			 SB_EINVAL);
	assert_non_null(strstr(err.msg, "65 is out of range"));
}

static void setting_int_not_a_number(void **state)
{
	struct fixture *f = *state;
	struct sb_error err = {{0}};
	long long v = 0;

	assert_int_equal(sb_config_set(f->cfg, "pool_size", "four"), 0);
	assert_int_equal(sb_setting_int(f->host, f->cfg, "pool_size", 4, 1, 64,
					&v, &err),
			 SB_EINVAL);
	assert_non_null(strstr(err.msg, "[storage] pool_size"));
}

static void setting_ms_says_ms(void **state)
{
	struct fixture *f = *state;
	struct sb_error err = {{0}};
	long long v = 0;

	assert_int_equal(sb_config_set(f->cfg, "op_timeout_ms", "5"), 0);
	assert_int_equal(sb_setting_ms(f->host, f->cfg, "op_timeout_ms", 5000,
				       100, 3600000, &v, &err),
			 SB_EINVAL);
	assert_string_equal(err.msg, "[storage] op_timeout_ms: 5 is out of "
				     "range (100..3600000 ms)");
	assert_int_equal(sb_config_set(f->cfg, "op_timeout_ms", "100"), 0);
	assert_int_equal(sb_setting_ms(f->host, f->cfg, "op_timeout_ms", 5000,
				       100, 3600000, &v, &err),
			 SB_OK);
	assert_int_equal(v, 100);
}

static void setting_bool(void **state)
{
	struct fixture *f = *state;
	struct sb_error err = {{0}};
	int b = -1;

	assert_int_equal(sb_setting_bool(f->host, f->cfg, "tls", 1, &b, &err),
			 SB_OK);
	assert_int_equal(b, 1);
	assert_int_equal(sb_config_set(f->cfg, "tls", "off"), 0);
	assert_int_equal(sb_setting_bool(f->host, f->cfg, "tls", 1, &b, &err),
			 SB_OK);
	assert_int_equal(b, 0);
	assert_int_equal(sb_config_set(f->cfg, "tls", "maybe"), 0);
	assert_int_equal(sb_setting_bool(f->host, f->cfg, "tls", 1, &b, &err),
			 SB_EINVAL);
	assert_non_null(strstr(err.msg, "[storage] tls"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_set_formats_and_returns_status),
		cmocka_unit_test(error_set_truncates),
		cmocka_unit_test_setup_teardown(setting_int_default_and_value,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			setting_int_out_of_range_names_section_and_key, setup,
			teardown),
		cmocka_unit_test_setup_teardown(setting_int_not_a_number, setup,
						teardown),
		cmocka_unit_test_setup_teardown(setting_ms_says_ms, setup,
						teardown),
		cmocka_unit_test_setup_teardown(setting_bool, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
