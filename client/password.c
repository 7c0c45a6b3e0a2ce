/* Password and other terminal input for sbctl: see password.h. */
#define _GNU_SOURCE
#include "password.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* Signals that would otherwise leave the terminal without echo. */
static const int tty_signals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
#define N_TTY_SIGNALS (sizeof(tty_signals) / sizeof(tty_signals[0]))

static volatile sig_atomic_t caught_signal;

static void on_signal(int signo)
{
	caught_signal = signo;
}

int sbctl_password_from_file(const char *path, char *pw, size_t pwlen,
			     char *err, size_t errlen)
{
	int ret = -1, fd = -1;
	struct stat st;
	size_t len = 0, line;
	char *nl = NULL;

	if (pwlen < 2) {
		snprintf(err, errlen, "password buffer too small");
		goto done;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "cannot open password file %s: %s", path,
			 strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "cannot stat password file %s: %s", path,
			 strerror(errno));
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "password file %s is a directory", path);
		goto done;
	}
	/* A password file others can read is as good as a published
	 * password, so it is refused outright rather than warned about:
	 * the backup it protects holds the master secret. */
	if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH))) {
		snprintf(err, errlen,
			 "password file %s is readable by group or others "
			 "(mode %04o); make it private with chmod 600",
			 path, (unsigned)(st.st_mode & 07777));
		goto done;
	}
	/* Read until the first line is complete, the buffer is full or the
	 * input ends. */
	while (len < pwlen && nl == NULL) {
		ssize_t n = read(fd, pw + len, pwlen - len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen,
				 "cannot read password file %s: %s", path,
				 strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		nl = memchr(pw + len, '\n', (size_t)n);
		len += (size_t)n;
	}
	if (nl != NULL)
		line = (size_t)(nl - pw);
	else if (len < pwlen)
		line = len; /* last line without a newline */
	else {
		snprintf(err, errlen,
			 "the first line of password file %s is longer than "
			 "%zu bytes",
			 path, pwlen - 1);
		goto done;
	}
	if (line > 0 && pw[line - 1] == '\r')
		line--;
	if (memchr(pw, '\0', line) != NULL) {
		snprintf(err, errlen,
			 "the first line of password file %s contains a NUL "
			 "byte",
			 path);
		goto done;
	}
	if (line == 0) {
		snprintf(err, errlen,
			 "the first line of password file %s is empty", path);
		goto done;
	}
	/* Terminate and wipe whatever followed the first line. */
	explicit_bzero(pw + line, pwlen - line);
	ret = 0;
done:
	if (ret != 0)
		explicit_bzero(pw, pwlen);
	if (fd != -1)
		close(fd);
	return ret;
}

/* Writes all of s to fd; errors are ignored: a prompt that cannot be shown
 * shows up as the read failing next. */
static void tty_write(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w == -1 && errno == EINTR && !caught_signal)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/*
 * Reads one line from the terminal fd (echo already off) into pw. Returns 0,
 * or -1 with err set. Keeps reading to the end of an overlong line so that
 * its tail does not become the answer to the next prompt.
 *
 * The tty signals are blocked on entry and only let through inside ppoll
 * (with waitmask), so one that arrives at any moment ends the wait: a
 * signal handled just before a plain read() would leave it blocking.
 */
static int tty_read_line(int fd, const sigset_t *waitmask, const char *what,
			 int allow_empty, char *pw, size_t pwlen, char *err,
			 size_t errlen)
{
	size_t len = 0;
	int too_long = 0;
	char ch;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (ppoll(&pfd, 1, NULL, waitmask) == -1) {
			pfd.revents = 0;
			if (errno != EINTR) {
				snprintf(err, errlen,
					 "cannot wait for the %s on /dev/tty: "
					 "%s",
					 what, strerror(errno));
				goto fail;
			}
		}
		if (caught_signal) {
			snprintf(err, errlen, "interrupted");
			goto fail;
		}
		if (pfd.revents == 0)
			continue; /* another signal, handled elsewhere */
		n = read(fd, &ch, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen,
				 "cannot read the %s from /dev/tty: %s", what,
				 strerror(errno));
			goto fail;
		}
		if (n == 0) {
			snprintf(err, errlen,
				 "no %s given (end of input on /dev/tty)",
				 what);
			goto fail;
		}
		if (ch == '\n' || ch == '\r')
			break;
		if (len + 1 < pwlen)
			pw[len++] = ch;
		else
			too_long = 1;
	}
	ch = 0;
	pw[len] = '\0';
	if (too_long) {
		snprintf(err, errlen, "the %s is longer than %zu bytes", what,
			 pwlen - 1);
		goto fail;
	}
	if (len == 0 && !allow_empty) {
		snprintf(err, errlen, "the %s is empty", what);
		goto fail;
	}
	return 0;
fail:
	explicit_bzero(pw, pwlen);
	return -1;
}

int sbctl_password_prompt(const char *prompt, const char *confirm_prompt,
			  char *pw, size_t pwlen, char *err, size_t errlen)
{
	return sbctl_tty_prompt(prompt, confirm_prompt, "password",
				"give it with --password-file",
				SBCTL_TTY_NO_ECHO, pw, pwlen, err, errlen);
}

int sbctl_tty_prompt(const char *prompt, const char *confirm_prompt,
		     const char *what, const char *no_tty_hint, unsigned flags,
		     char *pw, size_t pwlen, char *err, size_t errlen)
{
	int echo = !(flags & SBCTL_TTY_NO_ECHO);
	int allow_empty = (flags & SBCTL_TTY_ALLOW_EMPTY) != 0;
	int ret = -1, fd = -1, tty_changed = 0, handlers_set = 0;
	int midline = 0; /* a prompt is showing, its line not ended */
	struct termios saved, quiet;
	struct sigaction sa, old_sa[N_TTY_SIGNALS];
	sigset_t block, saved_mask;
	char *again = NULL;

	explicit_bzero(pw, pwlen);
	if (pwlen < 2) {
		snprintf(err, errlen, "password buffer too small");
		goto done;
	}
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd == -1 || tcgetattr(fd, &saved) == -1) {
		snprintf(err, errlen,
			 "cannot prompt for the %s on /dev/tty: %s%s%s", what,
			 strerror(errno), no_tty_hint ? "; " : "",
			 no_tty_hint ? no_tty_hint : "");
		goto done;
	}
	/* Catch the signals that would leave echo off, without SA_RESTART,
	 * so that a read in progress returns and the terminal is restored
	 * before the signal is delivered for real. */
	caught_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < N_TTY_SIGNALS; i++) {
		sigaction(tty_signals[i], &sa, &old_sa[i]);
		sigaddset(&block, tty_signals[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &saved_mask);
	handlers_set = 1;

	/* Line mode, echo as asked. Without echo, typeahead is discarded:
	 * it was typed before the prompt said what it is for. */
	quiet = saved;
	if (!echo)
		quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, echo ? TCSANOW : TCSAFLUSH, &quiet) == -1) {
		snprintf(err, errlen, "cannot set up /dev/tty: %s",
			 strerror(errno));
		goto done;
	}
	tty_changed = 1;

	tty_write(fd, prompt);
	midline = !echo;
	if (tty_read_line(fd, &saved_mask, what, allow_empty, pw, pwlen, err,
			  errlen) == -1)
		goto done;
	if (!echo)
		tty_write(fd, "\n");
	midline = 0;
	if (confirm_prompt != NULL) {
		if ((again = malloc(pwlen)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto done;
		}
		tty_write(fd, confirm_prompt);
		midline = !echo;
		if (tty_read_line(fd, &saved_mask, what, allow_empty, again,
				  pwlen, err, errlen) == -1)
			goto done;
		if (!echo)
			tty_write(fd, "\n");
		midline = 0;
		if (strcmp(pw, again) != 0) {
			snprintf(err, errlen,
				 "the %s and its confirmation do not match",
				 what);
			goto done;
		}
	}
	ret = 0;
done:
	if (ret != 0)
		explicit_bzero(pw, pwlen);
	if (again != NULL) {
		explicit_bzero(again, pwlen);
		free(again);
		again = NULL;
	}
	if (tty_changed) {
		/* Echo was off, so the user's Enter showed nothing: end
		 * the prompt's line before the error is printed. */
		if (midline)
			tty_write(fd, "\n");
		tcsetattr(fd, TCSAFLUSH, &saved);
	}
	if (fd != -1)
		close(fd);
	if (handlers_set) {
		for (size_t i = 0; i < N_TTY_SIGNALS; i++)
			sigaction(tty_signals[i], &old_sa[i], NULL);
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
		/* Delivered again, now to the caller's disposition. */
		if (caught_signal)
			raise(caught_signal);
	}
	return ret;
}

int sbctl_tty_confirm(const char *question, const char *no_tty_hint, char *err,
		      size_t errlen)
{
	char answer[16];
	int ret;

	if (sbctl_tty_prompt(question, NULL, "answer", no_tty_hint,
			     SBCTL_TTY_ALLOW_EMPTY, answer, sizeof(answer), err,
			     errlen) == -1)
		return -1;
	ret = strcasecmp(answer, "y") == 0 || strcasecmp(answer, "yes") == 0;
	explicit_bzero(answer, sizeof(answer));
	return ret;
}
