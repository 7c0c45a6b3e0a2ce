/*
 * Unit tests of the master secret backup file (core/backup_format.c),
 * using the real openssl crypto plugin loaded through the plugin loader.
 * Most tests use cheap scrypt parameters (log2 N = 10, r = 1) so that
 * exhaustive bit-flip and truncation sweeps stay fast; one test uses the
 * defaults.
 *
 * Usage: test_backup_format [cmocka test filter]
 */
#define _GNU_SOURCE
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "secret/backup_format.h"
#include "crypto_fixture.h"
#include "host/host.h"
#include "runtime/secure_mem.h"

/* Offsets from docs/backup-format.md, restated here so the test checks
 * the documented layout rather than the implementation's constants. */
#define T_OFF_VERSION	 8
#define T_OFF_KDF	 10
#define T_OFF_LOG2_N	 11
#define T_OFF_R		 12
#define T_OFF_P		 16
#define T_OFF_SALT	 20
#define T_OFF_HINT_LEN	 64
#define T_OFF_CT_LEN	 66
#define T_OFF_HINT_CRC	 70
#define T_OFF_HEADER_CRC 74
#define T_FIXED_LEN	 78

static const struct sb_backup_kdf_params fast = {10, 1, 1};
static const char password[] = "correct horse battery staple";
static const char hint[] = "the usual, with the year of the move";

struct ctx {
	struct sb_plugin plugin;
	const struct sb_crypto_ops *ops;
	struct tf_node node;
	char dir[PATH_MAX];
	struct sb_backup_secret secrets[2];
	uint8_t *blob; /* encoded with fast params, 2 secrets */
	size_t blob_len;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct sb_error err = {{0}};
	int rc;

	assert_non_null(c);
	c->ops = tf_load_crypto(&c->plugin);
	tf_make_dir(c->dir, sizeof(c->dir));
	if (tf_node_open(c->ops, &c->node, c->dir, NULL, &err) != SB_OK)
		fail_msg("crypto open: %s", err.msg);
	snprintf(c->secrets[0].msid, sizeof(c->secrets[0].msid),
		 "6f1c2a9e-4b7d-4c1e-9a55-3e2f8d7c6b10");
	c->secrets[0].created_at_ms = 1767225600123ull;
	snprintf(c->secrets[1].msid, sizeof(c->secrets[1].msid),
		 "0a0b0c0d-1111-4222-8333-444455556666");
	c->secrets[1].created_at_ms = 1735689600000ull;
	for (int i = 0; i < 2; i++)
		assert_int_equal(c->ops->random(c->node.inst, c->secrets[i].key,
						32, &err),
				 SB_OK);
	rc = sb_backup_encode(c->ops, c->node.inst, password, strlen(password),
			      hint, &fast, c->secrets, 2, &c->blob,
			      &c->blob_len, &err);
	if (rc != SB_BACKUP_OK)
		fail_msg("encode: %s", err.msg);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	free(c->blob);
	tf_node_close(c->ops, &c->node);
	tf_remove_tree(c->dir);
	sb_plugin_unload(&c->plugin);
	free(c);
	return 0;
}

/* The documented CRC-32 (zlib's), written independently of the code under
 * test. */
static uint32_t t_crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (crc >> 1) ^ 0xedb88320u : crc >> 1;
	}
	return ~crc;
}

static uint32_t t_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void t_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Recomputes both CRCs of a (modified) blob, as a forger would. */
static void fix_crcs(uint8_t *b)
{
	size_t hint_len =
		(size_t)b[T_OFF_HINT_LEN] << 8 | b[T_OFF_HINT_LEN + 1];

	t_put32(b + T_OFF_HINT_CRC, t_crc32(b + T_OFF_HINT_LEN + 14, hint_len));
	t_put32(b + T_OFF_HEADER_CRC, t_crc32(b, T_OFF_HEADER_CRC));
}

static const char *rname(int rc)
{
	return sb_backup_result_name(rc);
}

/* Decodes blob with pw; expects result want and, on failure, that nothing
 * was handed back. */
static void expect_decode(struct ctx *c, const uint8_t *blob, size_t len,
			  const char *pw, int want, const char *what)
{
	struct sb_backup_secret *out = (void *)1;
	size_t n = 99;
	struct sb_error err = {{0}};
	int rc;

	rc = sb_backup_decode(c->ops, c->node.inst, blob, len, pw, strlen(pw),
			      &out, &n, &err);
	if (rc != want)
		fail_msg("%s: decode returned %s (%s), expected %s", what,
			 rname(rc), err.msg, rname(want));
	if (rc != SB_BACKUP_OK) {
		assert_null(out);
		assert_int_equal(n, 0);
		assert_true(err.msg[0] != '\0');
	} else {
		sb_secure_free(out, n * sizeof(*out));
	}
}

static void assert_secret_equal(const struct sb_backup_secret *a,
				const struct sb_backup_secret *b)
{
	assert_string_equal(a->msid, b->msid);
	assert_true(a->created_at_ms == b->created_at_ms);
	assert_memory_equal(a->key, b->key, sizeof(a->key));
}

/* ---------------------------------------------------------------- */

static void format_crc_reference(void **state)
{
	(void)state;
	/* The CRC-32 check value from the catalogue of CRC algorithms. */
	assert_int_equal(t_crc32((const uint8_t *)"123456789", 9), 0xcbf43926u);
}

static void roundtrip_two(void **state)
{
	struct ctx *c = *state;
	struct sb_backup_secret *out = NULL;
	size_t n = 0;
	struct sb_error err = {{0}};

	assert_int_equal(memcmp(c->blob, "SBBACKUP\0\001\001\012", 12), 0);
	/* Neither key appears in the file. */
	assert_null(memmem(c->blob, c->blob_len, c->secrets[0].key, 32));
	assert_null(memmem(c->blob, c->blob_len, c->secrets[1].key, 32));
	if (sb_backup_decode(c->ops, c->node.inst, c->blob, c->blob_len,
			     password, strlen(password), &out, &n,
			     &err) != SB_BACKUP_OK)
		fail_msg("decode: %s", err.msg);
	assert_int_equal(n, 2);
	assert_secret_equal(&out[0], &c->secrets[0]);
	assert_secret_equal(&out[1], &c->secrets[1]);
	sb_secure_free(out, n * sizeof(*out));
}

static void roundtrip_one(void **state)
{
	struct ctx *c = *state;
	struct sb_backup_secret *out = NULL;
	uint8_t *blob = NULL;
	size_t len = 0, n = 0;
	struct sb_error err = {{0}};

	/* No hint, a one-character MSID, a 64-character MSID elsewhere. */
	snprintf(c->secrets[0].msid, sizeof(c->secrets[0].msid), "x");
	assert_int_equal(sb_backup_encode(c->ops, c->node.inst, "pw", 2, NULL,
					  &fast, c->secrets, 1, &blob, &len,
					  &err),
			 SB_BACKUP_OK);
	assert_int_equal(sb_backup_decode(c->ops, c->node.inst, blob, len, "pw",
					  2, &out, &n, &err),
			 SB_BACKUP_OK);
	assert_int_equal(n, 1);
	assert_secret_equal(&out[0], &c->secrets[0]);
	sb_secure_free(out, n * sizeof(*out));
	free(blob);

	memset(c->secrets[0].msid, 'M', SB_MSID_MAX);
	c->secrets[0].msid[SB_MSID_MAX] = '\0';
	assert_int_equal(sb_backup_encode(c->ops, c->node.inst, "pw", 2, "",
					  &fast, c->secrets, 2, &blob, &len,
					  &err),
			 SB_BACKUP_OK);
	assert_int_equal(sb_backup_decode(c->ops, c->node.inst, blob, len, "pw",
					  2, &out, &n, &err),
			 SB_BACKUP_OK);
	assert_int_equal(n, 2);
	assert_secret_equal(&out[0], &c->secrets[0]);
	assert_secret_equal(&out[1], &c->secrets[1]);
	sb_secure_free(out, n * sizeof(*out));
	free(blob);
}

static void roundtrip_default_params(void **state)
{
	struct ctx *c = *state;
	struct sb_backup_secret *out = NULL;
	uint8_t *blob = NULL;
	size_t len = 0, n = 0;
	struct sb_error err = {{0}};
	uint64_t t0, t1;

	t0 = sb_mono_ms();
	assert_int_equal(sb_backup_encode(c->ops, c->node.inst, password,
					  strlen(password), hint, NULL,
					  c->secrets, 2, &blob, &len, &err),
			 SB_BACKUP_OK);
	t1 = sb_mono_ms();
	/* The defaults are written into the file: log2 N 15, r 8, p 1. */
	assert_int_equal(blob[T_OFF_LOG2_N], 15);
	assert_int_equal(t_get32(blob + T_OFF_R), 8);
	assert_int_equal(t_get32(blob + T_OFF_P), 1);
	assert_int_equal(sb_backup_decode(c->ops, c->node.inst, blob, len,
					  password, strlen(password), &out, &n,
					  &err),
			 SB_BACKUP_OK);
	assert_int_equal(n, 2);
	assert_secret_equal(&out[0], &c->secrets[0]);
	sb_secure_free(out, n * sizeof(*out));
	expect_decode(c, blob, len, "Correct horse battery staple",
		      SB_BACKUP_EPASSWORD, "defaults, wrong password");
	print_message("encode with default scrypt parameters: %llu ms\n",
		      (unsigned long long)(t1 - t0));
	free(blob);
}

static void password_wrong(void **state)
{
	struct ctx *c = *state;

	expect_decode(c, c->blob, c->blob_len, "correct horse battery stapl",
		      SB_BACKUP_EPASSWORD, "wrong password");
	expect_decode(c, c->blob, c->blob_len, "", SB_BACKUP_EPASSWORD,
		      "empty password");
	expect_decode(c, c->blob, c->blob_len, password, SB_BACKUP_OK,
		      "right password");
}

static void truncation_every_length(void **state)
{
	struct ctx *c = *state;
	char what[64];

	for (size_t len = 0; len < c->blob_len; len++) {
		/* A fresh, exactly-sized copy, so ASan sees any read past
		 * the given length. */
		uint8_t *copy = malloc(len ? len : 1);

		assert_non_null(copy);
		memcpy(copy, c->blob, len);
		snprintf(what, sizeof(what), "truncated to %zu of %zu", len,
			 c->blob_len);
		expect_decode(c, copy, len, password, SB_BACKUP_ETRUNCATED,
			      what);
		free(copy);
	}
	expect_decode(c, NULL, 0, password, SB_BACKUP_ETRUNCATED, "NULL");
}

static void truncation_trailing_bytes(void **state)
{
	struct ctx *c = *state;
	uint8_t *longer = malloc(c->blob_len + 1);

	memcpy(longer, c->blob, c->blob_len);
	longer[c->blob_len] = 0;
	expect_decode(c, longer, c->blob_len + 1, password, SB_BACKUP_ETAMPERED,
		      "one byte appended");
	free(longer);
}

static void format_foreign_file(void **state)
{
	struct ctx *c = *state;
	static const char zip[] =
		"PK\003\004\024\000\000\000\010\000 and so on";
	static const char near[] = "SBBACKUX\000\001";
	static const char pem[] = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n";

	expect_decode(c, (const uint8_t *)zip, sizeof(zip), password,
		      SB_BACKUP_EFOREIGN, "zip file");
	expect_decode(c, (const uint8_t *)near, sizeof(near), password,
		      SB_BACKUP_EFOREIGN, "magic off by one letter");
	expect_decode(c, (const uint8_t *)pem, 3, password, SB_BACKUP_EFOREIGN,
		      "3 bytes of something else");
	char *h = (char *)1;
	struct sb_error err;
	assert_int_equal(sb_backup_read_hint((const uint8_t *)pem, sizeof(pem),
					     &h, NULL, &err),
			 SB_BACKUP_EFOREIGN);
	assert_null(h);
}

static void format_future_version(void **state)
{
	struct ctx *c = *state;
	unsigned version = 0;
	char *h = (char *)1;
	struct sb_error err = {{0}};

	c->blob[T_OFF_VERSION + 1] = 2;
	fix_crcs(c->blob); /* a well-formed version 2 file */
	expect_decode(c, c->blob, c->blob_len, password, SB_BACKUP_EVERSION,
		      "version 2");
	assert_int_equal(
		sb_backup_read_hint(c->blob, c->blob_len, &h, &version, &err),
		SB_BACKUP_EVERSION);
	assert_null(h);
	assert_int_equal(version, 2);
	assert_non_null(strstr(err.msg, "version 2"));
	/* Version 256 too, and even a short file of a future version is
	 * "unsupported", not "truncated". */
	c->blob[T_OFF_VERSION] = 1;
	c->blob[T_OFF_VERSION + 1] = 0;
	expect_decode(c, c->blob, 12, password, SB_BACKUP_EVERSION,
		      "version 256, short");
}

/* A header with a valid checksum but parameters out of bounds is refused
 * before any key derivation: a hostile file cannot make the daemon
 * allocate gigabytes. */
static void format_kdf_params_bounded(void **state)
{
	struct ctx *c = *state;
	static const struct {
		uint8_t kdf, log2_n;
		uint32_t r, p;
	} bad[] = {
		{2, 10, 1, 1},
		{1, 9, 1, 1},
		{1, 21, 1, 1},
		{1, 30, 8, 1},
		{1, 10, 0, 1},
		{1, 10, 33, 1},
		{1, 10, 1, 0},
		{1, 10, 1, 17},
		{1, 20, 4, 1},	/* 512 MiB */
		{1, 20, 2, 16}, /* 256 MiB, but 2^25 work > 2^24 */
		{1, 18, 32, 1}, /* 1 GiB */
		{1, 255, 0xffffffffu, 0xffffffffu},
	};
	uint8_t *b = malloc(c->blob_len);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[96];

		memcpy(b, c->blob, c->blob_len);
		b[T_OFF_KDF] = bad[i].kdf;
		b[T_OFF_LOG2_N] = bad[i].log2_n;
		t_put32(b + T_OFF_R, bad[i].r);
		t_put32(b + T_OFF_P, bad[i].p);
		fix_crcs(b);
		snprintf(what, sizeof(what), "kdf %u log2_n %u r %u p %u",
			 bad[i].kdf, bad[i].log2_n, bad[i].r, bad[i].p);
		expect_decode(c, b, c->blob_len, password, SB_BACKUP_EVERSION,
			      what);
	}
	free(b);
}

/* Each KDF bound of docs/backup-format.md at its edge: exactly at the
 * bound a file is accepted (its header parses: sb_backup_read_hint, which
 * derives nothing, so a 256 MiB scrypt is never run), one past it is
 * refused; the encoder takes the cheap edges and refuses one past them. */
static void format_kdf_params_at_the_edge(void **state)
{
	struct ctx *c = *state;
	static const struct {
		uint8_t log2_n;
		uint32_t r, p;
		int ok;
		const char *what;
	} edge[] = {
		{10, 1, 1, 1, "log2 N at its minimum"},
		{9, 1, 1, 0, "log2 N one below"},
		{20, 1, 1, 1, "log2 N at its maximum"},
		{21, 1, 1, 0, "log2 N one above"},
		{10, 32, 1, 1, "r at its maximum"},
		{10, 33, 1, 0, "r one above"},
		{10, 1, 16, 1, "p at its maximum"},
		{10, 1, 17, 0, "p one above"},
		{20, 2, 1, 1, "memory exactly 256 MiB"},
		{20, 3, 1, 0, "memory 384 MiB"},
		{20, 2, 8, 1, "work exactly 2^24"},
		{20, 2, 9, 0, "work one step past 2^24"},
	};
	uint8_t *b = malloc(c->blob_len);

	assert_non_null(b);
	for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
		struct sb_error err = {{0}};
		char *h = NULL;
		int rc;

		memcpy(b, c->blob, c->blob_len);
		b[T_OFF_LOG2_N] = edge[i].log2_n;
		t_put32(b + T_OFF_R, edge[i].r);
		t_put32(b + T_OFF_P, edge[i].p);
		fix_crcs(b);
		rc = sb_backup_read_hint(b, c->blob_len, &h, NULL, &err);
		free(h);
		if (rc != (edge[i].ok ? SB_BACKUP_OK : SB_BACKUP_EVERSION))
			fail_msg("%s (log2 N %u, r %u, p %u): %s", edge[i].what,
				 edge[i].log2_n, edge[i].r, edge[i].p,
				 err.msg[0] ? err.msg : "accepted");
	}
	free(b);

	/* The encoder, on the edges that cost little to run. */
	{
		const struct sb_backup_kdf_params at[] = {{10, 32, 1},
							  {10, 1, 16}};
		const struct sb_backup_kdf_params over[] = {
			{9, 1, 1}, {10, 33, 1}, {10, 1, 17}, {21, 1, 1}};

		for (size_t i = 0; i < 2; i++) {
			struct sb_error err = {{0}};
			uint8_t *blob = NULL;
			size_t len = 0;

			assert_int_equal(sb_backup_encode(c->ops, c->node.inst,
							  "pw", 2, hint, &at[i],
							  c->secrets, 1, &blob,
							  &len, &err),
					 SB_BACKUP_OK);
			free(blob);
		}
		for (size_t i = 0; i < 4; i++) {
			struct sb_error err = {{0}};
			uint8_t *blob = NULL;
			size_t len = 0;

			assert_int_equal(sb_backup_encode(c->ops, c->node.inst,
							  "pw", 2, hint,
							  &over[i], c->secrets,
							  1, &blob, &len, &err),
					 SB_BACKUP_EINVAL);
			assert_null(blob);
		}
	}
}

/* Decodes c's file with bit of byte i flipped (then flipped back) and
 * password; returns the result, err set; nothing is ever decoded. */
static int decode_flipped(struct ctx *c, size_t i, int bit, const char *pw,
			  struct sb_error *err)
{
	struct sb_backup_secret *out = NULL;
	size_t n = 0;
	int rc;

	c->blob[i] ^= (uint8_t)(1u << bit);
	rc = sb_backup_decode(c->ops, c->node.inst, c->blob, c->blob_len, pw,
			      strlen(pw), &out, &n, err);
	c->blob[i] ^= (uint8_t)(1u << bit);
	assert_null(out);
	return rc;
}

/* Every single-bit flip anywhere after the magic: never OK; ETAMPERED or
 * EVERSION (a flipped version field). Flips in the magic: EFOREIGN. */
static void tamper_every_bit_flip(void **state)
{
	struct ctx *c = *state;
	char what[SB_ERROR_MAX + 64];
	size_t counts[8] = {0};

	for (size_t i = 0; i < c->blob_len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct sb_error err = {{0}};
			int rc = decode_flipped(c, i, bit, password, &err);

			snprintf(what, sizeof(what), "byte %zu bit %d: %s (%s)",
				 i, bit, rname(rc), err.msg);
			if (i < 8) {
				if (rc != SB_BACKUP_EFOREIGN)
					fail_msg("%s", what);
			} else if (rc != SB_BACKUP_ETAMPERED &&
				   rc != SB_BACKUP_EVERSION) {
				fail_msg("%s", what);
			}
			counts[-rc]++;
		}
	}
	print_message("%zu flips: %zu foreign, %zu version, %zu tampered\n",
		      c->blob_len * 8, counts[2], counts[3], counts[5]);
}

/* A damaged file says only what was verified: every single-bit flip after
 * the magic, decoded with a wrong password, that is found damaged says the
 * password was not checked (never that it is right); with the right
 * password, a flip the header checks cannot see (ciphertext, tag) says the
 * password is right. */
static void tamper_says_what_was_verified(void **state)
{
	struct ctx *c = *state;
	static const char wrong[] = "not the password";
	size_t ct_off = T_FIXED_LEN + strlen(hint);

	for (size_t i = 8; i < c->blob_len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct sb_error err = {{0}};

			if (decode_flipped(c, i, bit, wrong, &err) !=
			    SB_BACKUP_ETAMPERED)
				continue;
			if (strstr(err.msg, "password was not checked") ==
				    NULL ||
			    strstr(err.msg, "password is right") != NULL)
				fail_msg("byte %zu bit %d, wrong password: %s",
					 i, bit, err.msg);
		}
	}
	for (size_t off = ct_off; off < c->blob_len; off += 7) {
		struct sb_backup_secret *out = NULL;
		size_t n = 0;
		struct sb_error err = {{0}};

		c->blob[off] ^= 0x01;
		assert_int_equal(sb_backup_decode(c->ops, c->node.inst, c->blob,
						  c->blob_len, password,
						  strlen(password), &out, &n,
						  &err),
				 SB_BACKUP_ETAMPERED);
		c->blob[off] ^= 0x01;
		assert_non_null(strstr(err.msg, "the password is right"));
	}
}

/* Named cases of the sweep above, each with its message. */
static void tamper_by_region(void **state)
{
	struct ctx *c = *state;
	size_t hint_off = T_FIXED_LEN, ct_off = T_FIXED_LEN + strlen(hint);
	struct {
		size_t off;
		const char *what;
	} cases[] = {
		{hint_off + 3, "hint"},
		{T_OFF_SALT + 5, "salt"},
		{T_OFF_HINT_LEN + 1, "hint length"},
		{T_OFF_CT_LEN + 3, "ciphertext length"},
		{T_OFF_R + 3, "scrypt r"},
		{ct_off + 10, "ciphertext"},
		{c->blob_len - 1, "tag"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c->blob[cases[i].off] ^= 0x10;
		expect_decode(c, c->blob, c->blob_len, password,
			      SB_BACKUP_ETAMPERED, cases[i].what);
		c->blob[cases[i].off] ^= 0x10;
	}
}

/* A forger who recomputes the CRCs is still caught: by the AEAD tag over
 * the header, or (salt changed) by the password check. */
static void tamper_forged_checksums(void **state)
{
	struct ctx *c = *state;

	c->blob[T_FIXED_LEN] ^= 0x01; /* first hint character */
	fix_crcs(c->blob);
	expect_decode(c, c->blob, c->blob_len, password, SB_BACKUP_ETAMPERED,
		      "hint changed, CRCs fixed");
	c->blob[T_FIXED_LEN] ^= 0x01;
	c->blob[T_OFF_R + 3] = 2; /* r 1 -> 2: still within bounds */
	fix_crcs(c->blob);
	expect_decode(c, c->blob, c->blob_len, password, SB_BACKUP_EPASSWORD,
		      "scrypt r changed, CRCs fixed");
	c->blob[T_OFF_R + 3] = 1;
	c->blob[T_OFF_SALT] ^= 0x01;
	fix_crcs(c->blob);
	expect_decode(c, c->blob, c->blob_len, password, SB_BACKUP_EPASSWORD,
		      "salt changed, CRCs fixed");
	c->blob[T_OFF_SALT] ^= 0x01;
	fix_crcs(c->blob);
	expect_decode(c, c->blob, c->blob_len, password, SB_BACKUP_OK,
		      "restored");
}

static void hint_without_password(void **state)
{
	struct ctx *c = *state;
	static const char utf8_hint[] =
		"pr\xc3\xa9nom du chat \xf0\x9f\x90\x88";
	char *h = NULL;
	unsigned version = 0;
	uint8_t *blob = NULL;
	size_t len = 0;
	struct sb_error err = {{0}};

	assert_int_equal(
		sb_backup_read_hint(c->blob, c->blob_len, &h, &version, &err),
		SB_BACKUP_OK);
	assert_string_equal(h, hint);
	assert_int_equal(version, 1);
	free(h);

	assert_int_equal(sb_backup_encode(c->ops, c->node.inst, "pw", 2,
					  utf8_hint, &fast, c->secrets, 1,
					  &blob, &len, &err),
			 SB_BACKUP_OK);
	assert_int_equal(sb_backup_read_hint(blob, len, &h, NULL, &err),
			 SB_BACKUP_OK);
	assert_string_equal(h, utf8_hint);
	free(h);
	/* A damaged hint is reported, not shown. */
	blob[T_FIXED_LEN + 2] ^= 0x40;
	h = (char *)1;
	assert_int_equal(sb_backup_read_hint(blob, len, &h, NULL, &err),
			 SB_BACKUP_ETAMPERED);
	assert_null(h);
	/* Truncated: reported before any password is asked for. */
	assert_int_equal(sb_backup_read_hint(blob, len - 1, &h, NULL, &err),
			 SB_BACKUP_ETRUNCATED);
	free(blob);

	/* The longest hint allowed. */
	char *longest = malloc(SB_BACKUP_HINT_MAX + 1);
	memset(longest, 'h', SB_BACKUP_HINT_MAX);
	longest[SB_BACKUP_HINT_MAX] = '\0';
	assert_int_equal(sb_backup_encode(c->ops, c->node.inst, "pw", 2,
					  longest, &fast, c->secrets, 1, &blob,
					  &len, &err),
			 SB_BACKUP_OK);
	assert_int_equal(sb_backup_read_hint(blob, len, &h, NULL, &err),
			 SB_BACKUP_OK);
	assert_string_equal(h, longest);
	free(h);
	free(blob);
	free(longest);
}

static void encode_refuses_bad_input(void **state)
{
	struct ctx *c = *state;
	struct sb_backup_kdf_params huge = {22, 8, 1};
	char long_hint[SB_BACKUP_HINT_MAX + 2];
	uint8_t *blob = (uint8_t *)1;
	size_t len = 1;
	struct sb_error err = {{0}};

	memset(long_hint, 'h', sizeof(long_hint) - 1);
	long_hint[sizeof(long_hint) - 1] = '\0';
#define REFUSED(pw, pwlen, h, params, secrets, n, needle)                      \
	do {                                                                   \
		assert_int_equal(sb_backup_encode(c->ops, c->node.inst, pw,    \
						  pwlen, h, params, secrets,   \
						  n, &blob, &len, &err),       \
				 SB_BACKUP_EINVAL);                            \
		assert_null(blob);                                             \
		assert_int_equal(len, 0);                                      \
		assert_non_null(strstr(err.msg, needle));                      \
		blob = (uint8_t *)1;                                           \
		len = 1;                                                       \
	} while (0)
	REFUSED("", 0, hint, &fast, c->secrets, 1, "password is empty");
	REFUSED("pw", 2, long_hint, &fast, c->secrets, 1, "1025 bytes");
	REFUSED("pw", 2, "caf\xc3", &fast, c->secrets, 1, "UTF-8");
	REFUSED("pw", 2, "\xc0\xaf", &fast, c->secrets, 1, "UTF-8");
	REFUSED("pw", 2, hint, &huge, c->secrets, 1, "bounds");
	REFUSED("pw", 2, hint, &fast, c->secrets, 0, "1 or 2");
	REFUSED("pw", 2, hint, &fast, c->secrets, 3, "1 or 2");
	c->secrets[1].msid[0] = '\0';
	REFUSED("pw", 2, hint, &fast, c->secrets, 2, "secret 1");
	c->secrets[1].msid[0] = '\n';
	REFUSED("pw", 2, hint, &fast, c->secrets, 2, "secret 1");
#undef REFUSED
}

/* Writes a backup with known content to path, for spec_decoder.py (which
 * decodes it from docs/backup-format.md alone). Returns 0 or 1. */
static int write_sample(const char *path)
{
	struct sb_plugin plugin;
	const struct sb_crypto_ops *ops;
	struct sb_backup_secret s[2];
	struct sb_backup_kdf_params params = {12, 8, 1};
	struct sb_host *host = NULL;
	struct sb_error err = {{0}};
	char lerr[512], dir[] = "/tmp/sbsample.XXXXXX";
	uint8_t *blob = NULL;
	size_t len = 0;
	void *inst = NULL;
	FILE *f = NULL;
	int ret = 1;

	memset(s, 0, sizeof(s));
	snprintf(s[0].msid, sizeof(s[0].msid),
		 "6f1c2a9e-4b7d-4c1e-9a55-3e2f8d7c6b10");
	s[0].created_at_ms = 1767225600123ull;
	snprintf(s[1].msid, sizeof(s[1].msid), "x");
	s[1].created_at_ms = 1735689600000ull;
	for (int i = 0; i < 32; i++) {
		s[0].key[i] = (uint8_t)i;
		s[1].key[i] = (uint8_t)(0xff - i);
	}
	if (sb_plugin_load(SB_PLUGIN_BUILD_DIR, SB_PLUGIN_CRYPTO, "openssl",
			   &plugin, lerr, sizeof(lerr)) != 0) {
		fprintf(stderr, "%s\n", lerr);
		return 1;
	}
	ops = sb_plugin_crypto(&plugin);
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		goto done;
	}
	host = sb_host_new("crypto", "openssl", dir, "sample");
	if (host == NULL || ops->open(host, NULL, &inst, &err) != SB_OK) {
		fprintf(stderr, "crypto open: %s\n", err.msg);
		goto done;
	}
	if (sb_backup_encode(ops, inst, "hunter2 \xe2\x9c\x93", 11,
			     "pr\xc3\xa9nom du chat", &params, s, 2, &blob,
			     &len, &err) != SB_BACKUP_OK) {
		fprintf(stderr, "encode: %s\n", err.msg);
		goto done;
	}
	f = fopen(path, "wb");
	if (f == NULL || fwrite(blob, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		f = NULL;
		goto done;
	}
	f = NULL;
	ret = 0;
done:
	if (f != NULL)
		fclose(f);
	free(blob);
	if (inst != NULL)
		ops->close(inst);
	sb_host_free(host);
	tf_remove_tree(dir);
	sb_plugin_unload(&plugin);
	return ret;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(format_crc_reference),
		cmocka_unit_test_setup_teardown(roundtrip_two, setup, teardown),
		cmocka_unit_test_setup_teardown(roundtrip_one, setup, teardown),
		cmocka_unit_test_setup_teardown(roundtrip_default_params, setup,
						teardown),
		cmocka_unit_test_setup_teardown(password_wrong, setup,
						teardown),
		cmocka_unit_test_setup_teardown(truncation_every_length, setup,
						teardown),
		cmocka_unit_test_setup_teardown(truncation_trailing_bytes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(format_foreign_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(format_future_version, setup,
						teardown),
		cmocka_unit_test_setup_teardown(format_kdf_params_bounded,
						setup, teardown),
		cmocka_unit_test_setup_teardown(format_kdf_params_at_the_edge,
						setup, teardown),
		cmocka_unit_test_setup_teardown(tamper_every_bit_flip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(tamper_says_what_was_verified,
						setup, teardown),
		cmocka_unit_test_setup_teardown(tamper_by_region, setup,
						teardown),
		cmocka_unit_test_setup_teardown(tamper_forged_checksums, setup,
						teardown),
		cmocka_unit_test_setup_teardown(hint_without_password, setup,
						teardown),
		cmocka_unit_test_setup_teardown(encode_refuses_bad_input, setup,
						teardown),
	};

	if (argc > 2 && strcmp(argv[1], "--write-sample") == 0)
		return write_sample(argv[2]);
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
	return cmocka_run_group_tests_name("backup_format", tests, NULL, NULL);
}
