/*
 * The [storage] settings of the postgres plugin, and the libpq connection
 * parameters built from them. docs/storage-postgres.md lists the same keys;
 * keep both in step.
 */
#define _GNU_SOURCE
#include "pg_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A schema name must be a plain lower-case SQL identifier, so that it never
 * needs quoting rules beyond the double quotes we add anyway. */
static int schema_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > PG_SCHEMA_MAX)
		return 0;
	if (!((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	/* pg_ is reserved for system schemas. */
	return strncmp(s, "pg_", 3) != 0;
}

/* Appends keyword=value to the arrays unless the user set keyword. */
static int add_param(struct pg_settings *set, size_t *n, const char *kw,
		     const char *val)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(set->kw[i], kw) == 0)
			return 0;
	set->kw[*n] = strdup(kw);
	set->val[*n] = strdup(val);
	if (set->kw[*n] == NULL || set->val[*n] == NULL)
		return -1;
	(*n)++;
	return 0;
}

/* Returns the value the user gave for kw, or NULL. */
static const char *param(const struct pg_settings *set, const char *kw)
{
	for (size_t i = 0; set->kw[i] != NULL; i++)
		if (strcmp(set->kw[i], kw) == 0)
			return set->val[i];
	return NULL;
}

/* Fills set->targets with "host:port,..." from host/hostaddr and port
 * (libpq's rules: one port for all hosts, or one per host). */
static void describe_targets(struct pg_settings *set)
{
	const char *hosts = param(set, "host");
	const char *ports = param(set, "port");
	char hbuf[256], pbuf[128];
	char *hsave = NULL, *psave = NULL, *h, *p;
	const char *port_all = NULL;
	size_t off = 0;

	if (hosts == NULL || *hosts == '\0')
		hosts = param(set, "hostaddr");
	if (hosts == NULL || *hosts == '\0')
		hosts = getenv("PGHOST");
	if (hosts == NULL || *hosts == '\0')
		hosts = "(default socket)";
	if (ports == NULL || *ports == '\0')
		ports = getenv("PGPORT");
	if (ports == NULL || *ports == '\0')
		ports = "5432";
	snprintf(hbuf, sizeof(hbuf), "%s", hosts);
	snprintf(pbuf, sizeof(pbuf), "%s", ports);
	if (strchr(pbuf, ',') == NULL)
		port_all = pbuf;
	set->targets[0] = '\0';
	h = strtok_r(hbuf, ",", &hsave);
	p = port_all ? NULL : strtok_r(pbuf, ",", &psave);
	while (h != NULL && off < sizeof(set->targets)) {
		int w = snprintf(set->targets + off, sizeof(set->targets) - off,
				 "%s%s:%s", off ? "," : "", h,
				 port_all ? port_all : (p ? p : "5432"));
		if (w < 0)
			break;
		off += (size_t)w;
		h = strtok_r(NULL, ",", &hsave);
		if (!port_all)
			p = strtok_r(NULL, ",", &psave);
	}
}

int pg_settings_load(const struct sb_host *host, const struct sb_config *cfg,
		     struct pg_settings *set, struct sb_error *err)
{
	PQconninfoOption *opts = NULL;
	char *perr = NULL;
	const char *schema;
	size_t n_opts = 0, n = 0;
	char buf[64];
	int ret = SB_EINVAL;

	memset(set, 0, sizeof(*set));
	set->conninfo = host->config_get(cfg, "conninfo", "");
	schema = host->config_get(cfg, "schema", "secretbroker");
	if (!schema_name_ok(schema)) {
		sb_error_set(
			err, SB_EINVAL,
			"[%s] schema: \"%.64s\" is not a valid schema name "
			"(lower-case letters, digits and _, not starting "
			"with a digit or pg_, at most %d characters)",
			host->config_section(cfg), schema, PG_SCHEMA_MAX);
		goto done;
	}
	snprintf(set->schema, sizeof(set->schema), "%s", schema);
	if ((ret = sb_setting_ms(host, cfg, "op_timeout_ms", 5000, 100, 3600000,
				 &set->op_timeout_ms, err)) != SB_OK)
		goto done;
	if ((ret = sb_setting_int(host, cfg, "pool_size", 4, 1, 64,
				  &set->pool_size, err)) != SB_OK)
		goto done;
	if ((ret = sb_setting_ms(host, cfg, "reconnect_backoff_max_ms", 2000,
				 10, 600000, &set->reconnect_backoff_max_ms,
				 err)) != SB_OK)
		goto done;
	if ((ret = sb_setting_int(host, cfg, "scan_page_size", 256, 1, 100000,
				  &set->scan_page_size, err)) != SB_OK)
		goto done;

	/* libpq parses the connection string, so every keyword it knows
	 * (multi-host lists, sslmode, target_session_attrs, URIs...) passes
	 * through untouched. Its message never echoes a password. */
	opts = PQconninfoParse(set->conninfo, &perr);
	if (opts == NULL) {
		sb_error_set(
			err, SB_EINVAL,
			"[%s] conninfo: not a valid libpq connection string: "
			"%s",
			host->config_section(cfg),
			perr ? perr : "out of memory");
		if (perr && err)
			/* A newline ends libpq's message. */
			err->msg[strcspn(err->msg, "\n")] = '\0';
		ret = perr ? SB_EINVAL : SB_ENOMEM;
		goto done;
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
		n_opts++;
	/* Room for every option plus our defaults plus the terminator. */
	set->kw = calloc(n_opts + 16, sizeof(*set->kw));
	set->val = calloc(n_opts + 16, sizeof(*set->val));
	if (set->kw == NULL || set->val == NULL)
		goto nomem;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL)
			continue;
		set->kw[n] = strdup(o->keyword);
		set->val[n] = strdup(o->val);
		if (set->kw[n] == NULL || set->val[n] == NULL)
			goto nomem;
		n++;
	}

	/* Defaults for what the user left unset: a dead server must surface
	 * as an error within about op_timeout_ms, never as a hang. libpq's
	 * connect_timeout is whole seconds, at least 2. */
	snprintf(buf, sizeof(buf), "%lld",
		 set->op_timeout_ms < 2000 ? 2
					   : (set->op_timeout_ms + 999) / 1000);
	if (add_param(set, &n, "connect_timeout", buf) < 0)
		goto nomem;
	if (add_param(set, &n, "keepalives", "1") < 0)
		goto nomem;
	snprintf(buf, sizeof(buf), "%lld",
		 set->op_timeout_ms < 1000 ? 1 : set->op_timeout_ms / 1000);
	if (add_param(set, &n, "keepalives_idle", buf) < 0)
		goto nomem;
	snprintf(buf, sizeof(buf), "%lld",
		 set->op_timeout_ms < 3000 ? 1 : set->op_timeout_ms / 3000);
	if (add_param(set, &n, "keepalives_interval", buf) < 0)
		goto nomem;
	if (add_param(set, &n, "keepalives_count", "3") < 0)
		goto nomem;
	snprintf(buf, sizeof(buf), "%lld", set->op_timeout_ms);
	if (add_param(set, &n, "tcp_user_timeout", buf) < 0)
		goto nomem;
	/* The store only works on a writable server; with several hosts this
	 * is what makes libpq skip standbys and find the new primary. */
	if (add_param(set, &n, "target_session_attrs", "read-write") < 0)
		goto nomem;
	snprintf(buf, sizeof(buf), "secretbroker%s%.40s",
		 host->node_name && *host->node_name ? "@" : "",
		 host->node_name ? host->node_name : "");
	if (add_param(set, &n, "fallback_application_name", buf) < 0)
		goto nomem;
	describe_targets(set);
	ret = SB_OK;
	goto done;
nomem:
	ret = sb_error_set(err, SB_ENOMEM,
			   "postgres: out of memory reading settings");
done:
	if (opts) {
		/* The parsed options may hold a password. */
		for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
			if (o->val)
				explicit_bzero(o->val, strlen(o->val));
		PQconninfoFree(opts);
	}
	PQfreemem(perr);
	if (ret != SB_OK)
		pg_settings_free(set);
	return ret;
}

void pg_settings_free(struct pg_settings *set)
{
	/* Entries are filled in pairs from the front of zeroed arrays; a
	 * failed strdup may leave one half of the last pair NULL. */
	for (size_t i = 0; set->kw && set->val && (set->kw[i] || set->val[i]);
	     i++) {
		free(set->kw[i]);
		if (set->val[i]) {
			explicit_bzero(set->val[i], strlen(set->val[i]));
			free(set->val[i]);
		}
	}
	free(set->kw);
	free(set->val);
	set->kw = NULL;
	set->val = NULL;
}
