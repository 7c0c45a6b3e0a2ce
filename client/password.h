/*
 * Passwords for backup files: read without echo from the controlling
 * terminal, or from the first line of a file. Never from argv or the
 * environment, where other users and logs can see them.
 *
 * The caller owns the buffer and wipes it with explicit_bzero when done.
 */
#ifndef SBCTL_PASSWORD_H
#define SBCTL_PASSWORD_H

#include <stddef.h>

/* Buffer size for a password, NUL included: the longest accepted password
 * is SBCTL_PASSWORD_MAX - 1 bytes. */
#define SBCTL_PASSWORD_MAX 1024

/*
 * Reads the password from the first line of path: the line up to its "\n"
 * (a "\r" before it is dropped too). Refuses a regular file that group or
 * others may read, a directory, an empty first line, a NUL byte, and a line
 * that does not fit pw (pwlen bytes, NUL included). Pipes (e.g. bash's
 * <(...)) are accepted. Returns 0 with pw NUL-terminated, or -1 with err
 * naming the file and pw wiped.
 */
int sbctl_password_from_file(const char *path, char *pw, size_t pwlen,
			     char *err, size_t errlen);

/*
 * Prompts on /dev/tty with echo off and reads one line into pw (pwlen bytes,
 * NUL included). When confirm_prompt is not NULL, prompts a second time and
 * requires both to match. The terminal's settings are restored whatever
 * happens; on SIGINT, SIGTERM, SIGQUIT or SIGHUP they are restored and the
 * signal is re-raised. Returns 0, or -1 with err filled and pw wiped (no
 * terminal, empty password, too long, mismatch, end of input).
 */
int sbctl_password_prompt(const char *prompt, const char *confirm_prompt,
			  char *pw, size_t pwlen, char *err, size_t errlen);

#endif
