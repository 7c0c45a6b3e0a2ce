/* The daemon inside a harness (fuzz_daemon.h); the start-up is main.c's,
 * without signals, reload or shutdown (the process just exits). */
#define _GNU_SOURCE
#include "fuzz_daemon.h"
#include "fuzz_common.h"

#include "api/http.h"
#include "cluster/cluster.h"
#include "cluster/fence.h"
#include "host/daemon.h"
#include "runtime/clock.h"
#include "runtime/config.h"
#include "runtime/jobs.h"
#include "runtime/log.h"
#include "runtime/wipe_alloc.h"
#include "secret/secret.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/thread.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define EXCHANGE_TIMEOUT_MS 20000

static struct sb_daemon daemon_state;
static struct sb_secret_state secret_state;
static char socket_path[PATH_MAX];

/* The requests every harness run starts from: a secret, and one
 * application of each type (root's group may use and administer them). */
static const char *const setup_requests[][2] = {
	{"/v1/secret/generate", ""},
	{"/v1/apps/import",
	 "{\"apps\": [{\"name\": \"crm\", \"type\": \"individual\", "
	 "\"fields\": [{\"label\": \"user\"}, {\"label\": \"password\", "
	 "\"masked\": true}], \"user_group\": \"root\", \"admin_group\": "
	 "\"root\", \"enabled\": true}, {\"name\": \"team\", \"type\": "
	 "\"group\", \"fields\": "
	 "[{\"label\": \"pin\"}], \"user_group\": \"root\", \"enabled\": "
	 "true}, {\"name\": "
	 "\"settings\", \"type\": \"config-store\", \"user_group\": "
	 "\"root\", \"enabled\": true}]}"},
};

static void write_config(const char *dir, char *path, size_t len)
{
	char text[2048];
	int n;

	n = snprintf(text, sizeof(text),
		     "[broker]\nstate_dir = %s/state\nplugin_dir = %s\n"
		     "node_name = fuzz\nthreads = 1\nlog_level = error\n\n"
		     "[listen]\nsocket = %s/sb.sock\nsocket_mode = 0600\n"
		     "request_timeout_ms = 2000\n\n"
		     "[storage]\nplugin = sqlite\npath = %s/sso.db\n\n"
		     "[crypto]\nplugin = openssl\n\n[fencing]\nplugin = none\n",
		     dir, SB_PLUGIN_BUILD_DIR, dir, dir);
	if (n < 0 || (size_t)n >= sizeof(text))
		fuzz_fail("config text too long");
	snprintf(path, len, "%s/secretbroker.ini", dir);
	fuzz_write_file(path, (const uint8_t *)text, (size_t)n);
	snprintf(socket_path, sizeof(socket_path), "%s/sb.sock", dir);
}

void fuzz_daemon_start(void)
{
	struct sb_daemon *d = &daemon_state;
	struct sb_errlist errs = {0};
	struct sb_generation *g;
	struct sb_conf *conf;
	const char *dir;
	char path[PATH_MAX], state[PATH_MAX + 8], msg[1024], reply[4096];

	if (d->http != NULL)
		return;
	signal(SIGPIPE, SIG_IGN);
	if (sb_wiping_alloc_install() != 0 ||
	    curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, sb_wiping_free,
				 sb_wiping_realloc, sb_wiping_strdup,
				 calloc) != CURLE_OK ||
	    evthread_use_pthreads() != 0)
		fuzz_fail("cannot set up the libraries");
	dir = fuzz_tmpdir("daemon");
	write_config(dir, path, sizeof(path));
	snprintf(state, sizeof(state), "%s/state", dir);
	if (mkdir(state, 0700) != 0)
		fuzz_fail("mkdir %s: %s", state, strerror(errno));

	pthread_mutex_init(&d->lock, NULL);
	d->secret = &secret_state;
	d->started_at = time(NULL);
	d->started_mono_ms = sb_mono_ms();
	d->config_path = strdup(path);
	if (sb_fence_init(d) != 0)
		fuzz_fail("fence init");
	conf = sb_conf_load(path, &errs);
	if (conf == NULL)
		fuzz_fail("config: %s", errs.n ? errs.msgs[0] : "?");
	sb_log_setup(conf->log_level, 0, "fuzz");
	if (sb_secret_state_init(d->secret) != 0)
		fuzz_fail("cannot lock memory for the secret");
	g = sb_gen_build(d, conf, NULL, &errs);
	if (g == NULL || sb_gen_install(d, g, sb_fence_hooks(d), &errs) != 0)
		fuzz_fail("generation: %s", errs.n ? errs.msgs[0] : "?");
	g = sb_gen_current(d);
	if (sb_secret_load(d->secret, g, msg, sizeof(msg)) != 0)
		fuzz_fail("secret: %s", msg);
	sb_gen_unref(g);
	if (sb_cluster_start(d) != 0 || (d->jobs = sb_jobs_start(2)) == NULL)
		fuzz_fail("cluster or job threads");
	d->http = sb_http_start(d, msg, sizeof(msg));
	if (d->http == NULL)
		fuzz_fail("listen: %s", msg);
	for (size_t i = 0; i < sizeof(setup_requests) / sizeof(*setup_requests);
	     i++) {
		const char *body = setup_requests[i][1];
		char rq[1024];
		int status, n;

		n = snprintf(rq, sizeof(rq),
			     "POST %s HTTP/1.1\r\nHost: fuzz\r\n"
			     "Connection: close\r\n"
			     "Content-Type: application/json\r\n"
			     "Content-Length: %zu\r\n\r\n%s",
			     setup_requests[i][0], strlen(body), body);
		if (n < 0 || (size_t)n >= sizeof(rq))
			fuzz_fail("set-up request %zu too long", i);
		fuzz_daemon_exchange((const uint8_t *)rq, (size_t)n, reply,
				     sizeof(reply));
		status = fuzz_reply_status(reply);
		if (status < 200 || status > 299)
			fuzz_fail("set-up request %zu answered: %s", i, reply);
	}
}

size_t fuzz_daemon_exchange(const uint8_t *req, size_t len, char *reply,
			    size_t cap)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t off = 0, got = 0;
	int fd;

	if (strlen(socket_path) >= sizeof(sa.sun_path))
		fuzz_fail("socket path too long: %s", socket_path);
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fuzz_fail("connect %s: %s", socket_path, strerror(errno));
	/* Write and read at once: a reply may come before the whole input
	 * is taken (a 400 on the first line), and then the daemon closes. */
	if (len == 0)
		shutdown(fd, SHUT_WR);
	for (;;) {
		struct pollfd p = {fd, POLLIN | (off < len ? POLLOUT : 0), 0};
		char drop[4096];
		ssize_t n;
		int rc = poll(&p, 1, EXCHANGE_TIMEOUT_MS);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			fuzz_fail("the daemon neither answered nor closed the "
				  "connection within %d ms",
				  EXCHANGE_TIMEOUT_MS);
		if (off < len && (p.revents & POLLOUT)) {
			n = send(fd, req + off, len - off, MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
			else if (n < 0 && errno != EAGAIN)
				off = len; /* closed on us: read the rest */
			if (off == len)
				shutdown(fd, SHUT_WR);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (got + 1 < cap)
				n = recv(fd, reply + got, cap - 1 - got, 0);
			else
				n = recv(fd, drop, sizeof(drop), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN))
				break;
			if (got + 1 < cap)
				got += (size_t)n;
		}
	}
	close(fd);
	reply[got] = '\0';
	return got;
}

int fuzz_reply_status(const char *reply)
{
	int status;

	/* libevent answers in the version the request named (even "0.1"). */
	if (sscanf(reply, "HTTP/%*u.%*u %3d ", &status) != 1)
		return 0;
	return status;
}
