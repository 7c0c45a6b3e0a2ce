/* The SB_* status codes of include/secretbroker/plugin.h: names and the
 * error message a failed call carries. */
#ifndef SB_STATUS_H
#define SB_STATUS_H

#include <secretbroker/plugin.h>

/* sb_error_set, the formatter of struct sb_error, is the static inline
 * one of plugin.h, shared with the plugins. */

/* A stable lower-case name for a status code ("conflict", "fenced", ...). */
const char *sb_status_name(int status);

#endif
