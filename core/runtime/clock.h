/* Clocks: wall time for what people read, monotonic time for intervals. */
#ifndef SB_CLOCK_H
#define SB_CLOCK_H

#include <stddef.h>
#include <stdint.h>

uint64_t sb_wall_ms(void);
uint64_t sb_mono_ms(void);
/* CLOCK_MONOTONIC in microseconds, for latencies. */
uint64_t sb_mono_us(void);

/* Formats a wall-clock time in milliseconds since the epoch as RFC 3339 UTC
 * with second precision ("2026-11-25T14:00:00Z") into out (at least 21
 * bytes). Returns out. */
char *sb_iso_time(uint64_t ms, char *out, size_t len);

#endif
