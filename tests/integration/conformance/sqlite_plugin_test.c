/*
 * What the sqlite storage plugin promises beyond the shared storage
 * contract (which sb-storage-conformance checks): its settings, the file
 * it creates (0600, WAL, relative to the state directory), its schema
 * migrations, clear errors naming the file (a lock held too long, a file
 * that is not a database, a schema from the future), concurrent opens of
 * a new file by several processes, and reads nested inside a scan.
 *
 * Loads build/plugins/storage_sqlite.so through the daemon's loader, and
 * looks at the file with libsqlite3 directly.
 */
#define _GNU_SOURCE
#include "host/host.h"
#include "host/plugin_loader.h"

#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

struct fx {
	struct sb_plugin plugin;
	const struct sb_storage_ops *ops;
	char dir[256]; /* a fresh state directory per test */
	struct sb_host *host;
};

static struct fx fx;

static int group_setup(void **state)
{
	char err[1024];

	(void)state;
	if (sb_plugin_load(SB_PLUGIN_BUILD_DIR, SB_PLUGIN_STORAGE, "sqlite",
			   &fx.plugin, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	fx.ops = sb_plugin_storage(&fx.plugin);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	sb_plugin_unload(&fx.plugin);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/sb-sqlite-test-XXXXXX");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	fx.host = sb_host_new("storage", "sqlite", fx.dir, "test-node");
	return fx.host != NULL ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	sb_host_free(fx.host);
	fx.host = NULL;
	nftw(fx.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

/* Opens an instance with host and the given "key=value" settings
 * (NULL-terminated). Returns the status; *inst set on SB_OK. */
static int open_with(const struct sb_host *host, void **inst,
		     struct sb_error *err, ...)
{
	struct sb_config *cfg = sb_config_new("storage");
	const char *kv;
	va_list ap;
	int rc;

	assert_non_null(cfg);
	assert_int_equal(sb_config_set(cfg, "plugin", "sqlite"), 0);
	va_start(ap, err);
	while ((kv = va_arg(ap, const char *)) != NULL) {
		char key[64];
		const char *eq = strchr(kv, '=');

		assert_non_null(eq);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		assert_int_equal(sb_config_set(cfg, key, eq + 1), 0);
	}
	va_end(ap);
	memset(err, 0, sizeof(*err));
	*inst = NULL;
	rc = fx.ops->open(host, cfg, inst, err);
	/* The host keeps a config as long as the instance in general; the
	 * sqlite plugin copies what it needs at open, so this is safe. */
	sb_config_free(cfg);
	if (rc != SB_OK)
		print_message("open refused: %s\n", err->msg);
	return rc;
}

static int put(void *inst, const char *key, const char *value,
	       struct sb_error *err)
{
	struct sb_batch_op op = {
		.type = SB_OP_PUT,
		.key = key,
		.value = (const uint8_t *)value,
		.value_len = strlen(value),
	};
	struct sb_batch b = {.ops = &op, .n_ops = 1};

	return fx.ops->batch_apply(inst, &b, err);
}

static void path_in_dir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", fx.dir, name);
}

static void assert_contains(const char *msg, const char *want)
{
	if (strstr(msg, want) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", msg, want);
}

static void path_required(void **state)
{
	struct sb_error err;
	void *inst;

	(void)state;
	assert_int_equal(open_with(fx.host, &inst, &err, NULL), SB_EINVAL);
	assert_contains(err.msg, "[storage] path");
	assert_int_equal(open_with(fx.host, &inst, &err, "path=", NULL),
			 SB_EINVAL);
}

static void bad_numbers(void **state)
{
	struct sb_error err;
	void *inst;

	(void)state;
	assert_int_equal(open_with(fx.host, &inst, &err, "path=a.db",
				   "busy_timeout_ms=soon", NULL),
			 SB_EINVAL);
	assert_contains(err.msg, "busy_timeout_ms");
	assert_int_equal(open_with(fx.host, &inst, &err, "path=a.db",
				   "busy_timeout_ms=-1", NULL),
			 SB_EINVAL);
	assert_contains(err.msg, "busy_timeout_ms");
	assert_int_equal(open_with(fx.host, &inst, &err, "path=a.db",
				   "pool_size=0", NULL),
			 SB_EINVAL);
	assert_contains(err.msg, "pool_size");
	assert_contains(err.msg, "out of range");
	assert_int_equal(open_with(fx.host, &inst, &err, "path=a.db",
				   "pool_size=100000", NULL),
			 SB_EINVAL);
}

static void file_mode_and_location(void **state)
{
	char path[PATH_MAX], wal[PATH_MAX + 8];
	struct sb_error err;
	struct stat st;
	mode_t old;
	void *inst;
	sqlite3 *db;
	sqlite3_stmt *stmt;

	(void)state;
	/* Even with a umask that lets everyone read, the file is 0600. */
	old = umask(0);
	assert_int_equal(open_with(fx.host, &inst, &err, "path=store.db", NULL),
			 SB_OK);
	assert_int_equal(put(inst, "k", "v", &err), SB_OK);
	path_in_dir(path, sizeof(path), "store.db");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* The WAL file inherits the database file's mode. */
	snprintf(wal, sizeof(wal), "%s-wal", path);
	assert_int_equal(stat(wal, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	fx.ops->close(inst);
	umask(old);

	/* The file is in WAL mode, with its schema version recorded. */
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
			 SQLITE_OK);
	assert_int_equal(
		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);
	assert_int_equal(
		sqlite3_prepare_v2(db,
				   "SELECT count(*), max(version) FROM "
				   "sb_schema_migrations",
				   -1, &stmt, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 1);
	assert_int_equal(sqlite3_column_int(stmt, 1), 1);
	sqlite3_finalize(stmt);
	sqlite3_close(db);

	/* An absolute path is taken as it is. */
	path_in_dir(path, sizeof(path), "abs.db");
	{
		char setting[PATH_MAX + 8];

		snprintf(setting, sizeof(setting), "path=%s", path);
		assert_int_equal(open_with(fx.host, &inst, &err, setting, NULL),
				 SB_OK);
		fx.ops->close(inst);
		assert_int_equal(stat(path, &st), 0);
	}
}

static void relative_without_state_dir(void **state)
{
	struct sb_host *host = sb_host_new("storage", "sqlite", "", "n");
	struct sb_error err;
	void *inst;

	(void)state;
	assert_non_null(host);
	assert_int_equal(open_with(host, &inst, &err, "path=x.db", NULL),
			 SB_EINVAL);
	assert_contains(err.msg, "relative");
	sb_host_free(host);
}

static void missing_directory(void **state)
{
	struct sb_error err;
	void *inst;

	(void)state;
	assert_int_not_equal(
		open_with(fx.host, &inst, &err, "path=no/such/dir/x.db", NULL),
		SB_OK);
	assert_contains(err.msg, fx.dir);
	assert_contains(err.msg, "no/such/dir/x.db");
	assert_contains(err.msg, "No such file or directory");
}

static void not_a_database(void **state)
{
	char path[PATH_MAX];
	struct sb_error err;
	FILE *f;
	void *inst;

	(void)state;
	path_in_dir(path, sizeof(path), "text.db");
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database file.\n", f);
	fclose(f);
	assert_int_not_equal(
		open_with(fx.host, &inst, &err, "path=text.db", NULL), SB_OK);
	assert_contains(err.msg, path);
	assert_contains(err.msg, "not a database");
	assert_null(strpbrk(err.msg, "\r\n"));
}

static void lock_timeout(void **state)
{
	char path[PATH_MAX];
	struct sb_error err;
	struct sb_lease_info info;
	uint8_t *v = NULL;
	size_t n;
	uint64_t ver, e, t0, took;
	sqlite3 *db;
	void *inst;

	(void)state;
	assert_int_equal(open_with(fx.host, &inst, &err, "path=lock.db",
				   "busy_timeout_ms=300", NULL),
			 SB_OK);
	assert_int_equal(put(inst, "k", "before", &err), SB_OK);
	/* Another process's writer (here: another connection) holds the
	 * write lock. */
	path_in_dir(path, sizeof(path), "lock.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
			 SQLITE_OK);

	t0 = sb_mono_ms();
	assert_int_equal(put(inst, "k", "blocked", &err), SB_ETIMEOUT);
	took = sb_mono_ms() - t0;
	print_message("blocked batch: %s (after %llu ms)\n", err.msg,
		      (unsigned long long)took);
	assert_contains(err.msg, path);
	assert_contains(err.msg, "database is locked after 300 ms");
	assert_true(took >= 250 && took < 5000);
	assert_int_equal(fx.ops->lease_acquire(inst, "n", 1000, &e, &err),
			 SB_ETIMEOUT);
	assert_contains(err.msg, "database is locked");
	/* Readers are not blocked by a writer (WAL). */
	assert_int_equal(fx.ops->get(inst, "k", &v, &n, &ver, &err), SB_OK);
	assert_int_equal(n, 6);
	assert_memory_equal(v, "before", 6);
	free(v);
	assert_int_equal(fx.ops->lease_read(inst, &info, &err), SB_OK);

	assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(put(inst, "k", "after", &err), SB_OK);
	fx.ops->close(inst);
}

static void newer_schema(void **state)
{
	char path[PATH_MAX];
	struct sb_error err;
	sqlite3 *db;
	void *inst;

	(void)state;
	assert_int_equal(open_with(fx.host, &inst, &err, "path=new.db", NULL),
			 SB_OK);
	fx.ops->close(inst);
	path_in_dir(path, sizeof(path), "new.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT INTO sb_schema_migrations "
				      "VALUES (99, 0, 'from the future')",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(open_with(fx.host, &inst, &err, "path=new.db", NULL),
			 SB_ERR);
	assert_contains(err.msg, path);
	assert_contains(err.msg, "schema version 99 is newer");
}

/* Several processes open one new file at the same moment: every open
 * succeeds and the schema is created exactly once. */
static void concurrent_open(void **state)
{
	enum { N = 4 };
	char path[PATH_MAX];
	int go[2];
	pid_t pids[N];
	int failed = 0;
	struct sb_error err;
	sqlite3 *db;
	sqlite3_stmt *stmt;
	void *inst;

	(void)state;
	assert_int_equal(pipe(go), 0);
	fflush(NULL);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			char c, key[16];
			int rc;

			close(go[1]);
			/* Blocks until the parent closes its end. */
			if (read(go[0], &c, 1) != 0)
				_exit(3);
			rc = open_with(fx.host, &inst, &err, "path=race.db",
				       NULL);
			if (rc != SB_OK) {
				fprintf(stderr, "child %d: %s\n", i, err.msg);
				_exit(1);
			}
			snprintf(key, sizeof(key), "child/%d", i);
			rc = put(inst, key, "here", &err);
			if (rc != SB_OK)
				fprintf(stderr, "child %d: %s\n", i, err.msg);
			fx.ops->close(inst);
			_exit(rc == SB_OK ? 0 : 2);
		}
	}
	close(go[0]);
	close(go[1]);
	/* Reap every child before judging any, so none outlives the test
	 * directory. */
	for (int i = 0; i < N; i++) {
		int status = -1;

		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	assert_int_equal(failed, 0);
	path_in_dir(path, sizeof(path), "race.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT (SELECT count(*) FROM "
					    "sb_schema_migrations), (SELECT "
					    "count(*) FROM sb_kv)",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 1);
	assert_int_equal(sqlite3_column_int(stmt, 1), N);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
}

struct nested {
	void *inst;
	int items;
	int failed;
};

/* A scan callback that reads and writes through the same instance. */
static int nested_cb(void *arg, const char *key, const uint8_t *value,
		     size_t value_len, uint64_t version)
{
	struct nested *n = arg;
	struct sb_lease_info info;
	struct sb_error err;
	uint8_t *v = NULL;
	size_t len;
	uint64_t ver;

	(void)value;
	(void)value_len;
	(void)version;
	n->items++;
	if (fx.ops->get(n->inst, key, &v, &len, &ver, &err) != SB_OK ||
	    fx.ops->lease_read(n->inst, &info, &err) != SB_OK) {
		n->failed = 1;
		return 1;
	}
	free(v);
	/* A write during the scan, sorting after the current item: the
	 * scan reads one snapshot and must not deliver it. */
	if (strcmp(key, "s/a") == 0 && put(n->inst, "s/bb", "new", &err) != 0)
		n->failed = 1;
	return 0;
}

static void nested_in_scan(void **state)
{
	struct sb_error err;
	struct nested n = {0};
	char last[SB_KEY_MAX + 1];
	void *inst;

	(void)state;
	/* One pooled reader: the nested get needs a second connection. */
	assert_int_equal(open_with(fx.host, &inst, &err, "path=nest.db",
				   "pool_size=1", NULL),
			 SB_OK);
	assert_int_equal(put(inst, "s/a", "1", &err), SB_OK);
	assert_int_equal(put(inst, "s/b", "2", &err), SB_OK);
	assert_int_equal(put(inst, "s/c", "3", &err), SB_OK);
	n.inst = inst;
	assert_int_equal(
		fx.ops->scan(inst, "s/", NULL, 0, nested_cb, &n, last, &err),
		SB_OK);
	assert_false(n.failed);
	assert_int_equal(n.items, 3);
	assert_string_equal(last, "s/c");
	/* Afterwards the new key is there. */
	n.items = 0;
	assert_int_equal(
		fx.ops->scan(inst, "s/", NULL, 0, nested_cb, &n, last, &err),
		SB_OK);
	assert_int_equal(n.items, 4);
	fx.ops->close(inst);
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(path_required, setup, teardown),
		cmocka_unit_test_setup_teardown(bad_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(file_mode_and_location, setup,
						teardown),
		cmocka_unit_test_setup_teardown(relative_without_state_dir,
						setup, teardown),
		cmocka_unit_test_setup_teardown(missing_directory, setup,
						teardown),
		cmocka_unit_test_setup_teardown(not_a_database, setup,
						teardown),
		cmocka_unit_test_setup_teardown(lock_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(concurrent_open, setup,
						teardown),
		cmocka_unit_test_setup_teardown(nested_in_scan, setup,
						teardown),
	};

	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("sqlite", tests, group_setup,
					   group_teardown);
}
