/*
 * The node role of sb-fencing-lease-cluster (see lease_cluster.h): one
 * master secret server candidate, as the daemon would run it.
 */
#define _GNU_SOURCE
#include "lease_cluster.h"

#include "host/host.h"
#include "runtime/log.h"
#include "host/plugin_loader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

struct node {
	const struct lc_opts *o;
	int log_fd;

	struct sb_plugin splug, fplug;
	const struct sb_storage_ops *sops;
	const struct sb_fencing_ops *fops;
	struct sb_host *shost, *fhost;
	struct sb_config *scfg, *fcfg;
	void *sinst, *finst;
	struct sb_fence_hooks hooks;

	pthread_mutex_t lock;
	int state;
	uint64_t epoch;	     /* while active */
	uint64_t last_epoch; /* the last epoch it was active at */
	int writer_stop;
	pthread_t writer;
};

int64_t lc_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Appends one line to the log with a single write(2). */
static void log_line(struct node *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void log_line(struct node *n, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if (len > (int)sizeof(buf) - 2)
		len = (int)sizeof(buf) - 2;
	buf[len++] = '\n';
	if (write(n->log_fd, buf, (size_t)len) != len)
		fprintf(stderr, "node %s: cannot write its log %s: %s\n",
			n->o->node, n->o->log_path, strerror(errno));
}

/* ---- the fencing hooks, as core/generation.c implements them (there
 * through the current generation's storage; here the one instance) ---- */

static void hook_state_changed(void *arg, int state, uint64_t epoch,
			       const char *reason)
{
	struct node *n = arg;
	char clean[300];

	snprintf(clean, sizeof(clean), "%s", reason ? reason : "");
	for (char *p = clean; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	pthread_mutex_lock(&n->lock);
	n->state = state;
	n->epoch = state == SB_FENCE_ACTIVE ? epoch : 0;
	if (state == SB_FENCE_ACTIVE)
		n->last_epoch = epoch;
	/* Logged under the lock: the log's order is the belief's order. */
	log_line(n, "STATE %" PRId64 " %d %" PRIu64 " %s", lc_mono_ns(), state,
		 epoch, clean);
	pthread_mutex_unlock(&n->lock);
}

static int hook_lease_acquire(void *arg, const char *holder, uint32_t ttl_ms,
			      uint64_t *epoch, struct sb_error *err)
{
	struct node *n = arg;

	return n->sops->lease_acquire(n->sinst, holder, ttl_ms, epoch, err);
}

static int hook_lease_renew(void *arg, const char *holder, uint64_t epoch,
			    uint32_t ttl_ms, struct sb_error *err)
{
	struct node *n = arg;

	return n->sops->lease_renew(n->sinst, holder, epoch, ttl_ms, err);
}

static int hook_lease_release(void *arg, const char *holder, uint64_t epoch,
			      struct sb_error *err)
{
	struct node *n = arg;

	return n->sops->lease_release(n->sinst, holder, epoch, err);
}

static int hook_lease_read(void *arg, struct sb_lease_info *info,
			   struct sb_error *err)
{
	struct node *n = arg;

	return n->sops->lease_read(n->sinst, info, err);
}

static int hook_fence_takeover(void *arg, const char *holder, uint32_t ttl_ms,
			       uint64_t *epoch, struct sb_error *err)
{
	struct node *n = arg;

	return n->sops->fence_takeover(n->sinst, holder, ttl_ms, epoch, err);
}

/* One fenced put of key = "<epoch>". */
static int fenced_put(struct node *n, const char *key, uint64_t epoch,
		      struct sb_error *err)
{
	char val[32];
	struct sb_batch_op op = {0};
	struct sb_batch b = {0};

	snprintf(val, sizeof(val), "%" PRIu64, epoch);
	op.type = SB_OP_PUT;
	op.precondition = SB_PRE_NONE;
	op.key = key;
	op.value = (const uint8_t *)val;
	op.value_len = strlen(val);
	b.ops = &op;
	b.n_ops = 1;
	b.epoch = epoch;
	return n->sops->batch_apply(n->sinst, &b, err);
}

/* The core's part: writes secret material while, and only while, it
 * believes itself active, each write carrying the epoch. */
static void *writer_main(void *arg)
{
	struct node *n = arg;
	struct timespec ts = {0, (long)n->o->write_every_ms * 1000000L};
	uint64_t seq = 0;

	for (;;) {
		int state, stop, rc;
		uint64_t epoch;
		char key[128];
		int64_t t0, t1;
		struct sb_error err = {{0}};

		pthread_mutex_lock(&n->lock);
		state = n->state;
		epoch = n->epoch;
		stop = n->writer_stop;
		pthread_mutex_unlock(&n->lock);
		if (stop)
			break;
		if (state == SB_FENCE_ACTIVE) {
			snprintf(key, sizeof(key), "w/%s/%d/%" PRIu64,
				 n->o->node, (int)getpid(), seq++);
			t0 = lc_mono_ns();
			rc = fenced_put(n, key, epoch, &err);
			t1 = lc_mono_ns();
			log_line(n,
				 "WRITE %" PRId64 " %" PRId64 " %" PRIu64
				 " %d %s",
				 t0, t1, epoch, rc, key);
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Builds a config section: plugin=name and every key=value. */
static struct sb_config *make_cfg(const char *section, const char *plugin,
				  const char *const *sets, int n_sets)
{
	struct sb_config *cfg = sb_config_new(section);

	if (cfg == NULL || sb_config_set(cfg, "plugin", plugin) != 0)
		goto fail;
	for (int i = 0; i < n_sets; i++) {
		char key[128];
		const char *eq = strchr(sets[i], '=');

		if (eq == NULL || eq == sets[i] ||
		    (size_t)(eq - sets[i]) >= sizeof(key)) {
			fprintf(stderr, "bad setting \"%s\": want key=value\n",
				sets[i]);
			goto fail;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - sets[i]),
			 sets[i]);
		if (sb_config_set(cfg, key, eq + 1) != 0)
			goto fail;
	}
	return cfg;
fail:
	sb_config_free(cfg);
	return NULL;
}

static int node_open(struct node *n)
{
	const struct lc_opts *o = n->o;
	struct sb_error err = {{0}};
	char lerr[512], ttl[32], acq[32];
	const char *fsets[2];
	int rc;

	if (sb_plugin_load(o->plugin_dir, SB_PLUGIN_STORAGE, o->plugin,
			   &n->splug, lerr, sizeof(lerr)) != 0) {
		fprintf(stderr, "node %s: %s\n", o->node, lerr);
		return -1;
	}
	n->sops = sb_plugin_storage(&n->splug);
	if (sb_plugin_load(o->plugin_dir, SB_PLUGIN_FENCING, "lease", &n->fplug,
			   lerr, sizeof(lerr)) != 0) {
		fprintf(stderr, "node %s: %s\n", o->node, lerr);
		return -1;
	}
	n->fops = sb_plugin_fencing(&n->fplug);
	n->shost = sb_host_new("storage", o->plugin, o->state_dir, o->node);
	n->fhost = sb_host_new("fencing", "lease", o->state_dir, o->node);
	n->scfg = make_cfg("storage", o->plugin, o->sets, o->n_sets);
	snprintf(ttl, sizeof(ttl), "ttl_ms=%d", o->ttl_ms);
	snprintf(acq, sizeof(acq), "acquire_interval_ms=%d",
		 o->acquire_interval_ms);
	fsets[0] = ttl;
	fsets[1] = acq;
	n->fcfg = make_cfg("fencing", "lease", fsets, 2);
	if (!n->shost || !n->fhost || !n->scfg || !n->fcfg) {
		fprintf(stderr, "node %s: out of memory\n", o->node);
		return -1;
	}
	rc = n->sops->open(n->shost, n->scfg, &n->sinst, &err);
	if (rc != SB_OK) {
		fprintf(stderr, "node %s: storage %s: open: %s\n", o->node,
			o->plugin, err.msg);
		return -1;
	}
	rc = n->fops->open(n->fhost, n->fcfg, &n->finst, &err);
	if (rc != SB_OK) {
		fprintf(stderr, "node %s: fencing lease: open: %s\n", o->node,
			err.msg);
		return -1;
	}
	n->hooks = (struct sb_fence_hooks){
		.size = sizeof(struct sb_fence_hooks),
		.arg = n,
		.state_changed = hook_state_changed,
		.lease_acquire = hook_lease_acquire,
		.lease_renew = hook_lease_renew,
		.lease_release = hook_lease_release,
		.lease_read = hook_lease_read,
		.fence_takeover = hook_fence_takeover,
	};
	rc = n->fops->start(n->finst, &n->hooks, &err);
	if (rc != SB_OK) {
		fprintf(stderr, "node %s: fencing lease: start: %s\n", o->node,
			err.msg);
		return -1;
	}
	return 0;
}

static void node_close(struct node *n)
{
	if (n->finst)
		n->fops->close(n->finst);
	if (n->sinst)
		n->sops->close(n->sinst);
	sb_config_free(n->scfg);
	sb_config_free(n->fcfg);
	sb_host_free(n->shost);
	sb_host_free(n->fhost);
	if (n->fplug.dl)
		sb_plugin_unload(&n->fplug);
	if (n->splug.dl)
		sb_plugin_unload(&n->splug);
}

static void answer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void answer(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

int lc_node_main(const struct lc_opts *o)
{
	struct node n = {.o = o, .log_fd = -1};
	char line[512];
	int ret = 1, writer = 0;

	/* Dies with the driver, whatever happens to it. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sb_log_setup(SB_LOG_INFO, 0, o->node);
	pthread_mutex_init(&n.lock, NULL);
	n.log_fd = open(o->log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			0600);
	if (n.log_fd < 0) {
		fprintf(stderr, "node %s: cannot open %s: %s\n", o->node,
			o->log_path, strerror(errno));
		goto done;
	}
	if (node_open(&n) != 0)
		goto done;
	if (pthread_create(&n.writer, NULL, writer_main, &n) != 0) {
		fprintf(stderr, "node %s: cannot start the writer\n", o->node);
		goto done;
	}
	writer = 1;
	answer("ready");
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "status") == 0) {
			struct sb_fence_status st;

			n.fops->status(n.finst, &st);
			answer("status %d %" PRIu64 " %" PRId64 " %s", st.state,
			       st.epoch, st.lease_left_ms, st.detail);
		} else if (strncmp(line, "stale-write ", 12) == 0) {
			struct sb_error err = {{0}};
			uint64_t epoch;
			int rc;

			pthread_mutex_lock(&n.lock);
			epoch = n.last_epoch;
			pthread_mutex_unlock(&n.lock);
			rc = fenced_put(&n, line + 12, epoch, &err);
			answer("stale-write %d %" PRIu64 " %s", rc, epoch,
			       err.msg);
		} else if (strcmp(line, "quit") == 0) {
			break;
		} else {
			answer("error unknown command \"%s\"", line);
		}
	}
	/* quit, or the driver went away (EOF): stop as the daemon does. */
	pthread_mutex_lock(&n.lock);
	n.writer_stop = 1;
	pthread_mutex_unlock(&n.lock);
	pthread_join(n.writer, NULL);
	writer = 0;
	n.fops->stop(n.finst);
	answer("bye");
	ret = 0;
done:
	if (writer) {
		pthread_mutex_lock(&n.lock);
		n.writer_stop = 1;
		pthread_mutex_unlock(&n.lock);
		pthread_join(n.writer, NULL);
	}
	node_close(&n);
	if (n.log_fd >= 0)
		close(n.log_fd);
	pthread_mutex_destroy(&n.lock);
	return ret;
}
