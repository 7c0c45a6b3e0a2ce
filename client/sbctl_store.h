/*
 * The credential-store commands' local work, apart from the requests: the
 * --fields list, KEY=VALUE arguments, an import file and a JSON object of
 * values read from standard input, each turned into the JSON the API takes
 * (docs/api.md, "Credential store"). No I/O here, so the unit tests cover
 * every case.
 *
 * Messages never quote a value: one may be a password.
 */
#ifndef SBCTL_STORE_H
#define SBCTL_STORE_H

#include <jansson.h>
#include <stddef.h>

/*
 * Parses a --fields list, "LABEL[:masked],..." (e.g. "user,password:masked"),
 * into the API's fields array [{"label": "user", "masked": false}, ...].
 * Labels are checked as names (1..64 of A-Z a-z 0-9 . _ -) and must be
 * unique. Returns the new array (the caller owns it), or NULL with err
 * saying which entry is wrong.
 */
json_t *sbctl_fields_parse(const char *list, char *err, size_t errlen);

/*
 * Parses n KEY=VALUE arguments into an object {"KEY": "VALUE", ...}. The
 * value is everything after the first '=' and may be empty; keys are
 * checked as names and must be unique. Returns the new object, or NULL with
 * err naming the argument's key or position (never its value).
 */
json_t *sbctl_pairs_parse(char *const *args, int n, char *err, size_t errlen);

/*
 * Turns the content of an import file (data, len bytes, read from path) into
 * the body of POST /v1/apps/import, {"apps": [...]}: the file holds either
 * that object or a bare array. Checks only the shape; the daemon checks each
 * application. Returns the new body, or NULL with err naming path (and the
 * line and column of a JSON error).
 */
json_t *sbctl_import_body(const char *data, size_t len, const char *path,
			  char *err, size_t errlen);

/*
 * Parses what (e.g. "the credentials") given as one JSON object of string
 * values, {"user": "bob", "password": "..."}, from data (len bytes, read
 * from standard input). Returns the new object, or NULL with err; a JSON
 * syntax error is reported by line and column only, since jansson's own
 * text quotes the input.
 */
json_t *sbctl_values_parse(const char *data, size_t len, const char *what,
			   char *err, size_t errlen);

#endif
