/* File helpers: see fileutil.h. */
#define _GNU_SOURCE
#include "runtime/fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Makes a rename or link of path durable: fsyncs the directory holding
 * it (best effort: the rename itself has happened either way). */
static void fsync_dir_of(const char *path)
{
	char dirbuf[PATH_MAX];
	int dfd;

	snprintf(dirbuf, sizeof(dirbuf), "%s", path);
	dfd = open(dirname(dirbuf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
}

int sb_rename_durable(const char *from, const char *to, char *msg,
		      size_t msglen)
{
	if (rename(from, to) != 0) {
		snprintf(msg, msglen, "cannot rename %s to %s: %s", from, to,
			 strerror(errno));
		return -1;
	}
	fsync_dir_of(to);
	return 0;
}

int sb_write_file_atomic(const char *path, const uint8_t *data, size_t len,
			 int overwrite, char *msg, size_t msglen)
{
	char tmp[PATH_MAX];
	int fd = -1, ret = -1;
	size_t off = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >=
	    sizeof(tmp)) {
		snprintf(msg, msglen, "%s: path too long", path);
		return -1;
	}
	if (!overwrite && access(path, F_OK) == 0) {
		snprintf(msg, msglen, "%s: file exists (not overwriting)",
			 path);
		errno = EEXIST;
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		snprintf(msg, msglen, "cannot create a file beside %s: %s",
			 path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) != 0)
		goto fail_errno;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail_errno;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail_errno;
	if (close(fd) != 0) {
		fd = -1;
		goto fail_errno;
	}
	fd = -1;
	if (!overwrite) {
		/* link() fails on an existing target: no race with another
		 * writer between the check above and here. */
		if (link(tmp, path) != 0)
			goto fail_errno;
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		goto fail_errno;
	}
	fsync_dir_of(path);
	ret = 0;
	return ret;
fail_errno:
	snprintf(msg, msglen, "cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return ret;
}

int sb_read_file(const char *path, size_t max, uint8_t **data, size_t *len,
		 char *msg, size_t msglen)
{
	struct stat st;
	uint8_t *buf = NULL;
	size_t off = 0;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		saved = errno;
		snprintf(msg, msglen, "cannot open %s: %s", path,
			 strerror(errno));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(msg, msglen, "%s: not a regular file", path);
		goto fail;
	}
	if ((size_t)st.st_size > max) {
		snprintf(msg, msglen, "%s: file is larger than %zu bytes", path,
			 max);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		snprintf(msg, msglen, "%s: out of memory", path);
		goto fail;
	}
	while (off < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + off, (size_t)st.st_size - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(msg, msglen, "cannot read %s: %s", path,
				 r < 0 ? strerror(errno) : "file shrank");
			goto fail;
		}
		off += (size_t)r;
	}
	buf[off] = 0;
	close(fd);
	*data = buf;
	*len = off;
	return 0;
fail:
	free(buf);
	close(fd);
	errno = EINVAL;
	return -1;
}
