/*
 * unit.client.password: passwords from a file and from a terminal
 * (client/password.c). The terminal cases run the prompt in a child whose
 * controlling terminal is a pseudo-terminal this test drives, so echo, the
 * confirmation and the terminal's restoration are checked for real.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "password.h"

static char dir[] = "/tmp/sbctl-pw-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Writes content (len bytes) to dir/name with mode; returns the path. */
static const char *make_file(const char *name, const char *content, size_t len,
			     mode_t mode)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static int read_pw(const char *path, char *pw, size_t pwlen, char *err)
{
	err[0] = '\0';
	return sbctl_password_from_file(path, pw, pwlen, err, 256);
}

static void test_file_first_line(void **state)
{
	char pw[SBCTL_PASSWORD_MAX], err[256];
	const char *p;

	(void)state;
	p = make_file("a", "correct horse\nsecond line\n", 26, 0600);
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), 0);
	assert_string_equal(pw, "correct horse");
	/* What followed the first line does not linger in the buffer. */
	for (size_t i = strlen(pw); i < sizeof(pw); i++)
		assert_int_equal(pw[i], 0);
	p = make_file("b", "no newline", 10, 0400);
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), 0);
	assert_string_equal(pw, "no newline");
	p = make_file("c", "dos line\r\n", 10, 0600);
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), 0);
	assert_string_equal(pw, "dos line");
	/* Spaces are part of a password. */
	p = make_file("d", "  padded  \n", 11, 0600);
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), 0);
	assert_string_equal(pw, "  padded  ");
}

static void test_file_exact_fit_and_too_long(void **state)
{
	char pw[16], err[256], content[64];
	const char *p;

	(void)state;
	memset(content, 'x', sizeof(content));
	content[15] = '\n';
	p = make_file("fit", content, 16, 0600); /* 15 chars + newline */
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), 0);
	assert_int_equal(strlen(pw), 15);
	p = make_file("fit2", content, 15, 0600); /* 15 chars, no newline */
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), 0);
	assert_int_equal(strlen(pw), 15);
	content[15] = 'x';
	p = make_file("long", content, 17, 0600); /* 17 chars, too many */
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), -1);
	assert_non_null(strstr(err, "longer than 15 bytes"));
	assert_non_null(strstr(err, p));
	for (size_t i = 0; i < sizeof(pw); i++)
		assert_int_equal(pw[i], 0);
}

static void test_file_refusals(void **state)
{
	char pw[SBCTL_PASSWORD_MAX], err[256], path[256];
	const char *p;

	(void)state;
	p = make_file("grp", "secret12\n", 9, 0640);
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), -1);
	assert_non_null(strstr(err, "readable by group or others"));
	assert_non_null(strstr(err, "0640"));
	assert_non_null(strstr(err, p));
	assert_null(strstr(err, "secret12"));
	p = make_file("oth", "secret12\n", 9, 0604);
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), -1);
	assert_non_null(strstr(err, "readable by group or others"));
	p = make_file("empty", "\nsecond\n", 8, 0600);
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), -1);
	assert_non_null(strstr(err, "is empty"));
	p = make_file("zero", "", 0, 0600);
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), -1);
	assert_non_null(strstr(err, "is empty"));
	p = make_file("nul", "ab\0cd\n", 6, 0600);
	assert_int_equal(read_pw(p, pw, sizeof(pw), err), -1);
	assert_non_null(strstr(err, "NUL"));
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(read_pw(path, pw, sizeof(pw), err), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(read_pw(dir, pw, sizeof(pw), err), -1);
	assert_non_null(strstr(err, "is a directory"));
}

/* A pipe, as bash's <(printf ...) gives, has no mode to check. */
static void test_file_pipe(void **state)
{
	char pw[SBCTL_PASSWORD_MAX], err[256], path[64];
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "from a pipe\nrest", 16), 16);
	close(fds[1]);
	snprintf(path, sizeof(path), "/dev/fd/%d", fds[0]);
	assert_int_equal(read_pw(path, pw, sizeof(pw), err), 0);
	assert_string_equal(pw, "from a pipe");
	close(fds[0]);
}

/* ---- terminal ---- */

struct tty_run {
	int rc;		  /* the prompt's return value in the child */
	char pw[128];	  /* what it read */
	char err[256];	  /* or why not */
	char screen[512]; /* everything the child wrote to the terminal */
	int status;	  /* the child's wait status */
	int echo_after;	  /* ECHO set on the terminal after the child ended */
};

/* Reads from the pty master into r->screen until needle shows up or the
 * child is gone; returns whether it showed up. */
static int wait_for(int master, struct tty_run *r, size_t *len,
		    const char *needle)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (strstr(r->screen, needle) == NULL) {
		struct pollfd pfd = {.fd = master, .events = POLLIN};
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec > 10)
			return 0;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(master, r->screen + *len,
			 sizeof(r->screen) - 1 - *len);
		if (n <= 0)
			return 0; /* EIO: the child closed the terminal */
		*len += (size_t)n;
		r->screen[*len] = '\0';
	}
	return 1;
}

/* What run_prompt runs: the password prompt, a value prompt with echo
 * (empty allowed), or the yes/no question. */
enum { MODE_PASSWORD, MODE_VALUE, MODE_CONFIRM };
static int prompt_mode = MODE_PASSWORD;

/*
 * Runs sbctl_password_prompt (or, per prompt_mode, the others) in a child on a
 * fresh pty, typing each of lines (NULL-terminated) after the prompt before it
 * appears. with_tty = 0 runs the child without any controlling terminal.
 */
static void run_prompt(struct tty_run *r, int confirm, int with_tty,
		       const char *const *lines)
{
	int master = -1, res[2], ready[2];
	pid_t pid;
	char byte;
	size_t len = 0;
	struct termios t;
	const char *prompts[] = {"P1: ", "P2: "};

	memset(r, 0, sizeof(*r));
	master = posix_openpt(O_RDWR | O_NOCTTY);
	if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
		skip();
	assert_int_equal(pipe(res), 0);
	assert_int_equal(pipe(ready), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct tty_run out = {0};

		close(res[0]);
		close(ready[0]);
		setsid();
		if (with_tty) {
			int slave = open(ptsname(master), O_RDWR);

			if (slave < 0 || ioctl(slave, TIOCSCTTY, 0) != 0)
				_exit(100);
			close(master);
		}
		/* Until the slave is open the master reads EIO, which the
		 * parent would take for the child having gone. */
		if (write(ready[1], "R", 1) != 1)
			_exit(102);
		close(ready[1]);
		if (prompt_mode == MODE_PASSWORD)
			out.rc = sbctl_password_prompt(
				"P1: ", confirm ? "P2: " : NULL, out.pw,
				sizeof(out.pw), out.err, sizeof(out.err));
		else if (prompt_mode == MODE_VALUE)
			out.rc = sbctl_tty_prompt(
				"P1: ", confirm ? "P2: " : NULL,
				"value of user", "give the values with --stdin",
				SBCTL_TTY_ALLOW_EMPTY, out.pw, sizeof(out.pw),
				out.err, sizeof(out.err));
		else
			out.rc = sbctl_tty_confirm("P1: ", "give --yes",
						   out.err, sizeof(out.err));
		if (write(res[1], &out, sizeof(out)) != sizeof(out))
			_exit(101);
		_exit(0);
	}
	close(res[1]);
	close(ready[1]);
	assert_int_equal(read(ready[0], &byte, 1), 1);
	close(ready[0]);
	for (int i = 0; with_tty && lines[i] != NULL; i++) {
		if (!wait_for(master, r, &len, prompts[i]))
			break;
		assert_int_equal(write(master, lines[i], strlen(lines[i])),
				 (ssize_t)strlen(lines[i]));
	}
	{
		struct tty_run got;
		struct pollfd pfd = {.fd = res[0], .events = POLLIN};

		/* A child stuck waiting for input fails the test, rather
		 * than hanging it. */
		if (poll(&pfd, 1, 15000) != 1) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(master);
			close(res[0]);
			fail_msg("the prompt did not return; terminal so far: "
				 "%s",
				 r->screen);
		}
		if (read(res[0], &got, sizeof(got)) == sizeof(got)) {
			r->rc = got.rc;
			memcpy(r->pw, got.pw, sizeof(r->pw));
			memcpy(r->err, got.err, sizeof(r->err));
		} else {
			r->rc = -2; /* the child died before answering */
		}
	}
	close(res[0]);
	/* Collect the rest of what was written to the terminal. */
	if (with_tty)
		wait_for(master, r, &len, "\x01never\x01");
	assert_int_equal(waitpid(pid, &r->status, 0), pid);
	if (with_tty && tcgetattr(master, &t) == 0)
		r->echo_after = (t.c_lflag & ECHO) != 0;
	close(master);
}

static void test_tty_single(void **state)
{
	struct tty_run r;
	const char *lines[] = {"hunter2hunter2\n", NULL};

	(void)state;
	run_prompt(&r, 0, 1, lines);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.pw, "hunter2hunter2");
	assert_non_null(strstr(r.screen, "P1: "));
	/* Echo was off: the password never appeared on the terminal. */
	assert_null(strstr(r.screen, "hunter2"));
	assert_int_equal(r.echo_after, 1);
}

static void test_tty_confirm(void **state)
{
	struct tty_run r;
	const char *same[] = {"s3cret-pass\n", "s3cret-pass\n", NULL};
	const char *differ[] = {"s3cret-pass\n", "s3cret-pasS\n", NULL};

	(void)state;
	run_prompt(&r, 1, 1, same);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.pw, "s3cret-pass");
	assert_non_null(strstr(r.screen, "P2: "));
	assert_null(strstr(r.screen, "s3cret"));
	run_prompt(&r, 1, 1, differ);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err, "do not match"));
	assert_string_equal(r.pw, "");
	assert_int_equal(r.echo_after, 1);
}

static void test_tty_empty_and_eof(void **state)
{
	struct tty_run r;
	const char *empty[] = {"\n", NULL};
	const char *eof[] = {"\x04", NULL}; /* VEOF at the start of a line */

	(void)state;
	run_prompt(&r, 0, 1, empty);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err, "empty"));
	run_prompt(&r, 0, 1, eof);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err, "end of input"));
	assert_int_equal(r.echo_after, 1);
}

/* ^C while the prompt waits: the terminal gets its echo back and the
 * process still dies of SIGINT. */
static void test_tty_interrupt_restores_echo(void **state)
{
	struct tty_run r;
	const char *intr[] = {"\x03", NULL};

	(void)state;
	run_prompt(&r, 0, 1, intr);
	assert_int_equal(r.rc, -2);
	assert_true(WIFSIGNALED(r.status));
	assert_int_equal(WTERMSIG(r.status), SIGINT);
	assert_int_equal(r.echo_after, 1);
}

static void test_no_tty(void **state)
{
	struct tty_run r;
	const char *none[] = {NULL};

	(void)state;
	run_prompt(&r, 0, 0, none);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err, "/dev/tty"));
	assert_non_null(strstr(r.err, "--password-file"));
}

/* A value with echo: it shows on the terminal, an empty line is an
 * answer, and the terminal keeps its echo. */
static void test_tty_value_with_echo(void **state)
{
	struct tty_run r;
	const char *bob[] = {"bob@example\n", NULL};
	const char *empty[] = {"\n", NULL};
	const char *none[] = {NULL};

	(void)state;
	prompt_mode = MODE_VALUE;
	run_prompt(&r, 0, 1, bob);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.pw, "bob@example");
	assert_non_null(strstr(r.screen, "P1: bob@example"));
	assert_int_equal(r.echo_after, 1);
	run_prompt(&r, 0, 1, empty);
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.pw, "");
	run_prompt(&r, 0, 0, none);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err, "value of user"));
	assert_non_null(strstr(r.err, "--stdin"));
	prompt_mode = MODE_PASSWORD;
}

/* Only y or yes (any case) confirms; no terminal is an error that says
 * how to confirm without one. */
static void test_tty_yes_no(void **state)
{
	struct tty_run r;
	const char *yes[] = {"y\n", NULL}, *yes2[] = {"YES\n", NULL};
	const char *no[] = {"n\n", NULL}, *enter[] = {"\n", NULL};
	const char *other[] = {"yess\n", NULL}, *none[] = {NULL};

	(void)state;
	prompt_mode = MODE_CONFIRM;
	run_prompt(&r, 0, 1, yes);
	assert_int_equal(r.rc, 1);
	run_prompt(&r, 0, 1, yes2);
	assert_int_equal(r.rc, 1);
	run_prompt(&r, 0, 1, no);
	assert_int_equal(r.rc, 0);
	run_prompt(&r, 0, 1, enter);
	assert_int_equal(r.rc, 0);
	run_prompt(&r, 0, 1, other);
	assert_int_equal(r.rc, 0);
	run_prompt(&r, 0, 0, none);
	assert_int_equal(r.rc, -1);
	assert_non_null(strstr(r.err, "/dev/tty"));
	assert_non_null(strstr(r.err, "give --yes"));
	prompt_mode = MODE_PASSWORD;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_first_line),
		cmocka_unit_test(test_file_exact_fit_and_too_long),
		cmocka_unit_test(test_file_refusals),
		cmocka_unit_test(test_file_pipe),
		cmocka_unit_test(test_tty_single),
		cmocka_unit_test(test_tty_confirm),
		cmocka_unit_test(test_tty_empty_and_eof),
		cmocka_unit_test(test_tty_value_with_echo),
		cmocka_unit_test(test_tty_yes_no),
		cmocka_unit_test(test_tty_interrupt_restores_echo),
		cmocka_unit_test(test_no_tty),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
