/* INI configuration: see config.h. */
#define _GNU_SOURCE
#include "runtime/config.h"

#include "runtime/section.h"
#include "runtime/ini_dups.h"
#include "runtime/log.h"
#include "runtime/trusted_path.h"

#include <errno.h>
#include <grp.h>
#include <iniparser.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef SB_PLUGIN_INSTALL_DIR
#define SB_PLUGIN_INSTALL_DIR "/usr/lib/secretbroker"
#endif

void sb_errlist_add(struct sb_errlist *l, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	char *s;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		char **m = realloc(l->msgs, cap * sizeof(*m));

		if (m == NULL)
			return;
		l->msgs = m;
		l->cap = cap;
	}
	s = strdup(buf);
	if (s)
		l->msgs[l->n++] = s;
}

void sb_errlist_clear(struct sb_errlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->msgs[i]);
	free(l->msgs);
	memset(l, 0, sizeof(*l));
}

/* iniparser reports syntax errors through one global printf-like callback;
 * collect them for the load that is running (loads are serialised). */
static pthread_mutex_t ini_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sb_errlist *ini_errs;
static const char *ini_file;

static int ini_error_cb(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* iniparser's messages span lines ("syntax error in F (N):\n-> line").
	 */
	for (char *c = buf; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (ini_errs && strstr(buf, "-> ") == NULL && buf[0] != '\0')
		sb_errlist_add(ini_errs, "%s: %s", ini_file, buf);
	else if (ini_errs && buf[0] != '\0') {
		/* Attach the offending line to the previous message. */
		if (ini_errs->n > 0) {
			char *prev = ini_errs->msgs[ini_errs->n - 1];
			char *joined = NULL;

			if (asprintf(&joined, "%s %s", prev, buf) >= 0) {
				free(prev);
				ini_errs->msgs[ini_errs->n - 1] = joined;
			}
		} else {
			sb_errlist_add(ini_errs, "%s: %s", ini_file, buf);
		}
	}
	return 0;
}

struct key_spec {
	const char *name;
};

static const char *const broker_keys[] = {
	"state_dir", "plugin_dir", "node_name", "threads",
	"log_level", "syslog",	   NULL};
static const char *const listen_keys[] = {"socket",
					  "socket_mode",
					  "socket_group",
					  "max_body",
					  "tls_address",
					  "request_timeout_ms",
					  "handshake_timeout_ms",
					  "max_connections_per_peer",
					  NULL};
static const char *const tls_keys[] = {"cert", "key", "ca", NULL};
static const char *const access_keys[] = {"sso_admins",
					  "sso_affiliate_admins",
					  "cluster_members",
					  "tls_admins",
					  "metrics",
					  "ticket_redeemers",
					  "tls_ticket_redeemers",
					  NULL};
static const char *const cache_keys[] = {"timeout_s", "max_entries",
					 "app_check_ms", NULL};
static const char *const tickets_keys[] = {"ttl_s", NULL};
static const char *const audit_keys[] = {"file", "positive_level",
					 "negative_level", NULL};
static const char *const cluster_keys[] = {"role", "address", "refresh_s",
					   NULL};
static const char *const secret_keys[] = {"reencrypt_batch", "reencrypt_rate",
					  "reencrypt_delay_s", "max_age_days",
					  NULL};

static const struct {
	const char *name;
	const char *const *keys; /* NULL: a plugin section, any key */
} known_sections[] = {
	{"broker", broker_keys},   {"listen", listen_keys},
	{"access", access_keys},   {"cluster", cluster_keys},
	{"cache", cache_keys},	   {"audit", audit_keys},
	{"tickets", tickets_keys}, {"tls", tls_keys},
	{"secret", secret_keys},   {"storage", NULL},
	{"crypto", NULL},	   {"fencing", NULL},
};

static const char *get(dictionary *d, const char *section, const char *key,
		       const char *def)
{
	char full[256];

	snprintf(full, sizeof(full), "%s:%s", section, key);
	return iniparser_getstring(d, full, def);
}

/* Returns a malloc'ed absolute path: value as is when absolute, else
 * relative to the directory holding the config file. */
static char *resolve_path(const char *conf_file, const char *value)
{
	char *dir, *slash, *out = NULL;

	if (value[0] == '/')
		return strdup(value);
	dir = strdup(conf_file);
	if (dir == NULL)
		return NULL;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (asprintf(&out, "%s/%s", dir, value) < 0)
		out = NULL;
	free(dir);
	return out;
}

static int parse_long(const char *s, long min, long max, int base, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, base);
	if (errno || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Reads [section] key (default def) as an integer from min to max in base
 * (8 or 10) into *out. On a bad value adds one error naming file, section,
 * key and the accepted range (what: "a number of seconds", "an octal
 * mode", ...) and returns -1; *out is then untouched. */
static int int_key(dictionary *d, const char *file, const char *section,
		   const char *key, const char *def, long min, long max,
		   int base, const char *what, long *out,
		   struct sb_errlist *errs)
{
	const char *v = get(d, section, key, def);

	if (parse_long(v, min, max, base, out) == 0)
		return 0;
	if (base == 8)
		sb_errlist_add(errs, "%s: [%s] %s: \"%s\" is not %s", file,
			       section, key, v, what);
	else
		sb_errlist_add(errs,
			       "%s: [%s] %s: \"%s\" is not %s from %ld to %ld",
			       file, section, key, v, what, min, max);
	return -1;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"};
	static const char *const no[] = {"0", "false", "no", "off"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int lookup_group(const char *name, gid_t *gid)
{
	struct group gr, *res = NULL;
	char buf[16384];

	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || res == NULL)
		return -1;
	*gid = gr.gr_gid;
	return 0;
}

/* Reads [access] key, a Unix group name, into *name (strdup'ed; NULL
 * when unset or empty) and its gid into *gid ((gid_t)-1 when unset). A
 * group that does not exist is an error in errs naming file, key and
 * group. */
static void group_key(dictionary *d, const char *abspath, const char *key,
		      char **name, gid_t *gid, struct sb_errlist *errs)
{
	const char *v = get(d, "access", key, NULL);

	*gid = (gid_t)-1;
	*name = NULL;
	if (v == NULL || *v == '\0')
		return;
	*name = strdup(v);
	if (lookup_group(v, gid) != 0)
		sb_errlist_add(errs,
			       "%s: [access] %s: group \"%s\" does not exist",
			       abspath, key, v);
}

/* Copies [section] of d into a new struct sb_config. */
static struct sb_config *plugin_section(dictionary *d, const char *section,
					const char *def_plugin)
{
	struct sb_config *cfg = sb_config_new(section);
	int n = iniparser_getsecnkeys(d, section);
	const char **keys = NULL;
	size_t plen = strlen(section) + 1;

	if (cfg == NULL)
		return NULL;
	if (n > 0) {
		keys = calloc((size_t)n, sizeof(*keys));
		if (keys == NULL ||
		    iniparser_getseckeys(d, section, keys) == NULL)
			goto fail;
		for (int i = 0; i < n; i++) {
			const char *v = iniparser_getstring(d, keys[i], "");

			if (sb_config_set(cfg, keys[i] + plen, v) != 0)
				goto fail;
		}
	}
	if (sb_config_get(cfg, "plugin", NULL) == NULL &&
	    sb_config_set(cfg, "plugin", def_plugin) != 0)
		goto fail;
	free(keys);
	return cfg;
fail:
	free(keys);
	sb_config_free(cfg);
	return NULL;
}

static void check_keys(dictionary *d, const char *file, const char *section,
		       const char *const *allowed, struct sb_errlist *errs)
{
	int n = iniparser_getsecnkeys(d, section);
	const char **keys;
	size_t plen = strlen(section) + 1;

	if (n <= 0)
		return;
	keys = calloc((size_t)n, sizeof(*keys));
	if (keys == NULL || iniparser_getseckeys(d, section, keys) == NULL) {
		free(keys);
		return;
	}
	for (int i = 0; i < n; i++) {
		const char *k = keys[i] + plen;
		int ok = 0;

		for (size_t j = 0; allowed[j]; j++)
			if (strcmp(k, allowed[j]) == 0)
				ok = 1;
		if (!ok)
			sb_errlist_add(errs, "%s: [%s] %s: unknown key", file,
				       section, k);
	}
	free(keys);
}

int sb_conf_list_has(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p = end ? end + 1 : p + len;
		if (!end)
			break;
	}
	return 0;
}

struct sb_conf *sb_conf_load(const char *path, struct sb_errlist *errs)
{
	struct sb_conf *conf = NULL;
	dictionary *d = NULL;
	char abspath[PATH_MAX];
	char host[256];
	const char *v;
	size_t errs_before = errs->n;
	long n;

	if (realpath(path, abspath) == NULL) {
		sb_errlist_add(errs, "%s: cannot read config file: %s", path,
			       strerror(errno));
		return NULL;
	}
	if (access(abspath, R_OK) != 0) {
		sb_errlist_add(errs, "%s: cannot read config file: %s", abspath,
			       strerror(errno));
		return NULL;
	}
	/* It names the plugin directory: whoever can change it runs code
	 * as the daemon. */
	{
		char msg[PATH_MAX * 2 + 256];

		if (sb_path_check_trusted(abspath, "config file", msg,
					  sizeof(msg)) != 0) {
			sb_errlist_add(errs, "%s", msg);
			return NULL;
		}
	}
	pthread_mutex_lock(&ini_lock);
	ini_errs = errs;
	ini_file = abspath;
	iniparser_set_error_callback(ini_error_cb);
	d = iniparser_load(abspath);
	ini_errs = NULL;
	pthread_mutex_unlock(&ini_lock);
	if (d == NULL) {
		if (errs->n == errs_before)
			sb_errlist_add(errs, "%s: cannot parse config file",
				       abspath);
		return NULL;
	}

	/* iniparser keeps the last of two values silently. */
	sb_ini_find_duplicates(abspath, errs);
	conf = calloc(1, sizeof(*conf));
	if (conf == NULL)
		goto oom;
	conf->file = strdup(abspath);

	for (int i = 0; i < iniparser_getnsec(d); i++) {
		const char *sec = iniparser_getsecname(d, i);
		int known = 0;

		for (size_t j = 0;
		     j < sizeof(known_sections) / sizeof(known_sections[0]);
		     j++) {
			if (strcmp(sec, known_sections[j].name) != 0)
				continue;
			known = 1;
			if (known_sections[j].keys)
				check_keys(d, abspath, sec,
					   known_sections[j].keys, errs);
		}
		if (!known)
			sb_errlist_add(errs, "%s: [%s]: unknown section",
				       abspath, sec);
	}

	/* [broker] */
	v = get(d, "broker", "state_dir", SB_DEFAULT_STATE_DIR);
	conf->state_dir = resolve_path(abspath, v);
	v = get(d, "broker", "plugin_dir", SB_PLUGIN_INSTALL_DIR);
	conf->plugin_dir = resolve_path(abspath, v);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	v = get(d, "broker", "node_name", host);
	conf->node_name = strdup(v);
	if (v[0] == '\0' || strlen(v) > 200)
		sb_errlist_add(
			errs,
			"%s: [broker] node_name: must be 1..200 characters",
			abspath);
	if (int_key(d, abspath, "broker", "threads", "2", 1, 64, 10, "a number",
		    &n, errs) == 0)
		conf->threads = (int)n;
	v = get(d, "broker", "log_level", "info");
	conf->log_level = sb_log_level_parse(v);
	if (conf->log_level < 0)
		sb_errlist_add(errs,
			       "%s: [broker] log_level: \"%s\" is not one of "
			       "error, warning, info, debug",
			       abspath, v);
	v = get(d, "broker", "syslog", "no");
	if (parse_bool(v, &conf->use_syslog) != 0)
		sb_errlist_add(errs,
			       "%s: [broker] syslog: \"%s\" is not a boolean",
			       abspath, v);

	/* [listen] */
	v = get(d, "listen", "socket", SB_DEFAULT_SOCKET);
	conf->socket_path = resolve_path(abspath, v);
	if (conf->socket_path &&
	    strlen(conf->socket_path) >= 108 /* sun_path */)
		sb_errlist_add(
			errs,
			"%s: [listen] socket: path is longer than 107 bytes",
			abspath);
	if (int_key(d, abspath, "listen", "socket_mode", "0660", 0, 0777, 8,
		    "an octal mode", &n, errs) == 0)
		conf->socket_mode = (mode_t)n;
	v = get(d, "listen", "socket_group", NULL);
	conf->socket_gid = (gid_t)-1;
	if (v && *v) {
		conf->socket_group = strdup(v);
		if (lookup_group(v, &conf->socket_gid) != 0)
			sb_errlist_add(errs,
				       "%s: [listen] socket_group: group "
				       "\"%s\" does not exist",
				       abspath, v);
	}
	if (int_key(d, abspath, "listen", "max_body", "65536", 1024,
		    16 * 1024 * 1024, 10, "a size in bytes", &n, errs) == 0)
		conf->max_body = (size_t)n;
	if (int_key(d, abspath, "listen", "request_timeout_ms", "10000", 100,
		    3600000, 10, "a number of milliseconds", &n, errs) == 0)
		conf->request_timeout_ms = (uint64_t)n;
	if (int_key(d, abspath, "listen", "handshake_timeout_ms", "10000", 100,
		    3600000, 10, "a number of milliseconds", &n, errs) == 0)
		conf->handshake_timeout_ms = (uint64_t)n;
	if (int_key(d, abspath, "listen", "max_connections_per_peer", "64", 0,
		    1000000, 10, "a number of connections", &n, errs) == 0)
		conf->max_connections_per_peer = (unsigned)n;

	/* [access] */
	group_key(d, abspath, "sso_admins", &conf->sso_admins,
		  &conf->sso_admins_gid, errs);
	group_key(d, abspath, "sso_affiliate_admins",
		  &conf->sso_affiliate_admins, &conf->sso_affiliate_admins_gid,
		  errs);
	group_key(d, abspath, "metrics", &conf->metrics_group,
		  &conf->metrics_gid, errs);

	/* [access] ticket_redeemers: the services that may redeem tickets */
	group_key(d, abspath, "ticket_redeemers", &conf->ticket_redeemers,
		  &conf->ticket_redeemers_gid, errs);
	v = get(d, "access", "tls_ticket_redeemers", NULL);
	if (v && *v)
		conf->tls_ticket_redeemers = strdup(v);

	/* [tickets] */
	if (int_key(d, abspath, "tickets", "ttl_s", "60", 1, 3600, 10,
		    "a number of seconds", &n, errs) == 0)
		conf->ticket_ttl_ms = (uint64_t)n * 1000;

	/* [cache] */
	if (int_key(d, abspath, "cache", "timeout_s", "60", 0, 86400, 10,
		    "a number of seconds", &n, errs) == 0)
		conf->cache_timeout_ms = (uint64_t)n * 1000;
	if (int_key(d, abspath, "cache", "max_entries", "100000", 16, 10000000,
		    10, "a number", &n, errs) == 0)
		conf->cache_max_entries = (size_t)n;
	if (int_key(d, abspath, "cache", "app_check_ms", "1000", 0, 60000, 10,
		    "a number of milliseconds", &n, errs) == 0)
		conf->cache_app_check_ms = (uint64_t)n;

	/* [audit] */
	v = get(d, "audit", "file", NULL);
	if (v && *v)
		conf->audit_file = resolve_path(abspath, v);
	if (int_key(d, abspath, "audit", "positive_level", "0", 0, 3, 10,
		    "a level", &n, errs) == 0)
		conf->audit_positive = (int)n;
	if (int_key(d, abspath, "audit", "negative_level", "1", 0, 3, 10,
		    "a level", &n, errs) == 0)
		conf->audit_negative = (int)n;

	/* [cluster] */
	v = get(d, "cluster", "role", "mss");
	if (strcmp(v, "mss") == 0)
		conf->role = SB_ROLE_MSS;
	else if (strcmp(v, "member") == 0)
		conf->role = SB_ROLE_MEMBER;
	else
		sb_errlist_add(
			errs,
			"%s: [cluster] role: \"%s\" is not one of mss, member",
			abspath, v);

	v = get(d, "cluster", "address", NULL);
	if (v && *v)
		conf->cluster_address = strdup(v);
	if (int_key(d, abspath, "cluster", "refresh_s", "30", 1, 3600, 10,
		    "a number of seconds", &n, errs) == 0)
		conf->refresh_ms = (uint64_t)n * 1000;

	/* [secret]: rotation (reloadable) */
	if (int_key(d, abspath, "secret", "reencrypt_batch", "200", 1, 10000,
		    10, "a number of records", &n, errs) == 0)
		conf->reencrypt_batch = (unsigned)n;
	if (int_key(d, abspath, "secret", "reencrypt_rate", "2000", 0, 1000000,
		    10, "a number of records per second", &n, errs) == 0)
		conf->reencrypt_rate = (unsigned)n;
	if (int_key(d, abspath, "secret", "reencrypt_delay_s", "40", 0, 86400,
		    10, "a number of seconds", &n, errs) == 0)
		conf->reencrypt_delay_ms = (uint64_t)n * 1000;
	if (int_key(d, abspath, "secret", "max_age_days", "365", 0, 36500, 10,
		    "a number of days", &n, errs) == 0)
		conf->max_age_days = (unsigned)n;

	/* [tls], [listen] tls_address, certificate identities */
	v = get(d, "tls", "cert", NULL);
	if (v && *v)
		conf->tls_cert = resolve_path(abspath, v);
	v = get(d, "tls", "key", NULL);
	if (v && *v)
		conf->tls_key = resolve_path(abspath, v);
	v = get(d, "tls", "ca", NULL);
	if (v && *v)
		conf->tls_ca = resolve_path(abspath, v);
	v = get(d, "listen", "tls_address", NULL);
	if (v && *v)
		conf->tls_address = strdup(v);
	v = get(d, "access", "cluster_members", NULL);
	if (v && *v)
		conf->cluster_members = strdup(v);
	v = get(d, "access", "tls_admins", NULL);
	if (v && *v)
		conf->tls_admins = strdup(v);
	if ((conf->tls_address || conf->role == SB_ROLE_MEMBER) &&
	    !(conf->tls_cert && conf->tls_key && conf->tls_ca))
		sb_errlist_add(errs,
			       "%s: [tls] cert, key and ca are required %s",
			       abspath,
			       conf->role == SB_ROLE_MEMBER
				       ? "on a member node (it fetches the "
					 "master secret over mutual TLS)"
				       : "when [listen] tls_address is set");

	/* Plugin sections. */
	conf->storage = plugin_section(d, "storage", "sqlite");
	conf->crypto = plugin_section(d, "crypto", "openssl");
	conf->fencing = plugin_section(d, "fencing", "none");
	if (!conf->file || !conf->state_dir || !conf->plugin_dir ||
	    !conf->node_name || !conf->socket_path || !conf->storage ||
	    !conf->crypto || !conf->fencing)
		goto oom;
	conf->storage_plugin = sb_config_get(conf->storage, "plugin", "");
	conf->crypto_plugin = sb_config_get(conf->crypto, "plugin", "");
	conf->fencing_plugin = sb_config_get(conf->fencing, "plugin", "");

	iniparser_freedict(d);
	if (errs->n > errs_before) {
		sb_conf_free(conf);
		return NULL;
	}
	return conf;
oom:
	sb_errlist_add(errs, "%s: out of memory while reading config", abspath);
	iniparser_freedict(d);
	sb_conf_free(conf);
	return NULL;
}

void sb_conf_free(struct sb_conf *conf)
{
	if (conf == NULL)
		return;
	free(conf->file);
	free(conf->state_dir);
	free(conf->plugin_dir);
	free(conf->node_name);
	free(conf->socket_path);
	free(conf->socket_group);
	free(conf->sso_admins);
	free(conf->sso_affiliate_admins);
	free(conf->metrics_group);
	free(conf->audit_file);
	free(conf->cluster_address);
	free(conf->tls_cert);
	free(conf->tls_key);
	free(conf->tls_ca);
	free(conf->tls_address);
	free(conf->cluster_members);
	free(conf->tls_admins);
	free(conf->ticket_redeemers);
	free(conf->tls_ticket_redeemers);
	sb_config_free(conf->storage);
	sb_config_free(conf->crypto);
	sb_config_free(conf->fencing);
	free(conf);
}

static int str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

size_t sb_conf_restart_keys(const struct sb_conf *running,
			    const struct sb_conf *next,
			    struct sb_errlist *changed)
{
	size_t before = changed->n;

	if (str_differs(running->state_dir, next->state_dir))
		sb_errlist_add(changed, "broker.state_dir");
	if (str_differs(running->node_name, next->node_name))
		sb_errlist_add(changed, "broker.node_name");
	if (running->threads != next->threads)
		sb_errlist_add(changed, "broker.threads");
	if (str_differs(running->socket_path, next->socket_path))
		sb_errlist_add(changed, "listen.socket");
	if (running->socket_mode != next->socket_mode)
		sb_errlist_add(changed, "listen.socket_mode");
	if (str_differs(running->socket_group, next->socket_group))
		sb_errlist_add(changed, "listen.socket_group");
	if (running->max_body != next->max_body)
		sb_errlist_add(changed, "listen.max_body");
	if (running->role != next->role)
		sb_errlist_add(changed, "cluster.role");
	if (str_differs(running->tls_address, next->tls_address))
		sb_errlist_add(changed, "listen.tls_address");
	if (running->cache_max_entries != next->cache_max_entries)
		sb_errlist_add(changed, "cache.max_entries");
	if (str_differs(running->audit_file, next->audit_file))
		sb_errlist_add(changed, "audit.file");
	return changed->n - before;
}

static int replace_str(char **dst, const char *src)
{
	char *copy = NULL;

	if (src && (copy = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = copy;
	return 0;
}

int sb_conf_keep_restart_keys(const struct sb_conf *running,
			      struct sb_conf *next)
{
	if (replace_str(&next->state_dir, running->state_dir) ||
	    replace_str(&next->node_name, running->node_name) ||
	    replace_str(&next->socket_path, running->socket_path) ||
	    replace_str(&next->socket_group, running->socket_group) ||
	    replace_str(&next->audit_file, running->audit_file) ||
	    replace_str(&next->tls_address, running->tls_address))
		return -1;
	next->cache_max_entries = running->cache_max_entries;
	next->threads = running->threads;
	next->socket_mode = running->socket_mode;
	next->socket_gid = running->socket_gid;
	next->max_body = running->max_body;
	next->role = running->role;
	return 0;
}
