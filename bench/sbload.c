/*
 * sbload: a closed-loop HTTP/1.1 load generator for Unix sockets (and TCP).
 *
 * wrk and ab cannot talk to a Unix socket, and the daemon listens only on
 * one, so the lookup benchmark uses this for both the daemon and the nginx
 * it is compared with: same client, same loop, same accounting.
 *
 * Model: N keep-alive connections, each with exactly one request in flight
 * (send, read the whole response, send the next). One thread, epoll. Every
 * response is parsed properly: a small state machine finds the end of the
 * header block across any number of reads, takes Content-Length, and
 * consumes exactly that many body bytes. Each latency (request written to
 * response complete) goes into a log-linear histogram (HDR-style, 1/128
 * relative precision), from which p50/p99 come; the maximum is exact.
 *
 * It always stops by itself: after --duration seconds, or after --requests
 * responses (bounded by --timeout seconds, default 60).
 *
 * Output: one line of key=value pairs on stdout (see print_result), so a
 * script can read it and a person too. Exit status 0 when every response
 * was a 200 and at least one arrived, 2 when some failed, 1 on a usage or
 * setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- latency histogram ---------------------------------------------- */

/*
 * Log-linear buckets over nanoseconds: values below 2*SUB are exact; above,
 * each power of two is split into SUB buckets, so a bucket's width is at
 * most 1/SUB of its value (0.8 % with SUB_BITS 7). 64-bit values need
 * 2*SUB + (64 - SUB_BITS - 1) * SUB buckets: about 58 KiB of counters.
 */
#define SUB_BITS 7
#define SUB	 (1u << SUB_BITS)
#define NBUCKETS (2 * SUB + (64 - SUB_BITS - 1) * SUB)

struct histogram {
	uint64_t count;
	uint64_t max;
	uint64_t buckets[NBUCKETS];
};

static size_t bucket_of(uint64_t v)
{
	unsigned msb, shift;

	if (v < 2 * SUB)
		return (size_t)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - SUB_BITS;
	return 2 * SUB + (size_t)(shift - 1) * SUB +
	       (size_t)((v >> shift) - SUB);
}

/* The largest value that falls into bucket b (HDR's "highest equivalent
 * value"): percentiles are reported as upper bounds, never flattered. */
static uint64_t bucket_top(size_t b)
{
	size_t shift;
	uint64_t top;

	if (b < 2 * SUB)
		return b;
	shift = (b - 2 * SUB) / SUB + 1;
	top = SUB + (b - 2 * SUB) % SUB;
	return ((top + 1) << shift) - 1;
}

static void hist_record(struct histogram *h, uint64_t v)
{
	h->buckets[bucket_of(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

/* Value at quantile q (0..1]: the top of the bucket holding the
 * ceil(q * count)-th smallest value, at most the exact maximum. */
static uint64_t hist_quantile(const struct histogram *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->count == 0)
		return 0;
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (size_t b = 0; b < NBUCKETS; b++) {
		seen += h->buckets[b];
		if (seen >= rank) {
			uint64_t v = bucket_top(b);

			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* ---- options --------------------------------------------------------- */

struct options {
	const char *unix_path;
	const char *tcp_addr; /* HOST:PORT */
	int connections;
	double duration_s;
	uint64_t requests; /* 0: duration mode */
	double warmup_s;
	double timeout_s;
	const char *method;
	const char *path;
	const char *host;
	const char *headers[16];
	int n_headers;
	const char *cpus;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sbload (-U SOCKET | -T HOST:PORT) [options]\n"
		"  -U, --unix PATH        connect to a Unix stream socket\n"
		"  -T, --tcp HOST:PORT    connect over TCP instead\n"
		"  -c, --connections N    concurrent connections, one request "
		"in flight each (1)\n"
		"  -d, --duration S       measure for S seconds (5; fractions "
		"allowed)\n"
		"  -n, --requests N       measure N responses instead of a "
		"duration\n"
		"  -w, --warmup S         run S seconds before measuring (0)\n"
		"  -t, --timeout S        give up a --requests run after S "
		"seconds (60)\n"
		"  -m, --method M         request method (GET)\n"
		"  -p, --path P           request target (/)\n"
		"  -o, --host H           Host header (localhost)\n"
		"  -H, --header 'N: V'    an extra request header (up to 16)\n"
		"  -a, --cpus LIST        pin this process to CPUs, e.g. 0 or "
		"0,1\n"
		"Prints one line: requests, errors, rps, p50/p99/max latency "
		"in us.\n");
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"unix", required_argument, NULL, 'U'},
		{"tcp", required_argument, NULL, 'T'},
		{"connections", required_argument, NULL, 'c'},
		{"duration", required_argument, NULL, 'd'},
		{"requests", required_argument, NULL, 'n'},
		{"warmup", required_argument, NULL, 'w'},
		{"timeout", required_argument, NULL, 't'},
		{"method", required_argument, NULL, 'm'},
		{"path", required_argument, NULL, 'p'},
		{"host", required_argument, NULL, 'o'},
		{"header", required_argument, NULL, 'H'},
		{"cpus", required_argument, NULL, 'a'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t u;
	int ch;

	*o = (struct options){.connections = 1,
			      .duration_s = 5,
			      .timeout_s = 60,
			      .method = "GET",
			      .path = "/",
			      .host = "localhost"};
	while ((ch = getopt_long(argc, argv, "U:T:c:d:n:w:t:m:p:o:H:a:h",
				 longopts, NULL)) != -1) {
		switch (ch) {
		case 'U': o->unix_path = optarg; break;
		case 'T': o->tcp_addr = optarg; break;
		case 'c':
			if (parse_u64(optarg, 1, 10000, &u) != 0) {
				fprintf(stderr,
					"sbload: --connections \"%s\": "
					"expected 1..10000\n",
					optarg);
				return -1;
			}
			o->connections = (int)u;
			break;
		case 'd':
			if (parse_double(optarg, 0.01, 86400, &o->duration_s)) {
				fprintf(stderr,
					"sbload: --duration \"%s\": expected "
					"seconds, 0.01..86400\n",
					optarg);
				return -1;
			}
			break;
		case 'n':
			if (parse_u64(optarg, 1, UINT64_MAX / 2,
				      &o->requests)) {
				fprintf(stderr,
					"sbload: --requests \"%s\": expected a "
					"positive count\n",
					optarg);
				return -1;
			}
			break;
		case 'w':
			if (parse_double(optarg, 0, 3600, &o->warmup_s)) {
				fprintf(stderr,
					"sbload: --warmup \"%s\": expected "
					"seconds, 0..3600\n",
					optarg);
				return -1;
			}
			break;
		case 't':
			if (parse_double(optarg, 0.01, 86400, &o->timeout_s)) {
				fprintf(stderr,
					"sbload: --timeout \"%s\": expected "
					"seconds, 0.01..86400\n",
					optarg);
				return -1;
			}
			break;
		case 'm': o->method = optarg; break;
		case 'p': o->path = optarg; break;
		case 'o': o->host = optarg; break;
		case 'H':
			if (o->n_headers == 16 || strchr(optarg, ':') == NULL ||
			    strpbrk(optarg, "\r\n")) {
				fprintf(stderr,
					"sbload: --header \"%s\": expected "
					"'Name: value' (at most 16)\n",
					optarg);
				return -1;
			}
			o->headers[o->n_headers++] = optarg;
			break;
		case 'a': o->cpus = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc || (o->unix_path == NULL) == (o->tcp_addr == NULL)) {
		fprintf(stderr, "sbload: give exactly one of --unix PATH or "
				"--tcp HOST:PORT, and no other arguments\n");
		usage(stderr);
		return -1;
	}
	if (strpbrk(o->method, " \r\n") || strpbrk(o->path, " \r\n") ||
	    strpbrk(o->host, "\r\n")) {
		fprintf(stderr, "sbload: method, path and host must not hold "
				"spaces or line breaks\n");
		return -1;
	}
	return 0;
}

/* Pins the process to the CPUs of a comma-separated list. */
static int pin_cpus(const char *list)
{
	cpu_set_t set;
	char *copy = strdup(list), *tok, *save = NULL;
	int ret = -1;

	if (copy == NULL)
		return -1;
	CPU_ZERO(&set);
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t cpu;

		if (parse_u64(tok, 0, CPU_SETSIZE - 1, &cpu) != 0) {
			fprintf(stderr,
				"sbload: --cpus \"%s\": \"%s\" is not a CPU "
				"number\n",
				list, tok);
			goto done;
		}
		CPU_SET((int)cpu, &set);
	}
	if (sched_setaffinity(0, sizeof(set), &set) != 0) {
		fprintf(stderr, "sbload: cannot pin to CPUs %s: %s\n", list,
			strerror(errno));
		goto done;
	}
	ret = 0;
done:
	free(copy);
	return ret;
}

/* ---- target address -------------------------------------------------- */

struct target {
	struct sockaddr_storage sa;
	socklen_t salen;
	int family;
	char name[300]; /* for messages */
};

static int resolve_target(const struct options *o, struct target *t)
{
	memset(t, 0, sizeof(*t));
	if (o->unix_path) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&t->sa;

		if (strlen(o->unix_path) >= sizeof(sun->sun_path)) {
			fprintf(stderr, "sbload: socket path %s is too long\n",
				o->unix_path);
			return -1;
		}
		sun->sun_family = AF_UNIX;
		strcpy(sun->sun_path, o->unix_path);
		t->salen = sizeof(*sun);
		t->family = AF_UNIX;
		snprintf(t->name, sizeof(t->name), "unix:%s", o->unix_path);
		return 0;
	} else {
		char host[256];
		const char *colon = strrchr(o->tcp_addr, ':');
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM},
				*ai = NULL;
		size_t hlen;
		int rc;

		if (colon == NULL || colon == o->tcp_addr ||
		    (hlen = (size_t)(colon - o->tcp_addr)) >= sizeof(host)) {
			fprintf(stderr,
				"sbload: --tcp \"%s\": expected HOST:PORT\n",
				o->tcp_addr);
			return -1;
		}
		memcpy(host, o->tcp_addr, hlen);
		host[hlen] = '\0';
		rc = getaddrinfo(host, colon + 1, &hints, &ai);
		if (rc != 0) {
			fprintf(stderr, "sbload: cannot resolve %s: %s\n",
				o->tcp_addr, gai_strerror(rc));
			return -1;
		}
		memcpy(&t->sa, ai->ai_addr, ai->ai_addrlen);
		t->salen = ai->ai_addrlen;
		t->family = ai->ai_family;
		freeaddrinfo(ai);
		snprintf(t->name, sizeof(t->name), "tcp:%s", o->tcp_addr);
		return 0;
	}
}

/* ---- connections ----------------------------------------------------- */

#define HDR_MAX 16384

enum conn_state {
	C_IDLE,	   /* ready to send the next request */
	C_WRITING, /* request partly written */
	C_HEADER,  /* reading the status line and headers */
	C_BODY,	   /* reading the Content-Length body */
	C_DEAD,	   /* could not reconnect: out of the run */
};

struct conn {
	int fd;
	enum conn_state state;
	int measured;	   /* the request in flight was sent while measuring */
	size_t written;	   /* bytes of the request written */
	char hdr[HDR_MAX]; /* response bytes up to the end of the headers */
	size_t hdr_len;
	size_t scan_from;   /* where the search for CRLFCRLF resumes */
	uint64_t body_len;  /* Content-Length of the response */
	uint64_t body_left; /* body bytes still to read */
	int status;
	int close_after; /* the server will close after this response */
	int want_out;	 /* EPOLLOUT requested: a request is stuck half-sent */
	uint64_t sent_ns;
};

struct run {
	const struct options *o;
	struct target t;
	int epfd;
	char *req;
	size_t req_len;
	struct conn *conns;
	int n_live;
	uint64_t inflight;
	int stopping; /* no new requests */

	int measuring;
	uint64_t measure_start_ns;
	uint64_t started; /* requests sent while measuring */
	struct histogram hist;
	uint64_t ok, errors, reconnects;
	uint64_t body_min, body_max;
	int said_status, said_error; /* each kind of failure is told once */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Builds the request every connection sends, into r->req (malloc'ed,
 * owned by r). Returns 0, or -1 when out of memory. */
static int build_request(struct run *r)
{
	const struct options *o = r->o;
	size_t cap = 64 + strlen(o->method) + strlen(o->path) + strlen(o->host);
	size_t len;

	for (int i = 0; i < o->n_headers; i++)
		cap += strlen(o->headers[i]) + 2;
	r->req = malloc(cap);
	if (r->req == NULL)
		return -1;
	len = (size_t)snprintf(r->req, cap, "%s %s HTTP/1.1\r\nHost: %s\r\n",
			       o->method, o->path, o->host);
	for (int i = 0; i < o->n_headers; i++)
		len += (size_t)snprintf(r->req + len, cap - len, "%s\r\n",
					o->headers[i]);
	len += (size_t)snprintf(r->req + len, cap - len, "\r\n");
	r->req_len = len;
	return 0;
}

/* Counts a failed request (when it belongs to the measurement) and tells
 * the first failure of the run on stderr, so a broken server is obvious
 * without flooding the terminal. */
static void fail_request(struct run *r, struct conn *c, const char *what)
{
	if (c->measured)
		r->errors++;
	if (!r->said_error) {
		r->said_error = 1;
		fprintf(stderr, "sbload: %s: %s\n", r->t.name, what);
	}
}

/* Opens and connects c's socket and registers it with epoll (edge
 * triggered: every handler reads or writes until EAGAIN). The connect
 * itself blocks, bounded by a 5 s send timeout: connections are made only
 * at the start and after a server closes one, outside any timed request.
 * Returns 0, or -1 with errno set. */
static int conn_open(struct run *r, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = c};
	struct timeval tv = {.tv_sec = 5};
	int fd, e;

	fd = socket(r->t.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&r->t.sa, r->t.salen) != 0)
		goto fail;
	if (r->t.family != AF_UNIX) {
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
	    epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		goto fail;
	c->fd = fd;
	c->state = C_IDLE;
	c->want_out = 0;
	return 0;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Closes c and connects it again; a connection that cannot reconnect
 * leaves the run (and the run ends when none is left). */
static void conn_reopen(struct run *r, struct conn *c)
{
	if (c->state != C_IDLE && c->state != C_DEAD)
		r->inflight--;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = C_DEAD;
	if (r->stopping)
		return;
	r->reconnects++;
	if (conn_open(r, c) != 0) {
		char msg[400];

		snprintf(msg, sizeof(msg), "cannot reconnect: %s",
			 strerror(errno));
		fail_request(r, c, msg);
		r->n_live--;
	}
}

/* Case-insensitive: does header line [p, end) have name `name`? On a match
 * *value points at its value, leading blanks skipped. */
static int header_is(const char *p, const char *end, const char *name,
		     const char **value)
{
	size_t n = strlen(name);

	if ((size_t)(end - p) <= n || p[n] != ':' || strncasecmp(p, name, n))
		return 0;
	p += n + 1;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	*value = p;
	return 1;
}

/* Parses the header block c->hdr[0, len) (ending in CRLFCRLF): status,
 * Content-Length, Connection. Returns NULL, or what is wrong. */
static const char *parse_head(struct conn *c, size_t len)
{
	const char *p = c->hdr, *end = c->hdr + len - 2, *eol, *v;
	int have_length = 0;

	if (len < 16 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9')
		return "malformed status line";
	c->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	c->close_after = p[7] == '0'; /* HTTP/1.0: no keep-alive assumed */
	c->body_len = 0;
	for (p = memchr(p, '\n', (size_t)(end - p)) + 1; p < end; p = eol + 2) {
		eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
		if (header_is(p, eol, "content-length", &v)) {
			uint64_t n = 0;
			const char *q = v;

			for (; q < eol && *q >= '0' && *q <= '9'; q++) {
				if (n > UINT64_MAX / 10 - 10)
					return "Content-Length too large";
				n = n * 10 + (uint64_t)(*q - '0');
			}
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (q == v || q != eol)
				return "malformed Content-Length";
			c->body_len = n;
			have_length = 1;
		} else if (header_is(p, eol, "transfer-encoding", &v)) {
			return "Transfer-Encoding is not supported (needs "
			       "Content-Length)";
		} else if (header_is(p, eol, "connection", &v)) {
			if (memmem(v, (size_t)(eol - v), "close", 5) ||
			    memmem(v, (size_t)(eol - v), "Close", 5))
				c->close_after = 1;
			else if (memmem(v, (size_t)(eol - v), "keep-alive",
					10) ||
				 memmem(v, (size_t)(eol - v), "Keep-Alive", 10))
				c->close_after = 0;
		}
	}
	if (!have_length && c->status != 204 && c->status != 304)
		return "response without Content-Length";
	return NULL;
}

/* One response is complete: account for it, then make the connection
 * ready for the next request. */
static void complete(struct run *r, struct conn *c)
{
	uint64_t t = now_ns();

	r->inflight--;
	c->state = C_IDLE;
	if (c->measured) {
		if (c->status == 200) {
			r->ok++;
			hist_record(&r->hist, t - c->sent_ns);
			if (r->body_min > c->body_len)
				r->body_min = c->body_len;
			if (r->body_max < c->body_len)
				r->body_max = c->body_len;
		} else {
			r->errors++;
		}
	}
	if (c->status != 200 && !r->said_status) {
		r->said_status = 1;
		fprintf(stderr,
			"sbload: %s: %s %s answered %d (counted as an error)\n",
			r->t.name, r->o->method, r->o->path, c->status);
	}
	if (c->close_after)
		conn_reopen(r, c);
}

static int may_send(const struct run *r)
{
	if (r->stopping)
		return 0;
	return r->o->requests == 0 || !r->measuring ||
	       r->started < r->o->requests;
}

/* Asks epoll for (or stops asking for) writability of c: only while a
 * request is half-sent, so a server reading one costs the client no
 * wake-up. */
static int watch_out(struct run *r, struct conn *c, int on)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLET |
					   (on ? EPOLLOUT : 0),
				 .data.ptr = c};

	c->want_out = on;
	return epoll_ctl(r->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Drives c's state machine until the socket would block (edge-triggered
 * epoll needs that), a response completes with nothing more to send, or
 * the connection fails. */
static void conn_run(struct run *r, struct conn *c)
{
	static char sink[65536]; /* body bytes are counted, not kept */
	ssize_t n;

	for (;;) {
		switch (c->state) {
		case C_DEAD: return;
		case C_IDLE:
			if (!may_send(r))
				return;
			c->state = C_WRITING;
			c->written = 0;
			c->measured = r->measuring;
			if (c->measured)
				r->started++;
			r->inflight++;
			c->sent_ns = now_ns();
			/* fall through */
		case C_WRITING:
			n = send(c->fd, r->req + c->written,
				 r->req_len - c->written, MSG_NOSIGNAL);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN) {
				if (!c->want_out && watch_out(r, c, 1) != 0) {
					fail_request(r, c, strerror(errno));
					conn_reopen(r, c);
					continue;
				}
				return;
			}
			if (n < 0) {
				fail_request(r, c, strerror(errno));
				conn_reopen(r, c);
				continue;
			}
			c->written += (size_t)n;
			if (c->written < r->req_len)
				continue;
			if (c->want_out)
				watch_out(r, c, 0);
			c->state = C_HEADER;
			c->hdr_len = 0;
			c->scan_from = 0;
			/* Nothing to read yet: the response cannot be there
			 * before it is asked for (one request in flight, every
			 * earlier response consumed), and its arrival is an
			 * EPOLLIN edge. Saves a read per request. */
			return;
		case C_HEADER: {
			const char *hit;
			const char *bad;
			size_t head_len, extra;

			n = read(c->fd, c->hdr + c->hdr_len,
				 sizeof(c->hdr) - c->hdr_len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return;
			if (n <= 0) {
				fail_request(
					r, c,
					n == 0 ? "the server closed the "
						 "connection before answering"
					       : strerror(errno));
				conn_reopen(r, c);
				continue;
			}
			c->hdr_len += (size_t)n;
			hit = memmem(c->hdr + c->scan_from,
				     c->hdr_len - c->scan_from, "\r\n\r\n", 4);
			if (hit == NULL) {
				/* The terminator may straddle two reads. */
				c->scan_from =
					c->hdr_len > 3 ? c->hdr_len - 3 : 0;
				if (c->hdr_len == sizeof(c->hdr)) {
					fail_request(r, c,
						     "response headers larger "
						     "than 16 KiB");
					conn_reopen(r, c);
				}
				continue;
			}
			head_len = (size_t)(hit - c->hdr) + 4;
			if ((bad = parse_head(c, head_len)) != NULL) {
				fail_request(r, c, bad);
				conn_reopen(r, c);
				continue;
			}
			extra = c->hdr_len -
				head_len; /* body bytes already here */
			if (extra > c->body_len) {
				fail_request(r, c,
					     "more bytes than Content-Length "
					     "announced");
				conn_reopen(r, c);
				continue;
			}
			c->body_left = c->body_len - extra;
			if (c->body_left == 0)
				complete(r, c);
			else
				c->state = C_BODY;
			continue;
		}
		case C_BODY:
			n = read(c->fd, sink,
				 c->body_left < sizeof(sink)
					 ? (size_t)c->body_left
					 : sizeof(sink));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				return;
			if (n <= 0) {
				fail_request(r, c,
					     n == 0 ? "the server closed the "
						      "connection in the "
						      "middle of a body"
						    : strerror(errno));
				conn_reopen(r, c);
				continue;
			}
			c->body_left -= (uint64_t)n;
			if (c->body_left == 0)
				complete(r, c);
			continue;
		}
	}
}

/* ---- the run --------------------------------------------------------- */

static void begin_measuring(struct run *r, uint64_t t)
{
	r->measuring = 1;
	r->measure_start_ns = t;
	memset(&r->hist, 0, sizeof(r->hist));
	r->ok = r->errors = r->reconnects = r->started = 0;
	r->body_min = UINT64_MAX;
	r->body_max = 0;
}

static void print_result(const struct run *r, double seconds, int timed_out)
{
	const struct options *o = r->o;
	char body[64];

	if (r->ok == 0)
		snprintf(body, sizeof(body), "-");
	else if (r->body_min == r->body_max)
		snprintf(body, sizeof(body), "%llu",
			 (unsigned long long)r->body_min);
	else
		snprintf(body, sizeof(body), "%llu..%llu",
			 (unsigned long long)r->body_min,
			 (unsigned long long)r->body_max);
	printf("target=%s method=%s path=%s connections=%d seconds=%.3f "
	       "requests=%llu errors=%llu reconnects=%llu rps=%.1f "
	       "p50_us=%.1f p99_us=%.1f max_us=%.1f body_bytes=%s%s\n",
	       r->t.name, o->method, o->path, o->connections, seconds,
	       (unsigned long long)r->ok, (unsigned long long)r->errors,
	       (unsigned long long)r->reconnects,
	       seconds > 0 ? (double)r->ok / seconds : 0.0,
	       (double)hist_quantile(&r->hist, 0.50) / 1000.0,
	       (double)hist_quantile(&r->hist, 0.99) / 1000.0,
	       (double)r->hist.max / 1000.0, body,
	       timed_out ? " timed_out=1" : "");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct options o;
	struct run *r = NULL;
	struct epoll_event events[256];
	uint64_t t0, warm_end, hard_end, t;
	double seconds;
	int timed_out = 0, ret = 1;

	if (parse_options(argc, argv, &o) != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (o.cpus && pin_cpus(o.cpus) != 0)
		return 1;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto oom;
	r->o = &o;
	r->epfd = -1;
	if (resolve_target(&o, &r->t) != 0)
		goto done;
	if (build_request(r) != 0)
		goto oom;
	r->conns = calloc((size_t)o.connections, sizeof(*r->conns));
	if (r->conns == NULL)
		goto oom;
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0) {
		fprintf(stderr, "sbload: epoll_create1: %s\n", strerror(errno));
		goto done;
	}
	for (int i = 0; i < o.connections; i++) {
		r->conns[i].fd = -1;
		if (conn_open(r, &r->conns[i]) != 0) {
			fprintf(stderr,
				"sbload: cannot connect to %s (connection %d "
				"of %d): %s\n",
				r->t.name, i + 1, o.connections,
				strerror(errno));
			goto done;
		}
	}
	r->n_live = o.connections;

	t0 = now_ns();
	warm_end = t0 + (uint64_t)(o.warmup_s * 1e9);
	if (o.requests)
		hard_end = warm_end + (uint64_t)(o.timeout_s * 1e9);
	else
		hard_end = warm_end + (uint64_t)(o.duration_s * 1e9);
	if (o.warmup_s == 0)
		begin_measuring(r, t0);
	for (int i = 0; i < o.connections; i++)
		conn_run(r, &r->conns[i]);

	for (;;) {
		uint64_t next;
		int n, wait_ms;

		t = now_ns();
		if (!r->measuring && t >= warm_end)
			begin_measuring(r, t);
		if (t >= hard_end) {
			timed_out = o.requests != 0;
			break;
		}
		if (o.requests && r->measuring && r->started >= o.requests &&
		    r->inflight == 0)
			break;
		if (r->n_live == 0) {
			fprintf(stderr,
				"sbload: %s: every connection failed; stopping "
				"early\n",
				r->t.name);
			break;
		}
		next = r->measuring ? hard_end : warm_end;
		wait_ms = (int)((next - t + 999999) / 1000000);
		if (wait_ms > 100)
			wait_ms = 100;
		n = epoll_wait(r->epfd, events, 256, wait_ms);
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "sbload: epoll_wait: %s\n",
				strerror(errno));
			goto done;
		}
		for (int i = 0; i < n; i++)
			conn_run(r, events[i].data.ptr);
	}
	r->stopping = 1;
	t = now_ns();
	if (!r->measuring)
		begin_measuring(r, t);
	seconds = (double)(t - r->measure_start_ns) / 1e9;
	if (timed_out)
		fprintf(stderr,
			"sbload: %s: %llu of %llu requests answered within the "
			"%.1f s timeout\n",
			r->t.name, (unsigned long long)(r->ok + r->errors),
			(unsigned long long)o.requests, o.timeout_s);
	print_result(r, seconds, timed_out);
	ret = (r->errors == 0 && r->ok > 0 && !timed_out) ? 0 : 2;
	goto done;
oom:
	fprintf(stderr, "sbload: out of memory\n");
done:
	if (r) {
		for (int i = 0; r->conns && i < o.connections; i++)
			if (r->conns[i].fd >= 0)
				close(r->conns[i].fd);
		if (r->epfd >= 0)
			close(r->epfd);
		free(r->conns);
		free(r->req);
		free(r);
	}
	return ret;
}
