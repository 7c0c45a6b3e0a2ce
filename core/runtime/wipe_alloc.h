/*
 * Allocators that wipe what they free, for the libraries whose buffers
 * hold request and reply bodies, JSON documents and TLS records (jansson,
 * libevent, OpenSSL, libcurl), so that a freed block leaves no credential,
 * password or key in the heap.
 */
#ifndef SB_WIPE_ALLOC_H
#define SB_WIPE_ALLOC_H

#include <stddef.h>

/* Frees p (from malloc, NULL is a no-op) after wiping every byte of the
 * block: the size comes from glibc's malloc_usable_size, which is also
 * right under AddressSanitizer, so no size header is needed. */
void sb_wiping_free(void *p);
/* realloc through a new block: the old one is wiped and freed. */
void *sb_wiping_realloc(void *p, size_t n);
/* strdup (for libcurl's table; freed with sb_wiping_free). */
char *sb_wiping_strdup(const char *s);

/* Makes jansson, libevent and OpenSSL allocate with malloc and free with
 * sb_wiping_free. Call once at start, before anything of theirs is
 * allocated (before curl_global_init, which starts OpenSSL; libcurl's own
 * table is given with curl_global_init_mem). Returns 0, or -1 when OpenSSL
 * had already allocated. */
int sb_wiping_alloc_install(void);

#endif
