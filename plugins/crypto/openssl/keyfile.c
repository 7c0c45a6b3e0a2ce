/*
 * The node's key file: 32 random bytes, the key-encryption key (KEK) that
 * seal() derives its key from.
 *
 * Rules, checked on every open:
 *   - the state directory grants nothing to group or others (0700);
 *   - the directory holding the key file (when it is not the state
 *     directory) is not writable by group or others, so nobody else can
 *     replace the key;
 *   - the key file is a regular file, not a symbolic link, owned by the
 *     daemon's effective uid, granting nothing to group or others, and
 *     exactly 32 bytes long.
 * The file is opened once and every check is made on that descriptor
 * (fstat), so it cannot be swapped between the check and the read.
 *
 * On first start (no file) it is created with O_CREAT|O_EXCL, mode 0600,
 * and both the file and its directory are fsync'ed before use, so a crash
 * cannot leave a node that sealed its secret under a key that never
 * reached the disk.
 */
#define _GNU_SOURCE
#include "crypto_openssl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Checks the state directory: a directory granting nothing to group or
 * others. */
static int check_state_dir(const char *dir, struct sb_error *err)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return sb_error_set(err, SB_EINVAL,
				    "crypto/openssl: state directory %s: %s",
				    dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: state directory %s is not a "
			"directory",
			dir);
	if ((st.st_mode & 077) != 0)
		return sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: state directory %s has mode "
			"%04o, which grants access to group or others; "
			"it must be 0700 (chmod 700 %s)",
			dir, (unsigned)(st.st_mode & 07777), dir);
	return SB_OK;
}

/* Writes the directory holding path into buf (PATH_MAX bytes). */
static void parent_dir(const char *path, char *buf)
{
	char copy[PATH_MAX];

	snprintf(copy, sizeof(copy), "%s", path);
	snprintf(buf, PATH_MAX, "%s", dirname(copy));
}

/* Checks the key file's own directory when it is not the state directory:
 * group or others must not be able to replace the key file. */
static int check_key_dir(const char *dir, struct sb_error *err)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return sb_error_set(err, SB_EINVAL,
				    "crypto/openssl: key file directory %s: %s",
				    dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: key file directory %s is not "
			"a directory",
			dir);
	if ((st.st_mode & 022) != 0)
		return sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: key file directory %s has mode "
			"%04o, which lets group or others replace the "
			"key file; remove their write access",
			dir, (unsigned)(st.st_mode & 07777));
	return SB_OK;
}

static int fsync_dir(const char *dir, struct sb_error *err)
{
	int fd, ret = SB_OK;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sb_error_set(err, SB_ERR, "crypto/openssl: open %s: %s",
				    dir, strerror(errno));
	if (fsync(fd) != 0)
		ret = sb_error_set(err, SB_ERR, "crypto/openssl: fsync %s: %s",
				   dir, strerror(errno));
	close(fd);
	return ret;
}

/* Creates path with CO_KEK_LEN fresh random bytes, which it leaves in kek.
 * Returns SB_OK; -EEXIST (not an sb_status) when the file appeared
 * meanwhile; or an error status with err set, after removing any partial
 * file it created. */
static int create_key_file(struct co_instance *ci, const char *path,
			   const char *dir, uint8_t kek[CO_KEK_LEN],
			   struct sb_error *err)
{
	size_t done_len = 0;
	int fd, ret = SB_ERR;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return -EEXIST;
		return sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: cannot create key file %s: %s", path,
			strerror(errno));
	}
	ret = co_random(ci, kek, CO_KEK_LEN, err);
	if (ret != SB_OK)
		goto fail;
	while (done_len < CO_KEK_LEN) {
		ssize_t n = write(fd, kek + done_len, CO_KEK_LEN - done_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = sb_error_set(
				err, SB_ERR,
				"crypto/openssl: write key file %s: %s", path,
				n < 0 ? strerror(errno) : "no progress");
			goto fail;
		}
		done_len += (size_t)n;
	}
	if (fsync(fd) != 0) {
		ret = sb_error_set(err, SB_ERR,
				   "crypto/openssl: fsync key file %s: %s",
				   path, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		ret = sb_error_set(err, SB_ERR,
				   "crypto/openssl: close key file %s: %s",
				   path, strerror(errno));
		goto fail;
	}
	fd = -1;
	ret = fsync_dir(dir, err);
	if (ret != SB_OK)
		goto fail;
	ci->host->log(ci->host, SB_LOG_INFO,
		      "created key file %s (%d random bytes, mode 0600)", path,
		      CO_KEK_LEN);
	return SB_OK;
fail:
	/* A partial key file would make every later start fail on its size;
	 * remove it so the next start simply tries again. */
	if (fd >= 0)
		close(fd);
	unlink(path);
	explicit_bzero(kek, CO_KEK_LEN);
	return ret;
}

/* Opens an existing key file, checks it on the descriptor and reads it.
 * Returns SB_OK; -ENOENT (not an sb_status) when it does not exist; or an
 * error status with err set. */
static int read_key_file(const char *path, uint8_t kek[CO_KEK_LEN],
			 struct sb_error *err)
{
	struct stat st;
	size_t got = 0;
	int fd, ret = SB_EINVAL;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return -ENOENT;
		if (errno == ELOOP)
			return sb_error_set(err, SB_EINVAL,
					    "crypto/openssl: key file %s is a "
					    "symbolic link; refusing it",
					    path);
		return sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: cannot open key file %s: %s", path,
			strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		sb_error_set(err, SB_ERR,
			     "crypto/openssl: fstat key file %s: %s", path,
			     strerror(errno));
		ret = SB_ERR;
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: key file %s is not a regular file",
			path);
		goto done;
	}
	if (st.st_uid != geteuid()) {
		sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: key file %s is owned by uid %u, not "
			"by the daemon's uid %u",
			path, (unsigned)st.st_uid, (unsigned)geteuid());
		goto done;
	}
	if ((st.st_mode & 077) != 0) {
		sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: key file %s has mode %04o, which "
			"grants access to group or others; it must be 0600 "
			"(chmod 600 %s)",
			path, (unsigned)(st.st_mode & 07777), path);
		goto done;
	}
	if (st.st_size != CO_KEK_LEN) {
		sb_error_set(
			err, SB_EINVAL,
			"crypto/openssl: key file %s is %lld bytes, not %d: "
			"damaged or not a secretbroker key file",
			path, (long long)st.st_size, CO_KEK_LEN);
		goto done;
	}
	while (got < CO_KEK_LEN) {
		ssize_t n = read(fd, kek + got, CO_KEK_LEN - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			sb_error_set(err, SB_ERR,
				     "crypto/openssl: read key file %s: %s",
				     path,
				     n < 0 ? strerror(errno) : "file shrank");
			ret = SB_ERR;
			goto done;
		}
		got += (size_t)n;
	}
	ret = SB_OK;
done:
	if (ret != SB_OK)
		explicit_bzero(kek, CO_KEK_LEN);
	close(fd);
	return ret;
}

int co_keyfile_load(struct co_instance *ci, const char *path,
		    uint8_t kek[CO_KEK_LEN], struct sb_error *err)
{
	char dir[PATH_MAX];
	int ret;

	ret = check_state_dir(ci->host->state_dir, err);
	if (ret != SB_OK)
		return ret;
	parent_dir(path, dir);
	if (strcmp(dir, ci->host->state_dir) != 0) {
		ret = check_key_dir(dir, err);
		if (ret != SB_OK)
			return ret;
	}
	/* Two tries: if another process creates the file between our open
	 * and our O_EXCL create, read the one it made. */
	for (int attempt = 0; attempt < 2; attempt++) {
		ret = read_key_file(path, kek, err);
		if (ret != -ENOENT)
			return ret;
		ret = create_key_file(ci, path, dir, kek, err);
		if (ret != -EEXIST)
			return ret;
	}
	return sb_error_set(err, SB_ERR,
			    "crypto/openssl: key file %s keeps appearing and "
			    "disappearing; is another daemon using this state "
			    "directory?",
			    path);
}
