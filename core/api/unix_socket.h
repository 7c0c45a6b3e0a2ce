/*
 * The API's listening Unix socket.
 */
#ifndef SB_UNIX_SOCKET_H
#define SB_UNIX_SOCKET_H

#include <stddef.h>
#include <sys/types.h>

/* Binds and listens on path with mode and group gid ((gid_t)-1: keep the
 * daemon's), replacing a stale socket of a daemon that died but refusing
 * a path that is not a socket or one another daemon answers on. Returns
 * the non-blocking, close-on-exec descriptor, or -1 with msg. */
int sb_listen_unix(const char *path, mode_t mode, gid_t gid, char *msg,
		   size_t msglen);

#endif
