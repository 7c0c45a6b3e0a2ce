/*
 * sd_notify(3) without libsystemd: see sd_notify.h.
 */
#define _GNU_SOURCE
#include "runtime/sd_notify.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_addrlen;
static uint64_t watchdog_usec;

/* Parses a decimal uint64 filling all of s; returns 0 or -1. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* See sd_notify.h. */
int sb_notify_init(char *msg, size_t msglen)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wd_pid = getenv("WATCHDOG_PID");
	uint64_t pid, usec;
	size_t len;
	int ret = -1;

	watchdog_usec = 0;
	/* The watchdog is ours unless it names another process. */
	if (parse_u64(wd, &usec) == 0 && usec > 0 &&
	    (wd_pid == NULL ||
	     (parse_u64(wd_pid, &pid) == 0 && pid == (uint64_t)getpid())))
		watchdog_usec = usec;
	if (path == NULL || *path == '\0') {
		ret = 0;
		goto done;
	}
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(notify_addr.sun_path)) {
		snprintf(msg, msglen,
			 "NOTIFY_SOCKET \"%s\" is not an absolute path or an "
			 "abstract socket name of at most %zu bytes",
			 path, sizeof(notify_addr.sun_path) - 1);
		goto done;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0'; /* abstract namespace */
	notify_addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
				     len + (path[0] == '/'));
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0) {
		snprintf(msg, msglen, "NOTIFY_SOCKET: socket: %s",
			 strerror(errno));
		goto done;
	}
	ret = 0;
done:
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return ret;
}

int sb_notify_enabled(void)
{
	return notify_fd >= 0;
}

/* See sd_notify.h. */
int sb_notify(const char *state)
{
	ssize_t n;

	if (notify_fd < 0)
		return 0;
	do
		n = sendto(notify_fd, state, strlen(state), MSG_NOSIGNAL,
			   (const struct sockaddr *)&notify_addr,
			   notify_addrlen);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

/* See sd_notify.h. */
int sb_notify_reloading(void)
{
	struct timespec ts;
	char buf[64];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(buf, sizeof(buf), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
		 (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
	return sb_notify(buf);
}

uint64_t sb_notify_watchdog_usec(void)
{
	return watchdog_usec;
}

void sb_notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
