/* Crash points: see crash_point.h. */
#define _GNU_SOURCE
#include "runtime/crash_point.h"

#include "runtime/log.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Set once at start, before any thread, then only read. */
static char armed[64];

void sb_crash_points_arm(const char *name)
{
	snprintf(armed, sizeof(armed), "%s", name ? name : "");
}

void sb_crash_point(const char *op, const char *point)
{
	char name[64];

	if (armed[0] == '\0')
		return;
	snprintf(name, sizeof(name), "%s-%s", op, point);
	if (strcmp(name, armed) != 0)
		return;
	sb_warn("crash point %s: SIGKILL (test build)", name);
	raise(SIGKILL);
}

void sb_pause_point(const char *op, const char *point)
{
	static atomic_int fired;
	char name[64];

	if (armed[0] == '\0')
		return;
	snprintf(name, sizeof(name), "pause:%s-%s", op, point);
	if (strcmp(name, armed) != 0 || atomic_exchange(&fired, 1))
		return;
	sb_warn("pause point %s: SIGSTOP (test build)", name + 6);
	raise(SIGSTOP);
}
