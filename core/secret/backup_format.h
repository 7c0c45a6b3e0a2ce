/*
 * The master secret backup file: the current (and previous) master secret,
 * encrypted under a password, with a clear-text password hint. This is how
 * a secret moves to another node (ENTSSO's "backup secret" / "restore
 * secret"). The byte layout is in docs/backup-format.md.
 *
 * Keys: scrypt(password, salt) -> S (32 bytes, secure memory);
 * check = HKDF-SHA256(S, "password check")[0..16] tells a wrong password
 * from damage; AEAD key = HKDF-SHA256(S, "backup key"); AES-256-GCM with
 * the whole header as associated data. The plaintext is the binary secret
 * list of secret/secret_codec.h.
 *
 * Every function here is reentrant; the crypto work goes through the
 * crypto plugin's ops (so a PKCS#11 or FIPS build uses its own).
 */
#ifndef SB_BACKUP_FORMAT_H
#define SB_BACKUP_FORMAT_H

#include "secret/secret_codec.h"

#include <secretbroker/plugin.h>
#include <stddef.h>
#include <stdint.h>

/* scrypt cost: N = 2^log2_n. Defaults 15, 8, 1 (32 MiB, ~0.1 s). */
struct sb_backup_kdf_params {
	uint32_t log2_n, r, p;
};

#define SB_BACKUP_FORMAT_VERSION 1
#define SB_BACKUP_HINT_MAX	 1024

/* Bounds accepted when encoding and decoding, so a hostile file cannot
 * make the daemon burn memory or CPU: log2_n 10..20, r 1..32, p 1..16,
 * and at most 256 MiB of scrypt memory (128 * r * 2^log2_n) and 64 times
 * the default work (r * p * 2^log2_n <= 2^24). */
#define SB_BACKUP_LOG2_N_MIN 10
#define SB_BACKUP_LOG2_N_MAX 20
#define SB_BACKUP_R_MAX	     32
#define SB_BACKUP_P_MAX	     16
#define SB_BACKUP_MEM_MAX    (256u * 1024 * 1024)
#define SB_BACKUP_WORK_MAX   (1u << 24)

enum sb_backup_result {
	SB_BACKUP_OK = 0,
	SB_BACKUP_ETRUNCATED = -1,
	SB_BACKUP_EFOREIGN = -2, /* not a backup file: bad magic */
	/* unsupported format version or KDF parameters out of bounds */
	SB_BACKUP_EVERSION = -3,
	SB_BACKUP_EPASSWORD = -4, /* wrong password */
	/* right password, but header or ciphertext altered */
	SB_BACKUP_ETAMPERED = -5,
	SB_BACKUP_EINTERNAL = -6,
	/* encode only: a bad argument (empty password, hint too long or not
	 * UTF-8, bad or repeated MSID, n_secrets not 1 or 2, KDF parameters
	 * out of bounds) */
	SB_BACKUP_EINVAL = -7,
};

/* Encrypts 1 or 2 secrets (current first, then previous) under password
 * (password_len bytes, not empty). hint: UTF-8, at most SB_BACKUP_HINT_MAX
 * bytes, NULL for none; it is stored in clear. params NULL = defaults. On
 * SB_BACKUP_OK, *out is malloc'ed (caller frees) with *out_len bytes; it
 * holds no plaintext secret. */
int sb_backup_encode(const struct sb_crypto_ops *ops, void *crypto,
		     const char *password, size_t password_len,
		     const char *hint,
		     const struct sb_backup_kdf_params *params,
		     const struct sb_backup_secret *secrets, size_t n_secrets,
		     uint8_t **out, size_t *out_len, struct sb_error *err);

/* Decodes; on success *secrets is sb_secure_alloc'ed memory of *n_secrets
 * entries (free with sb_secure_free(*secrets, *n_secrets *
 * sizeof(**secrets))). Every failure returns its distinct result with a
 * clear message, and allocates nothing. */
int sb_backup_decode(const struct sb_crypto_ops *ops, void *crypto,
		     const uint8_t *blob, size_t len, const char *password,
		     size_t password_len, struct sb_backup_secret **secrets,
		     size_t *n_secrets, struct sb_error *err);

/* Reads the clear-text hint (and format version) without a password,
 * after checking the file's structure and header checksum. *hint is
 * malloc'ed, NUL-terminated ("" when none); caller frees. On
 * SB_BACKUP_EVERSION *format_version still tells which version the file
 * declares; on other failures it is 0. format_version may be NULL. */
int sb_backup_read_hint(const uint8_t *blob, size_t len, char **hint,
			unsigned *format_version, struct sb_error *err);

/* A stable lower-case name for a result ("wrong_password", ...). */
const char *sb_backup_result_name(int result);

#endif
