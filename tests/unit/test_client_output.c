/*
 * unit.client.output: how sbctl shows /v1/status, /v1/secret, /v1/health,
 * /v1/cluster and the credential store's replies (client/sbctl_output.c),
 * from replies shaped as docs/api.md documents them, and with fields
 * missing or of the wrong type; and the exit status of sbctl health
 * (client/sbctl_cluster.c).
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

#include "sbctl_cmd.h"
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

/* A member node's status: no fencing plugin ("" and a null entry). */
static void test_status_member(void **state)
{
	const char *o;

	(void)state;
	o = render(sbctl_print_status,
		   "{\"fencing\":{\"plugin\":\"\",\"state\":\"standby\","
		   "\"epoch\":0,\"lease_left_ms\":-1,\"detail\":\"\"},"
		   "\"plugins\":[{\"kind\":\"storage\",\"name\":\"sqlite\","
		   "\"version\":\"0.1.0\"},null]}");
	assert_has(o, "fencing:       none, standby, epoch 0\n");
	assert_has(o, "plugins:       storage  sqlite 0.1.0\n"
		      "config:");
	o = render(sbctl_print_status, "{\"plugins\":[null]}");
	assert_has(o, "plugins:       none\n");
}

static void test_health(void **state)
{
	(void)state;
	assert_string_equal(
		render(sbctl_print_health,
		       "{\"status\":\"active\",\"node\":\"mss-a\",\"role\":"
		       "\"mss\",\"secret\":true,\"epoch\":7,"
		       "\"lease_left_ms\":1834}"),
		"active: mss-a is the active master secret server (role mss, "
		"epoch 7, self-fences in 1.834s unless renewed)\n");
	assert_string_equal(
		render(sbctl_print_health,
		       "{\"status\":\"active\",\"node\":\"mss-a\",\"role\":"
		       "\"mss\",\"secret\":true,\"epoch\":2,"
		       "\"lease_left_ms\":-1}"),
		"active: mss-a is the active master secret server (role mss, "
		"epoch 2)\n");
	assert_string_equal(
		render(sbctl_print_health,
		       "{\"status\":\"standby\",\"node\":\"mss-b\",\"role\":"
		       "\"mss\",\"secret\":true,\"epoch\":0,"
		       "\"lease_left_ms\":-1}"),
		"standby: mss-b is a standby master secret server (role "
		"mss)\n");
	assert_string_equal(
		render(sbctl_print_health,
		       "{\"status\":\"member\",\"node\":\"sso3\",\"role\":"
		       "\"member\",\"secret\":true,\"epoch\":0,"
		       "\"lease_left_ms\":-1,\"mss_reachable\":true}"),
		"member: sso3 is a member node (role member, master secret "
		"server reachable)\n");
	assert_string_equal(
		render(sbctl_print_health,
		       "{\"status\":\"member\",\"node\":\"sso3\",\"role\":"
		       "\"member\",\"mss_reachable\":false}"),
		"member: sso3 is a member node (role member, CANNOT reach the "
		"master secret server: lookups only)\n");
	assert_string_equal(
		render(sbctl_print_health,
		       "{\"status\":\"no_secret\",\"node\":\"mss-a\",\"role\":"
		       "\"mss\",\"secret\":false,\"epoch\":0,"
		       "\"lease_left_ms\":-1}"),
		"no_secret: mss-a holds no master secret (role mss)\n");
	assert_string_equal(
		render(sbctl_print_health,
		       "{\"status\":\"standby\",\"node\":\"mss-b\",\"role\":"
		       "\"mss\",\"storage\":\"unreachable\"}"),
		"standby: mss-b is a standby master secret server (role mss, "
		"SSO database UNREACHABLE)\n");
	assert_string_equal(
		render(sbctl_print_health,
		       "{\"status\":\"standby\",\"node\":\"mss-b\",\"role\":"
		       "\"mss\",\"storage\":\"ok\"}"),
		"standby: mss-b is a standby master secret server (role "
		"mss)\n");
	assert_string_equal(
		render(sbctl_print_health, "{\"node\":\"a\\u001b\"}"),
		"?: a\\x1b (role ?)\n");
}

/* The exit status follows the HTTP status, and only for a health body. */
static void test_health_exit(void **state)
{
	json_t *h = json_pack("{s:s}", "status", "x");
	json_t *e = json_pack("{s:{s:s, s:s}}", "error", "code",
			      "shutting_down", "message", "stopping");

	(void)state;
	assert_int_equal(sbctl_health_exit(200, h), 0);
	assert_int_equal(sbctl_health_exit(429, h), 10);
	assert_int_equal(sbctl_health_exit(473, h), 11);
	assert_int_equal(sbctl_health_exit(503, h), 12);
	assert_int_equal(sbctl_health_exit(503, e), -1);
	assert_int_equal(sbctl_health_exit(500, h), -1);
	assert_int_equal(sbctl_health_exit(200, NULL), -1);
	json_decref(h);
	json_decref(e);
}

/* "storage": "unreachable" makes an MSS (200, 429) exit 13; the missing
 * secret (503) wins over it, a member (473) is not demoted by it, and ok,
 * unknown, a missing or a non-string field change nothing. */
static void test_health_exit_storage(void **state)
{
	json_t *down = json_pack("{s:s, s:s}", "status", "x", "storage",
				 "unreachable");
	json_t *ok = json_pack("{s:s, s:s}", "status", "x", "storage", "ok");
	json_t *unknown =
		json_pack("{s:s, s:s}", "status", "x", "storage", "unknown");
	json_t *odd = json_pack("{s:s, s:b}", "status", "x", "storage", 0);
	json_t *e = json_pack("{s:{s:s}, s:s}", "error", "code",
			      "shutting_down", "storage", "unreachable");

	(void)state;
	assert_int_equal(sbctl_health_exit(200, down), 13);
	assert_int_equal(sbctl_health_exit(429, down), 13);
	assert_int_equal(sbctl_health_exit(503, down), 12);
	assert_int_equal(sbctl_health_exit(473, down), 11);
	assert_int_equal(sbctl_health_exit(500, down), -1);
	assert_int_equal(sbctl_health_exit(200, e), -1);
	assert_int_equal(sbctl_health_exit(200, ok), 0);
	assert_int_equal(sbctl_health_exit(429, ok), 10);
	assert_int_equal(sbctl_health_exit(200, unknown), 0);
	assert_int_equal(sbctl_health_exit(429, unknown), 10);
	assert_int_equal(sbctl_health_exit(200, odd), 0);
	json_decref(down);
	json_decref(ok);
	json_decref(unknown);
	json_decref(odd);
	json_decref(e);
}

/* 2026-11-25T14:00:00Z in ms: "now" for the cluster views. */
#define NOW_MS 1795615200000LL

static void print_cluster_now(FILE *f, const json_t *j)
{
	sbctl_print_cluster(f, j, NOW_MS);
}

/* Lease fencing, active node; one node superseded and gone (stale). */
static void test_cluster_lease(void **state)
{
	(void)state;
	assert_string_equal(
		render(print_cluster_now,
		       "{\"node\":\"mss1\",\"role\":\"mss\",\"state\":"
		       "\"active\",\"epoch\":7,\"lease_left_ms\":1834,"
		       "\"fencing\":\"lease\",\"detail\":\"holding lease, "
		       "epoch 7, renewed 480 ms ago\","
		       "\"active_mss\":{\"node\":\"mss1\",\"address\":"
		       "\"10.0.0.1:7443\",\"epoch\":7,\"since_ms\":"
		       "1795615075000},"
		       "\"lease\":{\"holder\":\"mss1\",\"epoch\":7,"
		       "\"ttl_left_ms\":2345,\"held\":true},"
		       "\"nodes\":["
		       "{\"node\":\"mss0\",\"role\":\"mss\",\"state\":"
		       "\"active\",\"epoch\":5,\"address\":\"10.0.0.9:7443\","
		       "\"version\":\"0.1.0\",\"seen_ago_ms\":63000},"
		       "{\"node\":\"mss1\",\"role\":\"mss\",\"state\":"
		       "\"active\",\"epoch\":7,\"address\":\"10.0.0.1:7443\","
		       "\"version\":\"0.1.0\",\"seen_ago_ms\":1200},"
		       "{\"node\":\"mss2-long-name\",\"role\":\"mss\","
		       "\"state\":"
		       "\"standby\",\"epoch\":0,\"address\":\"\","
		       "\"version\":\"0.2.0\",\"seen_ago_ms\":15000}]}"),
		"this node:     mss1 (mss), active, epoch 7, self-fences in "
		"1.834s unless renewed\n"
		"fencing:       lease (holding lease, epoch 7, renewed 480 ms "
		"ago)\n"
		"active MSS:    mss1 at 10.0.0.1:7443, epoch 7, since "
		"2026-11-25T13:57:55Z (2m 5s ago) (this node)\n"
		"lease:         held by mss1, epoch 7, 2.345s left\n"
		"nodes:         3 reported in, 1 stale (not seen for over "
		"15s)\n"
		"\n"
		"NODE            ROLE  STATE                EPOCH  ADDRESS     "
		"   "
		"VERSION  LAST SEEN\n"
		"mss0            mss   active (superseded)  5      "
		"10.0.0.9:7443  "
		"0.1.0    1m 3s ago (stale)\n"
		"mss1            mss   active               7      "
		"10.0.0.1:7443  "
		"0.1.0    1s ago\n"
		"mss2-long-name  mss   standby              0      -           "
		"   "
		"0.2.0    15s ago\n");
}

/* Manual fencing before any designation: nothing recorded, lease free. */
static void test_cluster_nothing_yet(void **state)
{
	const char *o;

	(void)state;
	o = render(
		print_cluster_now,
		"{\"node\":\"mss-a\",\"role\":\"mss\",\"state\":\"standby\","
		"\"epoch\":0,\"lease_left_ms\":-1,\"fencing\":\"manual\","
		"\"detail\":\"standby until designated\",\"active_mss\":null,"
		"\"lease\":{\"holder\":\"\",\"epoch\":0,\"ttl_left_ms\":0,"
		"\"held\":false},\"nodes\":[]}");
	assert_has(o, "this node:     mss-a (mss), standby\n"
		      "fencing:       manual (standby until designated)\n");
	assert_has(o, "active MSS:    none recorded: no node has become active "
		      "yet\n");
	assert_has(o, "lease:         free\n");
	assert_has(o, "nodes:         none has reported in\n");
	assert_null(strstr(o, "WARNING"));
}

/* The lease as designation leaves it (no expiry), expired, or free after
 * a release; a member (no fencing line); an MSS without an address. */
static void test_cluster_lease_states(void **state)
{
	const char *o;

	(void)state;
	o = render(
		print_cluster_now,
		"{\"node\":\"sso3\",\"role\":\"member\",\"state\":"
		"\"standby\",\"epoch\":0,\"fencing\":\"\",\"active_mss\":"
		"{\"node\":\"mss-b\",\"address\":\"\",\"epoch\":2},"
		"\"lease\":{\"holder\":\"mss-b\",\"epoch\":2,\"ttl_left_ms\":"
		"9223372036854775807,\"held\":true},\"nodes\":[]}");
	assert_has(o, "this node:     sso3 (member), standby\nactive MSS:");
	assert_has(o, "active MSS:    mss-b (no [cluster] address), epoch 2\n");
	assert_has(o, "lease:         held by mss-b, epoch 2, no expiry (taken "
		      "by designation)\n");
	o = render(
		print_cluster_now,
		"{\"lease\":{\"holder\":\"mss1\",\"epoch\":4,\"ttl_left_ms\":"
		"-1500,\"held\":false}}");
	assert_has(o, "lease:         expired 1.500s ago, last held by mss1 at "
		      "epoch 4\n");
	o = render(print_cluster_now,
		   "{\"lease\":{\"holder\":\"\",\"epoch\":9,\"ttl_left_ms\":0,"
		   "\"held\":false}}");
	assert_has(o, "lease:         free (last epoch issued: 9)\n");
}

/* This node believes it is active but the database names another. */
static void test_cluster_warning(void **state)
{
	const char *o;

	(void)state;
	o = render(print_cluster_now,
		   "{\"node\":\"mss1\",\"state\":\"active\",\"epoch\":3,"
		   "\"lease_left_ms\":0,\"active_mss\":{\"node\":\"mss2\","
		   "\"address\":\"b:1\",\"epoch\":4,\"since_ms\":"
		   "1795615199000}}");
	assert_has(o, "active, epoch 3, self-fences in 0.000s unless "
		      "renewed\n");
	assert_has(o, "mss2 at b:1, epoch 4, since 2026-11-25T13:59:59Z (1s "
		      "ago)\n");
	assert_has(o, "WARNING: this node is active at epoch 3 but the SSO "
		      "database records mss2 at epoch 4\n");
}

/* Missing and mistyped fields show as "?"; control characters escaped;
 * last_seen_ms stands in for seen_ago_ms. */
static void test_cluster_tolerant(void **state)
{
	const char *o;

	(void)state;
	o = render(print_cluster_now, "{}");
	assert_has(o, "this node:     ? (?), ?\n");
	assert_has(o, "active MSS:    ?\n");
	assert_has(o, "lease:         ?\n");
	assert_has(o, "nodes:         ?\n");
	o = render(print_cluster_now,
		   "{\"active_mss\":5,\"lease\":[],\"nodes\":{}}");
	assert_has(o, "active MSS:    ?\n");
	assert_has(o, "nodes:         ?\n");
	o = render(print_cluster_now,
		   "{\"nodes\":[{\"node\":\"x\\u001b[2J\",\"last_seen_ms\":"
		   "1795615140000},{\"state\":7},5]}");
	assert_has(o, "3 reported in, 1 stale");
	assert_has(o, "NODE      ROLE  STATE  EPOCH  ADDRESS  VERSION  LAST "
		      "SEEN\n"
		      "x\\x1b[2J  ?     ?      ?      ?        ?        1m 0s "
		      "ago (stale)\n"
		      "?         ?     ?      ?      ?        ?        ?\n"
		      "?         ?     ?      ?      ?        ?        ?\n");
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
		cmocka_unit_test_teardown(test_status_member, teardown),
		cmocka_unit_test_teardown(test_health, teardown),
		cmocka_unit_test(test_health_exit),
		cmocka_unit_test(test_health_exit_storage),
		cmocka_unit_test_teardown(test_cluster_lease, teardown),
		cmocka_unit_test_teardown(test_cluster_nothing_yet, teardown),
		cmocka_unit_test_teardown(test_cluster_lease_states, teardown),
		cmocka_unit_test_teardown(test_cluster_warning, teardown),
		cmocka_unit_test_teardown(test_cluster_tolerant, teardown),
		cmocka_unit_test_teardown(test_json_pretty, teardown),
		cmocka_unit_test_teardown(test_apps, teardown),
		cmocka_unit_test_teardown(test_app, teardown),
		cmocka_unit_test_teardown(test_mappings, teardown),
		cmocka_unit_test_teardown(test_values, teardown),
		cmocka_unit_test_teardown(test_config, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
