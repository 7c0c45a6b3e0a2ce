/* The API's listening Unix socket: see unix_socket.h. */
#include "api/unix_socket.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int sb_listen_unix(const char *path, mode_t mode, gid_t gid, char *msg,
		   size_t msglen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(msg, msglen, "socket path %s is too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			snprintf(msg, msglen,
				 "%s exists and is not a socket; not replacing "
				 "it",
				 path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 &&
		    connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(msg, msglen,
				 "another daemon is already listening on %s",
				 path);
			return -1;
		}
		if (probe >= 0)
			close(probe);
		unlink(path); /* stale socket of a daemon that died */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, msglen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(msg, msglen, "cannot bind %s: %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(path, mode) != 0 ||
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid) != 0)) {
		snprintf(msg, msglen, "cannot set mode/group of %s: %s", path,
			 strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (listen(fd, 1024) != 0) {
		snprintf(msg, msglen, "listen on %s: %s", path,
			 strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}
