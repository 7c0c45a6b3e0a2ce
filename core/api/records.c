/* The credential store's data model and value encryption: see store.h. */
#define _GNU_SOURCE
#include "api/records.h"

#include "cluster/member.h"
#include "host/host.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int valid_chars(const char *s, const char *extra)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-' || (extra && strchr(extra, c))))
			return 0;
	}
	return n >= 1 && n <= SB_NAME_MAX && strcmp(s, ".") != 0 &&
	       strcmp(s, "..") != 0;
}

int sb_valid_name(const char *s)
{
	return valid_chars(s, NULL);
}

int sb_valid_identity(const char *s)
{
	return valid_chars(s, "@");
}

static const char *const type_names[] = {"individual", "group", "config-store"};

const char *sb_app_type_name(int type)
{
	return type >= 0 && type <= 2 ? type_names[type] : "unknown";
}

int sb_app_type_parse(const char *s)
{
	for (int i = 0; s && i < 3; i++)
		if (strcmp(s, type_names[i]) == 0)
			return i;
	return -1;
}

void sb_app_clear(struct sb_app *app)
{
	json_decref(app->json);
	memset(app, 0, sizeof(*app));
}

static void copy_str(char *dst, const char *src)
{
	snprintf(dst, SB_NAME_MAX + 1, "%s", src ? src : "");
}

int sb_app_parse(const uint8_t *data, size_t len, struct sb_app *app)
{
	json_t *j, *fields, *f;
	size_t i;

	memset(app, 0, sizeof(*app));
	j = json_loadb((const char *)data, len, 0, NULL);
	if (j == NULL)
		return -1;
	copy_str(app->name, json_string_value(json_object_get(j, "name")));
	app->type = sb_app_type_parse(
		json_string_value(json_object_get(j, "type")));
	copy_str(app->user_group,
		 json_string_value(json_object_get(j, "user_group")));
	copy_str(app->admin_group,
		 json_string_value(json_object_get(j, "admin_group")));
	app->enabled = json_is_true(json_object_get(j, "enabled"));
	fields = json_object_get(j, "fields");
	json_array_foreach(fields, i, f)
	{
		if (i >= SB_FIELDS_MAX)
			break;
		copy_str(app->fields[i].label,
			 json_string_value(json_object_get(f, "label")));
		app->fields[i].masked =
			json_is_true(json_object_get(f, "masked"));
		app->n_fields = i + 1;
	}
	app->json = j;
	if (app->type < 0 || app->name[0] == '\0') {
		sb_app_clear(app);
		return -1;
	}
	return 0;
}

static const char *opt_string(json_t *body, const char *field, size_t max,
			      int *bad, struct sb_api_error *e)
{
	json_t *v = json_object_get(body, field);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || json_string_length(v) > max) {
		*bad = 1;
		sb_api_fail(
			e, 400, "bad_request",
			"field \"%s\" must be a string of at most %zu bytes",
			field, max);
		return NULL;
	}
	return json_string_value(v);
}

json_t *sb_app_record_from_request(json_t *body, uint64_t now_ms,
				   struct sb_api_error *e)
{
	const char *name, *type_s, *ug, *ag, *desc, *contact;
	json_t *fields, *f, *out_fields = NULL, *rec;
	int type, bad = 0;
	size_t i;

	if (!json_is_object(body)) {
		sb_api_fail(e, 400, "bad_request",
			    "an application needs a JSON object");
		return NULL;
	}
	name = json_string_value(json_object_get(body, "name"));
	if (!sb_valid_name(name)) {
		sb_api_fail(e, 400, "bad_request",
			    "field \"name\" must be 1..64 characters of A-Z "
			    "a-z 0-9 . _ -");
		return NULL;
	}
	type_s = json_string_value(json_object_get(body, "type"));
	type = sb_app_type_parse(type_s);
	if (type < 0) {
		sb_api_fail(e, 400, "bad_request",
			    "application %s: field \"type\" must be "
			    "individual, group or config-store",
			    name);
		return NULL;
	}
	ug = json_string_value(json_object_get(body, "user_group"));
	if (!sb_valid_identity(ug)) {
		sb_api_fail(e, 400, "bad_request",
			    "application %s: field \"user_group\" must name "
			    "the application users' group",
			    name);
		return NULL;
	}
	ag = opt_string(body, "admin_group", SB_NAME_MAX, &bad, e);
	desc = opt_string(body, "description", 1024, &bad, e);
	contact = opt_string(body, "contact", 256, &bad, e);
	if (bad)
		return NULL;
	if (ag && !sb_valid_identity(ag)) {
		sb_api_fail(e, 400, "bad_request",
			    "application %s: field \"admin_group\" is not a "
			    "valid group name",
			    name);
		return NULL;
	}
	fields = json_object_get(body, "fields");
	out_fields = json_array();
	if (type == SB_APP_CONFIG_STORE) {
		/* [] is what an export of one says (sb_app_view). */
		if (fields != NULL &&
		    (!json_is_array(fields) || json_array_size(fields) > 0)) {
			sb_api_fail(e, 400, "bad_request",
				    "application %s: config-store applications "
				    "have no fields (they hold key/values: PUT "
				    "/v1/apps/%s/config/ID); leave out "
				    "\"fields\" or give []",
				    name, name);
			goto fail;
		}
	} else {
		if (!json_is_array(fields) || json_array_size(fields) < 1 ||
		    json_array_size(fields) > SB_FIELDS_MAX) {
			sb_api_fail(e, 400, "bad_request",
				    "application %s: field \"fields\" must "
				    "list 1..%d fields (the first is the "
				    "external user name)",
				    name, SB_FIELDS_MAX);
			goto fail;
		}
		json_array_foreach(fields, i, f)
		{
			const char *label =
				json_string_value(json_object_get(f, "label"));
			json_t *m = json_object_get(f, "masked");

			if (!sb_valid_name(label) ||
			    (m && !json_is_boolean(m))) {
				sb_api_fail(e, 400, "bad_request",
					    "application %s: field %zu needs a "
					    "\"label\" (A-Z a-z 0-9 . _ -) and "
					    "an optional boolean \"masked\"",
					    name, i);
				goto fail;
			}
			for (size_t k = 0; k < i; k++) {
				if (strcmp(label,
					   json_string_value(json_object_get(
						   json_array_get(fields, k),
						   "label"))) == 0) {
					sb_api_fail(
						e, 400, "bad_request",
						"application %s: field label "
						"\"%s\" appears twice",
						name, label);
					goto fail;
				}
			}
			json_array_append_new(out_fields,
					      json_pack("{s:s, s:b}", "label",
							label, "masked",
							m && json_is_true(m)));
		}
	}
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:I, s:I}",
			"name", name, "type", sb_app_type_name(type),
			"description", desc ? desc : "", "contact",
			contact ? contact : "", "user_group", ug, "admin_group",
			ag ? ag : "", "fields", out_fields, "enabled", 0,
			"created_at_ms", (json_int_t)now_ms, "updated_at_ms",
			(json_int_t)now_ms);
	if (rec == NULL)
		sb_api_fail(e, 500, "internal", "out of memory");
	return rec;
fail:
	json_decref(out_fields);
	return NULL;
}

json_t *sb_app_view(const json_t *rec)
{
	json_t *v = json_deep_copy(rec);
	char when[32];

	if (v == NULL)
		return NULL;
	sb_iso_time((uint64_t)json_integer_value(
			    json_object_get(rec, "created_at_ms")),
		    when, sizeof(when));
	json_object_set_new(v, "created_at", json_string(when));
	sb_iso_time((uint64_t)json_integer_value(
			    json_object_get(rec, "updated_at_ms")),
		    when, sizeof(when));
	json_object_set_new(v, "updated_at", json_string(when));
	json_object_del(v, "created_at_ms");
	json_object_del(v, "updated_at_ms");
	return v;
}

/* Associated data: "sb1", kind, app, owner, item, msid, each preceded by
 * its length (one byte; all are at most 64 bytes), so no two distinct
 * tuples encode alike. */
static size_t build_aad(uint8_t *aad, const char *kind, const char *app,
			const char *owner, const char *item, const char *msid)
{
	const char *parts[] = {"sb1", kind, app, owner, item, msid};
	size_t off = 0;

	for (size_t i = 0; i < 6; i++) {
		size_t n = strlen(parts[i]);

		aad[off++] = (uint8_t)n;
		memcpy(aad + off, parts[i], n);
		off += n;
	}
	return off;
}

#define AAD_MAX (6 * (1 + SB_MSID_MAX + 1))

json_t *sb_value_seal(const struct sb_crypto_ctx *cc, const char *kind,
		      const char *app, const char *owner, const char *item,
		      const char *plaintext, size_t len, struct sb_api_error *e)
{
	uint8_t aad[AAD_MAX], *buf = NULL;
	char *b64 = NULL;
	size_t aad_len, blen = SB_AEAD_NONCE_LEN + len + SB_AEAD_TAG_LEN;
	struct sb_error err = {{0}};
	json_t *out = NULL;

	if (cc->keys->n == 0) {
		sb_api_fail(
			e, 503, "no_secret",
			"this node holds no master secret: it cannot encrypt");
		return NULL;
	}
	aad_len = build_aad(aad, kind, app, owner, item, cc->keys->msid[0]);
	buf = malloc(blen);
	b64 = malloc(4 * ((blen + 2) / 3) + 1);
	if (buf == NULL || b64 == NULL) {
		sb_api_fail(e, 500, "internal", "out of memory");
		goto done;
	}
	if (cc->ops->random(cc->inst, buf, SB_AEAD_NONCE_LEN, &err) != SB_OK ||
	    cc->ops->aead_encrypt(
		    cc->inst, cc->keys->key[0], buf, aad, aad_len,
		    (const uint8_t *)plaintext, len, buf + SB_AEAD_NONCE_LEN,
		    buf + SB_AEAD_NONCE_LEN + len, &err) != SB_OK) {
		sb_api_fail(e, 500, "crypto_error", "cannot encrypt: %s",
			    err.msg);
		goto done;
	}
	EVP_EncodeBlock((unsigned char *)b64, buf, (int)blen);
	out = json_string(b64);
done:
	free(buf);
	free(b64);
	return out;
}

int sb_b64_decode(const char *text, uint8_t **out, size_t *out_len)
{
	size_t slen = text ? strlen(text) : 0, blen;
	uint8_t *buf;
	int n;

	if (slen == 0 || slen % 4 != 0)
		return -1;
	buf = malloc(slen / 4 * 3 + 1);
	if (buf == NULL)
		return -1;
	n = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)slen);
	if (n < 0) {
		free(buf);
		return -1;
	}
	blen = (size_t)n;
	if (blen && text[slen - 1] == '=')
		blen--;
	if (blen && text[slen - 2] == '=')
		blen--;
	*out = buf;
	*out_len = blen;
	return 0;
}

int sb_value_open_raw(const struct sb_crypto_ctx *cc, const char *kind,
		      const char *app, const char *owner, const char *item,
		      const char *msid, const uint8_t *sealed, size_t blen,
		      char **plaintext, size_t *len, struct sb_api_error *e)
{
	uint8_t aad[AAD_MAX];
	size_t aad_len, ptlen;
	const uint8_t *key = NULL;
	struct sb_error err = {{0}};
	char *pt = NULL;

	for (size_t i = 0; msid && i < cc->keys->n; i++)
		if (strcmp(cc->keys->msid[i], msid) == 0)
			key = cc->keys->key[i];
	if (key == NULL) {
		/* On a member, the MSS has rotated the secret since the last
		 * check: fetch it now, so the next try succeeds. */
		sb_member_check_soon();
		return sb_api_fail(
			e, 503, "unknown_secret",
			"a record is encrypted under master secret "
			"%s, which this node does not hold (a member "
			"node fetches it now: try again)",
			msid ? msid : "(none)");
	}
	if (blen < SB_AEAD_NONCE_LEN + SB_AEAD_TAG_LEN)
		return sb_api_fail(e, 500, "record_damaged",
				   "a stored %s value of %s/%s is damaged",
				   kind, app, owner);
	ptlen = blen - SB_AEAD_NONCE_LEN - SB_AEAD_TAG_LEN;
	pt = malloc(ptlen + 1);
	if (pt == NULL)
		return sb_api_fail(e, 500, "internal", "out of memory");
	aad_len = build_aad(aad, kind, app, owner, item, msid);
	if (cc->ops->aead_decrypt(cc->inst, key, sealed, aad, aad_len,
				  sealed + SB_AEAD_NONCE_LEN, ptlen,
				  sealed + SB_AEAD_NONCE_LEN + ptlen,
				  (uint8_t *)pt, &err) != SB_OK) {
		explicit_bzero(pt, ptlen);
		free(pt);
		return sb_api_fail(
			e, 500, "record_damaged",
			"a stored %s value of %s/%s does not decrypt: it was "
			"altered or moved from another record",
			kind, app, owner);
	}
	pt[ptlen] = '\0';
	*plaintext = pt;
	*len = ptlen;
	return 0;
}

int sb_value_open(const struct sb_crypto_ctx *cc, const char *kind,
		  const char *app, const char *owner, const char *item,
		  const char *msid, const char *sealed, char **plaintext,
		  size_t *len, struct sb_api_error *e)
{
	uint8_t *buf = NULL;
	size_t blen = 0;
	int ret;

	if (sb_b64_decode(sealed, &buf, &blen) != 0)
		return sb_api_fail(e, 500, "record_damaged",
				   "a stored %s value of %s/%s is damaged",
				   kind, app, owner);
	ret = sb_value_open_raw(cc, kind, app, owner, item, msid, buf, blen,
				plaintext, len, e);
	free(buf);
	return ret;
}
