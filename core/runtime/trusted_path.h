/*
 * Trusted paths: the files the daemon takes code (plugins) or its
 * configuration from, as sshd's StrictModes checks them. Whoever can write
 * such a file, or a directory above it, can run code as the daemon, which
 * holds the master secret.
 */
#ifndef SB_TRUSTED_PATH_H
#define SB_TRUSTED_PATH_H

#include <stddef.h>

/* Checks path and every directory above it up to /. path itself (a file
 * or a directory; what names it in the message, e.g. "plugin directory")
 * must be owned by root or the daemon's effective user and not writable by
 * group or others. Each directory above it must be owned the same way and
 * not writable by group or others, except a root-owned sticky directory
 * (/tmp), where nobody else can rename or remove what root owns. Symbolic
 * links are resolved first (realpath), so the check is on what is opened.
 * Returns 0, or -1 with err naming the offending path, its mode and owner
 * and the rule, e.g. "bad ownership or modes for plugin directory /x (mode
 * 0777, owner uid 1000): must be owned by root or the daemon's user (uid
 * 0) and not writable by group or others". */
int sb_path_check_trusted(const char *path, const char *what, char *err,
			  size_t errlen);

#endif
