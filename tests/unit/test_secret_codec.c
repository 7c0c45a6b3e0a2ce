/*
 * Unit tests of the codec of secret material (core/secret/secret_codec.c
 * and secret_codec_json.c): round trips, the exact bytes of the binary
 * list (the sealed file and the backup file carry them), truncation at
 * every length, bad counts and lengths, trailing bytes, and the JSON of
 * GET /v1/cluster/secret.
 */
#include "runtime/secure_mem.h"
#include "secret/secret_codec.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void fill(struct sb_backup_secret s[2])
{
	memset(s, 0, 2 * sizeof(*s));
	snprintf(s[0].msid, sizeof(s[0].msid),
		 "6f1c2a9e-4b7d-4c1e-9a55-3e2f8d7c6b10");
	s[0].created_at_ms = 1767225600123ull;
	snprintf(s[1].msid, sizeof(s[1].msid), "x");
	s[1].created_at_ms = 1735689600000ull;
	for (int i = 0; i < 32; i++) {
		s[0].key[i] = (uint8_t)i;
		s[1].key[i] = (uint8_t)(0xff - i);
	}
}

static void assert_same(const struct sb_backup_secret *a,
			const struct sb_backup_secret *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(a[i].msid, b[i].msid);
		assert_true(a[i].created_at_ms == b[i].created_at_ms);
		assert_memory_equal(a[i].key, b[i].key, 32);
	}
}

static void assert_msg_has(const struct sb_error *err, const char *want)
{
	if (strstr(err->msg, want) == NULL)
		fail_msg("message '%s' lacks '%s'", err->msg, want);
}

/* Encodes s[0..n) into buf (SB_SECRET_LIST_MAX bytes); returns the length. */
static size_t encode(const struct sb_backup_secret *s, size_t n, uint8_t *buf)
{
	struct sb_error err = {{0}};
	size_t len = 0;

	assert_int_equal(sb_secret_list_encode(s, n, buf, SB_SECRET_LIST_MAX,
					       &len, &err),
			 0);
	return len;
}

/* Expects buf[0..len) to be refused with a message holding want, out wiped
 * and *n 0. */
static void expect_refused(const uint8_t *buf, size_t len, const char *want)
{
	struct sb_backup_secret out[2];
	struct sb_error err = {{0}};
	static const struct sb_backup_secret zero[2];
	size_t n = 99;

	memset(out, 0xa5, sizeof(out));
	assert_int_equal(sb_secret_list_decode(buf, len, out, &n, &err), -1);
	assert_int_equal(n, 0);
	assert_memory_equal(out, zero, sizeof(out));
	if (want)
		assert_msg_has(&err, want);
	else
		assert_true(err.msg[0] != '\0');
}

static void binary_roundtrip(void **state)
{
	struct sb_backup_secret s[2], out[2];
	struct sb_error err = {{0}};
	uint8_t buf[SB_SECRET_LIST_MAX];
	size_t len, n = 0;

	(void)state;
	fill(s);
	for (size_t k = 1; k <= 2; k++) {
		len = encode(s, k, buf);
		assert_int_equal(len, sb_secret_list_size(s, k));
		assert_int_equal(sb_secret_list_decode(buf, len, out, &n, &err),
				 0);
		assert_int_equal(n, k);
		assert_same(s, out, k);
	}
}

/* The bytes are those the sealed file and the backup file have always
 * held: existing files must keep decoding. */
static void binary_exact_bytes(void **state)
{
	struct sb_backup_secret s[2];
	uint8_t buf[SB_SECRET_LIST_MAX], want[SB_SECRET_LIST_MAX];
	size_t len, off = 0;

	(void)state;
	fill(s);
	want[off++] = 2;
	for (int i = 0; i < 2; i++) {
		size_t ml = strlen(s[i].msid);

		want[off++] = (uint8_t)ml;
		memcpy(want + off, s[i].msid, ml);
		off += ml;
		for (int b = 7; b >= 0; b--)
			want[off++] = (uint8_t)(s[i].created_at_ms >> (8 * b));
		memcpy(want + off, s[i].key, 32);
		off += 32;
	}
	len = encode(s, 2, buf);
	assert_int_equal(len, off);
	assert_int_equal(len, 1 + (1 + 36 + 8 + 32) + (1 + 1 + 8 + 32));
	assert_memory_equal(buf, want, len);
	/* created_at_ms of the first secret, big-endian, after n, m, MSID */
	assert_int_equal(buf[2 + 36], 0x00);
	assert_int_equal(buf[2 + 36 + 7], (uint8_t)1767225600123ull);
}

static void binary_bounds(void **state)
{
	struct sb_backup_secret s[2], out[2];
	struct sb_error err = {{0}};
	uint8_t buf[SB_SECRET_LIST_MAX];
	size_t len, n;

	(void)state;
	fill(s);
	memset(s[0].msid, 'M', SB_MSID_MAX);
	s[0].msid[SB_MSID_MAX] = '\0';
	memset(s[1].msid, 'N', SB_MSID_MAX);
	s[1].msid[SB_MSID_MAX] = '\0';
	len = encode(s, 2, buf);
	assert_int_equal(len, SB_SECRET_LIST_MAX);
	assert_int_equal(sb_secret_list_decode(buf, len, out, &n, &err), 0);
	assert_same(s, out, 2);
	snprintf(s[0].msid, sizeof(s[0].msid), "a");
	assert_int_equal(encode(s, 1, buf), SB_SECRET_LIST_MIN);
}

static void binary_truncated(void **state)
{
	struct sb_backup_secret s[2];
	uint8_t buf[SB_SECRET_LIST_MAX];
	size_t len;

	(void)state;
	fill(s);
	for (size_t k = 1; k <= 2; k++) {
		len = encode(s, k, buf);
		expect_refused(buf, 0, "empty");
		expect_refused(NULL, 0, "empty");
		for (size_t cut = 1; cut < len; cut++)
			expect_refused(buf, cut, "truncated");
	}
}

static void binary_bad_count(void **state)
{
	struct sb_backup_secret s[2];
	uint8_t buf[SB_SECRET_LIST_MAX + 64];
	size_t len;

	(void)state;
	fill(s);
	len = encode(s, 2, buf);
	buf[0] = 0;
	expect_refused(buf, len, "holds 0 secrets");
	buf[0] = 3;
	expect_refused(buf, len, "holds 3 secrets");
	buf[0] = 255;
	expect_refused(buf, len, "holds 255 secrets");
	/* A count of 1 over a list of 2: the second is trailing bytes. */
	buf[0] = 1;
	expect_refused(buf, len, "unexpected bytes");
	/* A count of 2 over a list of 1: truncated. */
	len = encode(s, 1, buf);
	buf[0] = 2;
	expect_refused(buf, len, "truncated");
}

static void binary_bad_msid(void **state)
{
	struct sb_backup_secret s[2];
	uint8_t buf[SB_SECRET_LIST_MAX + 64];
	size_t len;

	(void)state;
	fill(s);
	len = encode(s, 2, buf);
	buf[1] = 0;
	expect_refused(buf, len, "MSID length is 0");
	buf[1] = SB_MSID_MAX + 1;
	expect_refused(buf, len, "MSID length is 65");
	buf[1] = 255;
	expect_refused(buf, len, "MSID length is 255");
	/* A length that runs past the end. */
	buf[1] = 36;
	buf[1 + 1 + 36 + 8 + 32] = 64;
	expect_refused(buf, len, "truncated");
	/* Non-printable characters in the MSID. */
	len = encode(s, 2, buf);
	buf[2] = '\n';
	expect_refused(buf, len, "printable");
	buf[2] = 0x7f;
	expect_refused(buf, len, "printable");
	buf[2] = '\0';
	expect_refused(buf, len, "printable");
	/* The same MSID twice. */
	snprintf(s[1].msid, sizeof(s[1].msid), "%s", s[0].msid);
	s[1].msid[0] = 'X';
	len = encode(s, 2, buf);
	buf[1 + 1 + 36 + 8 + 32 + 1] = s[0].msid[0];
	expect_refused(buf, len, "same MSID");
}

static void binary_trailing(void **state)
{
	struct sb_backup_secret s[2];
	uint8_t buf[SB_SECRET_LIST_MAX + 64];
	size_t len;

	(void)state;
	fill(s);
	for (size_t k = 1; k <= 2; k++) {
		len = encode(s, k, buf);
		for (size_t extra = 1; extra <= 40; extra++) {
			memset(buf + len, 0, extra);
			expect_refused(buf, len + extra, "unexpected bytes");
		}
	}
}

/* A created_at_ms above 2^63 - 1 fits the binary form but not the JSON
 * one: the binary decoder refuses it too (found by tests/fuzz fuzz_backup:
 * such a list used to load and then fail every member's fetch). */
static void binary_created_at_bound(void **state)
{
	struct sb_backup_secret s[2], out[2];
	struct sb_error err = {{0}};
	uint8_t buf[SB_SECRET_LIST_MAX];
	size_t len, n = 0;

	(void)state;
	fill(s);
	s[1].created_at_ms = SB_CREATED_AT_MAX;
	len = encode(s, 2, buf);
	assert_int_equal(sb_secret_list_decode(buf, len, out, &n, &err), 0);
	assert_int_equal(out[1].created_at_ms, SB_CREATED_AT_MAX);
	/* secret 1's created_at_ms: its top byte, after n, m0, MSID 0, its
	 * 8 + 32 bytes, m1 and MSID 1. */
	buf[1 + 1 + strlen(s[0].msid) + 8 + 32 + 1 + strlen(s[1].msid)] = 0x80;
	expect_refused(buf, len, "secret 1's created_at_ms is above 2^63 - 1");
	s[1].created_at_ms = SB_CREATED_AT_MAX + 1;
	assert_int_equal(
		sb_secret_list_encode(s, 2, buf, sizeof(buf), &len, &err), -1);
	assert_msg_has(&err, "secret 1: created_at_ms is above 2^63 - 1");
}

static void binary_encode_refused(void **state)
{
	struct sb_backup_secret s[2];
	struct sb_error err = {{0}};
	uint8_t buf[SB_SECRET_LIST_MAX];
	size_t len = 99;

	(void)state;
	fill(s);
#define REFUSED(list, n, b, cap, want)                                         \
	do {                                                                   \
		memset(&err, 0, sizeof(err));                                  \
		len = 99;                                                      \
		assert_int_equal(                                              \
			sb_secret_list_encode(list, n, b, cap, &len, &err),    \
			-1);                                                   \
		assert_int_equal(len, 0);                                      \
		assert_msg_has(&err, want);                                    \
	} while (0)
	REFUSED(s, 0, buf, sizeof(buf), "1 or 2");
	REFUSED(s, 3, buf, sizeof(buf), "1 or 2");
	REFUSED(NULL, 1, buf, sizeof(buf), "1 or 2");
	REFUSED(s, 2, buf, sb_secret_list_size(s, 2) - 1, "bytes needed");
	REFUSED(s, 2, NULL, 0, "bytes needed");
	s[1].msid[0] = '\0';
	REFUSED(s, 2, buf, sizeof(buf), "secret 1");
	s[1].msid[0] = '\t';
	REFUSED(s, 2, buf, sizeof(buf), "secret 1");
	memset(s[0].msid, 'A', sizeof(s[0].msid)); /* not terminated */
	REFUSED(s, 1, buf, sizeof(buf), "secret 0");
	fill(s);
	snprintf(s[1].msid, sizeof(s[1].msid), "%s", s[0].msid);
	REFUSED(s, 2, buf, sizeof(buf), "same MSID");
	assert_int_equal(sb_secret_list_check(s, 1, NULL), 0);
	assert_int_equal(sb_secret_list_check(s, 2, NULL), -1);
#undef REFUSED
}

static void binary_copy(void **state)
{
	struct sb_backup_secret s[2], *c;

	(void)state;
	fill(s);
	assert_null(sb_secret_list_copy(s, 0));
	c = sb_secret_list_copy(s, 2);
	assert_non_null(c);
	assert_same(s, c, 2);
	sb_secure_free(c, 2 * sizeof(*c));
}

/* Every prefix and every single-byte change of a good list is either
 * refused or decodes to a valid list: the decoder never reads out of
 * bounds (run under ASan) and never accepts an invalid one. */
static void binary_fuzz_bytes(void **state)
{
	struct sb_backup_secret s[2], out[2];
	struct sb_error err = {{0}};
	uint8_t buf[SB_SECRET_LIST_MAX], copy[SB_SECRET_LIST_MAX];
	size_t len, n;

	(void)state;
	fill(s);
	len = encode(s, 2, buf);
	for (size_t i = 0; i < len; i++) {
		for (int v = 0; v < 256; v += 7) {
			memcpy(copy, buf, len);
			copy[i] = (uint8_t)v;
			if (sb_secret_list_decode(copy, len, out, &n, &err) ==
			    0)
				assert_int_equal(
					sb_secret_list_check(out, n, NULL), 0);
		}
	}
}

/* ------------------------------------------------------------------ */
/* JSON */

static const char *key_b64(const struct sb_backup_secret *s)
{
	static char b64[64];
	json_t *arr = sb_secret_list_to_json(s, 1, NULL);

	assert_non_null(arr);
	snprintf(b64, sizeof(b64), "%s",
		 json_string_value(
			 json_object_get(json_array_get(arr, 0), "key")));
	json_decref(arr);
	return b64;
}

static void json_roundtrip(void **state)
{
	struct sb_backup_secret s[2], out[2];
	struct sb_error err = {{0}};
	json_t *arr;
	size_t n = 0;

	(void)state;
	fill(s);
	for (size_t k = 1; k <= 2; k++) {
		arr = sb_secret_list_to_json(s, k, &err);
		assert_non_null(arr);
		assert_int_equal(json_array_size(arr), k);
		assert_int_equal(sb_secret_list_from_json(arr, out, &n, &err),
				 0);
		assert_int_equal(n, k);
		assert_same(s, out, k);
		json_decref(arr);
	}
	/* The field names and the base64 of the wire. */
	assert_string_equal(key_b64(s),
			    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
}

/* Expects the JSON text to be refused with a message holding want, and
 * never holding the key's base64. */
static void json_refused(const char *text, const char *want)
{
	struct sb_backup_secret out[2];
	static const struct sb_backup_secret zero[2];
	struct sb_error err = {{0}};
	json_error_t jerr;
	json_t *arr = json_loads(text, JSON_ALLOW_NUL, &jerr);
	size_t n = 99;

	if (arr == NULL)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	memset(out, 0xa5, sizeof(out));
	assert_int_equal(sb_secret_list_from_json(arr, out, &n, &err), -1);
	assert_int_equal(n, 0);
	assert_memory_equal(out, zero, sizeof(out));
	assert_msg_has(&err, want);
	assert_null(strstr(err.msg, "AAECAwQF"));
	json_decref(arr);
}

#define K "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\""

static void json_malformed(void **state)
{
	char long_msid[200];

	(void)state;
	json_refused("{}", "an array of 1 or 2");
	json_refused("[]", "an array of 1 or 2");
	json_refused("[{\"msid\":\"a\",\"created_at_ms\":1,\"key\":" K "},"
		     "{\"msid\":\"b\",\"created_at_ms\":1,\"key\":" K "},"
		     "{\"msid\":\"c\",\"created_at_ms\":1,\"key\":" K "}]",
		     "an array of 1 or 2");
	json_refused("[1]", "secrets[0] is not an object");
	json_refused("[{\"created_at_ms\":1,\"key\":" K "}]",
		     "secrets[0].msid");
	json_refused("[{\"msid\":\"\",\"created_at_ms\":1,\"key\":" K "}]",
		     "secrets[0].msid");
	snprintf(long_msid, sizeof(long_msid),
		 "[{\"msid\":\"%065d\",\"created_at_ms\":1,\"key\":" K "}]", 0);
	json_refused(long_msid, "secrets[0].msid");
	json_refused("[{\"msid\":\"a\\nb\",\"created_at_ms\":1,\"key\":" K "}]",
		     "printable ASCII");
	json_refused("[{\"msid\":\"a\\u0000b\",\"created_at_ms\":1,\"key\":" K
		     "}]",
		     "secrets[0].msid");
	json_refused("[{\"msid\":\"a\",\"key\":" K "}]",
		     "secrets[0].created_at_ms");
	json_refused("[{\"msid\":\"a\",\"created_at_ms\":-1,\"key\":" K "}]",
		     "secrets[0].created_at_ms");
	json_refused("[{\"msid\":\"a\",\"created_at_ms\":\"1\",\"key\":" K "}]",
		     "secrets[0].created_at_ms");
	json_refused("[{\"msid\":\"a\",\"created_at_ms\":1}]",
		     "secrets[0].key is not base64 of 32 bytes");
	json_refused("[{\"msid\":\"a\",\"created_at_ms\":1,"
		     "\"key\":\"AAECAwQFBgcICQoLDA0ODw==\"}]",
		     "secrets[0].key is not base64 of 32 bytes");
	json_refused(
		"[{\"msid\":\"a\",\"created_at_ms\":1,"
		"\"key\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=\"}]",
		"secrets[0].key is not base64 of 32 bytes");
	json_refused(
		"[{\"msid\":\"a\",\"created_at_ms\":1,"
		"\"key\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=A\"}]",
		"secrets[0].key is not base64 of 32 bytes");
	json_refused("[{\"msid\":\"a\",\"created_at_ms\":1,\"key\":" K "},"
		     "{\"msid\":\"b\",\"created_at_ms\":1,\"key\":3}]",
		     "secrets[1].key");
	json_refused("[{\"msid\":\"same\",\"created_at_ms\":1,\"key\":" K "},"
		     "{\"msid\":\"same\",\"created_at_ms\":2,\"key\":" K "}]",
		     "same MSID");
}

static void json_encode_refused(void **state)
{
	struct sb_backup_secret s[2];
	struct sb_error err = {{0}};

	(void)state;
	fill(s);
	assert_null(sb_secret_list_to_json(s, 0, &err));
	assert_msg_has(&err, "1 or 2");
	assert_null(sb_secret_list_to_json(s, 3, &err));
	s[0].created_at_ms = UINT64_MAX;
	assert_null(sb_secret_list_to_json(s, 1, &err));
	assert_msg_has(&err, "created_at_ms");
	fill(s);
	s[1].msid[0] = '\0';
	assert_null(sb_secret_list_to_json(s, 2, &err));
	assert_msg_has(&err, "secret 1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(binary_roundtrip),
		cmocka_unit_test(binary_exact_bytes),
		cmocka_unit_test(binary_bounds),
		cmocka_unit_test(binary_truncated),
		cmocka_unit_test(binary_bad_count),
		cmocka_unit_test(binary_bad_msid),
		cmocka_unit_test(binary_trailing),
		cmocka_unit_test(binary_created_at_bound),
		cmocka_unit_test(binary_encode_refused),
		cmocka_unit_test(binary_copy),
		cmocka_unit_test(binary_fuzz_bytes),
		cmocka_unit_test(json_roundtrip),
		cmocka_unit_test(json_malformed),
		cmocka_unit_test(json_encode_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
