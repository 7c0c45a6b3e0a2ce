/* The lookup's query string: see lookup_query.h. */
#include "api/lookup_query.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Percent-decodes the len bytes at s ('+' a space) into out (size bytes,
 * NUL-terminated, cut to fit), as libevent decodes a query value. */
static void query_decode(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 1 < size; i++) {
		char c = s[i];

		if (c == '+') {
			c = ' ';
		} else if (c == '%' && i + 2 < len &&
			   isxdigit((unsigned char)s[i + 1]) &&
			   isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = {s[i + 1], s[i + 2], '\0'};

			c = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		out[o++] = c;
	}
	out[o] = '\0';
}

/* See lookup_query.h. */
void sb_lookup_query_parse(const char *q, struct lookup_query *lq)
{
	struct lookup_query got = {0};
	int seen_cache = 0, seen_show = 0;
	char v[8];

	memset(lq, 0, sizeof(*lq));
	if (q == NULL)
		return;
	for (const char *a = q;; a++) {
		const char *end = a + strcspn(a, "&");
		const char *eq = memchr(a, '=', (size_t)(end - a));
		size_t klen = eq ? (size_t)(eq - a) : 0;
		const char *val = eq ? eq + 1 : NULL;
		size_t vlen = eq ? (size_t)(end - val) : 0;

		if (eq == NULL || klen == 0)
			return; /* refused whole: no parameter applies */
		if (klen == 5 && strncasecmp(a, "cache", 5) == 0 &&
		    !seen_cache) {
			seen_cache = 1;
			query_decode(val, vlen, v, sizeof(v));
			got.bypass = strcmp(v, "bypass") == 0;
		} else if (klen == 11 &&
			   strncasecmp(a, "show_masked", 11) == 0 &&
			   !seen_show) {
			seen_show = 1;
			query_decode(val, vlen, v, sizeof(v));
			got.show =
				strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
		} else if (klen == 4 && strncasecmp(a, "user", 4) == 0 &&
			   !got.has_user) {
			got.has_user = 1;
			query_decode(val, vlen, got.user, sizeof(got.user));
		}
		a = end;
		/* As libevent: a '&' that ends the query ends it. */
		if (*a == '\0' || a[1] == '\0')
			break;
	}
	*lq = got;
}
