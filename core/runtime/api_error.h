/*
 * An error bound for an API response: HTTP status, a stable machine code and
 * one human sentence. Core functions that serve the API fill one instead of
 * returning bare status codes, so the message that names what and where is
 * written once, where the failure is understood.
 */
#ifndef SB_API_ERROR_H
#define SB_API_ERROR_H

#include <secretbroker/plugin.h>

struct sb_api_error {
	int http;	  /* e.g. 409 */
	const char *code; /* static string, e.g. "secret_exists" */
	char msg[SB_ERROR_MAX + 128];
};

/* Fills e and returns -1, so callers can `return sb_api_fail(e, ...)`. */
int sb_api_fail(struct sb_api_error *e, int http, const char *code,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Maps a storage status (and its message) to an API error: unavailable and
 * timeout become 503 storage_unavailable, fenced 409 fenced, conflict 409
 * conflict, anything else 500 storage_error. what says what was being done
 * ("reading secret/current"). Returns -1. */
int sb_api_fail_storage(struct sb_api_error *e, int status,
			const struct sb_error *err, const char *what);

#endif
