/*
 * Auditing (ENTSSO's audit levels): one structured record per success and
 * per refusal of a secret, application, mapping, config or lookup
 * operation, appended as one JSON line to the audit file.
 *
 * Levels as in ENTSSO: 0 none, 1 low, 2 medium, 3 high. An operation has a
 * level (docs/audit.md lists which operation falls where); its event is
 * written when 1 <= level <= the configured level for its outcome (the
 * positive level for a success, the negative level for a refusal or a
 * failure). A configured level of 0 writes nothing for that outcome; an
 * event of level 0 is never written.
 *
 * A record never holds a secret or a masked value: the event carries only
 * names, ids and codes, and `detail` is short human text the caller must
 * keep free of secrets.
 *
 * Thread safety: every function but sb_audit_open and sb_audit_close may be
 * called from any thread at any time on the same handle. sb_audit_close must
 * not race with any other call on the handle.
 */
#ifndef SB_AUDIT_H
#define SB_AUDIT_H

#include <stddef.h>
#include <sys/types.h>

enum sb_audit_level {
	SB_AUDIT_NONE = 0,
	SB_AUDIT_LOW = 1,
	SB_AUDIT_MEDIUM = 2,
	SB_AUDIT_HIGH = 3
};

/* ENTSSO's defaults: successes not audited, refusals and failures at low. */
#define SB_AUDIT_DEFAULT_POSITIVE SB_AUDIT_NONE
#define SB_AUDIT_DEFAULT_NEGATIVE SB_AUDIT_LOW

/* Longest text kept of any one string field, in bytes; longer values are
 * cut at a character boundary and end in "..." (a record stays one modest
 * line, whatever a client sent). */
#define SB_AUDIT_FIELD_MAX 512

struct sb_audit; /* one per daemon */

/* One event. Every pointer is borrowed for the duration of the call only;
 * NULL strings are written as JSON null. Strings need not be valid UTF-8:
 * invalid bytes are written as U+FFFD. */
struct sb_audit_event {
	const char *operation; /* stable name: "secret.generate", "app.create",
				  "mapping.set", "lookup", "config.get", ...
				  (required) */
	int level;	       /* enum sb_audit_level of this operation */
	int success;	       /* 1 success, 0 refusal or failure */
	uid_t uid;	       /* caller */
	const char *user;      /* caller's user name (or NULL: uid only) */
	const char *app;       /* may be NULL */
	const char *target;    /* target identity / config id / MSID; may be
				  NULL */
	const char *result; /* "ok" or the API error code, e.g. "forbidden" */
	int http_status;
	const char *request_id;
	const char *detail; /* optional short human text; NEVER a secret or
			       masked value */
};

/* Opens (creating 0600, O_APPEND) the audit file. path NULL = auditing off:
 * the levels are still kept and checked, sb_audit_write then writes nothing
 * and returns 0. The levels must be 0..3. An existing file must be a
 * regular file (or a character device such as /dev/null) and, if regular,
 * not writable by others (anyone could forge records). Returns the handle
 * (free with sb_audit_close), or NULL with msg naming the path and the
 * reason. */
struct sb_audit *sb_audit_open(const char *path, int positive_level,
			       int negative_level, char *msg, size_t msglen);

/* 1 when an event of this level and outcome would be written (levels only,
 * whether or not a file is open). Cheap, lock-free. Note the 403 rule of
 * sb_audit_event_level: for a precheck, pass the level it returns. */
int sb_audit_wants(const struct sb_audit *a, int level, int success);

/* The level an event is filtered at: its own level, except that a refusal
 * with HTTP status 403 is always at most SB_AUDIT_LOW (an access attempt the
 * caller was not entitled to is the first thing an auditor looks for,
 * whatever the operation). sb_audit_write applies this itself. */
int sb_audit_event_level(const struct sb_audit_event *ev);

/* Writes one record: a JSON object on one line, fields in this order:
 * time (RFC 3339 UTC with milliseconds), uid, user, operation, success,
 * level, app, target, result, http_status, request_id, detail. The line
 * goes out with one write(2) under the handle's mutex, so lines never
 * interleave. Skips (returns 0) events the levels don't want, and wanted
 * events when auditing is off. Returns 0, or -1 with msg naming the file
 * and the errno text when the record could not be written (disk full, I/O
 * error...): the caller then fails the operation closed. A record cut short
 * by such an error is truncated away again where possible, so the file
 * keeps whole lines. Also -1 for an event without an operation. */
int sb_audit_write(struct sb_audit *a, const struct sb_audit_event *ev,
		   char *msg, size_t msglen);

/* Reopens the file at the same path (log rotation on SIGHUP): opens the new
 * one first (same checks as sb_audit_open), swaps it in under the mutex,
 * then closes the old one, so no record is lost or written to neither.
 * With auditing off, does nothing and returns 0. Returns 0, or -1 with msg
 * (the old file is kept on failure and records keep going to it). */
int sb_audit_reopen(struct sb_audit *a, char *msg, size_t msglen);

/* Changes the levels (reload); values outside 0..3 are clamped. The pair
 * changes at once: a reader sees either the old or the new pair. */
void sb_audit_set_levels(struct sb_audit *a, int positive_level,
			 int negative_level);

/* The current levels (for the status API). */
void sb_audit_get_levels(const struct sb_audit *a, int *positive_level,
			 int *negative_level);

/* The audit file's path, or NULL when auditing is off. Owned by a. */
const char *sb_audit_path(const struct sb_audit *a);

/* Parses a configured level: "0".."3" or "none", "low", "medium", "high"
 * (case-insensitive). Returns 0 with *level set, or -1 if text is none of
 * these. */
int sb_audit_level_parse(const char *text, int *level);

/* Closes the file and frees a. NULL is a no-op. */
void sb_audit_close(struct sb_audit *a);

#endif
