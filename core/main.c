/*
 * secretbrokerd: the master secret server and credential store daemon.
 *
 *   secretbrokerd [-c FILE]      run in the foreground, log to stderr
 *   secretbrokerd [-c FILE] -t   check FILE and exit
 *
 * The main thread owns start, SIGHUP reload and SIGTERM shutdown; worker
 * threads serve the API (http.c); job threads run slow work (jobs.c).
 */
#define _GNU_SOURCE
#include "host/daemon.h"

#include "runtime/audit.h"
#include "runtime/crash_point.h"
#include "cluster/cluster.h"
#include "cluster/fence.h"
#include "secret/secret.h"
#include "host/host.h"
#include "api/http.h"
#include "runtime/jobs.h"
#include "runtime/log.h"
#include "cluster/member.h"
#include "api/reencrypt.h"
#include "runtime/secure_mem.h"
#include "runtime/wipe_alloc.h"
#include "runtime/tls.h"
#include "runtime/sd_notify.h"
#include "runtime/metrics.h"
#include "runtime/clock.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 30000

/* Creates dir 0700 if missing; refuses one that group or others may use or
 * that another user owns, since it holds the sealed secret and key file. */
static int state_dir_ensure(const char *dir, struct sb_errlist *errs)
{
	struct stat st;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		sb_errlist_add(errs, "[broker] state_dir: cannot create %s: %s",
			       dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		sb_errlist_add(
			errs, "[broker] state_dir: %s is not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		sb_errlist_add(errs,
			       "[broker] state_dir: %s is owned by uid %u, not "
			       "by the daemon's uid %u",
			       dir, (unsigned)st.st_uid, (unsigned)geteuid());
		return -1;
	}
	if (st.st_mode & 077) {
		sb_errlist_add(errs,
			       "[broker] state_dir: %s has mode %04o; group "
			       "and others must have no access (chmod 700)",
			       dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static void print_errors(const char *file, const struct sb_errlist *errs)
{
	for (size_t i = 0; i < errs->n; i++)
		fprintf(stderr, "secretbrokerd: %s\n", errs->msgs[i]);
	fprintf(stderr, "secretbrokerd: config file %s has errors\n", file);
}

/* -t: the same path as a start or reload, then everything closed again. */
static int config_test(struct sb_daemon *d, const char *path)
{
	struct sb_errlist errs = {0};
	struct sb_conf *conf = sb_conf_load(path, &errs);
	struct sb_generation *g = NULL;
	char msg[1024];
	int ret = 1;

	if (conf && state_dir_ensure(conf->state_dir, &errs) == 0) {
		g = sb_gen_build(d, conf, NULL, &errs);
		conf = NULL;
		if (g && sb_secret_check_unseal(g, msg, sizeof(msg)) != 0)
			sb_errlist_add(&errs, "[crypto] %s", msg);
	}
	sb_conf_free(conf);
	sb_gen_unref(g);
	if (errs.n == 0) {
		printf("configuration OK\n");
		ret = 0;
	} else {
		print_errors(path, &errs);
	}
	sb_errlist_clear(&errs);
	return ret;
}

static void reload(struct sb_daemon *d)
{
	struct sb_errlist errs = {0}, restart = {0};
	struct sb_generation *cur = sb_gen_current(d), *g = NULL;
	struct sb_conf *conf;
	struct sb_tls *tls = NULL;
	char msg[1024];
	int log_level = -1, use_syslog = 0;

	sb_info("SIGHUP: reloading %s", d->config_path);
	/* Log rotation: reopen the audit file whatever the config says. */
	if (d->audit && sb_audit_reopen(d->audit, msg, sizeof(msg)) != 0)
		sb_err("audit: %s (still writing to the old file)", msg);
	conf = sb_conf_load(d->config_path, &errs);
	if (conf) {
		sb_conf_restart_keys(cur->conf, conf, &restart);
		if (sb_conf_keep_restart_keys(cur->conf, conf) != 0)
			sb_errlist_add(&errs, "out of memory");
		log_level = conf->log_level;
		use_syslog = conf->use_syslog;
		g = sb_gen_build(d, conf, cur, &errs);
	}
	if (g && sb_secret_check_unseal(g, msg, sizeof(msg)) != 0) {
		sb_errlist_add(&errs, "[crypto] %s", msg);
		sb_gen_unref(g);
		g = NULL;
	}
	/* Certificates are re-read on every reload; a bad one keeps the old,
	 * and they change only if the whole generation does. */
	if (g && errs.n == 0 &&
	    sb_http_tls_prepare(d->http, g->conf, &tls, msg, sizeof(msg)) !=
		    0) {
		sb_errlist_add(&errs, "[tls] %s", msg);
		sb_gen_unref(g);
		g = NULL;
	}
	if (g && errs.n > 0) {
		sb_gen_unref(g);
		g = NULL;
	} else if (g && sb_gen_install(d, g, sb_fence_hooks(d), &errs) != 0) {
		g = NULL; /* install dropped it; the old one runs on */
	} else if (g) {
		sb_http_tls_swap(d->http, tls);
		tls = NULL;
	}
	sb_tls_unref(tls);

	if (errs.n > 0) {
		for (size_t i = 0; i < errs.n; i++)
			sb_err("%s", errs.msgs[i]);
		sb_err("config file %s has errors, not reloading (generation "
		       "%llu keeps running)",
		       d->config_path, (unsigned long long)cur->number);
	} else {
		sb_log_setup(log_level, use_syslog, "secretbrokerd");
		if (d->audit) {
			struct sb_generation *ng = sb_gen_current(d);

			sb_audit_set_levels(d->audit, ng->conf->audit_positive,
					    ng->conf->audit_negative);
			sb_gen_unref(ng);
		}
		for (size_t i = 0; i < restart.n; i++)
			sb_warn("%s changed in %s: it needs a restart; keeping "
				"the running value",
				restart.msgs[i], d->config_path);
		sb_info("configuration reloaded: generation %llu",
			(unsigned long long)d->next_gen_number);
	}
	sb_metrics_event(errs.n == 0 ? SB_ME_RELOAD_OK : SB_ME_RELOAD_FAILED);
	pthread_mutex_lock(&d->lock);
	sb_errlist_clear(&d->last_reload.errors);
	sb_errlist_clear(&d->last_reload.restart_required);
	d->last_reload.attempted = 1;
	d->last_reload.at = time(NULL);
	d->last_reload.ok = errs.n == 0;
	d->last_reload.errors = errs;
	d->last_reload.restart_required = restart;
	pthread_mutex_unlock(&d->lock);
	sb_gen_unref(cur);
}

struct main_loop {
	struct sb_daemon *d;
	struct event_base *base;
	struct event *wait_ev;
	struct event *notify_ev; /* STATUS= updates and watchdog pings */
	uint64_t deadline;
	char status[256]; /* the last STATUS= sent */
};

/* Writes "STATUS=..." for the service manager into buf: the role, the
 * fencing state and epoch, the generation, whether the secret is held and
 * how the last reload went. Never names secret material (the MSID is an
 * identifier, and is left out too). */
static void status_line(struct sb_daemon *d, char *buf, size_t len)
{
	struct sb_generation *g = sb_gen_current(d);
	char msid[SB_MSID_MAX + 1];
	const char *secret, *reload = "";
	uint64_t epoch;
	int state, member;

	if (g == NULL) {
		snprintf(buf, len, "STATUS=stopping");
		return;
	}
	sb_fence_view(d, &state, &epoch);
	member = g->conf->role == SB_ROLE_MEMBER;
	secret = sb_secret_current_msid(d->secret, msid) == 0
			 ? "master secret loaded"
			 : "no master secret (run sbctl secret restore)";
	pthread_mutex_lock(&d->lock);
	if (d->last_reload.attempted && !d->last_reload.ok)
		reload = ", last reload failed (see the log)";
	pthread_mutex_unlock(&d->lock);
	if (member)
		snprintf(buf, len,
			 "STATUS=role member, master secret server %s, "
			 "generation %llu, %s%s",
			 sb_member_can_encrypt(d) ? "reachable" : "unreachable",
			 (unsigned long long)g->number, secret, reload);
	else
		snprintf(buf, len,
			 "STATUS=role mss, %s, epoch %llu, generation %llu, "
			 "%s%s",
			 state == SB_FENCE_ACTIVE ? "active" : "standby",
			 (unsigned long long)epoch,
			 (unsigned long long)g->number, secret, reload);
	sb_gen_unref(g);
}

/* Sends prefix (may be "") and STATUS= when either is new. */
static void notify_status(struct main_loop *m, const char *prefix)
{
	char line[256], msg[320];

	if (!sb_notify_enabled())
		return;
	status_line(m->d, line, sizeof(line));
	if (*prefix == '\0' && strcmp(line, m->status) == 0)
		return;
	snprintf(m->status, sizeof(m->status), "%s", line);
	snprintf(msg, sizeof(msg), "%s%s", prefix, line);
	if (sb_notify(msg) != 0)
		sb_warn("NOTIFY_SOCKET: cannot send to the service manager: "
			"%s",
			strerror(errno));
}

/* Every tick: the watchdog ping (WatchdogSec=; this loop answering is what
 * it vouches for) and STATUS= when the role, epoch, generation or secret
 * changed. */
static void notify_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_loop *m = arg;

	(void)fd;
	(void)what;
	if (sb_notify_watchdog_usec() > 0)
		(void)sb_notify("WATCHDOG=1");
	notify_status(m, "");
}

/* Arms notify_tick_cb: every second, or every half watchdog interval when
 * that is shorter. Returns 0, or -1 when the event cannot be made. */
static int notify_tick_start(struct main_loop *m)
{
	uint64_t usec = 1000000, wd = sb_notify_watchdog_usec();
	struct timeval tv;

	if (!sb_notify_enabled())
		return 0;
	if (wd > 0 && wd / 2 < usec)
		usec = wd / 2 > 1000 ? wd / 2 : 1000;
	tv.tv_sec = (time_t)(usec / 1000000);
	tv.tv_usec = (suseconds_t)(usec % 1000000);
	m->notify_ev = event_new(m->base, -1, EV_PERSIST, notify_tick_cb, m);
	if (m->notify_ev == NULL || event_add(m->notify_ev, &tv) != 0)
		return -1;
	return 0;
}

static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct main_loop *m = arg;
	int n = atomic_load(&m->d->inflight);

	(void)fd;
	(void)what;
	if (n == 0 || sb_mono_ms() >= m->deadline) {
		if (n > 0)
			sb_warn("stopping with %d requests still unanswered "
				"after %d ms",
				n, SHUTDOWN_GRACE_MS);
		event_base_loopbreak(m->base);
	}
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct main_loop *m = arg;
	struct timeval tick = {0, 10000};

	(void)what;
	if (sig == SIGHUP) {
		if (!atomic_load(&m->d->stopping)) {
			(void)sb_notify_reloading();
			reload(m->d);
			notify_status(m, "READY=1\n");
		}
		return;
	}
	if (atomic_exchange(&m->d->stopping, 1))
		return;
	(void)sb_notify("STOPPING=1\nSTATUS=stopping: finishing the requests "
			"in flight");
	sb_info("%s: stopping: no new connections, finishing %d requests in "
		"flight",
		sig == SIGTERM ? "SIGTERM" : "SIGINT",
		atomic_load(&m->d->inflight));
	sb_http_stop_accepting(m->d->http);
	m->deadline = sb_mono_ms() + SHUTDOWN_GRACE_MS;
	m->wait_ev = event_new(m->base, -1, EV_PERSIST, drain_cb, m);
	if (m->wait_ev)
		event_add(m->wait_ev, &tick);
	else
		event_base_loopbreak(m->base);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: secretbrokerd [-c FILE] [-t] [-V]\n"
		"  -c FILE  configuration file (default %s)\n"
		"  -t       check the configuration (loads and opens its "
		"plugins) and exit\n"
		"  -V       print the version and exit\n",
		SB_DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	static struct sb_daemon daemon_state;
	static struct sb_secret_state secret_state;
	struct sb_daemon *d = &daemon_state;
	struct sb_errlist errs = {0};
	struct main_loop m = {0};
	struct event *sigs[4] = {0};
	const int signums[4] = {SIGHUP, SIGTERM, SIGINT, 0};
	const char *path = SB_DEFAULT_CONFIG;
	struct sb_generation *g = NULL;
	struct sb_conf *conf;
	char msg[1024];
	int test = 0, opt, ret = 1;

	while ((opt = getopt(argc, argv, "c:thV")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 't': test = 1; break;
		case 'V':
			printf("secretbrokerd %s (plugin ABI %d.%d)\n",
			       SB_VERSION, SB_PLUGIN_ABI_MAJOR,
			       SB_PLUGIN_ABI_MINOR);
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (sb_process_harden() != 0) {
		fprintf(stderr,
			"secretbrokerd: cannot disable core dumps: %s\n",
			strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* JSON documents, HTTP buffers and TLS records may hold passwords,
	 * credentials and key material: every block of jansson, libevent,
	 * OpenSSL and libcurl is wiped when freed. */
	if (sb_wiping_alloc_install() != 0) {
		fprintf(stderr, "secretbrokerd: cannot replace OpenSSL's "
				"allocator\n");
		return 1;
	}
	/* Before any thread: members fetch the secret with libcurl. */
	if (curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, sb_wiping_free,
				 sb_wiping_realloc, sb_wiping_strdup,
				 calloc) != CURLE_OK) {
		fprintf(stderr, "secretbrokerd: cannot initialise libcurl\n");
		return 1;
	}
	if (evthread_use_pthreads() != 0) {
		fprintf(stderr,
			"secretbrokerd: libevent has no thread support\n");
		return 1;
	}
	if (!test && sb_notify_init(msg, sizeof(msg)) != 0) {
		fprintf(stderr, "secretbrokerd: %s\n", msg);
		return 1;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->secret = &secret_state;
	d->started_at = time(NULL);
	d->started_mono_ms = sb_mono_ms();
	d->config_path = strdup(path);

#ifdef SB_TEST_CRASH_POINTS
	/* Only in tests/e2e's secretbrokerd_crashtest (runtime/crash_point.h).
	 */
	sb_crash_points_arm(getenv("SB_TEST_CRASH_AT"));
#endif
	if (test)
		return config_test(d, path);
	if (sb_fence_init(d) != 0) {
		fprintf(stderr, "secretbrokerd: out of memory\n");
		return 1;
	}

	conf = sb_conf_load(path, &errs);
	if (conf == NULL) {
		print_errors(path, &errs);
		goto done;
	}
	sb_log_setup(conf->log_level, conf->use_syslog, "secretbrokerd");
	if (state_dir_ensure(conf->state_dir, &errs) != 0) {
		sb_conf_free(conf);
		print_errors(path, &errs);
		goto done;
	}
	if (sb_secret_state_init(d->secret) != 0) {
		fprintf(stderr,
			"secretbrokerd: cannot lock memory for the master "
			"secret (mlock: %s); raise RLIMIT_MEMLOCK\n",
			strerror(errno));
		goto done;
	}
	g = sb_gen_build(d, conf, NULL, &errs);
	if (g != NULL && sb_gen_install(d, g, sb_fence_hooks(d), &errs) != 0)
		g = NULL; /* install dropped it (as reload() knows) */
	if (g == NULL) {
		print_errors(path, &errs);
		goto done;
	}
	g = sb_gen_current(d);
	if (g->conf->role == SB_ROLE_MEMBER) {
		/* ENTSSO: a node that cannot reach the MSS cannot start. */
		if (sb_member_fetch_now(d, g, msg, sizeof(msg)) != 0) {
			fprintf(stderr,
				"secretbrokerd: member node %s cannot start: "
				"cannot get the master secret: %s\n",
				g->conf->node_name, msg);
			goto done;
		}
		if (sb_member_start(d) != 0) {
			fprintf(stderr, "secretbrokerd: cannot start the "
					"member thread\n");
			goto done;
		}
	} else if (sb_secret_load(d->secret, g, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "secretbrokerd: %s\n", msg);
		goto done;
	}
	if (g->conf->audit_file) {
		d->audit = sb_audit_open(
			g->conf->audit_file, g->conf->audit_positive,
			g->conf->audit_negative, msg, sizeof(msg));
		if (d->audit == NULL) {
			fprintf(stderr, "secretbrokerd: [audit] file: %s\n",
				msg);
			goto done;
		}
	}
	if (sb_cluster_start(d) != 0) {
		fprintf(stderr,
			"secretbrokerd: cannot start the cluster thread\n");
		goto done;
	}
	if (sb_reencrypt_start(d) != 0) {
		fprintf(stderr, "secretbrokerd: cannot start the "
				"re-encryption thread\n");
		goto done;
	}
	d->jobs = sb_jobs_start(2);
	if (d->jobs == NULL) {
		fprintf(stderr, "secretbrokerd: cannot start job threads\n");
		goto done;
	}
	d->http = sb_http_start(d, msg, sizeof(msg));
	if (d->http == NULL) {
		fprintf(stderr, "secretbrokerd: [listen] %s\n", msg);
		goto done;
	}
	{
		char msid[SB_MSID_MAX + 1] = "";

		(void)sb_secret_current_msid(d->secret, msid);
		if (g->conf->role == SB_ROLE_MEMBER)
			sb_info("member: holding master secret %s fetched from "
				"the master secret server",
				msid[0] ? msid : "?");
		else if (sb_secret_current_msid(d->secret, msid) == 0)
			sb_info("master secret %s loaded from %s/%s", msid,
				g->conf->state_dir, SB_SECRET_FILE);
		else
			sb_warn("no master secret on this node yet: run 'sbctl "
				"secret generate' or 'sbctl secret restore "
				"FILE'");
	}
	sb_info("secretbrokerd %s ready on %s%s%s (node %s, %s, storage %s, "
		"crypto %s, fencing %s, generation %llu)",
		SB_VERSION, g->conf->socket_path,
		g->conf->tls_address ? " and TLS " : "",
		g->conf->tls_address ? g->conf->tls_address : "",
		g->conf->node_name,
		g->conf->role == SB_ROLE_MEMBER ? "member"
						: "master secret server",
		g->conf->storage_plugin, g->conf->crypto_plugin,
		g->conf->role == SB_ROLE_MEMBER ? "(member: none)"
						: g->conf->fencing_plugin,
		(unsigned long long)g->number);
	sb_gen_unref(g);
	g = NULL;

	m.d = d;
	m.base = event_base_new();
	if (m.base == NULL)
		goto done;
	for (int i = 0; signums[i]; i++) {
		sigs[i] = evsignal_new(m.base, signums[i], signal_cb, &m);
		if (sigs[i] == NULL || event_add(sigs[i], NULL) != 0)
			goto done;
	}
	/* Ready: the secret is loaded (or known to be missing) and the
	 * listeners are up. */
	if (notify_tick_start(&m) != 0)
		goto done;
	notify_status(&m, "READY=1\n");
	event_base_dispatch(m.base);
	ret = 0;
	sb_info("stopped");
done:
	sb_gen_unref(g);
	if (d->http) {
		sb_http_stop_accepting(d->http);
		sb_http_free(d->http);
	}
	sb_jobs_stop(d->jobs);
	sb_reencrypt_stop();
	sb_member_stop(d);
	sb_cluster_stop(d);
	sb_gen_shutdown(d);
	sb_audit_close(d->audit);
	for (int i = 0; i < 4; i++)
		if (sigs[i])
			event_free(sigs[i]);
	if (m.wait_ev)
		event_free(m.wait_ev);
	if (m.notify_ev)
		event_free(m.notify_ev);
	sb_notify_close();
	if (m.base)
		event_base_free(m.base);
	sb_secret_state_destroy(d->secret);
	sb_fence_destroy(d);
	pthread_mutex_lock(&d->lock);
	sb_errlist_clear(&d->last_reload.errors);
	sb_errlist_clear(&d->last_reload.restart_required);
	pthread_mutex_unlock(&d->lock);
	sb_errlist_clear(&errs);
	free(d->config_path);
	curl_global_cleanup();
	return ret;
}
