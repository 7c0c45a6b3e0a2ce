/*
 * Small file helpers shared by the daemon and sbctl.
 */
#ifndef SB_FILEUTIL_H
#define SB_FILEUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Writes data to path atomically: a temporary file in the same directory,
 * created 0600, written, fsync'ed, renamed over path, then the directory
 * fsync'ed. With overwrite 0 an existing path is refused (EEXIST). Returns
 * 0, or -1 with msg naming the path and the reason; on failure path is
 * untouched and no temporary file is left. */
int sb_write_file_atomic(const char *path, const uint8_t *data, size_t len,
			 int overwrite, char *msg, size_t msglen);

/* Renames from to to (both in one directory) and fsyncs that directory.
 * Returns 0, or -1 with msg naming both paths and the reason. */
int sb_rename_durable(const char *from, const char *to, char *msg,
		      size_t msglen);

/* Reads a whole regular file of at most max bytes. *data malloc'ed (NUL
 * terminated beyond *len). Returns 0, or -1 with msg (ENOENT: errno kept). */
int sb_read_file(const char *path, size_t max, uint8_t **data, size_t *len,
		 char *msg, size_t msglen);

#endif
