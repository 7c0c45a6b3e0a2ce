/* Trusted paths: see trusted_path.h. */
#define _GNU_SOURCE
#include "runtime/trusted_path.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Returns 1 when st is owned by root or the daemon's effective user and
 * (unless sticky_ok and it is a root-owned sticky directory) is not
 * writable by group or others. */
static int mode_ok(const struct stat *st, int sticky_ok)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return 0;
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) == 0)
		return 1;
	return sticky_ok && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) &&
	       st->st_uid == 0;
}

static void bad_modes(const char *what, const char *path, const struct stat *st,
		      const char *below, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "bad ownership or modes for %s %s%s%s (mode %04o, owner uid "
		 "%u): must be owned by root or the daemon's user (uid %u) "
		 "and not writable by group or others",
		 what, path, below ? " above " : "", below ? below : "",
		 (unsigned)(st->st_mode & 07777), (unsigned)st->st_uid,
		 (unsigned)geteuid());
}

int sb_path_check_trusted(const char *path, const char *what, char *err,
			  size_t errlen)
{
	char real[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	char *slash;

	if (realpath(path, real) == NULL || stat(real, &st) != 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if (!mode_ok(&st, 0)) {
		bad_modes(what, real, &st, NULL, err, errlen);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", real);
	while ((slash = strrchr(dir, '/')) != NULL) {
		if (slash == dir)
			slash[1] = '\0'; /* "/" itself, last */
		else
			*slash = '\0';
		if (stat(dir, &st) != 0) {
			snprintf(err, errlen, "directory %s above %s %s: %s",
				 dir, what, real, strerror(errno));
			return -1;
		}
		if (!mode_ok(&st, 1)) {
			char below[PATH_MAX + 64];

			snprintf(below, sizeof(below), "%s %s", what, real);
			bad_modes("directory", dir, &st, below, err, errlen);
			return -1;
		}
		if (strcmp(dir, "/") == 0)
			break;
	}
	return 0;
}
