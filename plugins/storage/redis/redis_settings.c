/*
 * The [storage] settings of the Redis plugin: parsing, range checks and the
 * password file. Every setting read here is documented, with its default, in
 * docs/storage-redis.md; keep the two in step.
 */
#define _GNU_SOURCE
#include "redis_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_HOST		   "127.0.0.1"
#define DEFAULT_PORT		   6379
#define DEFAULT_PREFIX		   "sb:"
#define DEFAULT_CONNECT_TIMEOUT_MS 2000
#define DEFAULT_OP_TIMEOUT_MS	   2000
#define DEFAULT_WAIT_TIMEOUT_MS	   1000
#define DEFAULT_POOL_SIZE	   4
#define DEFAULT_SENTINEL_CHECK_MS  1000
#define DEFAULT_BACKOFF_MAX_MS	   1000

/* A value that is absent or empty counts as not set. */
static const char *get_str(const struct sb_host *host,
			   const struct sb_config *cfg, const char *key)
{
	const char *v = host->config_get(cfg, key, NULL);

	return (v != NULL && *v != '\0') ? v : NULL;
}

/* Parses "host:port" or "[v6addr]:port" (surrounding blanks allowed) of
 * length len into *out. Returns 0 or -1. */
static int parse_endpoint(const char *s, size_t len, struct rs_endpoint *out)
{
	const char *colon, *host;
	size_t hlen;
	char portbuf[8];
	char *end;
	long port;

	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	colon = NULL;
	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			colon = s + i;
	if (colon == NULL || colon == s)
		return -1;
	host = s;
	hlen = (size_t)(colon - s);
	if (host[0] == '[') {
		if (hlen < 3 || host[hlen - 1] != ']')
			return -1;
		host++;
		hlen -= 2;
	}
	if (hlen >= sizeof(out->host))
		return -1;
	if ((size_t)(s + len - colon - 1) >= sizeof(portbuf) ||
	    s + len == colon + 1)
		return -1;
	memcpy(portbuf, colon + 1, (size_t)(s + len - colon - 1));
	portbuf[s + len - colon - 1] = '\0';
	errno = 0;
	port = strtol(portbuf, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535)
		return -1;
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	out->port = (int)port;
	return 0;
}

/* Parses the comma-separated sentinels list. Returns SB_OK or SB_EINVAL. */
static int parse_sentinels(const struct sb_host *host,
			   const struct sb_config *cfg, const char *list,
			   struct rs_settings *s, struct sb_error *err)
{
	const char *p = list;

	s->n_sentinels = 0;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		if (s->n_sentinels == RS_SENTINELS_MAX) {
			snprintf(err->msg, sizeof(err->msg),
				 "[%s] sentinels: more than %d entries",
				 host->config_section(cfg), RS_SENTINELS_MAX);
			return SB_EINVAL;
		}
		if (parse_endpoint(p, len, &s->sentinels[s->n_sentinels]) !=
		    0) {
			/* Quote the entry without its surrounding blanks. */
			while (len > 0 && (*p == ' ' || *p == '\t')) {
				p++;
				len--;
			}
			while (len > 0 &&
			       (p[len - 1] == ' ' || p[len - 1] == '\t'))
				len--;
			snprintf(err->msg, sizeof(err->msg),
				 "[%s] sentinels: \"%.*s\" is not host:port",
				 host->config_section(cfg), (int)len, p);
			return SB_EINVAL;
		}
		s->n_sentinels++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return SB_OK;
}

/* Reads the password from path into secure memory: the whole file, minus
 * one trailing newline (LF or CRLF). The file must be a regular file that
 * others cannot read or write (group may read: 0640 is fine). On SB_OK sets
 * s->password and s->password_alloc; the caller frees them with
 * rs_settings_clear. */
static int read_password_file(const struct sb_host *host,
			      const struct sb_config *cfg, const char *path,
			      struct rs_settings *s, struct sb_error *err)
{
	char *buf = NULL;
	size_t alloc = RS_PASSWORD_MAX + 2, len = 0;
	struct stat st;
	ssize_t n;
	int fd = -1;
	int ret = SB_EINVAL;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] password_file: cannot open %s: %s",
			 host->config_section(cfg), path, strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] password_file: %s is not a regular file",
			 host->config_section(cfg), path);
		goto done;
	}
	if (st.st_mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
		snprintf(
			err->msg, sizeof(err->msg),
			"[%s] password_file: %s has mode %04o; others must not "
			"read it and only its owner may write it (chmod 0600 "
			"or 0640)",
			host->config_section(cfg), path,
			(unsigned)(st.st_mode & 07777));
		goto done;
	}
	buf = host->secure_alloc(alloc);
	if (buf == NULL) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] password_file: out of secure memory",
			 host->config_section(cfg));
		ret = SB_ENOMEM;
		goto done;
	}
	/* Read one byte more than the limit to detect an oversized file. */
	while (len < RS_PASSWORD_MAX + 1) {
		n = read(fd, buf + len, RS_PASSWORD_MAX + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err->msg, sizeof(err->msg),
				 "[%s] password_file: reading %s: %s",
				 host->config_section(cfg), path,
				 strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > RS_PASSWORD_MAX) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] password_file: %s is longer than %d bytes",
			 host->config_section(cfg), path, RS_PASSWORD_MAX);
		goto done;
	}
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	buf[len] = '\0';
	if (len == 0 || memchr(buf, '\0', len) != NULL ||
	    memchr(buf, '\n', len) != NULL) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] password_file: %s must hold one non-empty line",
			 host->config_section(cfg), path);
		goto done;
	}
	s->password = buf;
	s->password_alloc = alloc;
	buf = NULL;
	ret = SB_OK;
done:
	if (buf != NULL)
		host->secure_free(buf, alloc);
	if (fd >= 0)
		close(fd);
	return ret;
}

int rs_settings_parse(const struct sb_host *host, const struct sb_config *cfg,
		      struct rs_settings *s, struct sb_error *err)
{
	const char *sec = host->config_section(cfg);
	const char *sentinels, *v;
	long long n;
	int ret = SB_EINVAL;

	memset(s, 0, sizeof(*s));
	s->host = get_str(host, cfg, "host");
	s->socket_path = get_str(host, cfg, "socket");
	sentinels = get_str(host, cfg, "sentinels");
	s->master_name = get_str(host, cfg, "master_name");

	if ((s->host != NULL) + (s->socket_path != NULL) + (sentinels != NULL) >
	    1) {
		snprintf(
			err->msg, sizeof(err->msg),
			"[%s] host, socket and sentinels are alternatives: set "
			"only one of them",
			sec);
		goto done;
	}
	if (host->config_get(cfg, "port", NULL) != NULL &&
	    (s->socket_path != NULL || sentinels != NULL)) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] port: only used with host (sentinels name the "
			 "primary's port themselves)",
			 sec);
		goto done;
	}
	if (sb_setting_int(host, cfg, "port", DEFAULT_PORT, 1, 65535, &n,
			   err) != SB_OK)
		goto done;
	s->port = (int)n;
	if (s->socket_path != NULL && strlen(s->socket_path) >= RS_HOST_MAX) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] socket: path longer than %d bytes", sec,
			 RS_HOST_MAX - 1);
		goto done;
	}
	if (s->host != NULL && strlen(s->host) >= RS_HOST_MAX) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] host: longer than %d bytes", sec,
			 RS_HOST_MAX - 1);
		goto done;
	}
	if (sentinels != NULL) {
		if (parse_sentinels(host, cfg, sentinels, s, err) != SB_OK)
			goto done;
		if (sb_setting_ms(host, cfg, "sentinel_check_interval_ms",
				  DEFAULT_SENTINEL_CHECK_MS, 0, 3600000, &n,
				  err) != SB_OK)
			goto done;
		s->sentinel_check_interval_ms = (int)n;
		if (s->master_name == NULL) {
			snprintf(err->msg, sizeof(err->msg),
				 "[%s] master_name: required with sentinels",
				 sec);
			goto done;
		}
	} else if (s->master_name != NULL ||
		   host->config_get(cfg, "sentinel_check_interval_ms", NULL) !=
			   NULL) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] %s: only used with sentinels", sec,
			 s->master_name != NULL ? "master_name"
						: "sentinel_check_interval_ms");
		goto done;
	}
	if (s->host == NULL && s->socket_path == NULL && sentinels == NULL)
		s->host = DEFAULT_HOST;

	s->user = get_str(host, cfg, "user");
	s->password_file = get_str(host, cfg, "password_file");
	if (host->config_get(cfg, "password", NULL) != NULL) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] password: not accepted in the configuration "
			 "file; put it in a file of its own and set "
			 "password_file",
			 sec);
		goto done;
	}
	if (s->user != NULL && s->password_file == NULL) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] user: needs password_file", sec);
		goto done;
	}

	if (sb_setting_int(host, cfg, "db", 0, 0, INT_MAX, &s->db, err) !=
	    SB_OK)
		goto done;

	v = host->config_get(cfg, "key_prefix", NULL);
	s->key_prefix = v != NULL ? v : DEFAULT_PREFIX;
	if (*s->key_prefix == '\0' || strlen(s->key_prefix) > RS_PREFIX_MAX) {
		snprintf(err->msg, sizeof(err->msg),
			 "[%s] key_prefix: must be 1..%d bytes", sec,
			 RS_PREFIX_MAX);
		goto done;
	}

	if (sb_setting_ms(host, cfg, "connect_timeout_ms",
			  DEFAULT_CONNECT_TIMEOUT_MS, 1, 600000, &n,
			  err) != SB_OK)
		goto done;
	s->connect_timeout_ms = (int)n;
	if (sb_setting_ms(host, cfg, "op_timeout_ms", DEFAULT_OP_TIMEOUT_MS, 1,
			  600000, &n, err) != SB_OK)
		goto done;
	s->op_timeout_ms = (int)n;
	if (sb_setting_int(host, cfg, "wait_replicas", 0, 0, 100, &n, err) !=
	    SB_OK)
		goto done;
	s->wait_replicas = (int)n;
	if (sb_setting_ms(host, cfg, "wait_timeout_ms", DEFAULT_WAIT_TIMEOUT_MS,
			  1, 600000, &n, err) != SB_OK)
		goto done;
	s->wait_timeout_ms = (int)n;
	if (sb_setting_int(host, cfg, "pool_size", DEFAULT_POOL_SIZE, 1,
			   RS_POOL_MAX, &n, err) != SB_OK)
		goto done;
	s->pool_size = (int)n;
	if (sb_setting_ms(host, cfg, "reconnect_backoff_max_ms",
			  DEFAULT_BACKOFF_MAX_MS, 10, 600000, &n, err) != SB_OK)
		goto done;
	s->reconnect_backoff_max_ms = (int)n;

	/* Last, so no earlier error leaves a password to wipe. */
	if (s->password_file != NULL &&
	    (ret = read_password_file(host, cfg, s->password_file, s, err)) !=
		    SB_OK)
		goto done;
	ret = SB_OK;
done:
	return ret;
}

void rs_settings_clear(const struct sb_host *host, struct rs_settings *s)
{
	if (s->password != NULL) {
		/* secure_free wipes with explicit_bzero before freeing. */
		host->secure_free(s->password, s->password_alloc);
		s->password = NULL;
		s->password_alloc = 0;
	}
}
