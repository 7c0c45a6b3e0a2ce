/*
 * Passwords for backup files: read without echo from the controlling
 * terminal, or from the first line of a file. Never from argv or the
 * environment, where other users and logs can see them. Credential values
 * and confirmations are read from the terminal the same way.
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

/* Flags of sbctl_tty_prompt(). */
#define SBCTL_TTY_NO_ECHO     0x1u /* do not show what is typed */
#define SBCTL_TTY_ALLOW_EMPTY 0x2u /* an empty line is an answer */

/*
 * The general form of sbctl_password_prompt(): prompts on /dev/tty and reads
 * one line into buf (buflen bytes, NUL included), with echo unless
 * SBCTL_TTY_NO_ECHO, twice when confirm_prompt is not NULL. what names the
 * value in error messages ("password", "value of password"); no_tty_hint
 * (may be NULL) ends the message when there is no terminal, saying what to
 * do instead. Returns 0, or -1 with err filled and buf wiped.
 */
int sbctl_tty_prompt(const char *prompt, const char *confirm_prompt,
		     const char *what, const char *no_tty_hint, unsigned flags,
		     char *buf, size_t buflen, char *err, size_t errlen);

/*
 * Asks a yes/no question on /dev/tty (with echo). Returns 1 for "y" or
 * "yes" (any case), 0 for any other answer, -1 with err filled when there
 * is no terminal to ask on (no_tty_hint, may be NULL, ends that message)
 * or reading fails.
 */
int sbctl_tty_confirm(const char *question, const char *no_tty_hint, char *err,
		      size_t errlen);

#endif
