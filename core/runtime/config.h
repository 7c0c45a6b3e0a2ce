/*
 * The daemon's configuration: one INI file (iniparser), a section per part.
 * sb_conf_load parses and validates a whole file and either returns a
 * complete struct sb_conf or every error found, each naming file, section
 * and key. It has no side effects: plugins are loaded and opened by
 * generation.c, which turns a struct sb_conf into a running generation.
 */
#ifndef SB_CONFIG_H
#define SB_CONFIG_H

#include <secretbroker/plugin.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SB_DEFAULT_CONFIG    "/etc/secretbroker/secretbroker.ini"
#define SB_DEFAULT_SOCKET    "/run/secretbroker/secretbroker.sock"
#define SB_DEFAULT_STATE_DIR "/var/lib/secretbroker"

/* A list of one-line error messages. */
struct sb_errlist {
	char **msgs;
	size_t n, cap;
};

void sb_errlist_add(struct sb_errlist *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_errlist_clear(struct sb_errlist *l);

enum sb_node_role {
	SB_ROLE_MSS = 0,    /* master secret server candidate */
	SB_ROLE_MEMBER = 1, /* SSO node: fetches the secret from the MSS */
};

struct sb_conf {
	char *file; /* absolute path of the INI file */

	/* [broker] */
	char *state_dir;
	char *plugin_dir;
	char *node_name;
	int threads;   /* request-serving event loops */
	int log_level; /* enum sb_log_level */
	int use_syslog;

	/* [listen] */
	char *socket_path;
	mode_t socket_mode;
	char *socket_group; /* NULL: the daemon's group */
	gid_t socket_gid;
	size_t max_body; /* bytes */
	/* Reloadable; for the connections and requests after a reload. */
	uint64_t request_timeout_ms;   /* headers + body, from the 1st byte */
	uint64_t handshake_timeout_ms; /* TLS handshake, from the accept */
	unsigned max_connections_per_peer; /* per uid / address; 0: no cap */

	/* [access] */
	char *sso_admins; /* group name */
	gid_t sso_admins_gid;
	char *sso_affiliate_admins;
	gid_t sso_affiliate_admins_gid;
	char *metrics_group; /* may read GET /v1/metrics; NULL: admins only */
	gid_t metrics_gid;
	char *ticket_redeemers; /* group that may redeem tickets, or NULL */
	gid_t ticket_redeemers_gid;
	char *tls_ticket_redeemers; /* certificate identities, comma list */

	/* [tickets] (reloadable) */
	uint64_t ticket_ttl_ms; /* a ticket's life, ttl_s * 1000 */

	/* [cache] */
	uint64_t cache_timeout_ms; /* 0: no caching */
	size_t cache_max_entries;
	uint64_t cache_app_check_ms; /* 0: applications not cached */

	/* [audit] */
	char *audit_file; /* NULL: no audit file */
	int audit_positive;
	int audit_negative;

	/* [tls]: this node's identity for mutual TLS (server and client) */
	char *tls_cert, *tls_key, *tls_ca;
	/* [listen] tls_address: the TCP + mutual TLS listener, NULL if none */
	char *tls_address;
	/* [access]: certificate identities (comma-separated lists) */
	char *cluster_members; /* may fetch the master secret */
	char *tls_admins;      /* SSO administrators over TLS */

	/* [cluster] */
	int role;	     /* enum sb_node_role */
	uint64_t refresh_ms; /* members: how often to check for a new secret */
	char *cluster_address; /* advertised HOST:PORT, NULL when none */

	/* [secret]: rotation; all reloadable */
	unsigned reencrypt_batch; /* records per fenced batch */
	unsigned reencrypt_rate;  /* records per second; 0: no limit */
	uint64_t
		reencrypt_delay_ms; /* after a rotation, before re-encrypting */
	unsigned max_age_days;	    /* warn past this age; 0: never */

	/* Plugin sections: the whole section, "plugin" key included. */
	struct sb_config *storage;
	struct sb_config *crypto;
	struct sb_config *fencing;
	const char *storage_plugin; /* point into the sections above */
	const char *crypto_plugin;
	const char *fencing_plugin;
};

/* 1 when name is one of the comma-separated entries of list. */
int sb_conf_list_has(const char *list, const char *name);

/* Parses and validates path. Returns a new struct sb_conf, or NULL with at
 * least one message in errs. The caller frees it with sb_conf_free. */
struct sb_conf *sb_conf_load(const char *path, struct sb_errlist *errs);
void sb_conf_free(struct sb_conf *conf);

/* Compares a running and a newly loaded configuration. For every key that
 * cannot change without a restart and differs, adds "section.key" to
 * changed. Returns how many were added. */
size_t sb_conf_restart_keys(const struct sb_conf *running,
			    const struct sb_conf *next,
			    struct sb_errlist *changed);

/* Copies every restart-only value from running into next, so a reload keeps
 * them (and says so by name, via sb_conf_restart_keys). */
int sb_conf_keep_restart_keys(const struct sb_conf *running,
			      struct sb_conf *next);

#endif
