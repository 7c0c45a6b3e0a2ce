/*
 * The service manager's readiness protocol (sd_notify(3)), spoken
 * directly: one datagram of "KEY=VALUE" lines to the Unix socket named by
 * $NOTIFY_SOCKET. Without that variable (not started by systemd with
 * Type=notify) every call here does nothing and succeeds.
 */
#ifndef SB_SD_NOTIFY_H
#define SB_SD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID once and removes
 * them from the environment (so no child inherits them). Call before any
 * thread starts. Returns 0, or -1 when $NOTIFY_SOCKET is set but unusable
 * (too long, not absolute or abstract, or no socket could be made), with
 * the reason in msg. */
int sb_notify_init(char *msg, size_t msglen);

/* 1 when a service manager listens ($NOTIFY_SOCKET was set). */
int sb_notify_enabled(void);

/* Sends state (newline-separated "KEY=VALUE" lines, e.g. "READY=1\n
 * STATUS=...") as one datagram. Thread-safe. Returns 0 (also when no
 * manager listens), or -1 with errno when the send failed. */
int sb_notify(const char *state);

/* Sends "RELOADING=1" with "MONOTONIC_USEC=" the CLOCK_MONOTONIC time now,
 * as Type=notify-reload asks. Returns as sb_notify. */
int sb_notify_reloading(void);

/* The watchdog interval the manager asked for ($WATCHDOG_USEC, for this
 * process), in microseconds; 0 when none. */
uint64_t sb_notify_watchdog_usec(void);

/* Closes the socket (at exit). */
void sb_notify_close(void);

#endif
