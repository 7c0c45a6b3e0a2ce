/*
 * Unit tests of the audit module (core/audit.c): record format and
 * escaping, level filtering, concurrent writers, rotation by reopen, write
 * failures (/dev/full, file size limit), file creation mode. Every test works
 * in its own temporary directory, removed afterwards.
 *
 * Usage: test_audit [cmocka test filter]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <jansson.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/audit.h"

struct fixture {
	char dir[256];
	char path[300]; /* dir/audit.log */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/sb-audit-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", f->dir, strerror(errno));
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/audit.log", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->dir);
	free(f);
	return 0;
}

/* Reads a whole file into a malloc'ed NUL-terminated string. */
static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (fp == NULL)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	for (;;) {
		char *nb = realloc(buf, len + 65536 + 1);
		size_t n;

		assert_non_null(nb);
		buf = nb;
		n = fread(buf + len, 1, 65536, fp);
		len += n;
		if (n == 0)
			break;
	}
	fclose(fp);
	buf[len] = '\0';
	return buf;
}

/* Splits the file into parsed records: each line must be a JSON object and
 * the file must end in a newline. Returns a JSON array (new reference). */
static json_t *read_records(const char *path)
{
	char *text = slurp(path), *line = text, *nl;
	json_t *arr = json_array();

	if (*text != '\0' && text[strlen(text) - 1] != '\n')
		fail_msg("%s does not end in a newline", path);
	while ((nl = strchr(line, '\n')) != NULL) {
		json_error_t jerr;
		json_t *rec;

		*nl = '\0';
		rec = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		if (rec == NULL || !json_is_object(rec))
			fail_msg("%s: line %zu is not a JSON object (%s): %s",
				 path, json_array_size(arr) + 1, jerr.text,
				 line);
		json_array_append_new(arr, rec);
		line = nl + 1;
	}
	free(text);
	return arr;
}

static size_t count_records(const char *path)
{
	json_t *arr = read_records(path);
	size_t n = json_array_size(arr);

	json_decref(arr);
	return n;
}

static const char *str_field(const json_t *rec, const char *key)
{
	json_t *v = json_object_get(rec, key);

	if (v == NULL)
		fail_msg("record lacks \"%s\"", key);
	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", key);
	return json_string_value(v);
}

static struct sb_audit *open_or_fail(const char *path, int pos, int neg)
{
	char msg[512] = "";
	struct sb_audit *a = sb_audit_open(path, pos, neg, msg, sizeof(msg));

	if (a == NULL)
		fail_msg("sb_audit_open(%s): %s", path ? path : "NULL", msg);
	return a;
}

static void write_or_fail(struct sb_audit *a, const struct sb_audit_event *ev)
{
	char msg[512] = "";

	if (sb_audit_write(a, ev, msg, sizeof(msg)) != 0)
		fail_msg("sb_audit_write: %s", msg);
}

static struct sb_audit_event sample_event(void)
{
	struct sb_audit_event ev = {
		.operation = "mapping.set",
		.level = SB_AUDIT_MEDIUM,
		.success = 1,
		.uid = 1001,
		.user = "alice",
		.app = "payroll",
		.target = "alice",
		.result = "ok",
		.http_status = 200,
		.request_id = "r-0001",
		.detail = "fields user,password",
	};
	return ev;
}

/* ---- format ---- */

/* The documented field order (docs/audit.md). */
static const char *const field_order[] = {
	"time", "uid",	  "user",   "operation",   "success",	 "level",
	"app",	"target", "result", "http_status", "request_id", "detail",
};

static void format_all_fields(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct sb_audit_event ev = sample_event();
	struct timespec before, after;
	json_t *arr, *rec, *v;
	const char *when, *key;
	struct tm tm = {0};
	char *rest;
	size_t i = 0;
	void *it;
	time_t t;

	clock_gettime(CLOCK_REALTIME, &before);
	write_or_fail(a, &ev);
	clock_gettime(CLOCK_REALTIME, &after);
	sb_audit_close(a);

	arr = read_records(f->path);
	assert_int_equal(json_array_size(arr), 1);
	rec = json_array_get(arr, 0);

	/* Every field, in the documented order, and nothing else. */
	json_object_foreach_safe(rec, it, key, v)
	{
		assert_true(i < sizeof(field_order) / sizeof(field_order[0]));
		assert_string_equal(key, field_order[i]);
		i++;
	}
	assert_int_equal(i, sizeof(field_order) / sizeof(field_order[0]));

	/* time: RFC 3339 UTC with milliseconds, within the call. */
	when = str_field(rec, "time");
	assert_int_equal(strlen(when), 24);
	rest = strptime(when, "%Y-%m-%dT%H:%M:%S", &tm);
	assert_non_null(rest);
	assert_true(rest[0] == '.' && rest[1] >= '0' && rest[1] <= '9' &&
		    rest[2] >= '0' && rest[2] <= '9' && rest[3] >= '0' &&
		    rest[3] <= '9' && rest[4] == 'Z' && rest[5] == '\0');
	t = timegm(&tm);
	assert_true(t >= before.tv_sec && t <= after.tv_sec);

	assert_true(json_is_integer(json_object_get(rec, "uid")));
	assert_int_equal(json_integer_value(json_object_get(rec, "uid")), 1001);
	assert_string_equal(str_field(rec, "user"), "alice");
	assert_string_equal(str_field(rec, "operation"), "mapping.set");
	assert_true(json_is_true(json_object_get(rec, "success")));
	assert_int_equal(json_integer_value(json_object_get(rec, "level")), 2);
	assert_string_equal(str_field(rec, "app"), "payroll");
	assert_string_equal(str_field(rec, "target"), "alice");
	assert_string_equal(str_field(rec, "result"), "ok");
	assert_int_equal(
		json_integer_value(json_object_get(rec, "http_status")), 200);
	assert_string_equal(str_field(rec, "request_id"), "r-0001");
	assert_string_equal(str_field(rec, "detail"), "fields user,password");
	json_decref(arr);
}

/* Absent strings are JSON null, not "" or "(null)"; a refusal is
 * success:false with its error code. */
static void format_nulls_and_refusal(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 0, 1);
	struct sb_audit_event ev = {
		.operation = "secret.generate",
		.level = SB_AUDIT_LOW,
		.success = 0,
		.uid = 4242,
		.result = "forbidden",
		.http_status = 403,
	};
	const char *nullable[] = {"user", "app", "target", "detail",
				  "request_id"};
	json_t *arr, *rec;
	size_t i;

	write_or_fail(a, &ev);
	sb_audit_close(a);
	arr = read_records(f->path);
	assert_int_equal(json_array_size(arr), 1);
	rec = json_array_get(arr, 0);
	for (i = 0; i < sizeof(nullable) / sizeof(nullable[0]); i++) {
		json_t *v = json_object_get(rec, nullable[i]);

		assert_non_null(v);
		assert_true(json_is_null(v));
	}
	assert_int_equal(json_integer_value(json_object_get(rec, "uid")), 4242);
	assert_true(json_is_false(json_object_get(rec, "success")));
	assert_string_equal(str_field(rec, "result"), "forbidden");
	assert_int_equal(
		json_integer_value(json_object_get(rec, "http_status")), 403);
	json_decref(arr);
}

/* An event without an operation is a programming error: refused with a
 * message, nothing written. */
static void format_requires_operation(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct sb_audit_event ev = sample_event();
	char msg[256] = "";

	ev.operation = NULL;
	assert_int_equal(sb_audit_write(a, &ev, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "operation"));
	sb_audit_close(a);
	assert_int_equal(count_records(f->path), 0);
}

/* Records appended to an existing file keep what was there. */
static void format_appends(void **state)
{
	struct fixture *f = *state;
	struct sb_audit_event ev = sample_event();
	struct sb_audit *a;
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"earlier\":1}\n", 14), 14);
	close(fd);
	a = open_or_fail(f->path, 3, 3);
	write_or_fail(a, &ev);
	sb_audit_close(a);
	a = open_or_fail(f->path, 3, 3);
	write_or_fail(a, &ev);
	sb_audit_close(a);
	assert_int_equal(count_records(f->path), 3);
}

/* ---- escaping ---- */

static void escape_roundtrip(void **state)
{
	struct fixture *f = *state;
	static const char nasty[] =
		"quote \" backslash \\ slash / newline \n cr \r tab \t "
		"bell \a esc \x1b del \x7f";
	static const char utf8[] = "M\xc3\xbcller \xe6\x97\xa5\xe6\x9c\xac "
				   "\xf0\x9f\x98\x80 \xe2\x80\xa8";
	static const char injection[] =
		"x\",\"result\":\"ok\",\"success\":true,\"y\":\"";
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct sb_audit_event ev = sample_event();
	char *raw;
	json_t *arr, *rec;

	ev.user = nasty;
	ev.app = utf8;
	ev.target = injection;
	ev.detail = "line one\nline two";
	ev.success = 0;
	ev.result = "forbidden";
	write_or_fail(a, &ev);
	sb_audit_close(a);

	/* One physical line: no raw newline or control byte escaped it. */
	raw = slurp(f->path);
	assert_non_null(strchr(raw, '\n'));
	assert_int_equal(strchr(raw, '\n') - raw, (long)strlen(raw) - 1);
	for (const char *p = raw; *p != '\n'; p++)
		assert_true((unsigned char)*p >= 0x20);
	free(raw);

	arr = read_records(f->path);
	assert_int_equal(json_array_size(arr), 1);
	rec = json_array_get(arr, 0);
	assert_string_equal(str_field(rec, "user"), nasty);
	assert_string_equal(str_field(rec, "app"), utf8);
	assert_string_equal(str_field(rec, "target"), injection);
	assert_string_equal(str_field(rec, "detail"), "line one\nline two");
	/* The injected keys stayed inside the string. */
	assert_true(json_is_false(json_object_get(rec, "success")));
	assert_string_equal(str_field(rec, "result"), "forbidden");
	assert_null(json_object_get(rec, "y"));
	json_decref(arr);
}

/* Bytes that are not UTF-8 (a user name from a foreign locale, a client's
 * garbage) must not lose the record: each becomes U+FFFD. */
static void escape_invalid_utf8(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"a\xff"
		 "b",
		 "a\xef\xbf\xbd"
		 "b"},
		{"\xc3(", "\xef\xbf\xbd("},		  /* cut short */
		{"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
		{"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"\xf4\x90\x80\x80", /* > U+10FFFF */
		 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
		{"end\xe2\x82", "end\xef\xbf\xbd\xef\xbf\xbd"},
		{"ok \xe2\x82\xac", "ok \xe2\x82\xac"},
	};
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct sb_audit_event ev = sample_event();
	json_t *arr;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ev.target = cases[i].in;
		write_or_fail(a, &ev);
	}
	sb_audit_close(a);
	arr = read_records(f->path);
	assert_int_equal(json_array_size(arr),
			 sizeof(cases) / sizeof(cases[0]));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_string_equal(str_field(json_array_get(arr, i), "target"),
				    cases[i].out);
	json_decref(arr);
}

/* Over-long text is cut at a character boundary and marked. */
static void escape_truncates_long_fields(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct sb_audit_event ev = sample_event();
	char ascii[2000], euro[2000];
	const char *got;
	json_t *arr;
	size_t i;

	memset(ascii, 'x', sizeof(ascii) - 1);
	ascii[sizeof(ascii) - 1] = '\0';
	/* 3-byte characters: 512 is not a multiple of 3. */
	for (i = 0; i + 3 < sizeof(euro); i += 3)
		memcpy(euro + i, "\xe2\x82\xac", 3);
	euro[i] = '\0';
	ev.detail = ascii;
	ev.target = euro;
	write_or_fail(a, &ev);
	sb_audit_close(a);

	arr = read_records(f->path); /* also proves the result is valid */
	got = str_field(json_array_get(arr, 0), "detail");
	assert_int_equal(strlen(got), SB_AUDIT_FIELD_MAX + 3);
	assert_memory_equal(got, ascii, SB_AUDIT_FIELD_MAX);
	assert_string_equal(got + SB_AUDIT_FIELD_MAX, "...");
	got = str_field(json_array_get(arr, 0), "target");
	assert_int_equal(strlen(got), SB_AUDIT_FIELD_MAX / 3 * 3 + 3);
	assert_memory_equal(got, euro, SB_AUDIT_FIELD_MAX / 3 * 3);
	assert_string_equal(got + SB_AUDIT_FIELD_MAX / 3 * 3, "...");
	json_decref(arr);
}

/* ---- levels ---- */

/* The whole matrix: configured positive × negative (0..3) × event level
 * (including out-of-range ones) × outcome, through sb_audit_wants and
 * through what sb_audit_write actually appends. */
static void levels_matrix(void **state)
{
	struct fixture *f = *state;
	size_t expected_lines = 0;
	int pos, neg, level, success;

	for (pos = 0; pos <= 3; pos++) {
		for (neg = 0; neg <= 3; neg++) {
			struct sb_audit *a = open_or_fail(f->path, pos, neg);

			for (level = -1; level <= 4; level++) {
				for (success = 0; success <= 1; success++) {
					struct sb_audit_event ev =
						sample_event();
					int configured = success ? pos : neg;
					int want = level >= 1 &&
						   level <= configured;
					size_t before = expected_lines;

					assert_int_equal(
						sb_audit_wants(a, level,
							       success),
						want);
					ev.level = level;
					ev.success = success;
					ev.http_status = success ? 200 : 409;
					write_or_fail(a, &ev);
					expected_lines += (size_t)want;
					assert_int_equal(count_records(f->path),
							 before + (size_t)want);
				}
			}
			sb_audit_close(a);
		}
	}
	/* 16 configurations: level 1..min(3,c) for each outcome. */
	assert_int_equal(expected_lines, 2 * 4 * (0 + 1 + 2 + 3));
}

/* A refusal with 403 is audited at low whatever the operation's level; a
 * failure with another status keeps its level. */
static void levels_forbidden_is_low(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 0, 1);
	struct sb_audit_event ev = sample_event();
	json_t *arr;

	ev.operation = "lookup";
	ev.level = SB_AUDIT_HIGH;
	ev.success = 0;
	ev.result = "forbidden";
	ev.http_status = 403;
	assert_int_equal(sb_audit_event_level(&ev), SB_AUDIT_LOW);
	write_or_fail(a, &ev);
	ev.result = "not_found";
	ev.http_status = 404;
	assert_int_equal(sb_audit_event_level(&ev), SB_AUDIT_HIGH);
	write_or_fail(a, &ev); /* level 3 > negative 1: skipped */
	ev.success = 1;	       /* a success is never "forbidden" */
	ev.http_status = 403;
	assert_int_equal(sb_audit_event_level(&ev), SB_AUDIT_HIGH);
	sb_audit_close(a);

	arr = read_records(f->path);
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(str_field(json_array_get(arr, 0), "result"),
			    "forbidden");
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(arr, 0), "level")),
			 SB_AUDIT_LOW);
	json_decref(arr);
}

static void levels_set_and_parse(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, SB_AUDIT_DEFAULT_POSITIVE,
					  SB_AUDIT_DEFAULT_NEGATIVE);
	char msg[256] = "";
	int pos = -1, neg = -1, level = -1;

	sb_audit_get_levels(a, &pos, &neg);
	assert_int_equal(pos, 0);
	assert_int_equal(neg, 1);
	assert_false(sb_audit_wants(a, SB_AUDIT_LOW, 1));
	assert_true(sb_audit_wants(a, SB_AUDIT_LOW, 0));
	assert_false(sb_audit_wants(a, SB_AUDIT_MEDIUM, 0));

	sb_audit_set_levels(a, 3, 2);
	sb_audit_get_levels(a, &pos, &neg);
	assert_int_equal(pos, 3);
	assert_int_equal(neg, 2);
	assert_true(sb_audit_wants(a, SB_AUDIT_HIGH, 1));
	assert_false(sb_audit_wants(a, SB_AUDIT_HIGH, 0));

	sb_audit_set_levels(a, 9, -4); /* clamped */
	sb_audit_get_levels(a, &pos, &neg);
	assert_int_equal(pos, 3);
	assert_int_equal(neg, 0);
	sb_audit_close(a);

	/* Out-of-range levels are refused at open, naming the file. */
	assert_null(sb_audit_open(f->path, 4, 1, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "0..3"));
	assert_non_null(strstr(msg, f->path));
	assert_null(sb_audit_open(f->path, 0, -1, msg, sizeof(msg)));

	assert_int_equal(sb_audit_level_parse("0", &level), 0);
	assert_int_equal(level, 0);
	assert_int_equal(sb_audit_level_parse("3", &level), 0);
	assert_int_equal(level, 3);
	assert_int_equal(sb_audit_level_parse("Medium", &level), 0);
	assert_int_equal(level, 2);
	assert_int_equal(sb_audit_level_parse("none", &level), 0);
	assert_int_equal(level, 0);
	assert_int_equal(sb_audit_level_parse("4", &level), -1);
	assert_int_equal(sb_audit_level_parse("", &level), -1);
	assert_int_equal(sb_audit_level_parse("1 ", &level), -1);
	assert_int_equal(sb_audit_level_parse("lowish", &level), -1);
}

/* path NULL: auditing off, levels still answered, writes are no-ops. */
static void levels_auditing_off(void **state)
{
	struct sb_audit *a = open_or_fail(NULL, 1, 3);
	struct sb_audit_event ev = sample_event();
	char msg[64] = "";

	assert_null(sb_audit_path(a));
	assert_true(sb_audit_wants(a, SB_AUDIT_LOW, 1));
	assert_true(sb_audit_wants(a, SB_AUDIT_HIGH, 0));
	ev.level = SB_AUDIT_LOW;
	assert_int_equal(sb_audit_write(a, &ev, msg, sizeof(msg)), 0);
	assert_int_equal(sb_audit_reopen(a, msg, sizeof(msg)), 0);
	sb_audit_close(a);
	sb_audit_close(NULL);
	(void)state;
}

/* ---- threads ---- */

#define N_THREADS    8
#define N_PER_THREAD 1000

struct writer {
	struct sb_audit *a;
	int id;
	int failures;
	char msg[256];
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	char target[32], reqid[32], detail[400];
	int i;

	/* A long detail makes each line several hundred bytes, so torn or
	 * interleaved writes would show. */
	memset(detail, 'a' + w->id, sizeof(detail) - 1);
	detail[sizeof(detail) - 1] = '\0';
	for (i = 0; i < N_PER_THREAD; i++) {
		struct sb_audit_event ev = sample_event();

		snprintf(target, sizeof(target), "t%d", w->id);
		snprintf(reqid, sizeof(reqid), "%d", i);
		ev.target = target;
		ev.request_id = reqid;
		ev.detail = detail;
		if (sb_audit_write(w->a, &ev, w->msg, sizeof(w->msg)) != 0)
			w->failures++;
	}
	return NULL;
}

/* Checks that records (from one or several files, in order) hold every
 * (thread, sequence) pair exactly once, each thread's in order, with the
 * right detail. */
static void check_writer_records(json_t *const *arrs, size_t narrs)
{
	int next[N_THREADS] = {0};
	size_t total = 0, k, i;
	char set[2] = "";
	int t;

	for (k = 0; k < narrs; k++) {
		for (i = 0; i < json_array_size(arrs[k]); i++) {
			json_t *rec = json_array_get(arrs[k], i);
			const char *target = str_field(rec, "target");
			const char *detail = str_field(rec, "detail");
			int seq = atoi(str_field(rec, "request_id"));

			assert_true(target[0] == 't');
			t = atoi(target + 1);
			assert_true(t >= 0 && t < N_THREADS);
			assert_int_equal(seq, next[t]);
			next[t]++;
			assert_int_equal(strlen(detail), 399);
			set[0] = (char)('a' + t);
			assert_int_equal(strspn(detail, set), 399);
			total++;
		}
	}
	for (t = 0; t < N_THREADS; t++)
		assert_int_equal(next[t], N_PER_THREAD);
	assert_int_equal(total, N_THREADS * N_PER_THREAD);
}

static void threads_8x1000_intact(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct writer w[N_THREADS];
	pthread_t th[N_THREADS];
	json_t *arr;
	int i;

	for (i = 0; i < N_THREADS; i++) {
		w[i] = (struct writer){.a = a, .id = i};
		assert_int_equal(
			pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		if (w[i].failures)
			fail_msg("writer %d: %d failures: %s", i, w[i].failures,
				 w[i].msg);
	}
	sb_audit_close(a);
	arr = read_records(f->path);
	assert_int_equal(json_array_size(arr), N_THREADS * N_PER_THREAD);
	check_writer_records(&arr, 1);
	json_decref(arr);
}

/* ---- reopen ---- */

static void reopen_after_rename(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct sb_audit_event ev = sample_event();
	char old[400], msg[512] = "";
	struct stat st;
	json_t *arr;
	int i;

	snprintf(old, sizeof(old), "%s.1", f->path);
	for (i = 0; i < 3; i++) {
		ev.request_id = "before";
		write_or_fail(a, &ev);
	}
	assert_int_equal(rename(f->path, old), 0);
	/* Until the reopen, records follow the renamed file. */
	ev.request_id = "between";
	write_or_fail(a, &ev);
	assert_int_equal(sb_audit_reopen(a, msg, sizeof(msg)), 0);
	for (i = 0; i < 2; i++) {
		ev.request_id = "after";
		write_or_fail(a, &ev);
	}
	sb_audit_close(a);

	arr = read_records(old);
	assert_int_equal(json_array_size(arr), 4);
	for (i = 0; i < 3; i++)
		assert_string_equal(
			str_field(json_array_get(arr, i), "request_id"),
			"before");
	assert_string_equal(str_field(json_array_get(arr, 3), "request_id"),
			    "between");
	json_decref(arr);
	arr = read_records(f->path);
	assert_int_equal(json_array_size(arr), 2);
	for (i = 0; i < 2; i++)
		assert_string_equal(
			str_field(json_array_get(arr, i), "request_id"),
			"after");
	json_decref(arr);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
}

/* A reopen that cannot open the new file keeps the old one. */
static void reopen_failure_keeps_old(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct sb_audit_event ev = sample_event();
	char old[400], msg[512] = "";

	snprintf(old, sizeof(old), "%s.1", f->path);
	write_or_fail(a, &ev);
	assert_int_equal(rename(f->path, old), 0);
	/* Root ignores permissions; a directory in the way fails for all. */
	assert_int_equal(mkdir(f->path, 0700), 0);
	assert_int_equal(sb_audit_reopen(a, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, f->path));
	assert_non_null(strstr(msg, strerror(EISDIR)));
	write_or_fail(a, &ev);
	sb_audit_close(a);
	assert_int_equal(count_records(old), 2);
}

struct rotator {
	struct sb_audit *a;
	const char *path;
	atomic_int stop;
	int rotations;
	char msg[512];
	int failed;
};

static void *rotator_main(void *arg)
{
	struct rotator *r = arg;

	while (!atomic_load(&r->stop) && r->rotations < 50) {
		char old[400];

		snprintf(old, sizeof(old), "%s.%d", r->path, r->rotations);
		if (rename(r->path, old) != 0 ||
		    sb_audit_reopen(r->a, r->msg, sizeof(r->msg)) != 0) {
			r->failed = 1;
			break;
		}
		r->rotations++;
		usleep(2000);
	}
	return NULL;
}

/* Rotation while 8 threads write: every record lands whole in exactly one
 * of the files, none is lost in the swap. */
static void reopen_under_load(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct rotator r = {.a = a, .path = f->path};
	struct writer w[N_THREADS];
	pthread_t th[N_THREADS], rt;
	json_t *arrs[64];
	size_t narrs = 0;
	int i;

	assert_int_equal(pthread_create(&rt, NULL, rotator_main, &r), 0);
	for (i = 0; i < N_THREADS; i++) {
		w[i] = (struct writer){.a = a, .id = i};
		assert_int_equal(
			pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		if (w[i].failures)
			fail_msg("writer %d: %d failures: %s", i, w[i].failures,
				 w[i].msg);
	}
	atomic_store(&r.stop, 1);
	pthread_join(rt, NULL);
	if (r.failed)
		fail_msg("rotation %d failed: %s", r.rotations, r.msg);
	sb_audit_close(a);
	assert_true(r.rotations >= 1);

	for (i = 0; i < r.rotations; i++) {
		char old[400];

		snprintf(old, sizeof(old), "%s.%d", f->path, i);
		arrs[narrs++] = read_records(old);
	}
	arrs[narrs++] = read_records(f->path);
	check_writer_records(arrs, narrs);
	for (size_t k = 0; k < narrs; k++)
		json_decref(arrs[k]);
	print_message("%d rotations under load\n", r.rotations);
}

/* ---- failure ---- */

static void failure_dev_full(void **state)
{
	struct sb_audit *a;
	struct sb_audit_event ev = sample_event();
	char msg[512] = "";

	if (access("/dev/full", W_OK) != 0) {
		print_message("no writable /dev/full: skipped\n");
		skip();
	}
	a = open_or_fail("/dev/full", 0, 1);
	ev.success = 0;
	ev.level = SB_AUDIT_LOW;
	ev.result = "forbidden";
	ev.http_status = 403;
	assert_int_equal(sb_audit_write(a, &ev, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "/dev/full"));
	assert_non_null(strstr(msg, strerror(ENOSPC)));
	print_message("message: %s\n", msg);
	/* An event the levels don't want is not a failure. */
	ev.success = 1;
	msg[0] = '\0';
	assert_int_equal(sb_audit_write(a, &ev, msg, sizeof(msg)), 0);
	/* A NULL message buffer is allowed. */
	ev.success = 0;
	assert_int_equal(sb_audit_write(a, &ev, NULL, 0), -1);
	sb_audit_close(a);
	(void)state;
}

/* A record cut short by the file size limit (the same path as a disk that
 * fills mid-record) is taken back: the file keeps whole lines only. */
static void failure_partial_write_truncated(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a = open_or_fail(f->path, 3, 3);
	struct sb_audit_event ev = sample_event();
	struct rlimit saved, lim;
	void (*oldsig)(int);
	char msg[512] = "";
	struct stat st;
	off_t size;
	int rc;

	write_or_fail(a, &ev);
	assert_int_equal(stat(f->path, &st), 0);
	size = st.st_size;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
	lim = saved;
	lim.rlim_cur = (rlim_t)size + 20;
	oldsig = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	rc = sb_audit_write(a, &ev, msg, sizeof(msg));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, oldsig);

	assert_int_equal(rc, -1);
	assert_non_null(strstr(msg, f->path));
	assert_non_null(strstr(msg, strerror(EFBIG)));
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, size);
	/* And writing goes on once there is room again. */
	write_or_fail(a, &ev);
	sb_audit_close(a);
	assert_int_equal(count_records(f->path), 2);
}

static void failure_open_errors(void **state)
{
	struct fixture *f = *state;
	char path[400], msg[512] = "";
	int fd;

	snprintf(path, sizeof(path), "%s/missing-dir/audit.log", f->dir);
	assert_null(sb_audit_open(path, 0, 1, msg, sizeof(msg)));
	assert_non_null(strstr(msg, path));
	assert_non_null(strstr(msg, strerror(ENOENT)));

	assert_null(sb_audit_open(f->dir, 0, 1, msg, sizeof(msg)));
	assert_non_null(strstr(msg, f->dir));

	snprintf(path, sizeof(path), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_null(sb_audit_open(path, 0, 1, msg, sizeof(msg)));
	assert_non_null(strstr(msg, path));
	/* With a reader present the open succeeds, and is still refused. */
	fd = open(path, O_RDONLY | O_NONBLOCK);
	assert_true(fd >= 0);
	assert_null(sb_audit_open(path, 0, 1, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "not a regular file"));
	close(fd);

	assert_null(sb_audit_open("", 0, 1, msg, sizeof(msg)));
	assert_non_null(strstr(msg, "empty"));
}

/* ---- mode ---- */

static void mode_created_0600(void **state)
{
	struct fixture *f = *state;
	struct sb_audit *a;
	struct stat st;
	mode_t old = umask(0);

	a = open_or_fail(f->path, 0, 1);
	umask(old);
	assert_int_equal(stat(f->path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	sb_audit_close(a);
}

/* A file others may write would let anyone forge records: refused, with
 * what to do about it; group/other read (an operator's choice) is fine. */
static void mode_refuses_world_writable(void **state)
{
	struct fixture *f = *state;
	char msg[512] = "";
	struct sb_audit *a;
	int fd;

	fd = open(f->path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(chmod(f->path, 0666), 0);
	assert_null(sb_audit_open(f->path, 0, 1, msg, sizeof(msg)));
	assert_non_null(strstr(msg, f->path));
	assert_non_null(strstr(msg, "writable by others"));

	assert_int_equal(chmod(f->path, 0640), 0);
	a = open_or_fail(f->path, 0, 1);
	/* And a rotation onto a world-writable file is refused too. */
	assert_int_equal(chmod(f->path, 0602), 0);
	assert_int_equal(sb_audit_reopen(a, msg, sizeof(msg)), -1);
	assert_non_null(strstr(msg, "writable by others"));
	sb_audit_close(a);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(format_all_fields, setup,
						teardown),
		cmocka_unit_test_setup_teardown(format_nulls_and_refusal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(format_requires_operation,
						setup, teardown),
		cmocka_unit_test_setup_teardown(format_appends, setup,
						teardown),
		cmocka_unit_test_setup_teardown(escape_roundtrip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(escape_invalid_utf8, setup,
						teardown),
		cmocka_unit_test_setup_teardown(escape_truncates_long_fields,
						setup, teardown),
		cmocka_unit_test_setup_teardown(levels_matrix, setup, teardown),
		cmocka_unit_test_setup_teardown(levels_forbidden_is_low, setup,
						teardown),
		cmocka_unit_test_setup_teardown(levels_set_and_parse, setup,
						teardown),
		cmocka_unit_test_setup_teardown(levels_auditing_off, setup,
						teardown),
		cmocka_unit_test_setup_teardown(threads_8x1000_intact, setup,
						teardown),
		cmocka_unit_test_setup_teardown(reopen_after_rename, setup,
						teardown),
		cmocka_unit_test_setup_teardown(reopen_failure_keeps_old, setup,
						teardown),
		cmocka_unit_test_setup_teardown(reopen_under_load, setup,
						teardown),
		cmocka_unit_test_setup_teardown(failure_dev_full, setup,
						teardown),
		cmocka_unit_test_setup_teardown(failure_partial_write_truncated,
						setup, teardown),
		cmocka_unit_test_setup_teardown(failure_open_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(mode_created_0600, setup,
						teardown),
		cmocka_unit_test_setup_teardown(mode_refuses_world_writable,
						setup, teardown),
	};

	if (argc > 1) {
		/* A filter that matches nothing would "pass" silently. */
		size_t matched = 0;

		for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
			matched += fnmatch(argv[1], tests[i].name, 0) == 0;
		if (matched == 0) {
			fprintf(stderr, "no test matches \"%s\"\n", argv[1]);
			return 1;
		}
		cmocka_set_test_filter(argv[1]);
	}
	return cmocka_run_group_tests_name("audit", tests, NULL, NULL);
}
