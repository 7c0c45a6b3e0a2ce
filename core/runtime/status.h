/* The SB_* status codes of include/secretbroker/plugin.h: names and the
 * error message a failed call carries. */
#ifndef SB_STATUS_H
#define SB_STATUS_H

#include <secretbroker/plugin.h>

/* Formats into err (snprintf semantics, truncates; err may be NULL).
 * Returns status, so callers can write `return sb_error_set(err, ...)`. */
int sb_error_set(struct sb_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A stable lower-case name for a status code ("conflict", "fenced", ...). */
const char *sb_status_name(int status);

#endif
