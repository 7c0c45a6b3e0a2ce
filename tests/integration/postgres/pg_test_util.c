/* Helpers for the postgres storage tests: see pg_test_util.h. */
#define _GNU_SOURCE
#include "pg_test_util.h"

#include "host/host.h"
#include "host/plugin_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sb_plugin plugin;
static int plugin_loaded;

const struct sb_storage_ops *pgt_ops(const char *plugin_dir)
{
	char err[512];

	if (!plugin_loaded) {
		if (sb_plugin_load(plugin_dir, SB_PLUGIN_STORAGE, "postgres",
				   &plugin, err, sizeof(err)) != 0) {
			fprintf(stderr, "cannot load the postgres plugin: %s\n",
				err);
			exit(2);
		}
		plugin_loaded = 1;
	}
	return sb_plugin_storage(&plugin);
}

int pgt_open(const struct sb_storage_ops *ops, struct pgt_store *s,
	     struct sb_error *err, const char *const *settings)
{
	int ret;

	memset(s, 0, sizeof(*s));
	memset(err, 0, sizeof(*err));
	s->cfg = sb_config_new("storage");
	s->host = sb_host_new("storage", "postgres", "/tmp", "pgtest-node");
	if (s->cfg == NULL || s->host == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	sb_config_set(s->cfg, "plugin", "postgres");
	for (size_t i = 0; settings && settings[i]; i++) {
		char *kv = strdup(settings[i]);
		char *eq = kv ? strchr(kv, '=') : NULL;

		if (eq == NULL) {
			fprintf(stderr, "bad setting %s\n", settings[i]);
			exit(2);
		}
		*eq = '\0';
		sb_config_set(s->cfg, kv, eq + 1);
		free(kv);
	}
	ret = ops->open(s->host, s->cfg, &s->inst, err);
	if (ret != SB_OK) {
		sb_config_free(s->cfg);
		sb_host_free(s->host);
		memset(s, 0, sizeof(*s));
	}
	return ret;
}

void pgt_close(const struct sb_storage_ops *ops, struct pgt_store *s)
{
	if (s->inst)
		ops->close(s->inst);
	sb_config_free(s->cfg);
	sb_host_free(s->host);
	memset(s, 0, sizeof(*s));
}

const char *pgt_env(const char *envfile, const char *var)
{
	static char vals[8][256];
	static int next;
	char line[512];
	size_t n = strlen(var);
	FILE *f = fopen(envfile, "r");

	if (f == NULL) {
		fprintf(stderr,
			"cannot read %s (server fixture not started?)\n",
			envfile);
		exit(2);
	}
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, var, n) == 0 && line[n] == '=') {
			char *v = vals[next++ % 8];

			snprintf(v, 256, "%s", line + n + 1);
			v[strcspn(v, "\n")] = '\0';
			fclose(f);
			return v;
		}
	}
	fclose(f);
	fprintf(stderr, "%s has no %s\n", envfile, var);
	exit(2);
}

void pgt_conninfo(char *buf, size_t n, const char *port)
{
	snprintf(buf, n,
		 "conninfo=host=127.0.0.1 port=%s user=postgres "
		 "dbname=postgres",
		 port);
}

PGconn *pgt_admin(const char *port)
{
	char ci[256];
	PGconn *c;

	snprintf(ci, sizeof(ci),
		 "host=127.0.0.1 port=%s user=postgres dbname=postgres "
		 "application_name=pgtest-admin",
		 port);
	c = PQconnectdb(ci);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "admin connection to port %s: %s\n", port,
			PQerrorMessage(c));
		exit(2);
	}
	return c;
}

char *pgt_query1(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	char *out;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "query failed: %s: %s\n", sql,
			PQerrorMessage(c));
		exit(2);
	}
	out = strdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return out;
}

int pgt_cmd(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
		 PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		fprintf(stderr, "command failed: %s: %s\n", sql,
			PQerrorMessage(c));
	PQclear(r);
	return ok ? 0 : -1;
}

int pgt_fixture(const char *script, const char *cmd, const char *envfile,
		const char *args)
{
	char line[2048];
	int st;

	snprintf(line, sizeof(line), "bash '%s' %s '%s' %s", script, cmd,
		 envfile, args ? args : "");
	st = system(line);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

uint64_t pgt_now_ms(void)
{
	return sb_mono_ms();
}

void pgt_sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

void pgt_fresh_schema(char *buf, size_t n, const char *tag)
{
	static int seq;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, n, "t_%s_%ld_%d_%d", tag, (long)ts.tv_sec % 100000,
		 (int)getpid(), seq++);
}
