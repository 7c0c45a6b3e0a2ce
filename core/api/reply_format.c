/* The request id and the Date header: see reply_format.h. */
#include "api/reply_format.h"

#include <event2/http_struct.h>
#include <stdio.h>
#include <string.h>

/* See reply_format.h. */
void sb_req_id_format(char out[17], int index, uint64_t n)
{
	static const char hex[] = "0123456789abcdef";
	uint64_t v =
		((uint64_t)(index & 0xff) << 56) | (n & 0xffffffffffffffULL);

	for (int i = 15; i >= 0; i--) {
		out[i] = hex[v & 15];
		v >>= 4;
	}
	out[16] = '\0';
}

/* See reply_format.h. */
void sb_reply_add_date(struct sb_date_cache *dc, struct evhttp_request *ev,
		       struct evkeyvalq *hdr)
{
	static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed",
					"Thu", "Fri", "Sat"};
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec"};
	time_t now = time(NULL);
	struct tm tm;

	if (ev->major != 1 || ev->minor < 1)
		return;
	if (now != dc->at || dc->text[0] == '\0') {
		if (gmtime_r(&now, &tm) == NULL)
			return; /* libevent then adds its own */
		snprintf(dc->text, sizeof(dc->text),
			 "%s, %02d %s %4d %02d:%02d:%02d GMT", days[tm.tm_wday],
			 tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
			 tm.tm_hour, tm.tm_min, tm.tm_sec);
		dc->at = now;
	}
	evhttp_add_header(hdr, "Date", dc->text);
}

/* See reply_format.h. */
size_t sb_str_copy(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src), n = len < size - 1 ? len : size - 1;

	memcpy(dst, src, n);
	dst[n] = '\0';
	return len;
}

/* See reply_format.h. */
size_t sb_str_join(char *dst, size_t size, const char *a, const char *b,
		   const char *c)
{
	const char *part[3] = {a, b, c};
	size_t at = 0, total = 0;

	for (int i = 0; i < 3; i++) {
		size_t len, n;

		if (part[i] == NULL)
			continue;
		len = strlen(part[i]);
		n = len < size - 1 - at ? len : size - 1 - at;
		memcpy(dst + at, part[i], n);
		at += n;
		total += len;
	}
	dst[at] = '\0';
	return total;
}

/* See reply_format.h. */
void sb_str_uint(char *dst, size_t size, unsigned v)
{
	char tmp[16];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n && i < size - 1; i++)
		dst[i] = tmp[n - 1 - i];
	dst[n < size - 1 ? n : size - 1] = '\0';
}
