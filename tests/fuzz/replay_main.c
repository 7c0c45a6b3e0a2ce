/*
 * Replays files through a harness's LLVMFuzzerTestOneInput without
 * libFuzzer, so the seed corpus and the crashes once found
 * (tests/fuzz/regressions/) run in the normal gcc builds, sanitizers
 * included. Arguments are files or directories (every regular file in
 * them, in name order). Prints how many inputs ran; a broken invariant or
 * a sanitizer report aborts, so the test fails.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

/* Reads path whole into a malloc'ed buffer (the exact size, so ASan sees
 * any read past the end). Returns 0 or -1. */
static int replay_file(const char *path, size_t *count)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;
	int ret = -1;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto done;
	buf = malloc(len ? (size_t)len : 1);
	if (buf == NULL || fread(buf, 1, (size_t)len, f) != (size_t)len)
		goto done;
	LLVMFuzzerTestOneInput(buf, (size_t)len);
	(*count)++;
	ret = 0;
done:
	if (ret != 0)
		fprintf(stderr, "replay: cannot read %s: %s\n", path,
			strerror(errno));
	free(buf);
	if (f)
		fclose(f);
	return ret;
}

static int replay_path(const char *path, size_t *count)
{
	struct dirent **names = NULL;
	struct stat st;
	int n, ret = 0;

	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path, count);
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char child[PATH_MAX];

		if (names[i]->d_name[0] != '.' &&
		    (size_t)snprintf(child, sizeof(child), "%s/%s", path,
				     names[i]->d_name) < sizeof(child) &&
		    stat(child, &st) == 0 && S_ISREG(st.st_mode) &&
		    replay_file(child, count) != 0)
			ret = -1;
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int ret = 0;

	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++)
		if (replay_path(argv[i], &count) != 0)
			ret = 1;
	printf("replayed %zu inputs\n", count);
	return ret;
}
