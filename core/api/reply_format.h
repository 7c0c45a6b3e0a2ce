/*
 * What every request and reply writes, without printf on the hot path
 * (issue 14 item 3): the request id, the Date header, and the string
 * copies and joins that snprintf("%s...") did.
 */
#ifndef SB_REPLY_FORMAT_H
#define SB_REPLY_FORMAT_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A worker's Date header text for one second (zeroed: none yet). */
struct sb_date_cache {
	time_t at;
	char text[40];
};

/* Writes the request id into out: index (2 hex digits) then the request
 * count n (14), as "%02x%014llx" writes them. */
void sb_req_id_format(char out[17], int index, uint64_t n);

/* Adds to hdr the Date header libevent adds to an HTTP/1.1 reply (RFC
 * 7231 IMF-fixdate), formatted once a second in dc (the worker's own:
 * no lock), since libevent formats it anew for every reply. Nothing for
 * HTTP/1.0, as libevent. */
void sb_reply_add_date(struct sb_date_cache *dc, struct evhttp_request *ev,
		       struct evkeyvalq *hdr);

/* Copies the NUL-terminated src into dst of size (> 0) bytes, cut to fit
 * and NUL-terminated, as snprintf(dst, size, "%s", src). Returns
 * strlen(src). */
size_t sb_str_copy(char *dst, size_t size, const char *src);
/* Writes a, b and c (b and c may be NULL: nothing) one after the other
 * into dst of size (> 0) bytes, cut to fit and NUL-terminated, as
 * snprintf(dst, size, "%s%s%s", ...). Returns the whole length. */
size_t sb_str_join(char *dst, size_t size, const char *a, const char *b,
		   const char *c);
/* Writes v in decimal into dst of size (> 0) bytes, as snprintf "%u". */
void sb_str_uint(char *dst, size_t size, unsigned v);

#endif
