/*
 * The SSO credential store's data model (ENTSSO's affiliate applications,
 * credential mappings and config store) and the encryption of its values.
 *
 * SSO database records (JSON values):
 *   app/<app>                       the application (no secrets)
 *   map/<app>/<identity>            a mapping: {"enabled", "msid",
 *                                   "fields": [sealed, ...], timestamps}
 *   umap/<identity>/<app>           index for listing a user's mappings
 *   cfg/<app>/<id>/<key>            a config-store value: {"msid", "value"}
 * A sealed value is base64(nonce || ciphertext || tag), AES-256-GCM under
 * the record key of the MSID it names, with associated data binding
 * application, identity (or config id), field (or key) and MSID, so a
 * ciphertext moved to another record does not open.
 */
#ifndef SB_RECORDS_H
#define SB_RECORDS_H

#include "runtime/api_error.h"
#include "secret/secret.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define SB_NAME_MAX	 64
#define SB_FIELDS_MAX	 16
#define SB_VALUE_LEN_MAX 4096

enum sb_app_type {
	SB_APP_INDIVIDUAL = 0,
	SB_APP_GROUP = 1,
	SB_APP_CONFIG_STORE = 2,
};

struct sb_app_field {
	char label[SB_NAME_MAX + 1];
	int masked;
};

struct sb_app {
	char name[SB_NAME_MAX + 1];
	int type;
	char user_group[SB_NAME_MAX + 1];
	char admin_group[SB_NAME_MAX + 1]; /* "" when none */
	int enabled;
	size_t n_fields;
	struct sb_app_field fields[SB_FIELDS_MAX];
	json_t *json; /* the whole record as stored (owned) */
};

/* 1 when s is a valid application, config id or key name
 * ([A-Za-z0-9._-]{1,64}); identities also allow '@'. */
int sb_valid_name(const char *s);
int sb_valid_identity(const char *s);

const char *sb_app_type_name(int type);
int sb_app_type_parse(const char *s);

/* Parses a stored app record (JSON text) into app. Returns 0 or -1. */
int sb_app_parse(const uint8_t *data, size_t len, struct sb_app *app);
void sb_app_clear(struct sb_app *app);

/* Validates a creation request body and builds the record to store (new
 * JSON object, caller decref's). Returns NULL with e (400 naming the
 * field). now_ms stamps created/updated. */
json_t *sb_app_record_from_request(json_t *body, uint64_t now_ms,
				   struct sb_api_error *e);

/* The public view of an app record (what GET /v1/apps/{app} returns). */
json_t *sb_app_view(const json_t *record);

/* Seals plaintext (len bytes) for the record identified by (kind, app,
 * owner, item) under the current record key. Returns a new JSON string of
 * base64(nonce || ct || tag) and sets msid_out, or NULL with e. */
struct sb_crypto_ctx {
	const struct sb_crypto_ops *ops;
	void *inst;
	const struct sb_record_keys *keys; /* the caller's current copy */
};
json_t *sb_value_seal(const struct sb_crypto_ctx *cc, const char *kind,
		      const char *app, const char *owner, const char *item,
		      const char *plaintext, size_t len,
		      struct sb_api_error *e);
/* Opens a sealed value written under msid. *plaintext is malloc'ed and NUL
 * terminated (caller wipes and frees). Returns 0 or -1 with e (500
 * record_damaged when the tag fails: moved or altered ciphertext; 503
 * unknown_secret when msid is neither the current nor previous secret). */
int sb_value_open(const struct sb_crypto_ctx *cc, const char *kind,
		  const char *app, const char *owner, const char *item,
		  const char *msid, const char *sealed, char **plaintext,
		  size_t *len, struct sb_api_error *e);
/* Base64 text to bytes: *out malloc'ed. Returns 0 or -1. */
int sb_b64_decode(const char *text, uint8_t **out, size_t *out_len);
/* sb_value_open on the decoded bytes (nonce || ct || tag) of a sealed
 * value, as the lookup cache keeps them. */
int sb_value_open_raw(const struct sb_crypto_ctx *cc, const char *kind,
		      const char *app, const char *owner, const char *item,
		      const char *msid, const uint8_t *sealed,
		      size_t sealed_len, char **plaintext, size_t *len,
		      struct sb_api_error *e);

#endif
