/*
 * The INI config loader (core/runtime/config.c, runtime/ini_dups.c): the
 * input is written to a file and loaded as the daemon loads its
 * configuration (and as secretbrokerd -t checks one). A load either
 * returns a whole configuration or at least one error, never both and
 * never neither.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include "runtime/config.h"
#include "runtime/ini_dups.h"
#include "runtime/log.h"

#include <limits.h>
#include <stdio.h>

static char ini_path[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	sb_log_setup(SB_LOG_ERROR, 0, "fuzz_config");
	snprintf(ini_path, sizeof(ini_path), "%s/secretbroker.ini",
		 fuzz_tmpdir("config"));
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_errlist errs = {0};
	struct sb_conf *conf;

	fuzz_write_file(ini_path, data, size);
	conf = sb_conf_load(ini_path, &errs);
	if (conf != NULL && errs.n != 0)
		fuzz_fail("a configuration was returned with %zu errors",
			  errs.n);
	if (conf == NULL && errs.n == 0)
		fuzz_fail("no configuration and no error");
	for (size_t i = 0; i < errs.n; i++)
		if (errs.msgs[i] == NULL || errs.msgs[i][0] == '\0')
			fuzz_fail("error %zu is empty", i);
	sb_conf_free(conf);
	sb_errlist_clear(&errs);

	sb_ini_find_duplicates(ini_path, &errs);
	sb_errlist_clear(&errs);
	return 0;
}
