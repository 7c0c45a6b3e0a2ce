/*
 * Logging for the daemon and the host side of plugins: one line per event to
 * stderr and, when enabled, to syslog. Safe from any thread. Never pass
 * secret material.
 */
#ifndef SB_LOG_H
#define SB_LOG_H

#include <secretbroker/plugin.h>
#include <stdarg.h>

/* Sets the least severe level written (default SB_LOG_INFO) and whether to
 * also write to syslog under ident. ident is copied. */
void sb_log_setup(int min_level, int use_syslog, const char *ident);

void sb_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sb_logv(int level, const char *prefix, const char *fmt, va_list ap);

#define sb_err(...)   sb_log(SB_LOG_ERROR, __VA_ARGS__)
#define sb_warn(...)  sb_log(SB_LOG_WARNING, __VA_ARGS__)
#define sb_info(...)  sb_log(SB_LOG_INFO, __VA_ARGS__)
#define sb_debug(...) sb_log(SB_LOG_DEBUG, __VA_ARGS__)

/* Parses "error", "warning", "info", "debug"; -1 if none of them. */
int sb_log_level_parse(const char *s);

#endif
