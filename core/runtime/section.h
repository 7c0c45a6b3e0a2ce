/*
 * struct sb_config: one configuration section (a copy of its key/value
 * strings, in insertion order), so plugins never see iniparser. The same
 * lookups reach plugins through struct sb_host.
 */
#ifndef SB_SECTION_H
#define SB_SECTION_H

#include <secretbroker/plugin.h>

#include <stddef.h>

/* Returns an empty section named section (copied), or NULL on ENOMEM. */
struct sb_config *sb_config_new(const char *section);
/* Adds or replaces key. Copies both strings. Returns 0 or -1 (ENOMEM). */
int sb_config_set(struct sb_config *cfg, const char *key, const char *value);
/* Number of keys, and the i-th key (for iteration and comparison). */
size_t sb_config_count(const struct sb_config *cfg);
const char *sb_config_key_at(const struct sb_config *cfg, size_t i);
/* Returns 1 when both hold the same keys with the same values. */
int sb_config_equal(const struct sb_config *a, const struct sb_config *b);
/* Frees cfg and its strings (values wiped first). NULL is a no-op. */
void sb_config_free(struct sb_config *cfg);

/* The section's name ("storage"); "" for NULL. Owned by cfg. */
const char *sb_config_section(const struct sb_config *cfg);
/* Returns key's value (owned by cfg) or def. */
const char *sb_config_get(const struct sb_config *cfg, const char *key,
			  const char *def);
/* Parse key as an integer or a boolean; def when absent. SB_OK, or
 * SB_EINVAL with err naming the section and key. */
int sb_config_get_int(const struct sb_config *cfg, const char *key,
		      long long def, long long *out, struct sb_error *err);
int sb_config_get_bool(const struct sb_config *cfg, const char *key, int def,
		       int *out, struct sb_error *err);

#endif
