/* Wiping allocators: see wipe_alloc.h. */
#define _GNU_SOURCE
#include "runtime/wipe_alloc.h"

#include <event2/event.h>
#include <jansson.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void sb_wiping_free(void *p)
{
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

void *sb_wiping_realloc(void *p, size_t n)
{
	void *q;
	size_t old;

	if (p == NULL)
		return malloc(n);
	old = malloc_usable_size(p);
	q = malloc(n ? n : 1);
	if (q == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	sb_wiping_free(p);
	return q;
}

char *sb_wiping_strdup(const char *s)
{
	return strdup(s);
}

static void *ossl_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return sb_wiping_realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	sb_wiping_free(p);
}

int sb_wiping_alloc_install(void)
{
	json_set_alloc_funcs(malloc, sb_wiping_free);
	event_set_mem_functions(malloc, sb_wiping_realloc, sb_wiping_free);
	/* OpenSSL decrypts TLS records in place in its read buffer: the
	 * master secret a member receives, credentials sent over TLS. */
	return CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)
		       ? 0
		       : -1;
}
