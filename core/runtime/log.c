/* Logging: see log.h. */
#include "runtime/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static int log_min_level = SB_LOG_INFO;
static int log_syslog;
static char log_ident[64] = "secretbroker";
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void sb_log_setup(int min_level, int use_syslog, const char *ident)
{
	log_min_level = min_level;
	if (ident)
		snprintf(log_ident, sizeof(log_ident), "%s", ident);
	if (use_syslog && !log_syslog)
		openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	else if (!use_syslog && log_syslog)
		closelog();
	log_syslog = use_syslog;
}

int sb_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	if (strcmp(s, "warn") == 0)
		return SB_LOG_WARNING;
	return -1;
}

void sb_logv(int level, const char *prefix, const char *fmt, va_list ap)
{
	static const int syslog_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO,
					  LOG_DEBUG};
	char line[2048];
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	if (level > log_min_level)
		return;
	if (level < 0)
		level = 0;
	if (level > 3)
		level = 3;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* Keep one event on one line, whatever a message carries. */
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);

	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %s: %s%s%s%s\n", stamp, ts.tv_nsec / 1000000,
		level_names[level], prefix ? prefix : "", prefix ? ": " : "",
		line, "");
	fflush(stderr);
	if (log_syslog)
		syslog(syslog_prio[level], "%s%s%s", prefix ? prefix : "",
		       prefix ? ": " : "", line);
	pthread_mutex_unlock(&log_lock);
}

void sb_log(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_logv(level, NULL, fmt, ap);
	va_end(ap);
}
