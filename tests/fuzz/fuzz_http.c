/*
 * The HTTP request parser and router: the input is sent byte for byte to
 * the real daemon's Unix socket (fuzz_daemon.h), so libevent's parser,
 * the request checks (core/api/request_checks.c), the path decoding and
 * the route table (core/api/routes.c) and whatever handler a path reaches
 * all run as in production. The daemon must answer with an HTTP response
 * or close the connection, and never with a 500.
 */
#define _GNU_SOURCE
#include "fuzz_common.h"
#include "fuzz_daemon.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_daemon_start();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reply[8192];
	size_t n = fuzz_daemon_exchange(data, size, reply, sizeof(reply));
	int status;

	if (n == 0)
		return 0; /* closed without a word: libevent's way */
	status = fuzz_reply_status(reply);
	if (status == 0)
		fuzz_fail("the daemon answered something that is not an HTTP "
			  "response: %.200s",
			  reply);
	if (status == 500)
		fuzz_fail("the daemon answered 500: %.500s", reply);
	return 0;
}
