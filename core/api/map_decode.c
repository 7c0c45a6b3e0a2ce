/* Mapping records decoded for the lookup: see map_decode.h. */
#define _GNU_SOURCE
#include "api/map_decode.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A place in the record being scanned. */
struct scan {
	const char *p, *end;
};

/* A string without escapes: its bytes between the quotes. */
struct span {
	const char *s;
	size_t n;
};

static void skip_ws(struct scan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
				   *sc->p == '\n' || *sc->p == '\r'))
		sc->p++;
}

/* Takes the expected character c (after white space). Returns 1 or 0. */
static int take(struct scan *sc, char c)
{
	skip_ws(sc);
	if (sc->p >= sc->end || *sc->p != c)
		return 0;
	sc->p++;
	return 1;
}

/* A string of printable ASCII without escapes into *sp. Returns 1, or 0
 * for anything else (then jansson reads the record). */
static int plain_string(struct scan *sc, struct span *sp)
{
	if (!take(sc, '"'))
		return 0;
	sp->s = sc->p;
	while (sc->p < sc->end && *sc->p != '"') {
		unsigned char ch = (unsigned char)*sc->p;

		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			return 0;
		sc->p++;
	}
	if (sc->p >= sc->end)
		return 0;
	sp->n = (size_t)(sc->p - sp->s);
	sc->p++;
	return 1;
}

static int is_digit(struct scan *sc)
{
	return sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9';
}

/* An integer of at most 18 digits, which jansson reads without
 * overflow. Returns 1, or 0 for anything else (fractions, exponents and
 * long integers are left to jansson, which may refuse them). */
static int number(struct scan *sc)
{
	const char *start;

	if (sc->p < sc->end && *sc->p == '-')
		sc->p++;
	start = sc->p;
	if (!is_digit(sc))
		return 0;
	if (*sc->p++ != '0')
		while (is_digit(sc))
			sc->p++;
	if (sc->p - start > 18)
		return 0;
	return sc->p >= sc->end ||
	       (*sc->p != '.' && *sc->p != 'e' && *sc->p != 'E');
}

/* The literal word at the scan position. Returns 1 or 0. */
static int literal(struct scan *sc, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, word, n) != 0)
		return 0;
	sc->p += n;
	return 1;
}

/* A scalar value (plain string, number, true, false, null); *is_true set
 * for true. Returns 1, or 0 for anything else (arrays, objects...). */
static int scalar(struct scan *sc, int *is_true)
{
	struct span sp;

	*is_true = 0;
	skip_ws(sc);
	if (sc->p >= sc->end)
		return 0;
	switch (*sc->p) {
	case '"': return plain_string(sc, &sp);
	case 't': return (*is_true = literal(sc, "true"));
	case 'f': return literal(sc, "false");
	case 'n': return literal(sc, "null");
	default: return number(sc);
	}
}

/* "fields": an array of plain strings, at most SB_FIELDS_MAX. */
static int fields_array(struct scan *sc, struct span *f, size_t *n)
{
	*n = 0;
	if (!take(sc, '['))
		return 0;
	skip_ws(sc);
	if (sc->p < sc->end && *sc->p == ']') {
		sc->p++;
		return 1;
	}
	for (;;) {
		if (*n == SB_FIELDS_MAX || !plain_string(sc, &f[*n]))
			return 0;
		(*n)++;
		skip_ws(sc);
		if (sc->p < sc->end && *sc->p == ']') {
			sc->p++;
			return 1;
		}
		if (!take(sc, ','))
			return 0;
	}
}

/* See map_decode.h. */
int sb_map_decode_fast(const uint8_t *raw, size_t len, void **out,
		       size_t *out_len)
{
	struct scan sc = {(const char *)raw, (const char *)raw + len};
	struct span msid = {NULL, 0}, key, f[SB_FIELDS_MAX];
	struct map_rec *m = NULL;
	size_t n_fields = 0, total = 0;
	int enabled = 0, seen_en = 0, seen_fields = 0, is_true;

	if (!take(&sc, '{'))
		return 0;
	skip_ws(&sc);
	if (sc.p < sc.end && *sc.p == '}')
		return 0; /* no msid: jansson says damaged */
	for (;;) {
		if (!plain_string(&sc, &key) || !take(&sc, ':'))
			return 0;
		if (key.n == 4 && memcmp(key.s, "msid", 4) == 0) {
			if (msid.s || !plain_string(&sc, &msid))
				return 0;
		} else if (key.n == 6 && memcmp(key.s, "fields", 6) == 0) {
			if (seen_fields || !fields_array(&sc, f, &n_fields))
				return 0;
			seen_fields = 1;
		} else if (key.n == 7 && memcmp(key.s, "enabled", 7) == 0) {
			if (seen_en || !scalar(&sc, &is_true))
				return 0;
			seen_en = 1;
			enabled = is_true;
		} else if (!scalar(&sc, &is_true)) {
			return 0;
		}
		if (take(&sc, '}'))
			break;
		if (!take(&sc, ','))
			return 0;
	}
	skip_ws(&sc);
	if (sc.p != sc.end || msid.s == NULL || msid.n > SB_MSID_MAX ||
	    !seen_fields)
		return 0;
	for (size_t i = 0; i < n_fields; i++) {
		if (f[i].n == 0 || f[i].n % 4 != 0)
			return 0;
		total += f[i].n / 4 * 3 + 1;
	}
	m = calloc(1, sizeof(*m) + total);
	if (m == NULL)
		return 0; /* jansson's path fails alike */
	m->enabled = enabled;
	memcpy(m->msid, msid.s, msid.n);
	m->n_fields = n_fields;
	total = 0;
	for (size_t i = 0; i < n_fields; i++) {
		int n = EVP_DecodeBlock(m->blob + total,
					(const unsigned char *)f[i].s,
					(int)f[i].n);
		size_t bl;

		if (n < 0) {
			free(m);
			return 0;
		}
		/* As sb_b64_decode: padding is not data. */
		bl = (size_t)n;
		if (bl && f[i].s[f[i].n - 1] == '=')
			bl--;
		if (bl && f[i].s[f[i].n - 2] == '=')
			bl--;
		m->off[i] = total;
		m->len[i] = bl;
		total += bl;
	}
	*out_len = sizeof(*m) + total;
	*out = m;
	return 1;
}

/* See map_decode.h. */
void *sb_map_decode(const uint8_t *raw, size_t len, size_t *out_len)
{
	void *m;

	if (sb_map_decode_fast(raw, len, &m, out_len))
		return m;
	return sb_map_decode_jansson(raw, len, out_len);
}

/* See map_decode.h. */
void *sb_map_decode_jansson(const uint8_t *raw, size_t len, size_t *out_len)
{
	json_t *rec = json_loadb((const char *)raw, len, 0, NULL);
	json_t *fields = json_object_get(rec, "fields"), *f;
	const char *msid = json_string_value(json_object_get(rec, "msid"));
	struct map_rec *m = NULL;
	size_t i, total = 0;

	if (rec == NULL || msid == NULL || strlen(msid) > SB_MSID_MAX ||
	    !json_is_array(fields) || json_array_size(fields) > SB_FIELDS_MAX)
		goto done;
	json_array_foreach(fields, i, f)
	{
		if (!json_is_string(f))
			goto done;
		total += json_string_length(f) / 4 * 3 + 1;
	}
	m = calloc(1, sizeof(*m) + total);
	if (m == NULL)
		goto done;
	m->enabled = json_is_true(json_object_get(rec, "enabled"));
	snprintf(m->msid, sizeof(m->msid), "%s", msid);
	m->n_fields = json_array_size(fields);
	total = 0;
	json_array_foreach(fields, i, f)
	{
		uint8_t *b;
		size_t bl;

		if (sb_b64_decode(json_string_value(f), &b, &bl) != 0) {
			free(m);
			m = NULL;
			goto done;
		}
		memcpy(m->blob + total, b, bl);
		free(b);
		m->off[i] = total;
		m->len[i] = bl;
		total += bl;
	}
	*out_len = sizeof(*m) + total;
done:
	json_decref(rec);
	return m;
}
