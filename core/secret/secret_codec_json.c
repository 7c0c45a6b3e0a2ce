/* The codec of secret material, JSON encoding (GET /v1/cluster/secret):
 * see secret_codec.h. */
#define _GNU_SOURCE
#include "secret/secret_codec.h"

#include "runtime/status.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <string.h>

/* base64 of 32 bytes: 43 characters and one '='. */
#define KEY_B64_LEN 44

/* Decodes a 44-character base64 key into out[32]. Returns 0 or -1. The
 * intermediate buffer is wiped. */
static int decode_key(const char *b64, size_t len, uint8_t out[32])
{
	uint8_t tmp[36];
	int n, ret = -1;

	if (len != KEY_B64_LEN || b64[KEY_B64_LEN - 1] != '=' ||
	    b64[KEY_B64_LEN - 2] == '=' ||
	    strspn(b64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			"0123456789+/") != KEY_B64_LEN - 1)
		goto done;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)b64, KEY_B64_LEN);
	/* EVP_DecodeBlock counts the padding byte as data: 33 = 32 + 1. */
	if (n != 33)
		goto done;
	memcpy(out, tmp, 32);
	ret = 0;
done:
	explicit_bzero(tmp, sizeof(tmp));
	return ret;
}

struct json_t *sb_secret_list_to_json(const struct sb_backup_secret *secrets,
				      size_t n, struct sb_error *err)
{
	json_t *arr = NULL, *ret = NULL;
	char b64[48];

	if (sb_secret_list_check(secrets, n, err) != 0)
		goto done;
	arr = json_array();
	if (arr == NULL) {
		sb_error_set(err, SB_ERR, "secret list: out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *e;

		EVP_EncodeBlock((unsigned char *)b64, secrets[i].key,
				SB_SECRET_KEY_LEN);
		e = json_pack("{s:s, s:I, s:s}", "msid", secrets[i].msid,
			      "created_at_ms",
			      (json_int_t)secrets[i].created_at_ms, "key", b64);
		explicit_bzero(b64, sizeof(b64));
		if (e == NULL || json_array_append_new(arr, e) != 0) {
			sb_error_set(err, SB_ERR, "secret list: out of memory");
			goto done;
		}
	}
	ret = arr;
	arr = NULL;
done:
	explicit_bzero(b64, sizeof(b64));
	json_decref(arr);
	return ret;
}

/* Fills out from element i of the array. Returns 0, or -1 with err saying
 * what is wrong (never the value of "key"). */
static int secret_from_json(const json_t *e, size_t i,
			    struct sb_backup_secret *out, struct sb_error *err)
{
	json_t *msid = json_object_get(e, "msid");
	json_t *created = json_object_get(e, "created_at_ms");
	json_t *key = json_object_get(e, "key");
	const char *s;
	size_t len;
	int ret = -1;

	if (!json_is_object(e)) {
		sb_error_set(err, SB_ERR, "secrets[%zu] is not an object", i);
		goto done;
	}
	s = json_string_value(msid);
	len = s ? json_string_length(msid) : 0;
	if (s == NULL || len == 0 || len > SB_MSID_MAX || strlen(s) != len) {
		sb_error_set(err, SB_ERR,
			     "secrets[%zu].msid is not a string of 1 to %d "
			     "characters",
			     i, SB_MSID_MAX);
		goto done;
	}
	for (size_t k = 0; k < len; k++) {
		if (s[k] < 0x20 || s[k] > 0x7e) {
			sb_error_set(err, SB_ERR,
				     "secrets[%zu].msid holds a character that "
				     "is not printable ASCII",
				     i);
			goto done;
		}
	}
	memcpy(out->msid, s, len + 1);
	if (!json_is_integer(created) || json_integer_value(created) < 0) {
		sb_error_set(err, SB_ERR,
			     "secrets[%zu].created_at_ms is not a non-negative "
			     "integer",
			     i);
		goto done;
	}
	out->created_at_ms = (uint64_t)json_integer_value(created);
	s = json_string_value(key);
	if (s == NULL ||
	    decode_key(s, json_string_length(key), out->key) != 0) {
		sb_error_set(err, SB_ERR,
			     "secrets[%zu].key is not base64 of 32 bytes", i);
		goto done;
	}
	ret = 0;
done:
	return ret;
}

int sb_secret_list_from_json(const struct json_t *arr,
			     struct sb_backup_secret *out, size_t *n,
			     struct sb_error *err)
{
	size_t count;
	int ret = -1;

	*n = 0;
	memset(out, 0, SB_SECRETS_MAX * sizeof(*out));
	count = json_is_array(arr) ? json_array_size(arr) : 0;
	if (count < 1 || count > SB_SECRETS_MAX) {
		sb_error_set(err, SB_ERR,
			     "expected \"secrets\", an array of 1 or 2 "
			     "secrets");
		goto done;
	}
	for (size_t i = 0; i < count; i++)
		if (secret_from_json(json_array_get(arr, i), i, &out[i], err) !=
		    0)
			goto done;
	if (count == 2 && strcmp(out[0].msid, out[1].msid) == 0) {
		sb_error_set(err, SB_ERR,
			     "the current and previous secrets have the same "
			     "MSID");
		goto done;
	}
	*n = count;
	ret = 0;
done:
	if (ret != 0)
		explicit_bzero(out, SB_SECRETS_MAX * sizeof(*out));
	return ret;
}
