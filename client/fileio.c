/* Local file I/O for sbctl: see fileio.h. */
#define _GNU_SOURCE
#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int sbctl_read_file(const char *what, const char *path, size_t max,
		    unsigned char **data, size_t *len, char *err, size_t errlen)
{
	int ret = -1, fd = -1;
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;

	*data = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "cannot open %s %s: %s", what, path,
			 strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "cannot stat %s %s: %s", what, path,
			 strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s %s is not a regular file", what,
			 path);
		goto done;
	}
	if ((unsigned long long)st.st_size > max) {
		snprintf(err, errlen,
			 "%s %s is %lld bytes, more than the %zu it can be",
			 what, path, (long long)st.st_size, max);
		goto done;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "out of memory reading %s %s", what,
			 path);
		goto done;
	}
	/* Read what fstat promised; a file that shrinks meanwhile reads
	 * short, which the parser of its content then reports. */
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot read %s %s: %s", what,
				 path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	buf = NULL;
	ret = 0;
done:
	free(buf);
	if (fd != -1)
		close(fd);
	return ret;
}

int sbctl_read_stream(const char *what, int fd, size_t max,
		      unsigned char **data, size_t *len, char *err,
		      size_t errlen)
{
	unsigned char *buf = NULL, *bigger;
	size_t got = 0, cap = 0;
	int ret = -1;

	*data = NULL;
	*len = 0;
	for (;;) {
		ssize_t n;

		if (got + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 4096;

			/* Grown by copying, so that no unwiped copy of a
			 * secret is left in freed memory. */
			if ((bigger = malloc(ncap)) == NULL) {
				snprintf(err, errlen,
					 "out of memory reading %s", what);
				goto done;
			}
			if (got > 0)
				memcpy(bigger, buf, got);
			if (buf != NULL) {
				explicit_bzero(buf, cap);
				free(buf);
			}
			buf = bigger;
			cap = ncap;
		}
		n = read(fd, buf + got, cap - got - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot read %s: %s", what,
				 strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got > max) {
			snprintf(err, errlen,
				 "%s is longer than the %zu bytes it can be",
				 what, max);
			goto done;
		}
	}
	buf[got] = '\0';
	*data = buf;
	*len = got;
	buf = NULL;
	ret = 0;
done:
	if (buf != NULL) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	return ret;
}

/* Returns the directory part of path ("." when there is none), malloc'd. */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int sbctl_atomic_open(struct sbctl_atomic_file *af, const char *path, int force,
		      char *err, size_t errlen)
{
	int ret = -1;
	char *dir = NULL;
	struct stat st;
	size_t n = strlen(path);

	memset(af, 0, sizeof(*af));
	af->fd = -1;
	af->force = force;
	if (n == 0 || path[n - 1] == '/') {
		snprintf(err, errlen,
			 "%s: a file name is needed, not a "
			 "directory",
			 n ? path : "''");
		goto done;
	}
	if (lstat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s is a directory", path);
			goto done;
		}
		if (!force) {
			snprintf(err, errlen,
				 "%s already exists; use --force to replace "
				 "it",
				 path);
			goto done;
		}
	} else if (errno != ENOENT) {
		snprintf(err, errlen, "cannot check %s: %s", path,
			 strerror(errno));
		goto done;
	}
	if ((dir = dir_of(path)) == NULL || (af->path = strdup(path)) == NULL ||
	    asprintf(&af->tmp_path, "%s/.sbctl.XXXXXX", dir) < 0) {
		af->tmp_path = NULL;
		snprintf(err, errlen, "out of memory preparing %s", path);
		goto done;
	}
	/* mkostemp creates the file with O_EXCL and mode 0600; the fchmod
	 * states the mode this file must have whatever the libc does. */
	if ((af->fd = mkostemp(af->tmp_path, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot create a file in %s: %s", dir,
			 strerror(errno));
		free(af->tmp_path);
		af->tmp_path = NULL;
		goto done;
	}
	if (fchmod(af->fd, 0600) == -1) {
		snprintf(err, errlen, "cannot set mode 0600 on %s: %s",
			 af->tmp_path, strerror(errno));
		goto done;
	}
	ret = 0;
done:
	free(dir);
	if (ret != 0)
		sbctl_atomic_abort(af);
	return ret;
}

/* Moves tmp to path without ever replacing an existing path. */
static int move_noreplace(const char *tmp, const char *path)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* No RENAME_NOREPLACE on this file system: link(2) fails with EEXIST
	 * just as atomically; the temp name is removed afterwards. */
	if (link(tmp, path) == -1)
		return -1;
	unlink(tmp);
	return 0;
}

int sbctl_atomic_commit(struct sbctl_atomic_file *af, const void *data,
			size_t len, char *err, size_t errlen)
{
	int ret = -1, dfd = -1;
	const unsigned char *p = data;
	size_t left = len;
	char *dir = NULL;

	if (af->fd == -1 || af->tmp_path == NULL) {
		snprintf(err, errlen, "internal error: %s is not open",
			 af->path ? af->path : "file");
		goto done;
	}
	while (left > 0) {
		ssize_t n = write(af->fd, p, left);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot write %s: %s",
				 af->tmp_path, strerror(errno));
			goto done;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fsync(af->fd) == -1) {
		snprintf(err, errlen, "cannot sync %s: %s", af->tmp_path,
			 strerror(errno));
		goto done;
	}
	if (close(af->fd) == -1) {
		af->fd = -1;
		snprintf(err, errlen, "cannot close %s: %s", af->tmp_path,
			 strerror(errno));
		goto done;
	}
	af->fd = -1;
	if (af->force ? rename(af->tmp_path, af->path)
		      : move_noreplace(af->tmp_path, af->path)) {
		if (errno == EEXIST)
			snprintf(err, errlen,
				 "%s already exists; use --force to replace "
				 "it",
				 af->path);
		else
			snprintf(err, errlen, "cannot rename %s to %s: %s",
				 af->tmp_path, af->path, strerror(errno));
		goto done;
	}
	free(af->tmp_path);
	af->tmp_path = NULL; /* it is the file now: abort must not remove it */
	/* The rename is durable only once the directory is synced. */
	if ((dir = dir_of(af->path)) == NULL) {
		snprintf(err, errlen, "out of memory syncing %s", af->path);
		goto done;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fsync(dfd) == -1) {
		snprintf(err, errlen,
			 "%s was written but its directory %s could not be "
			 "synced: %s",
			 af->path, dir, strerror(errno));
		goto done;
	}
	ret = 0;
done:
	if (dfd != -1)
		close(dfd);
	free(dir);
	if (ret != 0 && af->tmp_path != NULL) {
		unlink(af->tmp_path);
		free(af->tmp_path);
		af->tmp_path = NULL;
	}
	return ret;
}

void sbctl_atomic_abort(struct sbctl_atomic_file *af)
{
	if (af->fd != -1) {
		close(af->fd);
		af->fd = -1;
	}
	if (af->tmp_path != NULL) {
		unlink(af->tmp_path);
		free(af->tmp_path);
		af->tmp_path = NULL;
	}
	free(af->path);
	af->path = NULL;
}

int sbctl_atomic_write(const char *path, const void *data, size_t len,
		       int force, char *err, size_t errlen)
{
	struct sbctl_atomic_file af;
	int ret = -1;

	if (sbctl_atomic_open(&af, path, force, err, errlen) == -1)
		return -1;
	ret = sbctl_atomic_commit(&af, data, len, err, errlen);
	sbctl_atomic_abort(&af);
	return ret;
}
