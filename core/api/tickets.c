/*
 * Single-use tickets, ENTSSO's IssueTicket and RedeemTicket (docs/api.md,
 * Tickets): a user entitled to an application's credentials asks for a
 * ticket and hands it to a trusted service, which redeems it once for that
 * user's credentials.
 *
 * A ticket is 32 random bytes, given to the user in hex. The SSO database
 * keeps only its digest (HKDF-SHA256 of the ticket with a fixed label,
 * through the crypto plugin), under ticket/<digest in hex>, so a copy of
 * the database cannot redeem anything. The record says for whom, for which
 * application and until when; redeeming replaces it, with the record's
 * version as precondition and at the request's fencing epoch, by the same
 * record marked redeemed. The storage applies one such compare-and-swap
 * per version, so of any number of concurrent redemptions on any nodes
 * exactly one succeeds, and the others find it redeemed. Records are kept
 * TICKET_KEEP_MS past their expiry (so a late use still says expired or
 * redeemed) and then swept by later issues (a few at a time, at most every
 * TICKET_SWEEP_EVERY_MS).
 */
#define _GNU_SOURCE
#include "api/handlers.h"
#include "api/store_common.h"
#include "runtime/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICKET_LEN	      32 /* random bytes */
#define TICKET_HEX_LEN	      (2 * TICKET_LEN)
#define TICKET_KEY_MAX	      (7 + TICKET_HEX_LEN + 1) /* "ticket/" digest NUL */
#define TICKET_KEEP_MS	      (3600ull * 1000)	       /* kept past expiry */
#define TICKET_SWEEP_MAX      256 /* records an issue looks at for sweeping */
#define TICKET_SWEEP_EVERY_MS (10ull * 1000) /* at most one sweep per */

static const char ticket_label[] = "secretbroker ticket digest";

static void hex_encode(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

/* Decodes TICKET_HEX_LEN lowercase or uppercase hex digits of text into
 * out. Returns 0, or -1 when text is not exactly that. */
static int hex_decode_ticket(const char *text, uint8_t out[TICKET_LEN])
{
	if (strlen(text) != TICKET_HEX_LEN)
		return -1;
	for (size_t i = 0; i < TICKET_LEN; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char c = text[2 * i + (size_t)k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v |= (unsigned)(c - 'A' + 10);
			else
				return -1;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

/* Writes the storage key of ticket into key (TICKET_KEY_MAX bytes).
 * Returns 0, or -1 having replied 500. */
static int ticket_key(struct sb_req *r, const uint8_t ticket[TICKET_LEN],
		      char key[TICKET_KEY_MAX])
{
	struct sb_error err = {{0}};
	uint8_t digest[32];

	if (r->gen->cops->kdf(r->gen->crypto.inst, ticket, TICKET_LEN, NULL, 0,
			      (const uint8_t *)ticket_label,
			      strlen(ticket_label), digest, sizeof(digest),
			      &err) != SB_OK) {
		sb_reply_error(r, 500, "crypto_error",
			       "cannot digest the ticket: %s", err.msg);
		return -1;
	}
	memcpy(key, "ticket/", 7);
	hex_encode(digest, sizeof(digest), key + 7);
	return 0;
}

/* 1 when the caller may redeem tickets: a member of [access]
 * ticket_redeemers (over mutual TLS: the local user named like the
 * certificate identity, as for every group role), or over mutual TLS a
 * certificate identity listed in [access] tls_ticket_redeemers. As
 * sb_caller_is_admin decides for administrators. */
static int caller_is_redeemer(struct sb_req *r)
{
	const struct sb_conf *c = r->gen->conf;

	if (r->tls && sb_conf_list_has(c->tls_ticket_redeemers, r->caller.name))
		return 1;
	return c->ticket_redeemers != NULL &&
	       sb_caller_in_group(&r->caller, c->ticket_redeemers_gid);
}

/* A scan callback of the sweep: collects up to 16 records that expired
 * more than TICKET_KEEP_MS ago, as delete ops with their version. */
struct sweep {
	uint64_t now;
	size_t n;
	char keys[16][TICKET_KEY_MAX];
	uint64_t versions[16];
};

static int sweep_cb(void *arg, const char *key, const uint8_t *value,
		    size_t len, uint64_t version)
{
	struct sweep *s = arg;
	json_t *rec = json_loadb((const char *)value, len, 0, NULL);
	json_t *exp = json_object_get(rec, "expires_ms");

	if (json_is_integer(exp) && strlen(key) < TICKET_KEY_MAX &&
	    (uint64_t)json_integer_value(exp) + TICKET_KEEP_MS < s->now) {
		snprintf(s->keys[s->n], TICKET_KEY_MAX, "%s", key);
		s->versions[s->n++] = version;
	}
	json_decref(rec);
	return s->n == 16; /* full: stop */
}

/* Deletes a few long-expired ticket records (each only at the version
 * read, so a record changed meanwhile stays). Best effort: a failure is
 * only logged at debug level by the store, the issue goes on. */
static void sweep_expired(struct sb_req *r)
{
	static uint64_t last_sweep_ms; /* process-wide, atomic */
	struct sweep s = {.now = sb_wall_ms()};
	struct sb_batch_op ops[16];
	struct sb_error err = {{0}};
	struct sb_batch b = {ops, 0, 0, NULL, NULL};
	uint64_t last = __atomic_load_n(&last_sweep_ms, __ATOMIC_RELAXED);
	uint8_t start = 0;
	char after[16];

	/* At most one sweep per TICKET_SWEEP_EVERY_MS in this process, by
	 * whichever request wins the exchange. */
	if (s.now < last + TICKET_SWEEP_EVERY_MS ||
	    !__atomic_compare_exchange_n(&last_sweep_ms, &last, s.now, 0,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	/* Digests are uniform: start at a random one, so that live tickets
	 * at the low end of the key space do not hide stale ones forever. */
	(void)r->gen->cops->random(r->gen->crypto.inst, &start, 1, &err);
	snprintf(after, sizeof(after), "ticket/%02x", start);
	if (store_scan(r->gen, "ticket/", after, TICKET_SWEEP_MAX, sweep_cb, &s,
		       NULL, &err) != SB_OK ||
	    s.n == 0)
		return;
	for (size_t i = 0; i < s.n; i++)
		ops[i] = (struct sb_batch_op){SB_OP_DELETE,  SB_PRE_VERSION,
					      s.versions[i], s.keys[i],
					      NULL,	     0};
	b.n_ops = s.n;
	(void)store_batch_apply(r->gen, sb_req_write_fencing(r), &b, &err);
}

/* 1 when identity has an enabled mapping of app; 0 having replied (404
 * no_mapping, 403 mapping_disabled, or the storage error). */
static int mapping_usable(struct sb_req *r, const struct sb_app *app,
			  const char *identity)
{
	struct sb_api_error e;
	char key[160];
	uint8_t *val = NULL;
	size_t len = 0;
	json_t *rec = NULL;
	int rc, ok = 0;

	snprintf(key, sizeof(key), "map/%s/%s", app->name, identity);
	rc = sb_api_storage_get(r, key, &val, &len, NULL, &e);
	if (rc == SB_ENOTFOUND) {
		sb_reply_error(r, 404, "no_mapping",
			       "%s has no credentials for application %s",
			       identity, app->name);
		goto done;
	}
	if (rc != SB_OK) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	rec = json_loadb((const char *)val, len, 0, NULL);
	if (!json_is_true(json_object_get(rec, "enabled"))) {
		sb_reply_error(
			r, 403, "mapping_disabled",
			"the credentials of %s for application %s are disabled",
			identity, app->name);
		goto done;
	}
	ok = 1;
done:
	json_decref(rec);
	if (val) {
		explicit_bzero(val, len);
		free(val);
	}
	return ok;
}

/* POST /v1/tickets {"app": A}: a ticket for the caller's credentials of
 * A (an individual application: the caller's own mapping; a group one:
 * its group's). */
void sb_handle_ticket_issue(struct sb_req *r)
{
	json_t *app_field = r->body ? json_object_get(r->body, "app") : NULL;
	const char *name = json_string_value(app_field); /* NULL if none */
	struct sb_app app = {0};
	struct sb_api_error e;
	struct sb_batch_op op;
	uint8_t ticket[TICKET_LEN];
	char hex[TICKET_HEX_LEN + 1], key[TICKET_KEY_MAX];
	struct sb_error err = {{0}};
	const char *identity;
	json_t *rec = NULL, *reply = NULL;
	char *text = NULL;
	uint64_t now;

	/* The audit record first: a missing or non-string "app" is refused
	 * (and the request finished) by sb_body_string. */
	sb_req_audit(r, "ticket.issue", SB_AUDIT_LOW, name, NULL);
	if (sb_body_string(r, "app", 1) == NULL)
		return; /* replied 400 */
	if (!sb_valid_name(name)) {
		sb_reply_error(r, 400, "bad_request",
			       "app must be an application name (1..64 "
			       "characters of A-Z a-z 0-9 . _ -)");
		return;
	}
	if (sb_api_app_load(r, name, 1, &app, NULL) != 0)
		return;
	if (sb_api_app_role(r, &app) < ROLE_USER) {
		sb_api_forbid_app(r, &app, "asking for a ticket", ROLE_USER);
		goto done;
	}
	if (app.type == SB_APP_CONFIG_STORE) {
		sb_reply_error(r, 400, "wrong_app_type",
			       "application %s is a config-store application: "
			       "it has no credentials to issue a ticket for",
			       name);
		goto done;
	}
	if (!app.enabled) {
		sb_reply_error(r, 403, "app_disabled",
			       "application %s is disabled", name);
		goto done;
	}
	identity =
		app.type == SB_APP_GROUP ? app.user_group : sb_caller_name(r);
	snprintf(r->audit.target, sizeof(r->audit.target), "%s", identity);
	if (!mapping_usable(r, &app, identity))
		goto done;
	if (!sb_req_write_epoch(r))
		goto done;
	if (r->gen->cops->random(r->gen->crypto.inst, ticket, sizeof(ticket),
				 &err) != SB_OK) {
		sb_reply_error(r, 500, "crypto_error",
			       "cannot make a ticket: %s", err.msg);
		goto done;
	}
	if (ticket_key(r, ticket, key) != 0)
		goto done;
	now = sb_wall_ms();
	rec = json_pack("{s:s, s:s, s:s, s:I, s:I}", "app", name, "identity",
			identity, "issued_by", sb_caller_name(r), "issued_ms",
			(json_int_t)now, "expires_ms",
			(json_int_t)(now + r->gen->conf->ticket_ttl_ms));
	text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
	if (text == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	op = (struct sb_batch_op){
		SB_OP_PUT, SB_PRE_ABSENT,	  0,
		key,	   (const uint8_t *)text, strlen(text)};
	if (sb_api_apply_batch(r, &op, 1, NULL, &e, "storing the ticket") !=
	    0) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	sweep_expired(r);
	hex_encode(ticket, sizeof(ticket), hex);
	reply = json_pack("{s:s, s:s, s:s, s:I}", "ticket", hex, "app", name,
			  "identity", identity, "expires_in_s",
			  (json_int_t)(r->gen->conf->ticket_ttl_ms / 1000));
	sb_reply_json(r, 201, reply);
done:
	explicit_bzero(ticket, sizeof(ticket));
	explicit_bzero(hex, sizeof(hex));
	free(text);
	json_decref(rec);
	sb_app_clear(&app);
}

/* Marks the ticket record (rec, read at version) redeemed with a
 * compare-and-swap on version. Returns 0; 1 when another redemption won
 * (replied 409 ticket_redeemed); -1 having replied another error. */
static int ticket_consume(struct sb_req *r, const char *key, json_t *rec,
			  uint64_t version)
{
	struct sb_api_error e;
	struct sb_batch_op op;
	size_t failed = 0;
	char *text = NULL;
	int ret = -1;

	if (json_object_set_new(rec, "redeemed_ms",
				json_integer((json_int_t)sb_wall_ms())) != 0 ||
	    json_object_set_new(rec, "redeemed_by",
				json_string(sb_caller_name(r))) != 0 ||
	    (text = json_dumps(rec, JSON_COMPACT)) == NULL) {
		sb_reply_error(r, 500, "internal", "out of memory");
		goto done;
	}
	op = (struct sb_batch_op){
		SB_OP_PUT, SB_PRE_VERSION,	  version,
		key,	   (const uint8_t *)text, strlen(text)};
	if (sb_api_apply_batch(r, &op, 1, &failed, &e,
			       "redeeming the ticket") == 0) {
		ret = 0;
		goto done;
	}
	if (e.http == 409 && strcmp(e.code, "conflict") == 0) {
		sb_reply_error(r, 409, "ticket_redeemed",
			       "this ticket has already been redeemed (by a "
			       "concurrent request)");
		ret = 1;
		goto done;
	}
	sb_reply_api_error(r, &e);
done:
	free(text);
	return ret;
}

/* POST /v1/tickets/redeem {"ticket": T, "app": A}: the credentials the
 * ticket was issued for, once. */
void sb_handle_ticket_redeem(struct sb_req *r)
{
	const char *name = NULL, *text = NULL, *identity, *t_app;
	struct sb_app app = {0};
	struct sb_api_error e;
	uint8_t ticket[TICKET_LEN];
	char key[TICKET_KEY_MAX];
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t version = 0, expires;
	json_t *rec = NULL;
	int rc;

	/* The application the body names, for the audit record of a
	 * refusal before the body is checked. */
	t_app = r->body ? json_string_value(json_object_get(r->body, "app"))
			: NULL;
	sb_req_audit(r, "ticket.redeem", SB_AUDIT_LOW,
		     t_app && sb_valid_name(t_app) ? t_app : NULL, NULL);
	t_app = NULL;
	if (!caller_is_redeemer(r)) {
		const struct sb_conf *c = r->gen->conf;

		sb_reply_error(r, 403, "not_a_redeemer",
			       "redeeming tickets requires the group '%s' "
			       "([access] ticket_redeemers) or a certificate "
			       "identity in [access] tls_ticket_redeemers; "
			       "uid %u (%s) is neither",
			       c->ticket_redeemers ? c->ticket_redeemers
						   : "(not configured)",
			       (unsigned)r->caller.uid, sb_caller_name(r));
		return;
	}
	if ((text = sb_body_string(r, "ticket", 1)) == NULL ||
	    (name = sb_body_string(r, "app", 1)) == NULL)
		return; /* replied 400 */
	if (!sb_valid_name(name)) {
		sb_reply_error(r, 400, "bad_request",
			       "app must be an application name (1..64 "
			       "characters of A-Z a-z 0-9 . _ -)");
		return;
	}
	if (hex_decode_ticket(text, ticket) != 0) {
		sb_reply_error(r, 400, "bad_ticket",
			       "ticket must be the %d hex digits "
			       "POST /v1/tickets returned",
			       TICKET_HEX_LEN);
		goto done;
	}
	if (ticket_key(r, ticket, key) != 0)
		goto done;
	rc = sb_api_storage_get(r, key, &val, &len, &version, &e);
	if (rc == SB_ENOTFOUND) {
		sb_reply_error(r, 404, "ticket_unknown",
			       "no such ticket: it was never issued, or "
			       "expired long ago");
		goto done;
	}
	if (rc != SB_OK) {
		sb_reply_api_error(r, &e);
		goto done;
	}
	rec = json_loadb((const char *)val, len, 0, NULL);
	t_app = json_string_value(json_object_get(rec, "app"));
	identity = json_string_value(json_object_get(rec, "identity"));
	if (t_app == NULL || identity == NULL ||
	    !json_is_integer(json_object_get(rec, "expires_ms"))) {
		sb_reply_error(r, 500, "record_damaged",
			       "the ticket's record is damaged");
		goto done;
	}
	snprintf(r->audit.target, sizeof(r->audit.target), "%s", identity);
	if (json_object_get(rec, "redeemed_ms") != NULL) {
		sb_reply_error(r, 409, "ticket_redeemed",
			       "this ticket has already been redeemed");
		goto done;
	}
	expires = (uint64_t)json_integer_value(
		json_object_get(rec, "expires_ms"));
	if (sb_wall_ms() >= expires) {
		sb_reply_error(r, 410, "ticket_expired",
			       "this ticket expired %llu s ago",
			       (unsigned long long)(sb_wall_ms() - expires) /
				       1000);
		goto done;
	}
	if (strcmp(t_app, name) != 0) {
		sb_reply_error(
			r, 403, "ticket_wrong_app",
			"this ticket was issued for another application, "
			"not %s",
			name);
		goto done;
	}
	if (sb_api_app_load(r, name, 1, &app, NULL) != 0)
		goto done;
	if (!sb_req_write_epoch(r))
		goto done;
	if (ticket_consume(r, key, rec, version) != 0)
		goto done;
	sb_api_reply_credentials(r, &app, identity, 1, 1);
done:
	explicit_bzero(ticket, sizeof(ticket));
	json_decref(rec);
	free(val);
	sb_app_clear(&app);
}
