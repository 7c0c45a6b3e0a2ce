/*
 * Local files for sbctl: reading a backup file, and writing one atomically
 * (temp file 0600 beside it, write, fsync, rename, fsync the directory) so
 * that a crash leaves either the old file or the complete new one.
 */
#ifndef SBCTL_FILEIO_H
#define SBCTL_FILEIO_H

#include <stddef.h>

/*
 * Reads all of the regular file path into *data (malloc'd, the caller frees;
 * NUL-terminated for convenience) and *len. Refuses anything that is not a
 * regular file and a file larger than max bytes. Returns 0, or -1 with err
 * naming the file as "<what> <path>" (what: e.g. "backup file").
 */
int sbctl_read_file(const char *what, const char *path, size_t max,
		    unsigned char **data, size_t *len, char *err,
		    size_t errlen);

/*
 * Reads fd (a pipe, a file, a terminal) to its end into *data (malloc'd, the
 * caller wipes and frees it; NUL-terminated) and *len. The input may be a
 * secret: every buffer outgrown on the way is wiped before it is freed.
 * Refuses more than max bytes. Returns 0, or -1 with err naming what
 * (e.g. "standard input").
 */
int sbctl_read_stream(const char *what, int fd, size_t max,
		      unsigned char **data, size_t *len, char *err,
		      size_t errlen);

/* A file being written: the temp file exists from open until commit or
 * abort. */
struct sbctl_atomic_file {
	char *path;	/* the final name, as given */
	char *tmp_path; /* the temp file in the same directory */
	int fd;
	int force; /* commit may replace an existing path */
};

/*
 * Creates the temp file for path (mode 0600, in path's directory, so that the
 * rename stays within one file system). Without force, fails at once when
 * path exists; commit checks again, atomically. Opening before the work that
 * produces the data reports an unwritable directory before that work is
 * done. Returns 0, or -1 with err set (af needs no abort then).
 */
int sbctl_atomic_open(struct sbctl_atomic_file *af, const char *path, int force,
		      char *err, size_t errlen);

/*
 * Writes data[0..len) to the temp file, fsyncs it and moves it to path:
 * rename(2) with force; otherwise renameat2(RENAME_NOREPLACE), or link(2)
 * where the file system lacks it, so an existing file is never replaced.
 * Then fsyncs the directory. Returns 0, or -1 with err set and the temp file
 * removed. Either way, finish with sbctl_atomic_abort().
 */
int sbctl_atomic_commit(struct sbctl_atomic_file *af, const void *data,
			size_t len, char *err, size_t errlen);

/* Removes the temp file if it is still there and frees af's members. */
void sbctl_atomic_abort(struct sbctl_atomic_file *af);

/* open + commit + abort in one call. */
int sbctl_atomic_write(const char *path, const void *data, size_t len,
		       int force, char *err, size_t errlen);

#endif
