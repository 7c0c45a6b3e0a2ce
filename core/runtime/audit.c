/* Auditing: see audit.h and docs/audit.md. */
#define _GNU_SOURCE
#include "runtime/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct sb_audit {
	/* Both levels in one word (positive in bits 0-7, negative in bits
	 * 8-15), so sb_audit_wants is one relaxed load and a reload changes
	 * the pair at once. */
	atomic_uint levels;
	/* Serialises write(2) against each other and against the fd swap of
	 * a reopen. Never held while a record is being built. */
	pthread_mutex_t lock;
	int fd;	    /* -1 when auditing is off */
	char *path; /* NULL when auditing is off */
};

/* Safe to call with msg NULL / msglen 0 (the caller then only wants the
 * return value). */
static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_msg(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg == NULL || msglen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
}

static int clamp_level(int level)
{
	if (level < SB_AUDIT_NONE)
		return SB_AUDIT_NONE;
	if (level > SB_AUDIT_HIGH)
		return SB_AUDIT_HIGH;
	return level;
}

static unsigned pack_levels(int positive_level, int negative_level)
{
	return (unsigned)clamp_level(positive_level) |
	       (unsigned)clamp_level(negative_level) << 8;
}

/*
 * Opens path for appending records, creating it 0600. Refuses what cannot
 * be an audit file: a FIFO or socket (O_NONBLOCK keeps the open of a FIFO
 * without reader from hanging; it changes nothing for regular files), a
 * directory, and a regular file others may write (its records could be
 * forged). Returns the fd, or -1 with msg naming path.
 */
static int open_audit_file(const char *path, char *msg, size_t msglen)
{
	struct stat st;
	int fd;

	fd = open(path,
		  O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
			  O_NONBLOCK,
		  0600);
	if (fd < 0) {
		set_msg(msg, msglen, "cannot open audit file %s: %s", path,
			strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		set_msg(msg, msglen, "cannot stat audit file %s: %s", path,
			strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
		set_msg(msg, msglen,
			"audit file %s is not a regular file or device", path);
		goto fail;
	}
	if (S_ISREG(st.st_mode) && (st.st_mode & S_IWOTH)) {
		set_msg(msg, msglen,
			"audit file %s is writable by others (mode %04o); "
			"remove that permission (chmod o-w)",
			path, (unsigned)(st.st_mode & 07777));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

struct sb_audit *sb_audit_open(const char *path, int positive_level,
			       int negative_level, char *msg, size_t msglen)
{
	struct sb_audit *a = NULL, *ret = NULL;

	if (positive_level < SB_AUDIT_NONE || positive_level > SB_AUDIT_HIGH ||
	    negative_level < SB_AUDIT_NONE || negative_level > SB_AUDIT_HIGH) {
		set_msg(msg, msglen,
			"audit levels must be 0..3 (got positive %d, "
			"negative %d)%s%s",
			positive_level, negative_level, path ? " for " : "",
			path ? path : "");
		goto done;
	}
	if (path != NULL && path[0] == '\0') {
		set_msg(msg, msglen, "audit file path is empty");
		goto done;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		set_msg(msg, msglen, "audit file %s: out of memory",
			path ? path : "(none)");
		goto done;
	}
	a->fd = -1;
	atomic_init(&a->levels, pack_levels(positive_level, negative_level));
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		set_msg(msg, msglen, "audit file %s: cannot create a mutex",
			path ? path : "(none)");
		free(a);
		a = NULL;
		goto done;
	}
	if (path != NULL) {
		a->path = strdup(path);
		if (a->path == NULL) {
			set_msg(msg, msglen, "audit file %s: out of memory",
				path);
			goto done;
		}
		a->fd = open_audit_file(path, msg, msglen);
		if (a->fd < 0)
			goto done;
	}
	ret = a;
	a = NULL;
done:
	sb_audit_close(a);
	return ret;
}

int sb_audit_wants(const struct sb_audit *a, int level, int success)
{
	unsigned levels;
	int configured;

	if (a == NULL || level < SB_AUDIT_LOW || level > SB_AUDIT_HIGH)
		return 0;
	/* Relaxed: a level change need not order anything else, and an
	 * event racing a reload may be filtered by either pair. */
	levels = atomic_load_explicit(&((struct sb_audit *)a)->levels,
				      memory_order_relaxed);
	configured = success ? (int)(levels & 0xff) : (int)(levels >> 8 & 0xff);
	return level <= configured;
}

int sb_audit_event_level(const struct sb_audit_event *ev)
{
	if (!ev->success && ev->http_status == 403 && ev->level > SB_AUDIT_LOW)
		return SB_AUDIT_LOW;
	return ev->level;
}

/*
 * Length of the valid UTF-8 sequence at s (n bytes available), or 0 when
 * the bytes there are not one (stray continuation byte, overlong form,
 * surrogate, beyond U+10FFFF, or cut short). Follows RFC 3629's table.
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* beyond U+10FFFF */
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/*
 * Copies s into out (SB_AUDIT_FIELD_MAX + 4 bytes) as valid UTF-8: each
 * byte that does not start a valid sequence becomes U+FFFD, and text beyond
 * SB_AUDIT_FIELD_MAX bytes is cut at a character boundary and marked with
 * "...". JSON escaping is left to jansson. Returns the length written.
 */
static size_t clean_text(const char *s, char *out)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, o = 0;

	while (i < n) {
		size_t len = utf8_seq_len(p + i, n - i);
		const char *src = len ? (const char *)p + i : replacement;
		size_t out_len = len ? len : 3;

		if (o + out_len > SB_AUDIT_FIELD_MAX) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, src, out_len);
		o += out_len;
		i += len ? len : 1;
	}
	out[o] = '\0';
	return o;
}

/* Sets key to s cleaned as above, or to null when s is NULL. Returns 0 or
 * -1 (out of memory). */
static int set_text(json_t *obj, const char *key, const char *s)
{
	char buf[SB_AUDIT_FIELD_MAX + 4];
	size_t len;

	if (s == NULL)
		return json_object_set_new(obj, key, json_null());
	len = clean_text(s, buf);
	return json_object_set_new(obj, key, json_stringn(buf, len));
}

/* Formats the current time as RFC 3339 UTC with milliseconds,
 * "2024-05-01T12:34:56.789Z", into out (at least 32 bytes). */
static void format_time(char *out, size_t outlen)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, outlen - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/*
 * Builds the record of ev as a JSON object (see sb_audit_write for the
 * fields). Returns a new reference, or NULL when out of memory.
 */
static json_t *build_record(const struct sb_audit_event *ev, int level)
{
	char when[32];
	json_t *obj;
	int bad = 0;

	obj = json_object();
	if (obj == NULL)
		return NULL;
	format_time(when, sizeof(when));
	/* Insertion order is the output order (jansson >= 2.8), so every
	 * line lists the fields the same way. */
	bad |= json_object_set_new(obj, "time", json_string(when));
	bad |= json_object_set_new(obj, "uid",
				   json_integer((json_int_t)ev->uid));
	bad |= set_text(obj, "user", ev->user);
	bad |= set_text(obj, "operation", ev->operation);
	bad |= json_object_set_new(obj, "success",
				   json_boolean(ev->success != 0));
	bad |= json_object_set_new(obj, "level", json_integer(level));
	bad |= set_text(obj, "app", ev->app);
	bad |= set_text(obj, "target", ev->target);
	bad |= set_text(obj, "result", ev->result);
	bad |= json_object_set_new(obj, "http_status",
				   json_integer(ev->http_status));
	bad |= set_text(obj, "request_id", ev->request_id);
	bad |= set_text(obj, "detail", ev->detail);
	if (bad) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/*
 * Appends line (len bytes, ending in '\n') to the audit file. Called with
 * the mutex held. One write(2) normally; a short write (only on a full disk
 * or a signal) is continued, and if the rest cannot be written the partial
 * line is truncated away so the file keeps whole lines. Returns 0, or -1
 * with msg.
 */
static int append_locked(struct sb_audit *a, const char *line, size_t len,
			 char *msg, size_t msglen)
{
	size_t off = 0;
	int saved;

	while (off < len) {
		ssize_t w = write(a->fd, line + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (w == 0) {
			errno = EIO;
			goto fail;
		}
		off += (size_t)w;
	}
	return 0;
fail:
	saved = errno;
	if (off > 0) {
		struct stat st;

		/* O_APPEND put our bytes at the end and the mutex kept our
		 * own threads out, so the last off bytes are ours. */
		if (fstat(a->fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_size >= (off_t)off &&
		    ftruncate(a->fd, st.st_size - (off_t)off) == 0)
			off = 0;
	}
	set_msg(msg, msglen, "cannot write audit record to %s: %s%s", a->path,
		strerror(saved),
		off > 0 ? " (a partial line was left at its end)" : "");
	errno = saved;
	return -1;
}

int sb_audit_write(struct sb_audit *a, const struct sb_audit_event *ev,
		   char *msg, size_t msglen)
{
	char stackbuf[4096], *heapbuf = NULL, *line = stackbuf;
	json_t *rec = NULL;
	size_t need;
	int level, ret = -1;

	if (a == NULL || ev == NULL || ev->operation == NULL) {
		set_msg(msg, msglen, "audit: event without an operation");
		goto done;
	}
	level = sb_audit_event_level(ev);
	if (!sb_audit_wants(a, level, ev->success) || a->path == NULL) {
		ret = 0;
		goto done;
	}
	rec = build_record(ev, level);
	if (rec == NULL) {
		set_msg(msg, msglen,
			"cannot build audit record for %s: out of memory",
			a->path);
		goto done;
	}
	/* One byte kept for the newline. */
	need = json_dumpb(rec, stackbuf, sizeof(stackbuf) - 1, JSON_COMPACT);
	if (need == 0) {
		set_msg(msg, msglen, "cannot encode audit record for %s",
			a->path);
		goto done;
	}
	if (need > sizeof(stackbuf) - 1) {
		heapbuf = malloc(need + 1);
		if (heapbuf == NULL ||
		    json_dumpb(rec, heapbuf, need, JSON_COMPACT) != need) {
			set_msg(msg, msglen,
				"cannot encode audit record for %s: out of "
				"memory",
				a->path);
			goto done;
		}
		line = heapbuf;
	}
	line[need] = '\n';

	pthread_mutex_lock(&a->lock);
	ret = append_locked(a, line, need + 1, msg, msglen);
	pthread_mutex_unlock(&a->lock);
done:
	free(heapbuf);
	json_decref(rec);
	return ret;
}

int sb_audit_reopen(struct sb_audit *a, char *msg, size_t msglen)
{
	int fd, old;

	if (a == NULL || a->path == NULL)
		return 0;
	fd = open_audit_file(a->path, msg, msglen);
	if (fd < 0)
		return -1;
	/* Swap under the mutex: a record is written whole to the old file
	 * or whole to the new one, never lost between them. */
	pthread_mutex_lock(&a->lock);
	old = a->fd;
	a->fd = fd;
	pthread_mutex_unlock(&a->lock);
	close(old);
	return 0;
}

void sb_audit_set_levels(struct sb_audit *a, int positive_level,
			 int negative_level)
{
	if (a == NULL)
		return;
	atomic_store_explicit(&a->levels,
			      pack_levels(positive_level, negative_level),
			      memory_order_relaxed);
}

void sb_audit_get_levels(const struct sb_audit *a, int *positive_level,
			 int *negative_level)
{
	unsigned levels = 0;

	if (a != NULL)
		levels = atomic_load_explicit(&((struct sb_audit *)a)->levels,
					      memory_order_relaxed);
	if (positive_level != NULL)
		*positive_level = (int)(levels & 0xff);
	if (negative_level != NULL)
		*negative_level = (int)(levels >> 8 & 0xff);
}

const char *sb_audit_path(const struct sb_audit *a)
{
	return a ? a->path : NULL;
}

int sb_audit_level_parse(const char *text, int *level)
{
	static const char *const names[] = {"none", "low", "medium", "high"};
	int i;

	if (text == NULL)
		return -1;
	for (i = SB_AUDIT_NONE; i <= SB_AUDIT_HIGH; i++) {
		if (strcasecmp(text, names[i]) == 0 ||
		    (text[0] == '0' + i && text[1] == '\0')) {
			*level = i;
			return 0;
		}
	}
	return -1;
}

void sb_audit_close(struct sb_audit *a)
{
	if (a == NULL)
		return;
	if (a->fd >= 0)
		close(a->fd);
	pthread_mutex_destroy(&a->lock);
	free(a->path);
	free(a);
}
