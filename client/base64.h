/*
 * Base64 (RFC 4648 standard alphabet, with padding, no line breaks) as the
 * API carries backup files, on OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock.
 */
#ifndef SBCTL_BASE64_H
#define SBCTL_BASE64_H

#include <stddef.h>

/* Returns the NUL-terminated encoding of data[0..len), malloc'd (the caller
 * frees it), or NULL with errno set: ENOMEM, or EOVERFLOW when len is too
 * large for OpenSSL's int lengths. */
char *sbctl_b64_encode(const unsigned char *data, size_t len);

/* Decodes the NUL-terminated s. Returns 0 with *out (malloc'd, caller frees;
 * never NULL on success, even for an empty result) and *outlen set, or -1
 * with errno EINVAL when s is not well-formed padded base64 (a length that
 * is not a multiple of 4, a character outside the alphabet, misplaced
 * padding, whitespace or line breaks), or ENOMEM/EOVERFLOW. */
int sbctl_b64_decode(const char *s, unsigned char **out, size_t *outlen);

#endif
