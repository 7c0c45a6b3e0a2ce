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

/* Storage statuses map to API errors in store/store.h's
 * store_error_to_api. */

#endif
