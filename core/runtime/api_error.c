/* API errors: see api_error.h. */
#include "runtime/api_error.h"

#include "runtime/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sb_api_fail(struct sb_api_error *e, int http, const char *code,
		const char *fmt, ...)
{
	va_list ap;

	e->http = http;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int sb_api_fail_storage(struct sb_api_error *e, int status,
			const struct sb_error *err, const char *what)
{
	const char *m = err && err->msg[0] ? err->msg : sb_status_name(status);

	switch (status) {
	case SB_EUNAVAIL:
	case SB_ETIMEOUT:
		/* A write whose commit the backend never confirmed: the
		 * client must read back before retrying. Plugins say so in
		 * their message ("may or may not have been applied"). */
		if (strstr(m, "may or may not have"))
			return sb_api_fail(e, 503, "outcome_unknown",
					   "the SSO database did not confirm "
					   "the write while %s, which may or "
					   "may not have been applied: %s",
					   what, m);
		return sb_api_fail(e, 503, "storage_unavailable",
				   "SSO database unavailable while %s: %s",
				   what, m);
	case SB_EFENCED:
		return sb_api_fail(e, 409, "fenced",
				   "write refused while %s: a newer master "
				   "secret server holds the fencing epoch (%s)",
				   what, m);
	case SB_ECONFLICT:
		return sb_api_fail(e, 409, "conflict",
				   "concurrent change while %s: %s", what, m);
	default:
		return sb_api_fail(e, 500, "storage_error",
				   "SSO database error while %s: %s", what, m);
	}
}
