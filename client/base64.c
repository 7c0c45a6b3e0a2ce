/* Base64 for backup blobs: see base64.h. */
#include "base64.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

char *sbctl_b64_encode(const unsigned char *data, size_t len)
{
	char *out;
	size_t outlen;

	/* EVP_EncodeBlock takes an int and writes 4 bytes per 3 plus a NUL. */
	if (len > (size_t)INT_MAX / 4 * 3) {
		errno = EOVERFLOW;
		return NULL;
	}
	outlen = (len + 2) / 3 * 4;
	if ((out = malloc(outlen + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	out[outlen] = '\0';
	return out;
}

static int b64_char(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '+' || ch == '/';
}

int sbctl_b64_decode(const char *s, unsigned char **out, size_t *outlen)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *buf;
	int got;

	*out = NULL;
	*outlen = 0;
	/* EVP_DecodeBlock skips surrounding whitespace and does not check
	 * padding placement, so the input is checked here first: anything
	 * but canonical base64 is a damaged blob, not something to guess. */
	if (n % 4 != 0)
		goto invalid;
	if (n > 0 && s[n - 1] == '=')
		pad = (n > 1 && s[n - 2] == '=') ? 2 : 1;
	for (size_t i = 0; i < n - pad; i++)
		if (!b64_char((unsigned char)s[i]))
			goto invalid;
	if (n > (size_t)INT_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	if ((buf = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	got = EVP_DecodeBlock(buf, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad) {
		free(buf);
		goto invalid;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes: drop them. */
	*out = buf;
	*outlen = (size_t)got - pad;
	return 0;
invalid:
	errno = EINVAL;
	return -1;
}
