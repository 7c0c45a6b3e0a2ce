/* One configuration section as plugins see it: see section.h. */
#define _GNU_SOURCE
#include "runtime/section.h"

#include "runtime/status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sb_config {
	char *section;
	size_t n, cap;
	char **keys;
	char **values;
};

struct sb_config *sb_config_new(const char *section)
{
	struct sb_config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	cfg->section = strdup(section ? section : "");
	if (cfg->section == NULL) {
		free(cfg);
		return NULL;
	}
	return cfg;
}

int sb_config_set(struct sb_config *cfg, const char *key, const char *value)
{
	char *v;

	v = strdup(value ? value : "");
	if (v == NULL)
		return -1;
	for (size_t i = 0; i < cfg->n; i++) {
		if (strcmp(cfg->keys[i], key) == 0) {
			free(cfg->values[i]);
			cfg->values[i] = v;
			return 0;
		}
	}
	if (cfg->n == cfg->cap) {
		size_t cap = cfg->cap ? cfg->cap * 2 : 8;
		char **k = realloc(cfg->keys, cap * sizeof(*k));

		if (k == NULL)
			goto fail;
		cfg->keys = k;
		char **vv = realloc(cfg->values, cap * sizeof(*vv));
		if (vv == NULL)
			goto fail;
		cfg->values = vv;
		cfg->cap = cap;
	}
	cfg->keys[cfg->n] = strdup(key);
	if (cfg->keys[cfg->n] == NULL)
		goto fail;
	cfg->values[cfg->n] = v;
	cfg->n++;
	return 0;
fail:
	free(v);
	return -1;
}

size_t sb_config_count(const struct sb_config *cfg)
{
	return cfg ? cfg->n : 0;
}

const char *sb_config_key_at(const struct sb_config *cfg, size_t i)
{
	return i < cfg->n ? cfg->keys[i] : NULL;
}

int sb_config_equal(const struct sb_config *a, const struct sb_config *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++) {
		const char *v = sb_config_get(b, a->keys[i], NULL);

		if (v == NULL || strcmp(v, a->values[i]) != 0)
			return 0;
	}
	return 1;
}

void sb_config_free(struct sb_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->n; i++) {
		free(cfg->keys[i]);
		/* Values may hold passwords or conninfo strings. */
		explicit_bzero(cfg->values[i], strlen(cfg->values[i]));
		free(cfg->values[i]);
	}
	free(cfg->keys);
	free(cfg->values);
	free(cfg->section);
	free(cfg);
}

const char *sb_config_get(const struct sb_config *cfg, const char *key,
			  const char *def)
{
	if (cfg == NULL)
		return def;
	for (size_t i = 0; i < cfg->n; i++)
		if (strcmp(cfg->keys[i], key) == 0)
			return cfg->values[i];
	return def;
}

const char *sb_config_section(const struct sb_config *cfg)
{
	return cfg ? cfg->section : "";
}

int sb_config_get_int(const struct sb_config *cfg, const char *key,
		      long long def, long long *out, struct sb_error *err)
{
	const char *v = sb_config_get(cfg, key, NULL);
	char *end;
	long long n;

	if (v == NULL || *v == '\0') {
		*out = def;
		return SB_OK;
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return sb_error_set(err, SB_EINVAL,
				    "[%s] %s: \"%s\" is not an integer",
				    sb_config_section(cfg), key, v);
	*out = n;
	return SB_OK;
}

int sb_config_get_bool(const struct sb_config *cfg, const char *key, int def,
		       int *out, struct sb_error *err)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};
	const char *v = sb_config_get(cfg, key, NULL);

	if (v == NULL || *v == '\0') {
		*out = def;
		return SB_OK;
	}
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return SB_OK;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return SB_OK;
		}
	}
	return sb_error_set(err, SB_EINVAL,
			    "[%s] %s: \"%s\" is not a boolean (true/false)",
			    sb_config_section(cfg), key, v);
}
