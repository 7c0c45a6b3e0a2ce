/*
 * Helpers shared by the postgres storage tests: loading the plugin the way
 * the daemon does, opening instances from key=value settings, reading the
 * server fixture's state file, direct libpq access for checking what the
 * plugin wrote, and driving the fixture script.
 */
#ifndef SB_PG_TEST_UTIL_H
#define SB_PG_TEST_UTIL_H

#include <secretbroker/plugin.h>

#include <libpq-fe.h>
#include <stdint.h>

/* One loaded plugin and one opened instance. */
struct pgt_store {
	struct sb_config *cfg;
	struct sb_host *host;
	void *inst;
};

/* Loads PLUGIN_DIR/storage_postgres.so once per process (later calls
 * return the same ops). Exits with a message on failure. */
const struct sb_storage_ops *pgt_ops(const char *plugin_dir);

/* Opens an instance with settings "key=value" (NULL-terminated list).
 * Returns the plugin's status; on SB_OK s is filled. */
int pgt_open(const struct sb_storage_ops *ops, struct pgt_store *s,
	     struct sb_error *err, const char *const *settings);
void pgt_close(const struct sb_storage_ops *ops, struct pgt_store *s);

/* Reads VAR=value from the fixture's state file; exits when missing. */
const char *pgt_env(const char *envfile, const char *var);

/* conninfo for node port (user postgres, dbname postgres). Static
 * buffer per call site: copy it. */
void pgt_conninfo(char *buf, size_t n, const char *port);

/* A direct admin connection (exits on failure), a one-value query
 * (returns a malloc'ed string, "" for no row; exits on error) and a
 * command (returns 0 or -1 and prints the error). */
PGconn *pgt_admin(const char *port);
char *pgt_query1(PGconn *c, const char *sql);
int pgt_cmd(PGconn *c, const char *sql);

/* Runs the fixture script: "bash SCRIPT CMD ENVFILE ARGS". Returns its
 * exit status. */
int pgt_fixture(const char *script, const char *cmd, const char *envfile,
		const char *args);

uint64_t pgt_now_ms(void);
void pgt_sleep_ms(unsigned ms);

/* A schema name unique to this process and call. */
void pgt_fresh_schema(char *buf, size_t n, const char *tag);

#endif
