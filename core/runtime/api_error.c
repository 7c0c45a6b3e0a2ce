/* API errors: see api_error.h. */
#include "runtime/api_error.h"

#include <stdarg.h>
#include <stdio.h>

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
