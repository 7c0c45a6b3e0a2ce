/* The codec of secret material, binary encoding and the rules: see
 * secret_codec.h. The JSON encoding is in secret_codec_json.c. */
#define _GNU_SOURCE
#include "secret/secret_codec.h"

#include "runtime/secure_mem.h"
#include "runtime/status.h"

#include <string.h>

/* Returns 1 when msid[0..len) is 1..SB_MSID_MAX printable ASCII
 * characters. */
static int msid_ok(const char *msid, size_t len)
{
	if (len == 0 || len > SB_MSID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (msid[i] < 0x20 || msid[i] > 0x7e)
			return 0;
	return 1;
}

int sb_secret_list_check(const struct sb_backup_secret *secrets, size_t n,
			 struct sb_error *err)
{
	int ret = -1;

	if (secrets == NULL || n < 1 || n > SB_SECRETS_MAX) {
		sb_error_set(err, SB_ERR, "holds 1 or 2 secrets, not %zu",
			     secrets == NULL ? 0 : n);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		size_t ml = strnlen(secrets[i].msid, sizeof(secrets[i].msid));

		if (!msid_ok(secrets[i].msid, ml)) {
			sb_error_set(err, SB_ERR,
				     "secret %zu has an invalid MSID (1..%d "
				     "printable ASCII characters)",
				     i, SB_MSID_MAX);
			goto done;
		}
		if (secrets[i].created_at_ms > SB_CREATED_AT_MAX) {
			sb_error_set(err, SB_ERR,
				     "secret %zu: created_at_ms is above "
				     "2^63 - 1",
				     i);
			goto done;
		}
	}
	if (n == 2 && strcmp(secrets[0].msid, secrets[1].msid) == 0) {
		sb_error_set(err, SB_ERR, "secrets 0 and 1 have the same MSID");
		goto done;
	}
	ret = 0;
done:
	return ret;
}

size_t sb_secret_list_size(const struct sb_backup_secret *secrets, size_t n)
{
	size_t len = 1;

	for (size_t i = 0; i < n; i++)
		len += SB_SECRET_ENTRY_FIXED + strlen(secrets[i].msid);
	return len;
}

int sb_secret_list_encode(const struct sb_backup_secret *secrets, size_t n,
			  uint8_t *buf, size_t cap, size_t *len,
			  struct sb_error *err)
{
	size_t need, off = 0;
	int ret = -1;

	*len = 0;
	if (sb_secret_list_check(secrets, n, err) != 0)
		goto done;
	need = sb_secret_list_size(secrets, n);
	if (buf == NULL || cap < need) {
		sb_error_set(err, SB_ERR,
			     "secret list: %zu bytes needed, %zu available",
			     need, buf == NULL ? 0 : cap);
		goto done;
	}
	buf[off++] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		size_t ml = strlen(secrets[i].msid);

		buf[off++] = (uint8_t)ml;
		memcpy(buf + off, secrets[i].msid, ml);
		off += ml;
		for (int b = 7; b >= 0; b--)
			buf[off++] =
				(uint8_t)(secrets[i].created_at_ms >> (8 * b));
		memcpy(buf + off, secrets[i].key, SB_SECRET_KEY_LEN);
		off += SB_SECRET_KEY_LEN;
	}
	*len = off;
	ret = 0;
done:
	if (ret != 0 && buf != NULL)
		explicit_bzero(buf, cap);
	return ret;
}

int sb_secret_list_decode(const uint8_t *buf, size_t len,
			  struct sb_backup_secret *out, size_t *n,
			  struct sb_error *err)
{
	size_t count = 0, off = 0;
	int ret = -1;

	*n = 0;
	memset(out, 0, SB_SECRETS_MAX * sizeof(*out));
	if (buf == NULL || len < 1) {
		sb_error_set(err, SB_ERR, "secret list is empty");
		goto done;
	}
	count = buf[off++];
	if (count < 1 || count > SB_SECRETS_MAX) {
		sb_error_set(err, SB_ERR,
			     "secret list holds %zu secrets, not 1 or 2",
			     count);
		goto done;
	}
	for (size_t i = 0; i < count; i++) {
		size_t ml;

		if (len - off < 1) {
			sb_error_set(err, SB_ERR,
				     "secret list truncated: %zu bytes, "
				     "secret %zu's MSID length is missing",
				     len, i);
			goto done;
		}
		ml = buf[off++];
		if (ml == 0 || ml > SB_MSID_MAX) {
			sb_error_set(err, SB_ERR,
				     "secret list: secret %zu's MSID length "
				     "is %zu, not 1..%d",
				     i, ml, SB_MSID_MAX);
			goto done;
		}
		if (len - off < ml + 8 + SB_SECRET_KEY_LEN) {
			sb_error_set(err, SB_ERR,
				     "secret list truncated: %zu bytes, "
				     "secret %zu needs %zu more",
				     len, i,
				     ml + 8 + SB_SECRET_KEY_LEN - (len - off));
			goto done;
		}
		if (!msid_ok((const char *)buf + off, ml)) {
			sb_error_set(err, SB_ERR,
				     "secret list: secret %zu's MSID holds a "
				     "character that is not printable ASCII",
				     i);
			goto done;
		}
		memcpy(out[i].msid, buf + off, ml);
		out[i].msid[ml] = '\0';
		off += ml;
		for (int b = 0; b < 8; b++)
			out[i].created_at_ms =
				out[i].created_at_ms << 8 | buf[off++];
		if (out[i].created_at_ms > SB_CREATED_AT_MAX) {
			sb_error_set(err, SB_ERR,
				     "secret list: secret %zu's created_at_ms "
				     "is above 2^63 - 1",
				     i);
			goto done;
		}
		memcpy(out[i].key, buf + off, SB_SECRET_KEY_LEN);
		off += SB_SECRET_KEY_LEN;
	}
	if (off != len) {
		sb_error_set(err, SB_ERR,
			     "secret list damaged: %zu unexpected bytes after "
			     "its end",
			     len - off);
		goto done;
	}
	if (count == 2 && strcmp(out[0].msid, out[1].msid) == 0) {
		sb_error_set(err, SB_ERR,
			     "secret list: secrets 0 and 1 have the same MSID");
		goto done;
	}
	*n = count;
	ret = 0;
done:
	if (ret != 0)
		explicit_bzero(out, SB_SECRETS_MAX * sizeof(*out));
	return ret;
}

struct sb_backup_secret *
sb_secret_list_copy(const struct sb_backup_secret *secrets, size_t n)
{
	struct sb_backup_secret *copy = NULL;

	if (n == 0)
		goto done;
	copy = sb_secure_alloc(n * sizeof(*copy));
	if (copy != NULL)
		memcpy(copy, secrets, n * sizeof(*copy));
done:
	return copy;
}
