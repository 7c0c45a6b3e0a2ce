/* Duplicate keys in the INI file: see ini_dups.h. */
#define _GNU_SOURCE
#include "runtime/ini_dups.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INI_NAME_MAX 256

struct seen_key {
	char name[2 * INI_NAME_MAX + 2]; /* "section:key", lower case */
	int line;
};

/* Trims s in place and lowers its case; returns it. */
static char *trim_lower(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	for (char *c = s; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return s;
}

size_t sb_ini_find_duplicates(const char *path, struct sb_errlist *errs)
{
	FILE *f = fopen(path, "r");
	struct seen_key *seen = NULL;
	size_t n_seen = 0, cap = 0, found = 0;
	char section[INI_NAME_MAX] = "";
	char *buf = NULL;
	size_t bufcap = 0;
	int lineno = 0, continued = 0;

	if (f == NULL)
		return 0;
	while (getline(&buf, &bufcap, f) >= 0) {
		char *line, *eq;
		size_t len;
		int was_continued = continued;

		lineno++;
		len = strlen(buf);
		while (len > 0 && isspace((unsigned char)buf[len - 1]))
			buf[--len] = '\0'; /* as iniparser, before the '\\' */
		continued = len > 0 && buf[len - 1] == '\\';
		if (was_continued)
			continue; /* the rest of the previous line's value */
		line = trim_lower(buf);
		if (*line == '\0' || *line == ';' || *line == '#')
			continue;
		if (*line == '[') {
			char *close = strchr(line, ']');

			if (close) {
				*close = '\0';
				snprintf(section, sizeof(section), "%s",
					 trim_lower(line + 1));
			}
			continue;
		}
		eq = strchr(line, '=');
		if (eq == NULL)
			continue; /* a syntax error iniparser reports */
		*eq = '\0';
		line = trim_lower(line);
		if (n_seen == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct seen_key *m = realloc(seen, ncap * sizeof(*m));

			if (m == NULL)
				break;
			seen = m;
			cap = ncap;
		}
		snprintf(seen[n_seen].name, sizeof(seen[n_seen].name), "%s:%s",
			 section, line);
		seen[n_seen].line = lineno;
		for (size_t i = 0; i < n_seen; i++) {
			if (strcmp(seen[i].name, seen[n_seen].name) != 0)
				continue;
			sb_errlist_add(errs,
				       "%s:%d: [%s] %s: set twice (first on "
				       "line %d); keep one",
				       path, lineno, section, line,
				       seen[i].line);
			found++;
			break;
		}
		n_seen++;
	}
	free(buf);
	free(seen);
	fclose(f);
	return found;
}
