/*
 * unit.client.output: how sbctl shows /v1/status, /v1/secret and the
 * credential store's replies (client/sbctl_output.c), from replies shaped as
 * docs/api.md documents them, and with fields missing or of the wrong type.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbctl_output.h"

static char *out;

static int teardown(void **state)
{
	(void)state;
	free(out);
	out = NULL;
	return 0;
}

/* Renders the reply json_text with fn into out. */
static const char *render(void (*fn)(FILE *, const json_t *),
			  const char *json_text)
{
	json_error_t jerr;
	json_t *j = json_loads(json_text, 0, &jerr);
	size_t len;
	FILE *f;

	if (j == NULL)
		fail_msg("bad test JSON: %s", jerr.text);
	free(out);
	f = open_memstream(&out, &len);
	assert_non_null(f);
	fn(f, j);
	fclose(f);
	json_decref(j);
	return out;
}

static void assert_has(const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL)
		fail_msg("output lacks \"%s\":\n%s", needle, text);
}

static void test_duration(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(sbctl_format_duration(0, b, sizeof(b)), "0s");
	assert_string_equal(sbctl_format_duration(59, b, sizeof(b)), "59s");
	assert_string_equal(sbctl_format_duration(61, b, sizeof(b)), "1m 1s");
	assert_string_equal(sbctl_format_duration(3725, b, sizeof(b)),
			    "1h 2m 5s");
	assert_string_equal(
		sbctl_format_duration(2 * 86400 + 3 * 3600 + 240, b, sizeof(b)),
		"2d 3h 4m");
	assert_string_equal(sbctl_format_duration(-1, b, sizeof(b)), "?");
}

static void test_put_safe(void **state)
{
	size_t len;
	FILE *f;

	(void)state;
	free(out);
	f = open_memstream(&out, &len);
	sbctl_put_safe(f, "ok\ttab \x1b[31mred\x7f caf\xc3\xa9");
	sbctl_put_safe(f, NULL);
	fclose(f);
	assert_string_equal(out, "ok\ttab \\x1b[31mred\\x7f caf\xc3\xa9?");
}

static void test_status_full(void **state)
{
	const char *o;

	(void)state;
	o = render(
		sbctl_print_status,
		"{\"version\":\"0.1.0\",\"node\":\"node1\",\"uptime_s\":3725,"
		"\"role\":\"mss\","
		"\"fencing\":{\"plugin\":\"none\",\"state\":\"active\","
		"\"epoch\":12,\"lease_left_ms\":-1,\"detail\":\"single "
		"node\"},"
		"\"plugins\":[{\"kind\":\"storage\",\"name\":\"sqlite\","
		"\"version\":\"0.1.0\",\"path\":\"/p/storage_sqlite.so\"},"
		"{\"kind\":\"crypto\",\"name\":\"openssl\",\"version\":"
		"\"0.1.0\"}],"
		"\"config\":{\"file\":\"/etc/secretbroker/"
		"secretbroker.ini\",\"generation\":2,\"loaded_at\":"
		"\"2026-11-25T14:00:00Z\"},"
		"\"last_reload\":{\"at\":\"2026-11-25T14:00:00Z\","
		"\"result\":\"failed\",\"errors\":[\"[storage] path: "
		"cannot open /nope\"],\"restart_required\":[\"listen."
		"socket\",\"broker.state_dir\"]},"
		"\"secret\":{\"msid\":\"MS-1\",\"present\":true}}");
	assert_has(o, "0.1.0, up 1h 2m 5s\n");
	assert_has(o, "node1\n");
	assert_has(o, "mss\n");
	assert_has(o, "none, active, epoch 12 (single node)\n");
	assert_null(strstr(o, "lease left"));
	assert_has(o, "storage  sqlite 0.1.0  /p/storage_sqlite.so\n");
	assert_has(o, "crypto   openssl 0.1.0\n");
	assert_has(o, "secretbroker.ini, generation 2, loaded at "
		      "2026-11-25T14:00:00Z\n");
	assert_has(o, "FAILED");
	assert_has(o, "error: [storage] path: cannot open /nope\n");
	assert_has(o, "restart required for: listen.socket broker.state_dir\n");
	assert_has(o, "MSID MS-1\n");
}

static void test_status_lease_no_reload_no_secret(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_status,
		   "{\"version\":\"0.1.0\",\"fencing\":{\"plugin\":\"lease\","
		   "\"state\":\"standby\",\"epoch\":3,\"lease_left_ms\":2500},"
		   "\"last_reload\":null,\"secret\":{\"present\":false}}");
	assert_has(o, "lease, standby, epoch 3, lease left 2.500s\n");
	assert_has(o, "none since start\n");
	assert_has(o, "none on this node\n");
}

/* A reply with fields missing or mistyped is shown with "?", not a crash. */
static void test_status_tolerant(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_status,
		   "{\"version\":7,\"plugins\":{},\"fencing\":[],\"config\":1,"
		   "\"last_reload\":{\"errors\":\"x\"}}");
	assert_has(o, "secretbrokerd: ?\n");
	assert_has(o, "plugins:       ?\n");
	o = render(sbctl_print_status, "{}");
	assert_has(o, "node:          ?\n");
	assert_has(o, "secret:        ?\n");
}

static void test_secret_with_warning(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_secret,
		   "{\"msid\":\"MS-2\",\"created_at\":\"2026-11-25T14:00:00Z\","
		   "\"age_s\":90000,\"backup_made\":false,"
		   "\"last_backup_at\":null,\"previous_msid\":null,"
		   "\"role\":\"mss\",\"fencing_state\":\"active\","
		   "\"epoch\":4,\"check\":\"ok\",\"warning\":\"no backup of "
		   "this master secret has been made: run 'sbctl secret "
		   "backup FILE'\"}");
	assert_has(o, "MSID:          MS-2\n");
	assert_has(o, "2026-11-25T14:00:00Z (age 1d 1h 0m)\n");
	assert_has(o, "backup:        none made\n");
	assert_null(strstr(o, "previous MSID"));
	assert_has(o, "role:          mss (fencing active, epoch 4)\n");
	assert_has(o, "check value:   ok, matches the SSO database\n");
	assert_has(o, "WARNING: no backup of this master secret has been made: "
		      "run 'sbctl secret backup FILE'\n");
	assert_null(strstr(o, "ERROR"));
}

/* A node whose secret does not match the database says so loudly. */
static void test_secret_mismatch(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_secret,
		   "{\"msid\":\"MS-4\",\"check\":\"mismatch\",\"error\":"
		   "\"restore the right backup\",\"backup_made\":true}");
	assert_has(o, "check value:   MISMATCH with the SSO database\n");
	assert_has(o, "ERROR: restore the right backup\n");
	o = render(sbctl_print_secret,
		   "{\"msid\":\"MS-4\",\"check\":\"missing\"}");
	assert_has(o, "check value:   none in the SSO database yet\n");
}

static void test_secret_backed_up(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_secret,
		   "{\"msid\":\"MS-3\",\"created_at\":\"t0\",\"age_s\":5,"
		   "\"backup_made\":true,\"last_backup_at\":\"t1\","
		   "\"previous_msid\":\"MS-2\",\"role\":\"mss\"}");
	assert_has(o, "backup:        made, last at t1\n");
	assert_has(o, "previous MSID: MS-2\n");
	assert_has(o, "role:          mss\n");
	assert_null(strstr(o, "WARNING"));
}

static void test_json_pretty(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_json, "{\"a\":1,\"b\":[true]}");
	assert_string_equal(o,
			    "{\n  \"a\": 1,\n  \"b\": [\n    true\n  ]\n}\n");
}

static void print_config_all(FILE *f, const json_t *j)
{
	sbctl_print_config(f, j, NULL);
}

static void print_config_url(FILE *f, const json_t *j)
{
	sbctl_print_config(f, j, "url");
}

static void test_apps(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_apps,
		   "{\"apps\": [{\"name\": \"crm\", \"type\": \"individual\", "
		   "\"enabled\": true, \"description\": \"CRM\"}, "
		   "{\"name\": \"payroll-cfg\", \"type\": \"config-store\", "
		   "\"enabled\": false, \"description\": \"\"}]}");
	assert_string_equal(o, "NAME         TYPE          STATE     "
			       "DESCRIPTION\n"
			       "crm          individual    enabled   CRM\n"
			       "payroll-cfg  config-store  disabled\n");
	o = render(sbctl_print_apps, "{\"apps\": []}");
	assert_string_equal(o, "no applications\n");
	/* Hostile names cannot drive the terminal; missing members are "?". */
	o = render(sbctl_print_apps,
		   "{\"apps\": [{\"name\": \"a\\u001b[2J\", \"enabled\": 3}]}");
	assert_has(o, "a\\x1b[2J");
	assert_has(o, "?");
}

static void test_app(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_app,
		   "{\"name\": \"crm\", \"type\": \"individual\", "
		   "\"description\": \"CRM\", \"contact\": \"\", "
		   "\"user_group\": \"crm_users\", \"admin_group\": \"\", "
		   "\"enabled\": false, \"fields\": [{\"label\": \"user\", "
		   "\"masked\": false}, {\"label\": \"password\", \"masked\": "
		   "true}], \"created_at\": \"2026-11-25T14:00:00Z\", "
		   "\"updated_at\": \"2026-11-25T15:00:00Z\"}");
	assert_string_equal(o, "name:          crm\n"
			       "type:          individual\n"
			       "state:         disabled\n"
			       "description:   CRM\n"
			       "contact:       none\n"
			       "user group:    crm_users\n"
			       "admin group:   none\n"
			       "fields:        user, password (masked)\n"
			       "created at:    2026-11-25T14:00:00Z\n"
			       "updated at:    2026-11-25T15:00:00Z\n");
	/* A config-store application has no fields line. */
	o = render(sbctl_print_app, "{\"name\": \"c\", \"fields\": []}");
	assert_null(strstr(o, "fields:"));
	assert_has(o, "type:          ?\n");
}

static void test_mappings(void **state)
{
	const char *o;

	(void)state;
	o = render(
		sbctl_print_mappings,
		"{\"mappings\": [{\"app\": \"crm\", \"identity\": "
		"\"alice@EXAMPLE\", \"enabled\": true, \"updated_at\": "
		"\"2026-11-25T14:00:00Z\"}, {\"app\": \"crm\", \"identity\": "
		"\"bob\", \"enabled\": false, \"updated_at\": "
		"\"2026-11-25T15:00:00Z\"}]}");
	assert_string_equal(o, "APP  IDENTITY       STATE     UPDATED\n"
			       "crm  alice@EXAMPLE  enabled   "
			       "2026-11-25T14:00:00Z\n"
			       "crm  bob            disabled  "
			       "2026-11-25T15:00:00Z\n");
	o = render(sbctl_print_mappings, "{\"mappings\": []}");
	assert_string_equal(o, "no credential mappings\n");
	o = render(sbctl_print_mappings, "{}");
	assert_string_equal(o, "?\n");
}

static void test_values(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_values,
		   "{\"app\": \"crm\", \"identity\": \"bob\", \"values\": "
		   "{\"user\": \"bob_ext\", \"password\": \"********\", "
		   "\"pin\": \"1\\n2\"}}");
	/* In the field order the daemon sent; control characters escaped. */
	assert_string_equal(o, "application crm, identity bob:\n"
			       "  user:     bob_ext\n"
			       "  password: ********\n"
			       "  pin:      1\\x0a2\n");
}

static void test_config(void **state)
{
	const char *json = "{\"app\": \"c\", \"id\": \"default\", \"values\": "
			   "{\"token\": \"abc\", \"url\": \"https://x\"}}";

	(void)state;
	assert_string_equal(render(print_config_all, json),
			    "token=abc\nurl=https://x\n");
	assert_string_equal(render(print_config_url, json), "https://x\n");
	assert_string_equal(render(print_config_url, "{\"values\": {}}"),
			    "?\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration),
		cmocka_unit_test_teardown(test_put_safe, teardown),
		cmocka_unit_test_teardown(test_status_full, teardown),
		cmocka_unit_test_teardown(test_status_lease_no_reload_no_secret,
					  teardown),
		cmocka_unit_test_teardown(test_status_tolerant, teardown),
		cmocka_unit_test_teardown(test_secret_with_warning, teardown),
		cmocka_unit_test_teardown(test_secret_mismatch, teardown),
		cmocka_unit_test_teardown(test_secret_backed_up, teardown),
		cmocka_unit_test_teardown(test_json_pretty, teardown),
		cmocka_unit_test_teardown(test_apps, teardown),
		cmocka_unit_test_teardown(test_app, teardown),
		cmocka_unit_test_teardown(test_mappings, teardown),
		cmocka_unit_test_teardown(test_values, teardown),
		cmocka_unit_test_teardown(test_config, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
