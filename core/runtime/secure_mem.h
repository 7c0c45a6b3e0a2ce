/*
 * Secure memory for secret material: page-backed, mlock'ed, excluded from
 * core dumps (MADV_DONTDUMP), wiped with explicit_bzero when freed.
 */
#ifndef SB_SECURE_MEM_H
#define SB_SECURE_MEM_H

#include <stddef.h>

/* Returns n zeroed, locked bytes, or NULL (errno set) when the memory cannot
 * be mapped or locked. The caller releases them with sb_secure_free(p, n). */
void *sb_secure_alloc(size_t n);

/* Wipes and unmaps p (from sb_secure_alloc with the same n). NULL is a no-op.
 */
void sb_secure_free(void *p, size_t n);

/* Frees *pp as above and sets *pp to NULL, relayd purge_key style. */
#define SB_SECURE_PURGE(pp, n)                                                 \
	do {                                                                   \
		sb_secure_free(*(pp), (n));                                    \
		*(pp) = NULL;                                                  \
	} while (0)

/* Wipes SB_STACK_SCRUB_BYTES of the calling thread's stack below the
 * caller's frame, where the frames of the functions it called lie dead
 * with what they held (a decoded key, a derived one in a library's
 * buffer). Called by the threads that handle secret material away from
 * the request path: after each job, after each fetch of the secret. */
#define SB_STACK_SCRUB_BYTES (64 * 1024)
void sb_stack_scrub(void);

/* Process-wide hardening done once at start: no core dumps
 * (PR_SET_DUMPABLE 0, RLIMIT_CORE 0) and umask 077. Returns 0 or -1. */
int sb_process_harden(void);

#endif
