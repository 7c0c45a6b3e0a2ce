/*
 * The host side of the plugin ABI: the concrete struct sb_config (a copied
 * section of key/value strings, so plugins never see iniparser), and the
 * struct sb_host services table handed to each plugin instance.
 */
#ifndef SB_HOST_H
#define SB_HOST_H

#include <secretbroker/plugin.h>

/* struct sb_config: one section's keys, in insertion order. */
struct sb_config *sb_config_new(const char *section);
/* Adds or replaces key. Copies both strings. Returns 0 or -1 (ENOMEM). */
int sb_config_set(struct sb_config *cfg, const char *key, const char *value);
/* Number of keys, and the i-th key/value (for iteration and comparison). */
size_t sb_config_count(const struct sb_config *cfg);
const char *sb_config_key_at(const struct sb_config *cfg, size_t i);
const char *sb_config_value_at(const struct sb_config *cfg, size_t i);
/* Returns 1 when both hold the same keys with the same values. */
int sb_config_equal(const struct sb_config *a, const struct sb_config *b);
/* Frees cfg and its strings. NULL is a no-op. */
void sb_config_free(struct sb_config *cfg);

/* The same lookups plugins reach through struct sb_host. */
const char *sb_config_get(const struct sb_config *cfg, const char *key,
			  const char *def);
int sb_config_get_int(const struct sb_config *cfg, const char *key,
		      long long def, long long *out, struct sb_error *err);
int sb_config_get_bool(const struct sb_config *cfg, const char *key, int def,
		       int *out, struct sb_error *err);

/* Allocates a host services table for one plugin instance. The log prefix
 * is "<kind>/<plugin_name>"; state_dir and node_name are copied and live as
 * long as the table. Returns NULL on ENOMEM. */
struct sb_host *sb_host_new(const char *kind, const char *plugin_name,
			    const char *state_dir, const char *node_name);
void sb_host_free(struct sb_host *host);

uint64_t sb_wall_ms(void);
uint64_t sb_mono_ms(void);

/* Formats a wall-clock time in milliseconds since the epoch as RFC 3339 UTC
 * with second precision ("2026-11-25T14:00:00Z") into out (at least 21
 * bytes). Returns out. */
char *sb_iso_time(uint64_t ms, char *out, size_t len);

/* Formats into err (snprintf semantics, truncates). Returns status, so a
 * plugin can write `return sb_error_set(err, SB_EINVAL, "...")`. */
int sb_error_set(struct sb_error *err, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A stable lower-case name for a status code ("conflict", "fenced", ...). */
const char *sb_status_name(int status);

#endif
