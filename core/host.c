/* Host services for plugins: see host.h. */
#define _GNU_SOURCE
#include "host.h"

#include "log.h"
#include "secure_mem.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

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

const char *sb_config_value_at(const struct sb_config *cfg, size_t i)
{
	return i < cfg->n ? cfg->values[i] : NULL;
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

static const char *config_section(const struct sb_config *cfg)
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
				    config_section(cfg), key, v);
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
			    config_section(cfg), key, v);
}

struct host_private {
	char prefix[128];
	char *state_dir;
	char *node_name;
};

static void host_log(const struct sb_host *host, int level, const char *fmt,
		     ...)
{
	const struct host_private *hp = host->host_private;
	va_list ap;

	va_start(ap, fmt);
	sb_logv(level, hp ? hp->prefix : "plugin", fmt, ap);
	va_end(ap);
}

uint64_t sb_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t sb_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

char *sb_iso_time(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

struct sb_host *sb_host_new(const char *kind, const char *plugin_name,
			    const char *state_dir, const char *node_name)
{
	struct sb_host *host = calloc(1, sizeof(*host));
	struct host_private *hp = calloc(1, sizeof(*hp));

	if (host == NULL || hp == NULL)
		goto fail;
	snprintf(hp->prefix, sizeof(hp->prefix), "%s/%s", kind, plugin_name);
	hp->state_dir = strdup(state_dir ? state_dir : "");
	hp->node_name = strdup(node_name ? node_name : "");
	if (hp->state_dir == NULL || hp->node_name == NULL)
		goto fail;
	host->size = sizeof(*host);
	host->version = SB_HOST_VERSION;
	host->log = host_log;
	host->secure_alloc = sb_secure_alloc;
	host->secure_free = sb_secure_free;
	host->config_get = sb_config_get;
	host->config_get_int = sb_config_get_int;
	host->config_get_bool = sb_config_get_bool;
	host->config_section = config_section;
	host->wall_ms = sb_wall_ms;
	host->mono_ms = sb_mono_ms;
	host->state_dir = hp->state_dir;
	host->node_name = hp->node_name;
	host->host_private = hp;
	return host;
fail:
	if (hp) {
		free(hp->state_dir);
		free(hp->node_name);
	}
	free(hp);
	free(host);
	return NULL;
}

void sb_host_free(struct sb_host *host)
{
	struct host_private *hp;

	if (host == NULL)
		return;
	hp = host->host_private;
	if (hp) {
		free(hp->state_dir);
		free(hp->node_name);
		free(hp);
	}
	free(host);
}

int sb_error_set(struct sb_error *err, int status, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return status;
}

const char *sb_status_name(int status)
{
	switch (status) {
	case SB_OK: return "ok";
	case SB_ENOTFOUND: return "not_found";
	case SB_ECONFLICT: return "conflict";
	case SB_EFENCED: return "fenced";
	case SB_EBUSY: return "busy";
	case SB_EUNAVAIL: return "unavailable";
	case SB_ETIMEOUT: return "timeout";
	case SB_EINVAL: return "invalid";
	case SB_ENOMEM: return "no_memory";
	case SB_EAUTH: return "auth_failed";
	case SB_ENOTSUP: return "not_supported";
	case SB_EEXPIRED: return "expired";
	default: return "error";
	}
}
