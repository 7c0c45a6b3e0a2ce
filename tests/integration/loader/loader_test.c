/*
 * Loader tests: sb_plugin_load refuses each deliberately broken plugin
 * (built by CMakeLists.txt into LOADER_PLUGIN_DIR) with one line that
 * names the file and, where it applies, both ABI versions; and loads the
 * real sqlite plugin.
 *
 *   sb-loader-test [CASE]     runs one case (ctest runs each on its own),
 *                             or every case without an argument.
 */
#define _GNU_SOURCE
#include "host/plugin_loader.h"

#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* Loads storage plugin name from dir, requires a refusal, and checks the
 * message: one line, naming the file, containing every string of the
 * NULL-terminated list. */
static void expect_refused(const char *dir, const char *name, ...)
{
	struct sb_plugin p;
	char err[1024] = "";
	char path[PATH_MAX];
	const char *want;
	va_list ap;

	snprintf(path, sizeof(path), "%s/storage_%s.so", dir, name);
	assert_int_equal(sb_plugin_load(dir, SB_PLUGIN_STORAGE, name, &p, err,
					sizeof(err)),
			 -1);
	print_message("refused: %s\n", err);
	assert_null(p.dl);
	assert_null(p.desc);
	assert_null(strpbrk(err, "\r\n"));
	assert_non_null(strstr(err, path));
	va_start(ap, name);
	while ((want = va_arg(ap, const char *)) != NULL) {
		if (strstr(err, want) == NULL)
			fail_msg("message \"%s\" lacks \"%s\"", err, want);
	}
	va_end(ap);
}

static void missing_file(void **state)
{
	(void)state;
	expect_refused(LOADER_PLUGIN_DIR, "doesnotexist",
		       "No such file or directory", NULL);
}

static void not_shared_object(void **state)
{
	char path[PATH_MAX];
	char dl_msg[512];
	void *dl;

	(void)state;
	/* What dlopen itself says about the file, minus the file name
	 * it starts with: the loader's message must carry it. */
	snprintf(path, sizeof(path), "%s/storage_x.so", LOADER_PLUGIN_DIR);
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	assert_null(dl);
	snprintf(dl_msg, sizeof(dl_msg), "%s", dlerror());
	assert_true(dl_msg[0] != '\0');
	expect_refused(LOADER_PLUGIN_DIR, "x", dl_msg, "not a loadable", NULL);
}

static void no_entry(void **state)
{
	(void)state;
	expect_refused(LOADER_PLUGIN_DIR, "noentry", SB_PLUGIN_ENTRY_SYMBOL,
		       NULL);
}

static void null_entry(void **state)
{
	(void)state;
	expect_refused(LOADER_PLUGIN_DIR, "nullentry", SB_PLUGIN_ENTRY_SYMBOL,
		       "NULL", NULL);
}

static void abi_major(void **state)
{
	char daemon_abi[32];

	(void)state;
	snprintf(daemon_abi, sizeof(daemon_abi), "%d.%d", SB_PLUGIN_ABI_MAJOR,
		 SB_PLUGIN_ABI_MINOR);
	assert_true(strncmp(daemon_abi, "1.", 2) == 0);
	expect_refused(LOADER_PLUGIN_DIR, "abi99", "incompatible library",
		       "99.", "99.0", daemon_abi, NULL);
}

static void wrong_kind(void **state)
{
	(void)state;
	expect_refused(LOADER_PLUGIN_DIR, "cryptokind", "crypto plugin",
		       "not a storage plugin", NULL);
}

static void ops_too_small(void **state)
{
	char need[64];

	(void)state;
	char daemon_abi[32];

	/* The minimum is the ABI 1.0 table, not today's sizeof. */
	snprintf(need, sizeof(need), "needs %zu",
		 (size_t)SB_STORAGE_OPS_SIZE_1_0);
	snprintf(daemon_abi, sizeof(daemon_abi), "ABI %d.%d",
		 SB_PLUGIN_ABI_MAJOR, SB_PLUGIN_ABI_MINOR);
	expect_refused(LOADER_PLUGIN_DIR, "smallops", "8 bytes", daemon_abi,
		       need, NULL);
}

static void invalid_name(void **state)
{
	struct sb_plugin p;
	char err[1024] = "";

	(void)state;
	assert_int_equal(sb_plugin_load(LOADER_PLUGIN_DIR, SB_PLUGIN_STORAGE,
					"../x", &p, err, sizeof(err)),
			 -1);
	print_message("refused: %s\n", err);
	assert_null(strpbrk(err, "\r\n"));
	assert_non_null(strstr(err, "\"../x\""));
	assert_non_null(strstr(err, "not valid"));
	/* Nothing was opened: the name never became a path. */
	assert_null(strstr(err, LOADER_PLUGIN_DIR));
}

/* A plugin built against ABI 1.0 (a shorter descriptor) still loads; the
 * members appended since read as absent. */
static void abi10_loads(void **state)
{
	struct sb_plugin p;
	char err[1024];

	(void)state;
	assert_int_equal(sb_plugin_load(LOADER_PLUGIN_DIR, SB_PLUGIN_STORAGE,
					"abi10", &p, err, sizeof(err)),
			 0);
	assert_null(sb_plugin_settings(&p));
	sb_plugin_unload(&p);
}

/* An ops table of exactly the ABI 1.0 size loads, whatever members were
 * appended since; the members it lacks read as absent. */
static void ops10_loads(void **state)
{
	const struct sb_storage_ops *ops;
	struct sb_plugin p;
	char err[1024] = "";

	(void)state;
	assert_int_equal(sb_plugin_load(LOADER_PLUGIN_DIR, SB_PLUGIN_STORAGE,
					"ops10", &p, err, sizeof(err)),
			 0);
	ops = sb_plugin_storage(&p);
	assert_int_equal(ops->size, SB_STORAGE_OPS_SIZE_1_0);
	assert_true(SB_OPS_HAS(ops, get));
	/* Optional 1.0 members left NULL read as absent. */
	assert_false(SB_OPS_HAS(ops, lease_acquire));
	assert_false(SB_OPS_HAS(ops, fence_takeover));
	sb_plugin_unload(&p);
}

/* A table that leaves a required member NULL is refused, naming it. */
static void required_missing(void **state)
{
	(void)state;
	expect_refused(LOADER_PLUGIN_DIR, "noget", "required storage op 'get'",
		       "is NULL", NULL);
}

static void sqlite(void **state)
{
	const struct sb_storage_ops *ops;
	struct sb_plugin p;
	char err[1024] = "";

	(void)state;
	if (sb_plugin_load(SB_PLUGIN_BUILD_DIR, SB_PLUGIN_STORAGE, "sqlite", &p,
			   err, sizeof(err)) != 0)
		fail_msg("load: %s", err);
	assert_non_null(p.dl);
	assert_string_equal(p.desc->name, "sqlite");
	assert_int_equal(p.desc->kind, SB_PLUGIN_STORAGE);
	assert_int_equal(p.desc->abi_major, SB_PLUGIN_ABI_MAJOR);
	assert_non_null(strstr(p.path, "storage_sqlite.so"));
	ops = sb_plugin_storage(&p);
	assert_true(ops->size >= sizeof(struct sb_storage_ops));
	/* The default store implements the whole contract. */
	assert_non_null(ops->open);
	assert_non_null(ops->close);
	assert_non_null(ops->get);
	assert_non_null(ops->scan);
	assert_non_null(ops->batch_apply);
	assert_non_null(ops->lease_acquire);
	assert_non_null(ops->lease_renew);
	assert_non_null(ops->lease_release);
	assert_non_null(ops->lease_read);
	assert_non_null(ops->fence_takeover);
	/* Asking for it as another kind is refused. */
	sb_plugin_unload(&p);
	assert_null(p.dl);
	assert_int_equal(sb_plugin_load(SB_PLUGIN_BUILD_DIR, SB_PLUGIN_CRYPTO,
					"sqlite", &p, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "crypto_sqlite.so"));
}

int main(int argc, char **argv)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(missing_file),
		cmocka_unit_test(not_shared_object),
		cmocka_unit_test(no_entry),
		cmocka_unit_test(null_entry),
		cmocka_unit_test(abi_major),
		cmocka_unit_test(wrong_kind),
		cmocka_unit_test(ops_too_small),
		cmocka_unit_test(invalid_name),
		cmocka_unit_test(sqlite),
		cmocka_unit_test(abi10_loads),
		cmocka_unit_test(ops10_loads),
		cmocka_unit_test(required_missing),
	};
	size_t n = sizeof(tests) / sizeof(tests[0]);

	if (argc > 1) {
		size_t i = 0;

		/* An unknown case name must fail, not run nothing. */
		while (i < n && strcmp(tests[i].name, argv[1]) != 0)
			i++;
		if (i == n) {
			fprintf(stderr, "no test case named %s\n", argv[1]);
			return 2;
		}
		cmocka_set_test_filter(argv[1]);
	}
	return cmocka_run_group_tests_name("loader", tests, NULL, NULL);
}
