/* Secure memory and process hardening: see secure_mem.h. */
#define _GNU_SOURCE
#include "runtime/secure_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (n == 0)
		n = 1;
	return (n + page - 1) / page * page;
}

void *sb_secure_alloc(size_t n)
{
	size_t len = page_round(n);
	void *p;

	if (n > (1u << 24)) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mlock(p, len) != 0) {
		int saved = errno;

		munmap(p, len);
		errno = saved;
		return NULL;
	}
	(void)madvise(p, len, MADV_DONTDUMP);
	return p; /* anonymous mappings are zero-filled */
}

void sb_secure_free(void *p, size_t n)
{
	size_t len;

	if (p == NULL)
		return;
	len = page_round(n);
	explicit_bzero(p, len);
	munlock(p, len);
	munmap(p, len);
}

__attribute__((noinline)) void sb_stack_scrub(void)
{
	unsigned char dead[SB_STACK_SCRUB_BYTES];

	explicit_bzero(dead, sizeof(dead));
	/* Keep the frame (and the wipe) from being optimised away. */
	__asm__ __volatile__("" : : "r"(dead) : "memory");
}

int sb_process_harden(void)
{
	struct rlimit rl = {0, 0};

	umask(077);
	if (setrlimit(RLIMIT_CORE, &rl) != 0)
		return -1;
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -1;
	return 0;
}
