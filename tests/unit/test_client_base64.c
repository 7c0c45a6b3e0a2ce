/* unit.client.base64: backup blobs' base64 (client/base64.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

/* RFC 4648 section 10. */
static const char *const vectors[][2] = {
	{"", ""},
	{"f", "Zg=="},
	{"fo", "Zm8="},
	{"foo", "Zm9v"},
	{"foob", "Zm9vYg=="},
	{"fooba", "Zm9vYmE="},
	{"foobar", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const char *plain = vectors[i][0], *enc = vectors[i][1];
		char *e = sbctl_b64_encode((const unsigned char *)plain,
					   strlen(plain));
		unsigned char *d;
		size_t len;

		assert_non_null(e);
		assert_string_equal(e, enc);
		free(e);
		assert_int_equal(sbctl_b64_decode(enc, &d, &len), 0);
		assert_non_null(d);
		assert_int_equal(len, strlen(plain));
		assert_memory_equal(d, plain, len);
		free(d);
	}
}

/* Every length from 0 to 600 and every byte value survive the round
 * trip, with the exact length (EVP_DecodeBlock's padding zeros dropped). */
static void test_round_trip(void **state)
{
	unsigned char data[600];

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 131 + 7);
	for (size_t n = 0; n <= sizeof(data); n++) {
		char *e = sbctl_b64_encode(data, n);
		unsigned char *d;
		size_t len;

		assert_non_null(e);
		assert_int_equal(strlen(e), (n + 2) / 3 * 4);
		assert_int_equal(sbctl_b64_decode(e, &d, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(d, data, n);
		free(d);
		free(e);
	}
}

static void test_rejects_malformed(void **state)
{
	const char *bad[] = {
		"Zg=",	      /* length not a multiple of 4 */
		"Zm9vY",      /* idem */
		"Zm9v\nYmFy", /* a line break */
		" Zm9v",      /* surrounding whitespace */
		"Zm9v ",      /* idem */
		"Zm=v",	      /* padding in the middle */
		"Z===",	      /* too much padding */
		"====",	      /* only padding */
		"Zm9-",	      /* URL-safe alphabet is not this one */
		"Zm9_",	      /* idem */
		"Zm\x01v",    /* a control character */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char *d = (unsigned char *)"untouched";
		size_t len = 99;

		errno = 0;
		if (sbctl_b64_decode(bad[i], &d, &len) != -1)
			fail_msg("accepted malformed base64 \"%s\"", bad[i]);
		assert_int_equal(errno, EINVAL);
		assert_null(d);
		assert_int_equal(len, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc4648_vectors),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rejects_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
