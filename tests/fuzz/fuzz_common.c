/* Helpers of the libFuzzer harnesses (fuzz_common.h). */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include "host/host.h"
#include "host/plugin_loader.h"
#include "runtime/section.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FUZZ_DIRS_MAX 4

static char dirs[FUZZ_DIRS_MAX][PATH_MAX];
static size_t n_dirs;

void fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_dirs(void)
{
	for (size_t i = 0; i < n_dirs; i++)
		nftw(dirs[i], remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_tmpdir(const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	char *d;

	if (n_dirs == FUZZ_DIRS_MAX)
		fuzz_fail("more than %d temporary directories", FUZZ_DIRS_MAX);
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	d = dirs[n_dirs];
	if ((size_t)snprintf(d, PATH_MAX, "%s/sbfuzz-%s.XXXXXX", tmp, tag) >=
	    PATH_MAX)
		fuzz_fail("TMPDIR too long");
	if (mkdtemp(d) == NULL)
		fuzz_fail("mkdtemp %s: %s", d, strerror(errno));
	if (n_dirs++ == 0)
		atexit(remove_dirs);
	return d;
}

void fuzz_write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0)
		fuzz_fail("open %s: %s", path, strerror(errno));
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fuzz_fail("write %s: %s", path, strerror(errno));
		off += (size_t)w;
	}
	close(fd);
}

const struct sb_crypto_ops *fuzz_crypto_open(void **inst)
{
	/* Static: reachable until exit, so no leak is reported. */
	static struct sb_plugin plugin;
	static struct sb_host *host;
	static struct sb_config *cfg;
	const struct sb_crypto_ops *ops;
	struct sb_error err = {{0}};
	const char *dir;
	char msg[512];

	if (sb_plugin_load(SB_PLUGIN_BUILD_DIR, SB_PLUGIN_CRYPTO, "openssl",
			   &plugin, msg, sizeof(msg)) != 0)
		fuzz_fail("loading the openssl crypto plugin: %s", msg);
	ops = sb_plugin_crypto(&plugin);
	dir = fuzz_tmpdir("crypto");
	host = sb_host_new("crypto", "openssl", dir, "fuzz-node");
	cfg = sb_config_new("crypto");
	if (host == NULL || cfg == NULL)
		fuzz_fail("out of memory");
	if (ops->open(host, cfg, inst, &err) != SB_OK)
		fuzz_fail("opening the openssl crypto plugin: %s", err.msg);
	return ops;
}
