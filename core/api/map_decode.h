/*
 * A mapping record (map/APP/IDENTITY, JSON) as the lookup keeps it in the
 * thread's cache: still sealed, base64 decoded, no JSON left. Records of
 * the shape the daemon writes are read by a small scanner; anything else
 * (escapes, non-ASCII, nested values, repeated keys...) goes to jansson,
 * which then decides, so both read every record alike.
 */
#ifndef SB_MAP_DECODE_H
#define SB_MAP_DECODE_H

#include "api/records.h"

#include <stddef.h>
#include <stdint.h>

/* A decoded mapping record. */
struct map_rec {
	int enabled;
	char msid[SB_MSID_MAX + 1];
	size_t n_fields;
	size_t off[SB_FIELDS_MAX], len[SB_FIELDS_MAX]; /* into blob */
	uint8_t blob[];
};

/* The mapping record raw (len bytes of JSON) as a malloc'ed struct
 * map_rec (the caller frees it), *out_len its size; NULL for a damaged
 * record. The decode of the cache's map/ entries. */
void *sb_map_decode(const uint8_t *raw, size_t len, size_t *out_len);

/* The scanner alone: 1 with *out and *out_len as sb_map_decode gives
 * them, or 0 when the record is not of the plain shape (or damaged) and
 * jansson must read it. */
int sb_map_decode_fast(const uint8_t *raw, size_t len, void **out,
		       size_t *out_len);
/* The jansson reading alone (the reference the scanner is tested
 * against): as sb_map_decode. */
void *sb_map_decode_jansson(const uint8_t *raw, size_t len, size_t *out_len);

#endif
