/*
 * Crash points, for tests only: the daemon dies with SIGKILL at a named
 * point between two writes, so a test can show what the next start makes
 * of the state such a crash leaves.
 *
 * Only the test daemon arms them (tests/e2e builds core/main.c again as
 * secretbrokerd_crashtest with SB_TEST_CRASH_POINTS, which reads
 * SB_TEST_CRASH_AT). The installed secretbrokerd never calls
 * sb_crash_points_arm and never reads that variable, so for it
 * sb_crash_point compares with NULL and returns.
 */
#ifndef SB_CRASH_POINT_H
#define SB_CRASH_POINT_H

/* Arms the point named name ("restore-after-db"); the string is copied.
 * NULL disarms. */
void sb_crash_points_arm(const char *name);

/* Kills the process with SIGKILL when the armed point is op "-" point
 * (op "restore", point "after-db"), after logging it; returns otherwise. */
void sb_crash_point(const char *op, const char *point);

/* Stops the whole process with SIGSTOP, once, when the armed name is
 * "pause:" op "-" point, after logging it; the test sends SIGCONT (a node
 * frozen between deciding a write and making it). Returns otherwise. */
void sb_pause_point(const char *op, const char *point);

#endif
