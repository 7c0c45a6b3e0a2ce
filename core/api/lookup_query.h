/*
 * The lookup's query string (GET /v1/lookup/{app}?...), read without
 * allocating: libevent's evhttp_parse_query_str builds a list with three
 * allocations per parameter, on the busiest path of the daemon.
 */
#ifndef SB_LOOKUP_QUERY_H
#define SB_LOOKUP_QUERY_H

#include "api/records.h"

/* The lookup's query parameters. */
struct lookup_query {
	int bypass;		    /* cache=bypass */
	int show;		    /* show_masked=1 or true */
	int has_user;		    /* user= given (even empty) */
	char user[SB_NAME_MAX + 2]; /* decoded; longer values are cut,
				     * so they stay invalid */
};

/* Reads the query string q (NULL: none) into *lq as
 * evhttp_parse_query_str and evhttp_find_header read it: values
 * percent-decoded ('+' a space), the first occurrence of a key counts,
 * keys compare without case, and a query libevent refuses (an argument
 * without '=' or with an empty key) is ignored whole. */
void sb_lookup_query_parse(const char *q, struct lookup_query *lq);

#endif
