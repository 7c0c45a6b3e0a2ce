/*
 * The one codec of secret material: a list of master secrets (current
 * first, then previous), each {msid, created_at_ms, 32 key bytes}.
 *
 * One set of rules (1 or 2 secrets, an MSID of 1..SB_MSID_MAX printable
 * ASCII characters, distinct MSIDs, a created_at_ms of at most 2^63 - 1 so
 * that both encodings hold it, a 32-byte key) and two encodings of the
 * same list:
 *
 *   binary  u8 n, then per secret u8 msid length, msid, u64 big-endian
 *           created_at_ms, 32 key bytes. The plaintext of the sealed file
 *           (after its format byte, secret/secret.c) and of the backup
 *           file (secret/backup_format.c). docs/backup-format.md.
 *   JSON    [{"msid": "...", "created_at_ms": N, "key": "<base64>"}, ...]
 *           The "secrets" of GET /v1/cluster/secret: the MSS encodes
 *           (api/api.c), a member decodes (cluster/member_fetch.c).
 *
 * Decoders are strict: exact lengths, no trailing bytes, every bound
 * checked before a byte is read. Error messages name the field and never
 * hold key material. Nothing here logs. Every function is reentrant.
 */
#ifndef SB_SECRET_CODEC_H
#define SB_SECRET_CODEC_H

#include <secretbroker/plugin.h>
#include <stddef.h>
#include <stdint.h>

#define SB_MSID_MAX	  64
#define SB_SECRET_KEY_LEN 32
#define SB_SECRETS_MAX	  2
/* The largest created_at_ms: a JSON integer is signed 64-bit. */
#define SB_CREATED_AT_MAX 0x7fffffffffffffffULL
/* Binary encoding: smallest (one secret, 1-character MSID) and largest
 * (two secrets, 64-character MSIDs) sizes. */
#define SB_SECRET_ENTRY_FIXED (1 + 8 + SB_SECRET_KEY_LEN)
#define SB_SECRET_LIST_MIN    (1 + SB_SECRET_ENTRY_FIXED + 1)
#define SB_SECRET_LIST_MAX                                                     \
	(1 + SB_SECRETS_MAX * (SB_SECRET_ENTRY_FIXED + SB_MSID_MAX))

/* One master secret. msid is 1..SB_MSID_MAX printable ASCII characters
 * (0x20..0x7e), NUL-terminated. Kept in sb_secure_alloc memory. */
struct sb_backup_secret {
	char msid[SB_MSID_MAX + 1];
	uint64_t created_at_ms;
	uint8_t key[SB_SECRET_KEY_LEN];
};

struct json_t;

/* Checks secrets[0..n) against the rules above. Returns 0, or -1 with err
 * ("holds 1 or 2 secrets, not 3", "secret 1 has an invalid MSID ...",
 * "secrets 0 and 1 have the same MSID"). err may be NULL. */
int sb_secret_list_check(const struct sb_backup_secret *secrets, size_t n,
			 struct sb_error *err);

/* The binary size of secrets[0..n), which must have passed
 * sb_secret_list_check. */
size_t sb_secret_list_size(const struct sb_backup_secret *secrets, size_t n);

/* Encodes secrets[0..n) in binary into buf (cap bytes, the caller's: use
 * secure memory; SB_SECRET_LIST_MAX always suffices). Returns 0 with *len
 * set, or -1 with err when the list breaks a rule or cap is too small
 * (buf is then wiped). */
int sb_secret_list_encode(const struct sb_backup_secret *secrets, size_t n,
			  uint8_t *buf, size_t cap, size_t *len,
			  struct sb_error *err);

/* Decodes exactly len bytes of buf into out (SB_SECRETS_MAX entries, the
 * caller's secure memory) and *n. Returns 0, or -1 with err saying what is
 * wrong and where (truncated, bad count, bad MSID length or characters,
 * created_at_ms above SB_CREATED_AT_MAX, duplicate MSID, trailing bytes); out
 * is then wiped and *n is 0. */
int sb_secret_list_decode(const uint8_t *buf, size_t len,
			  struct sb_backup_secret *out, size_t *n,
			  struct sb_error *err);

/* Encodes secrets[0..n) as a new JSON array (caller json_decref's), keys
 * in base64. The key text lives in jansson's memory, which the daemon
 * frees with a wiping free (main.c). Returns NULL with err when the list
 * breaks a rule or memory runs out. */
struct json_t *sb_secret_list_to_json(const struct sb_backup_secret *secrets,
				      size_t n, struct sb_error *err);

/* Decodes a JSON array as sb_secret_list_to_json writes it (arr may be
 * NULL or not an array: an error) into out (SB_SECRETS_MAX entries, the
 * caller's secure memory) and *n. Returns 0, or -1 with err naming the
 * element and field ("secrets[0].key is not base64 of 32 bytes"); out is
 * then wiped and *n is 0. The key's value is never quoted. */
int sb_secret_list_from_json(const struct json_t *arr,
			     struct sb_backup_secret *out, size_t *n,
			     struct sb_error *err);

/* Returns a sb_secure_alloc'ed copy of secrets[0..n) of exactly n entries
 * (free with sb_secure_free(p, n * sizeof(*p))), or NULL when locked
 * memory is short. */
struct sb_backup_secret *
sb_secret_list_copy(const struct sb_backup_secret *secrets, size_t n);

#endif
