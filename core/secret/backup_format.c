/*
 * The master secret backup file: see backup_format.h for the API and
 * docs/backup-format.md for the byte layout.
 *
 * Decoding checks the structure in an order that gives every kind of
 * failure its own result: magic (EFOREIGN), version (EVERSION), length of
 * the fixed header (ETRUNCATED), the header's CRC-32 (ETAMPERED: so a
 * damaged length field is not mistaken for truncation, and a damaged salt
 * is not mistaken for a wrong password), bounds (EVERSION), the total
 * length (ETRUNCATED), the hint's CRC-32 (ETAMPERED); only then the slow
 * password KDF, the password check value (EPASSWORD) and the AEAD tag over
 * header and ciphertext (ETAMPERED). The CRCs catch accidents, the AEAD
 * catches everything else: a forger who fixes up the CRCs still fails the
 * tag (or, having changed the salt, the password check).
 */
#define _GNU_SOURCE
#include "secret/backup_format.h"

#include "host/host.h"
#include "runtime/secure_mem.h"

#include <stdlib.h>
#include <string.h>

#define MAGIC	   "SBBACKUP"
#define MAGIC_LEN  8
#define KDF_SCRYPT 1

/* Offsets of the fixed header. */
#define OFF_VERSION    8
#define OFF_KDF	       10
#define OFF_LOG2_N     11
#define OFF_R	       12
#define OFF_P	       16
#define OFF_SALT       20
#define OFF_CHECK      36
#define OFF_NONCE      52
#define OFF_HINT_LEN   64
#define OFF_CT_LEN     66
#define OFF_HINT_CRC   70
#define OFF_HEADER_CRC 74
#define FIXED_LEN      78 /* the hint follows */

#define SALT_LEN       16
#define CHECK_LEN      16
#define SCRYPT_OUT_LEN 32

/* Payload: the binary secret list of secret_codec.h. */
#define PAYLOAD_MIN SB_SECRET_LIST_MIN
#define PAYLOAD_MAX SB_SECRET_LIST_MAX

static const char info_check[] = "password check";
static const char info_key[] = "backup key";

/* Secret working memory of one encode or decode, in one locked page. */
struct work {
	uint8_t scrypt_out[SCRYPT_OUT_LEN];
	uint8_t key[SB_AEAD_KEY_LEN];
	uint8_t payload[PAYLOAD_MAX];
};

/* The parsed fixed header. */
struct header {
	unsigned version;
	uint32_t log2_n, r, p;
	const uint8_t *salt, *check, *nonce, *hint;
	size_t hint_len, ct_len, header_len, total_len;
};

const char *sb_backup_result_name(int result)
{
	switch (result) {
	case SB_BACKUP_OK: return "ok";
	case SB_BACKUP_ETRUNCATED: return "truncated";
	case SB_BACKUP_EFOREIGN: return "foreign";
	case SB_BACKUP_EVERSION: return "unsupported_version";
	case SB_BACKUP_EPASSWORD: return "wrong_password";
	case SB_BACKUP_ETAMPERED: return "tampered";
	case SB_BACKUP_EINVAL: return "invalid_argument";
	default: return "internal_error";
	}
}

/* CRC-32 as in zlib, PNG and Ethernet (reflected polynomial 0xEDB88320,
 * initial and final XOR 0xFFFFFFFF); "123456789" gives 0xCBF43926. Bitwise:
 * it only ever runs over a few hundred bytes. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int b = 0; b < 8; b++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
	}
	return crc ^ 0xffffffffu;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Constant-time comparison, so the password check leaks no timing. */
static int ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

/* Returns 1 when s[0..n) is well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF) without NUL bytes. */
static int valid_utf8(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp, min;

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

/* Checks KDF parameters against the bounds of backup_format.h. Returns 1
 * when acceptable. */
static int kdf_params_ok(uint32_t log2_n, uint32_t r, uint32_t p)
{
	uint64_t n;

	if (log2_n < SB_BACKUP_LOG2_N_MIN || log2_n > SB_BACKUP_LOG2_N_MAX ||
	    r < 1 || r > SB_BACKUP_R_MAX || p < 1 || p > SB_BACKUP_P_MAX)
		return 0;
	n = 1ull << log2_n;
	return 128ull * r * n <= SB_BACKUP_MEM_MAX &&
	       (uint64_t)r * p * n <= SB_BACKUP_WORK_MAX;
}

/* Parses and checks everything that needs no password. Returns a result
 * code with err set on failure; h->version is set whenever the version
 * field was read. */
/* Ends every "damaged" message parse_header gives: it runs before any key
 * derivation, so it must not suggest anything about the password. */
#define NOT_CHECKED "; the password was not checked"

static int parse_header(const uint8_t *blob, size_t len, struct header *h,
			struct sb_error *err)
{
	uint32_t kdf;

	memset(h, 0, sizeof(*h));
	if (blob == NULL || len == 0)
		return sb_error_set(err, SB_BACKUP_ETRUNCATED,
				    "backup file is empty");
	if (memcmp(blob, MAGIC, len < MAGIC_LEN ? len : MAGIC_LEN) != 0)
		return sb_error_set(err, SB_BACKUP_EFOREIGN,
				    "not a secretbroker backup file (it does "
				    "not start with \"" MAGIC "\")");
	if (len < OFF_KDF)
		return sb_error_set(err, SB_BACKUP_ETRUNCATED,
				    "backup file truncated: %zu bytes, the "
				    "header alone is %d",
				    len, FIXED_LEN);
	h->version = get16(blob + OFF_VERSION);
	if (h->version != SB_BACKUP_FORMAT_VERSION)
		return sb_error_set(err, SB_BACKUP_EVERSION,
				    "backup file format version %u is not "
				    "supported (this daemon reads version %d)",
				    h->version, SB_BACKUP_FORMAT_VERSION);
	if (len < FIXED_LEN)
		return sb_error_set(err, SB_BACKUP_ETRUNCATED,
				    "backup file truncated: %zu bytes, the "
				    "header alone is %d",
				    len, FIXED_LEN);
	if (crc32_ieee(blob, OFF_HEADER_CRC) != get32(blob + OFF_HEADER_CRC))
		return sb_error_set(err, SB_BACKUP_ETAMPERED,
				    "backup file damaged: header checksum "
				    "mismatch" NOT_CHECKED);
	kdf = blob[OFF_KDF];
	h->log2_n = blob[OFF_LOG2_N];
	h->r = get32(blob + OFF_R);
	h->p = get32(blob + OFF_P);
	if (kdf != KDF_SCRYPT)
		return sb_error_set(err, SB_BACKUP_EVERSION,
				    "backup file uses key derivation function "
				    "%u; only 1 (scrypt) is supported",
				    (unsigned)kdf);
	if (!kdf_params_ok(h->log2_n, h->r, h->p))
		return sb_error_set(err, SB_BACKUP_EVERSION,
				    "backup file asks for scrypt log2(N)=%u "
				    "r=%u p=%u, outside the accepted bounds "
				    "(log2(N) %d..%d, r 1..%d, p 1..%d, at "
				    "most %u MiB)",
				    h->log2_n, h->r, h->p, SB_BACKUP_LOG2_N_MIN,
				    SB_BACKUP_LOG2_N_MAX, SB_BACKUP_R_MAX,
				    SB_BACKUP_P_MAX, SB_BACKUP_MEM_MAX >> 20);
	h->hint_len = get16(blob + OFF_HINT_LEN);
	h->ct_len = get32(blob + OFF_CT_LEN);
	if (h->hint_len > SB_BACKUP_HINT_MAX)
		return sb_error_set(err, SB_BACKUP_EVERSION,
				    "backup file hint is %zu bytes, more than "
				    "the %d allowed",
				    h->hint_len, SB_BACKUP_HINT_MAX);
	if (h->ct_len < PAYLOAD_MIN || h->ct_len > PAYLOAD_MAX)
		return sb_error_set(err, SB_BACKUP_EVERSION,
				    "backup file ciphertext is %zu bytes, "
				    "outside the %d..%d of format version %d",
				    h->ct_len, PAYLOAD_MIN, PAYLOAD_MAX,
				    SB_BACKUP_FORMAT_VERSION);
	h->header_len = FIXED_LEN + h->hint_len;
	h->total_len = h->header_len + h->ct_len + SB_AEAD_TAG_LEN;
	if (len < h->total_len)
		return sb_error_set(err, SB_BACKUP_ETRUNCATED,
				    "backup file truncated: %zu bytes of %zu",
				    len, h->total_len);
	if (len > h->total_len)
		return sb_error_set(err, SB_BACKUP_ETAMPERED,
				    "backup file damaged: %zu unexpected bytes "
				    "after its end" NOT_CHECKED,
				    len - h->total_len);
	h->hint = blob + FIXED_LEN;
	if (crc32_ieee(h->hint, h->hint_len) != get32(blob + OFF_HINT_CRC))
		return sb_error_set(err, SB_BACKUP_ETAMPERED,
				    "backup file damaged: password hint "
				    "checksum mismatch" NOT_CHECKED);
	if (!valid_utf8(h->hint, h->hint_len))
		return sb_error_set(err, SB_BACKUP_ETAMPERED,
				    "backup file damaged: password hint is not "
				    "valid UTF-8" NOT_CHECKED);
	h->salt = blob + OFF_SALT;
	h->check = blob + OFF_CHECK;
	h->nonce = blob + OFF_NONCE;
	return SB_BACKUP_OK;
}

/* Derives the scrypt output, the password check value and the AEAD key
 * into w and check. Returns SB_BACKUP_OK or SB_BACKUP_EINTERNAL. */
static int derive_keys(const struct sb_crypto_ops *ops, void *crypto,
		       const char *password, size_t password_len,
		       const uint8_t *salt, uint32_t log2_n, uint32_t r,
		       uint32_t p, struct work *w, uint8_t check[CHECK_LEN],
		       struct sb_error *err)
{
	struct sb_error perr = {{0}};

	if (ops->password_kdf(crypto, password, password_len, salt, SALT_LEN,
			      log2_n, r, p, w->scrypt_out,
			      sizeof(w->scrypt_out), &perr) != SB_OK)
		return sb_error_set(err, SB_BACKUP_EINTERNAL,
				    "backup: password key derivation: %s",
				    perr.msg);
	if (ops->kdf(crypto, w->scrypt_out, sizeof(w->scrypt_out), NULL, 0,
		     (const uint8_t *)info_check, strlen(info_check), check,
		     CHECK_LEN, &perr) != SB_OK ||
	    ops->kdf(crypto, w->scrypt_out, sizeof(w->scrypt_out), NULL, 0,
		     (const uint8_t *)info_key, strlen(info_key), w->key,
		     sizeof(w->key), &perr) != SB_OK)
		return sb_error_set(err, SB_BACKUP_EINTERNAL,
				    "backup: key derivation: %s", perr.msg);
	return SB_BACKUP_OK;
}

int sb_backup_encode(const struct sb_crypto_ops *ops, void *crypto,
		     const char *password, size_t password_len,
		     const char *hint,
		     const struct sb_backup_kdf_params *params,
		     const struct sb_backup_secret *secrets, size_t n_secrets,
		     uint8_t **out, size_t *out_len, struct sb_error *err)
{
	static const struct sb_backup_kdf_params defaults = {15, 8, 1};
	struct sb_error perr = {{0}};
	struct work *w = NULL;
	uint8_t *blob = NULL;
	size_t hint_len, ct_len, header_len, total;
	int ret = SB_BACKUP_EINTERNAL;

	if (out != NULL)
		*out = NULL;
	if (out_len != NULL)
		*out_len = 0;
	if (ops == NULL || out == NULL || out_len == NULL) {
		ret = sb_error_set(err, SB_BACKUP_EINVAL,
				   "backup: no crypto plugin or output");
		goto done;
	}
	if (params == NULL)
		params = &defaults;
	if (hint == NULL)
		hint = "";
	if (password == NULL || password_len == 0) {
		ret = sb_error_set(err, SB_BACKUP_EINVAL,
				   "backup: the password is empty");
		goto done;
	}
	hint_len = strlen(hint);
	if (hint_len > SB_BACKUP_HINT_MAX) {
		ret = sb_error_set(err, SB_BACKUP_EINVAL,
				   "backup: the password hint is %zu bytes, at "
				   "most %d are allowed",
				   hint_len, SB_BACKUP_HINT_MAX);
		goto done;
	}
	if (!valid_utf8((const uint8_t *)hint, hint_len)) {
		ret = sb_error_set(err, SB_BACKUP_EINVAL,
				   "backup: the password hint is not valid "
				   "UTF-8");
		goto done;
	}
	if (!kdf_params_ok(params->log2_n, params->r, params->p)) {
		ret = sb_error_set(err, SB_BACKUP_EINVAL,
				   "backup: scrypt log2(N)=%u r=%u p=%u is "
				   "outside the bounds a restore accepts",
				   params->log2_n, params->r, params->p);
		goto done;
	}
	if (sb_secret_list_check(secrets, n_secrets, &perr) != 0) {
		ret = sb_error_set(err, SB_BACKUP_EINVAL, "backup: %s",
				   perr.msg);
		goto done;
	}

	w = sb_secure_alloc(sizeof(*w));
	if (w == NULL) {
		ret = sb_error_set(err, SB_BACKUP_EINTERNAL,
				   "backup: cannot allocate locked memory");
		goto done;
	}
	if (sb_secret_list_encode(secrets, n_secrets, w->payload,
				  sizeof(w->payload), &ct_len, &perr) != 0) {
		ret = sb_error_set(err, SB_BACKUP_EINTERNAL, "backup: %s",
				   perr.msg);
		goto done;
	}
	header_len = FIXED_LEN + hint_len;
	total = header_len + ct_len + SB_AEAD_TAG_LEN;
	blob = calloc(1, total);
	if (blob == NULL) {
		ret = sb_error_set(err, SB_BACKUP_EINTERNAL,
				   "backup: out of memory");
		goto done;
	}
	memcpy(blob, MAGIC, MAGIC_LEN);
	put16(blob + OFF_VERSION, SB_BACKUP_FORMAT_VERSION);
	blob[OFF_KDF] = KDF_SCRYPT;
	blob[OFF_LOG2_N] = (uint8_t)params->log2_n;
	put32(blob + OFF_R, params->r);
	put32(blob + OFF_P, params->p);
	if (ops->random(crypto, blob + OFF_SALT, SALT_LEN, &perr) != SB_OK ||
	    ops->random(crypto, blob + OFF_NONCE, SB_AEAD_NONCE_LEN, &perr) !=
		    SB_OK) {
		ret = sb_error_set(err, SB_BACKUP_EINTERNAL,
				   "backup: random bytes: %s", perr.msg);
		goto done;
	}
	ret = derive_keys(ops, crypto, password, password_len, blob + OFF_SALT,
			  params->log2_n, params->r, params->p, w,
			  blob + OFF_CHECK, err);
	if (ret != SB_BACKUP_OK)
		goto done;
	put16(blob + OFF_HINT_LEN, (uint32_t)hint_len);
	put32(blob + OFF_CT_LEN, (uint32_t)ct_len);
	memcpy(blob + FIXED_LEN, hint, hint_len);
	put32(blob + OFF_HINT_CRC, crc32_ieee(blob + FIXED_LEN, hint_len));
	put32(blob + OFF_HEADER_CRC, crc32_ieee(blob, OFF_HEADER_CRC));
	/* The header is complete: it is the associated data. */
	if (ops->aead_encrypt(crypto, w->key, blob + OFF_NONCE, blob,
			      header_len, w->payload, ct_len, blob + header_len,
			      blob + header_len + ct_len, &perr) != SB_OK) {
		ret = sb_error_set(err, SB_BACKUP_EINTERNAL,
				   "backup: encryption: %s", perr.msg);
		goto done;
	}
	*out = blob;
	*out_len = total;
	blob = NULL;
	ret = SB_BACKUP_OK;
done:
	free(blob); /* never held plaintext */
	sb_secure_free(w, sizeof(*w));
	return ret;
}

int sb_backup_decode(const struct sb_crypto_ops *ops, void *crypto,
		     const uint8_t *blob, size_t len, const char *password,
		     size_t password_len, struct sb_backup_secret **secrets,
		     size_t *n_secrets, struct sb_error *err)
{
	struct sb_backup_secret *result = NULL;
	struct sb_error perr = {{0}};
	uint8_t check[CHECK_LEN];
	struct header h;
	struct work *w = NULL;
	size_t n = 0;
	int rc, ret = SB_BACKUP_EINTERNAL;

	if (secrets != NULL)
		*secrets = NULL;
	if (n_secrets != NULL)
		*n_secrets = 0;
	if (ops == NULL || secrets == NULL || n_secrets == NULL) {
		ret = sb_error_set(err, SB_BACKUP_EINVAL,
				   "backup: no crypto plugin or output");
		goto done;
	}
	ret = parse_header(blob, len, &h, err);
	if (ret != SB_BACKUP_OK)
		goto done;
	if (password == NULL) {
		password = "";
		password_len = 0;
	}
	w = sb_secure_alloc(sizeof(*w));
	result = sb_secure_alloc(SB_SECRETS_MAX * sizeof(*result));
	if (w == NULL || result == NULL) {
		ret = sb_error_set(err, SB_BACKUP_EINTERNAL,
				   "backup: cannot allocate locked memory");
		goto done;
	}
	ret = derive_keys(ops, crypto, password, password_len, h.salt, h.log2_n,
			  h.r, h.p, w, check, err);
	if (ret != SB_BACKUP_OK)
		goto done;
	if (!ct_equal(check, h.check, CHECK_LEN)) {
		ret = sb_error_set(err, SB_BACKUP_EPASSWORD,
				   "wrong password for this backup file");
		goto done;
	}
	rc = ops->aead_decrypt(crypto, w->key, h.nonce, blob, h.header_len,
			       blob + h.header_len, h.ct_len,
			       blob + h.header_len + h.ct_len, w->payload,
			       &perr);
	if (rc == SB_EAUTH) {
		ret = sb_error_set(err, SB_BACKUP_ETAMPERED,
				   "backup file altered or damaged: the "
				   "password is right but the header or the "
				   "encrypted secrets do not authenticate");
		goto done;
	}
	if (rc != SB_OK) {
		ret = sb_error_set(err, SB_BACKUP_EINTERNAL,
				   "backup: decryption: %s", perr.msg);
		goto done;
	}
	if (sb_secret_list_decode(w->payload, h.ct_len, result, &n, &perr) !=
	    0) {
		/* Authentic, so written by someone holding the password, but
		 * not a payload this version understands. */
		ret = sb_error_set(err, SB_BACKUP_EVERSION,
				   "backup file authenticates but its content "
				   "is not a format version %d secret list: %s",
				   SB_BACKUP_FORMAT_VERSION, perr.msg);
		goto done;
	}
	/* Hand back exactly n entries, as the API promises. */
	*secrets = sb_secret_list_copy(result, n);
	if (*secrets == NULL) {
		ret = sb_error_set(err, SB_BACKUP_EINTERNAL,
				   "backup: cannot allocate locked memory");
		goto done;
	}
	*n_secrets = n;
	ret = SB_BACKUP_OK;
done:
	explicit_bzero(check, sizeof(check));
	sb_secure_free(w, sizeof(*w));
	if (result != NULL)
		sb_secure_free(result, SB_SECRETS_MAX * sizeof(*result));
	return ret;
}

int sb_backup_read_hint(const uint8_t *blob, size_t len, char **hint,
			unsigned *format_version, struct sb_error *err)
{
	struct header h;
	char *copy;
	int ret;

	if (hint != NULL)
		*hint = NULL;
	if (format_version != NULL)
		*format_version = 0;
	if (hint == NULL)
		return sb_error_set(err, SB_BACKUP_EINVAL,
				    "backup: no output for the hint");
	ret = parse_header(blob, len, &h, err);
	if (format_version != NULL &&
	    (ret == SB_BACKUP_OK || ret == SB_BACKUP_EVERSION))
		*format_version = h.version;
	if (ret != SB_BACKUP_OK)
		return ret;
	copy = malloc(h.hint_len + 1);
	if (copy == NULL)
		return sb_error_set(err, SB_BACKUP_EINTERNAL,
				    "backup: out of memory");
	memcpy(copy, h.hint, h.hint_len);
	copy[h.hint_len] = '\0';
	*hint = copy;
	return SB_BACKUP_OK;
}
