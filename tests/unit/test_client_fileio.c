/*
 * unit.client.fileio: sbctl's backup file I/O (client/fileio.c): the atomic
 * write creates mode 0600 whatever the umask, never replaces a file without
 * force, replaces it atomically with force (a concurrent reader only ever
 * sees the old or the new content, whole), and leaves no temp file behind.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"

static char dir[] = "/tmp/sbctl-fileio-XXXXXX";
static char err[512];

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

static const char *in_dir(const char *name)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* Counts the entries of dir whose name starts with ".sbctl." */
static int temp_files(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, ".sbctl.", 7) == 0)
			n++;
	closedir(d);
	return n;
}

static void assert_content(const char *path, const char *want)
{
	unsigned char *data;
	size_t len;

	assert_int_equal(sbctl_read_file("test file", path, 1 << 20, &data,
					 &len, err, sizeof(err)),
			 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	free(data);
}

static void test_creates_0600_despite_umask(void **state)
{
	const char *p = in_dir("new.sbk");
	struct stat st;
	mode_t old = umask(0);

	(void)state;
	assert_int_equal(sbctl_atomic_write(p, "blob", 4, 0, err, sizeof(err)),
			 0);
	umask(old);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_content(p, "blob");
	assert_int_equal(temp_files(), 0);
}

static void test_refuses_existing_without_force(void **state)
{
	const char *p = in_dir("keep.sbk");
	struct sbctl_atomic_file af;

	(void)state;
	assert_int_equal(sbctl_atomic_write(p, "old", 3, 0, err, sizeof(err)),
			 0);
	/* Refused at open, before any work is done ... */
	assert_int_equal(sbctl_atomic_write(p, "new", 3, 0, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "already exists"));
	assert_non_null(strstr(err, "--force"));
	assert_non_null(strstr(err, p));
	assert_content(p, "old");
	/* ... and at commit, when the file appeared in between. */
	unlink(p);
	assert_int_equal(sbctl_atomic_open(&af, p, 0, err, sizeof(err)), 0);
	assert_int_equal(sbctl_atomic_write(p, "racer", 5, 0, err, sizeof(err)),
			 0);
	assert_int_equal(sbctl_atomic_commit(&af, "late", 4, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "already exists"));
	sbctl_atomic_abort(&af);
	assert_content(p, "racer");
	assert_int_equal(temp_files(), 0);
}

static void test_force_replaces(void **state)
{
	const char *p = in_dir("replace.sbk");
	struct stat before, after;
	int fd;
	char buf[8] = {0};

	(void)state;
	assert_int_equal(sbctl_atomic_write(p, "old", 3, 0, err, sizeof(err)),
			 0);
	assert_int_equal(chmod(p, 0644), 0);
	assert_int_equal(stat(p, &before), 0);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(sbctl_atomic_write(p, "newer", 5, 1, err, sizeof(err)),
			 0);
	assert_int_equal(stat(p, &after), 0);
	/* A new inode took the name (rename), with the new mode; a reader of
	 * the old one still reads the old content. */
	assert_true(before.st_ino != after.st_ino);
	assert_int_equal(after.st_mode & 07777, 0600);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 3);
	assert_string_equal(buf, "old");
	close(fd);
	assert_content(p, "newer");
	assert_int_equal(temp_files(), 0);
}

/* A reader racing many forced replacements sees only whole contents. */
static void test_replace_is_atomic_for_readers(void **state)
{
	const char *p = in_dir("race.sbk");
	static char a[8192], b[8192];
	pid_t pid;
	int status;

	(void)state;
	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	assert_int_equal(
		sbctl_atomic_write(p, a, sizeof(a), 0, err, sizeof(err)), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* Reader: every read of the file must be all A or all B. It
		 * dies with the test should an assertion end the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			unsigned char *data;
			size_t len;
			char e[512];

			if (sbctl_read_file("test file", p, 1 << 20, &data,
					    &len, e, sizeof(e)) != 0)
				_exit(2); /* the name was ever missing */
			if (len != sizeof(a) || (memcmp(data, a, len) != 0 &&
						 memcmp(data, b, len) != 0))
				_exit(3); /* a partial or mixed file */
			free(data);
		}
	}
	for (int i = 0; i < 300; i++)
		assert_int_equal(sbctl_atomic_write(p, i % 2 ? a : b, sizeof(a),
						    1, err, sizeof(err)),
				 0);
	/* Still running means it never saw a bad state. */
	assert_int_equal(waitpid(pid, &status, WNOHANG), 0);
	kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(temp_files(), 0);
}

static void test_abort_leaves_nothing(void **state)
{
	const char *p = in_dir("aborted.sbk");
	struct sbctl_atomic_file af;
	struct stat st;

	(void)state;
	assert_int_equal(sbctl_atomic_open(&af, p, 0, err, sizeof(err)), 0);
	assert_int_equal(temp_files(), 1);
	/* The temp file is private from the start. */
	assert_int_equal(fstat(af.fd, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	sbctl_atomic_abort(&af);
	assert_int_equal(temp_files(), 0);
	assert_int_equal(access(p, F_OK), -1);
}

static void test_bad_targets(void **state)
{
	char path[300];

	(void)state;
	snprintf(path, sizeof(path), "%s/no/such/dir/x.sbk", dir);
	assert_int_equal(sbctl_atomic_write(path, "x", 1, 0, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "no/such/dir"));
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(sbctl_atomic_write(dir, "x", 1, 1, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "is a directory"));
	snprintf(path, sizeof(path), "%s/", dir);
	assert_int_equal(sbctl_atomic_write(path, "x", 1, 1, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "not a directory"));
	/* A bare name goes to the current directory. */
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(
		sbctl_atomic_write("bare.sbk", "x", 1, 0, err, sizeof(err)), 0);
	assert_content(in_dir("bare.sbk"), "x");
	assert_int_equal(chdir("/"), 0);
}

static void test_read_file(void **state)
{
	unsigned char *data;
	size_t len;
	const char *p = in_dir("read.sbk");

	(void)state;
	assert_int_equal(
		sbctl_atomic_write(p, "0123456789", 10, 0, err, sizeof(err)),
		0);
	assert_int_equal(sbctl_read_file("test file", p, 10, &data, &len, err,
					 sizeof(err)),
			 0);
	assert_int_equal(len, 10);
	assert_int_equal(data[10], 0); /* NUL-terminated for convenience */
	free(data);
	assert_int_equal(sbctl_read_file("test file", p, 9, &data, &len, err,
					 sizeof(err)),
			 -1);
	assert_non_null(strstr(err, p));
	assert_non_null(strstr(err, "test file "));
	assert_non_null(strstr(err, "10 bytes"));
	assert_null(data);
	assert_int_equal(sbctl_read_file("test file", in_dir("absent.sbk"), 100,
					 &data, &len, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "absent.sbk"));
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(sbctl_read_file("test file", dir, 100, &data, &len,
					 err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "not a regular file"));
}

/* Standard input for --stdin: any length up to the limit, from a pipe. */
static void test_read_stream(void **state)
{
	unsigned char *data = NULL;
	size_t len = 0;
	int fds[2];
	pid_t pid;
	char big[10000];

	(void)state;
	memset(big, 'v', sizeof(big));
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* In pieces, so the reader grows its buffer. */
		close(fds[0]);
		for (size_t off = 0; off < sizeof(big); off += 1000)
			if (write(fds[1], big + off, 1000) != 1000)
				_exit(1);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(sbctl_read_stream("standard input", fds[0],
					   sizeof(big), &data, &len, err,
					   sizeof(err)),
			 0);
	close(fds[0]);
	waitpid(pid, NULL, 0);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(data, big, sizeof(big));
	assert_int_equal(data[len], '\0');
	free(data);

	/* One byte over the limit is refused, and names the input. */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "0123456789", 10), 10);
	close(fds[1]);
	assert_int_equal(sbctl_read_stream("standard input", fds[0], 9, &data,
					   &len, err, sizeof(err)),
			 -1);
	assert_null(data);
	assert_non_null(strstr(err, "standard input is longer than the 9"));
	close(fds[0]);

	/* Empty input reads as empty. */
	assert_int_equal(pipe(fds), 0);
	close(fds[1]);
	assert_int_equal(sbctl_read_stream("standard input", fds[0], 9, &data,
					   &len, err, sizeof(err)),
			 0);
	assert_int_equal(len, 0);
	free(data);
	close(fds[0]);
	assert_int_equal(sbctl_read_stream("standard input", -1, 9, &data, &len,
					   err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "cannot read standard input"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_creates_0600_despite_umask),
		cmocka_unit_test(test_refuses_existing_without_force),
		cmocka_unit_test(test_force_replaces),
		cmocka_unit_test(test_replace_is_atomic_for_readers),
		cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_bad_targets),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_read_stream),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
