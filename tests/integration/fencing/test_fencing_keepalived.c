/*
 * Unit tests of the "keepalived" fencing plugin, loaded through the plugin
 * loader, fed through a real FIFO as keepalived's notify_fifo feeds it, and
 * driven by a fake core: fake sb_fence_hooks around one in-memory lease
 * shared by every instance of a test (the plugin reaches nothing but the
 * hooks, so this is its real boundary). Two instances on one fake lease
 * stand for two nodes on one SSO database. The tests with real keepalived
 * and real brokers are in tests/integration/cluster/keepalived*.sh.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/host.h"
#include "host/plugin_loader.h"
#include "runtime/log.h"

/* Long enough for a sanitized build on a loaded machine. */
#define WAIT_MS 5000

/* The SSO database's one lease, shared by the nodes of a test. */
struct lease {
	pthread_mutex_t lock;
	char holder[256];
	uint64_t epoch;
	int held;
	int fail; /* non-zero: every hook answers this status */
	int takeovers, releases;
};

struct node {
	struct lease *lease;
	const char *name;
	struct sb_host *host;
	struct sb_config *cfg;
	void *inst;
	struct sb_fence_hooks hooks;
	pthread_mutex_t lock;
	int state;
	uint64_t epoch;
	char reason[512];
	int changes;
};

struct ctx {
	struct sb_plugin plugin;
	const struct sb_fencing_ops *ops;
	char dir[64];
	char fifo[2][128];
	struct lease lease;
	struct node node[2];
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- the fake core ---- */

static void fake_state_changed(void *arg, int state, uint64_t epoch,
			       const char *reason)
{
	struct node *n = arg;

	pthread_mutex_lock(&n->lock);
	n->state = state;
	n->epoch = epoch;
	snprintf(n->reason, sizeof(n->reason), "%s", reason);
	n->changes++;
	pthread_mutex_unlock(&n->lock);
}

static int fake_fail(struct lease *l, struct sb_error *err)
{
	if (l->fail)
		return sb_error_set(err, l->fail, "fake storage down");
	return SB_OK;
}

static int fake_takeover(void *arg, const char *holder, uint32_t ttl_ms,
			 uint64_t *epoch, struct sb_error *err)
{
	struct lease *l = ((struct node *)arg)->lease;
	int rc;

	assert_int_equal(ttl_ms, 0);
	pthread_mutex_lock(&l->lock);
	rc = fake_fail(l, err);
	if (rc == SB_OK) {
		snprintf(l->holder, sizeof(l->holder), "%s", holder);
		l->held = 1;
		*epoch = ++l->epoch;
		l->takeovers++;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static int fake_release(void *arg, const char *holder, uint64_t epoch,
			struct sb_error *err)
{
	struct lease *l = ((struct node *)arg)->lease;
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = fake_fail(l, err);
	if (rc == SB_OK &&
	    (!l->held || strcmp(l->holder, holder) != 0 || l->epoch != epoch))
		rc = sb_error_set(err, SB_EFENCED, "not the holder");
	if (rc == SB_OK) {
		l->held = 0;
		l->holder[0] = '\0';
		l->releases++;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static int fake_read(void *arg, struct sb_lease_info *info,
		     struct sb_error *err)
{
	struct lease *l = ((struct node *)arg)->lease;
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = fake_fail(l, err);
	if (rc == SB_OK) {
		snprintf(info->holder, sizeof(info->holder), "%s", l->holder);
		info->epoch = l->epoch;
		info->held = l->held;
		info->ttl_left_ms = l->held ? 1000000 : 0;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

static int fake_unused(void *arg, const char *holder, uint32_t ttl_ms,
		       uint64_t *epoch, struct sb_error *err)
{
	(void)arg, (void)holder, (void)ttl_ms, (void)epoch;
	fail_msg("the keepalived plugin must not use lease_acquire");
	return sb_error_set(err, SB_ERR, "unused");
}

static int fake_renew_unused(void *arg, const char *holder, uint64_t epoch,
			     uint32_t ttl_ms, struct sb_error *err)
{
	(void)arg, (void)holder, (void)ttl_ms, (void)epoch;
	fail_msg("the keepalived plugin must not use lease_renew");
	return sb_error_set(err, SB_ERR, "unused");
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	char lerr[512];

	assert_non_null(c);
	if (sb_plugin_load(SB_PLUGIN_BUILD_DIR, SB_PLUGIN_FENCING, "keepalived",
			   &c->plugin, lerr, sizeof(lerr)) != 0)
		fail_msg("loading fencing plugin keepalived: %s", lerr);
	c->ops = sb_plugin_fencing(&c->plugin);
	snprintf(c->dir, sizeof(c->dir), "/tmp/sbka.XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	pthread_mutex_init(&c->lease.lock, NULL);
	for (int i = 0; i < 2; i++) {
		struct node *n = &c->node[i];

		snprintf(c->fifo[i], sizeof(c->fifo[i]), "%s/ka%d.fifo", c->dir,
			 i);
		assert_int_equal(mkfifo(c->fifo[i], 0600), 0);
		n->lease = &c->lease;
		n->name = i == 0 ? "mss1" : "mss2";
		n->host = sb_host_new("fencing", "keepalived", "/nonexistent",
				      n->name);
		n->cfg = sb_config_new("fencing");
		assert_non_null(n->host);
		assert_non_null(n->cfg);
		pthread_mutex_init(&n->lock, NULL);
		n->hooks = (struct sb_fence_hooks){
			.size = sizeof(struct sb_fence_hooks),
			.arg = n,
			.state_changed = fake_state_changed,
			.lease_acquire = fake_unused,
			.lease_renew = fake_renew_unused,
			.lease_release = fake_release,
			.lease_read = fake_read,
			.fence_takeover = fake_takeover,
		};
	}
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	for (int i = 0; i < 2; i++) {
		struct node *n = &c->node[i];

		if (n->inst) {
			c->ops->stop(n->inst);
			c->ops->close(n->inst);
		}
		sb_config_free(n->cfg);
		sb_host_free(n->host);
		pthread_mutex_destroy(&n->lock);
		unlink(c->fifo[i]);
	}
	rmdir(c->dir);
	pthread_mutex_destroy(&c->lease.lock);
	sb_plugin_unload(&c->plugin);
	free(c);
	return 0;
}

/* Sets "key=value" settings (NULL-terminated) on node i's section and
 * opens it; returns the status, err filled. */
static int try_open(struct ctx *c, int i, struct sb_error *err, ...)
{
	struct node *n = &c->node[i];
	const char *kv;
	va_list ap;

	sb_config_set(n->cfg, "plugin", "keepalived");
	va_start(ap, err);
	while ((kv = va_arg(ap, const char *)) != NULL) {
		char key[64];
		const char *eq = strchr(kv, '=');

		assert_non_null(eq);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		assert_int_equal(sb_config_set(n->cfg, key, eq + 1), 0);
	}
	va_end(ap);
	return c->ops->open(n->host, n->cfg, &n->inst, err);
}

/* Opens and starts node i on its FIFO, instance VI_1, checks every 50 ms. */
static void start_node(struct ctx *c, int i)
{
	struct sb_error err = {{0}};
	char fifo[160];

	snprintf(fifo, sizeof(fifo), "fifo=%s", c->fifo[i]);
	if (try_open(c, i, &err, fifo, "instance=VI_1", "epoch_check_ms=50",
		     NULL) != SB_OK)
		fail_msg("open: %s", err.msg);
	if (c->ops->start(c->node[i].inst, &c->node[i].hooks, &err) != SB_OK)
		fail_msg("start: %s", err.msg);
}

/* Writes s to node i's FIFO as keepalived does: open, write, close. */
static void say(struct ctx *c, int i, const char *s)
{
	int fd = open(c->fifo[i], O_WRONLY | O_NONBLOCK);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
}

static int node_state(struct node *n, uint64_t *epoch, char *reason,
		      size_t reason_size)
{
	int s;

	pthread_mutex_lock(&n->lock);
	s = n->state;
	if (epoch)
		*epoch = n->epoch;
	if (reason)
		snprintf(reason, reason_size, "%s", n->reason);
	pthread_mutex_unlock(&n->lock);
	return s;
}

/* Waits for node i to report state whose reason contains word (NULL: any);
 * fails the test after WAIT_MS. */
static void wait_state(struct ctx *c, int i, int state, const char *word)
{
	double end = now_ms() + WAIT_MS;
	char reason[512];

	while (now_ms() < end) {
		if (node_state(&c->node[i], NULL, reason, sizeof(reason)) ==
			    state &&
		    (word == NULL || strstr(reason, word)))
			return;
		sleep_ms(5);
	}
	fail_msg("node %s: not %s (%s) within %d ms; last reason: %s",
		 c->node[i].name,
		 state == SB_FENCE_ACTIVE ? "active" : "standby",
		 word ? word : "any", WAIT_MS, reason);
}

static void set_fail(struct ctx *c, int status)
{
	pthread_mutex_lock(&c->lease.lock);
	c->lease.fail = status;
	pthread_mutex_unlock(&c->lease.lock);
}

/* ---- tests ---- */

static void descriptor_and_ops(void **state)
{
	struct ctx *c = *state;

	assert_string_equal(c->plugin.desc->name, "keepalived");
	assert_int_equal(c->plugin.desc->abi_minor, SB_PLUGIN_ABI_MINOR);
	assert_true(SB_OPS_HAS(c->ops, superseded));
	assert_null(c->ops->promote);
	assert_null(c->ops->demote);
}

static void settings_invalid(void **state)
{
	struct ctx *c = *state;
	struct sb_error err = {{0}};
	char fifo[160];

	snprintf(fifo, sizeof(fifo), "fifo=%s", c->fifo[0]);
	assert_int_equal(try_open(c, 0, &err, "instance=VI_1", NULL),
			 SB_EINVAL);
	assert_non_null(strstr(err.msg, "[fencing] fifo: required"));
	sb_config_free(c->node[0].cfg);
	c->node[0].cfg = sb_config_new("fencing");
	assert_int_equal(try_open(c, 0, &err, fifo, NULL), SB_EINVAL);
	assert_non_null(strstr(err.msg, "[fencing] instance: required"));
	assert_int_equal(try_open(c, 0, &err, fifo, "instance=VI_1",
				  "epoch_check_ms=10", NULL),
			 SB_EINVAL);
	assert_non_null(strstr(err.msg, "epoch_check_ms"));
	assert_null(c->node[0].inst);
}

static void missing_fifo_named(void **state)
{
	struct ctx *c = *state;
	struct sb_error err = {{0}};
	char fifo[200];

	snprintf(fifo, sizeof(fifo), "fifo=%s/absent.fifo", c->dir);
	assert_int_equal(try_open(c, 0, &err, fifo, "instance=VI_1", NULL),
			 SB_EINVAL);
	assert_non_null(strstr(err.msg, "absent.fifo"));
	assert_non_null(strstr(err.msg, "No such file"));
	/* A regular file is not a FIFO. */
	snprintf(fifo, sizeof(fifo), "%s/plain", c->dir);
	close(open(fifo, O_CREAT | O_WRONLY, 0600));
	sb_config_set(c->node[0].cfg, "fifo", fifo);
	assert_int_equal(c->ops->open(c->node[0].host, c->node[0].cfg,
				      &c->node[0].inst, &err),
			 SB_EINVAL);
	assert_non_null(strstr(err.msg, "is not a FIFO"));
	unlink(fifo);
	assert_null(c->node[0].inst);
}

static void master_backup_fault_stop(void **state)
{
	struct ctx *c = *state;
	uint64_t epoch;

	start_node(c, 0);
	wait_state(c, 0, SB_FENCE_STANDBY, "until keepalived reports MASTER");
	say(c, 0, "INSTANCE \"VI_1\" MASTER 150\n");
	wait_state(c, 0, SB_FENCE_ACTIVE, "MASTER");
	node_state(&c->node[0], &epoch, NULL, 0);
	assert_int_equal(epoch, 1);
	assert_string_equal(c->lease.holder, "mss1");
	const char *downs[] = {"BACKUP", "FAULT", "STOP"};
	for (int k = 0; k < 3; k++) {
		char line[128];

		snprintf(line, sizeof(line), "INSTANCE \"VI_1\" %s 150\n",
			 downs[k]);
		say(c, 0, line);
		wait_state(c, 0, SB_FENCE_STANDBY, downs[k]);
		assert_int_equal(c->lease.held, 0); /* released */
		say(c, 0, "INSTANCE \"VI_1\" MASTER 150\n");
		wait_state(c, 0, SB_FENCE_ACTIVE, "MASTER");
	}
	node_state(&c->node[0], &epoch, NULL, 0);
	assert_int_equal(epoch, 4); /* a new epoch for every MASTER */
}

static void other_lines_ignored(void **state)
{
	struct ctx *c = *state;

	start_node(c, 0);
	say(c, 0,
	    "GROUP \"G1\" MASTER 0\n"
	    "INSTANCE \"VI_10\" MASTER 150\n"
	    "INSTANCE \"VI\" MASTER 150\n"
	    "INSTANCE \"VI_1\" UNKNOWNSTATE 150\n"
	    "garbage without quotes\n"
	    "INSTANCE \"VI_1\n");
	sleep_ms(200);
	assert_int_equal(node_state(&c->node[0], NULL, NULL, 0),
			 SB_FENCE_STANDBY);
	assert_int_equal(c->lease.takeovers, 0);
	/* A line split over two writes counts once, whole. */
	say(c, 0, "INSTANCE \"VI_1\" MAS");
	sleep_ms(50);
	assert_int_equal(c->lease.takeovers, 0);
	say(c, 0, "TER 150\n");
	wait_state(c, 0, SB_FENCE_ACTIVE, "MASTER");
}

/* keepalived restarts: its writer end closes and a new one opens. The
 * plugin holds the FIFO open read-write, so it never sees end-of-file and
 * a line written while no keepalived runs is kept. */
static void writer_restart_loses_nothing(void **state)
{
	struct ctx *c = *state;

	start_node(c, 0);
	for (int k = 0; k < 5; k++) {
		say(c, 0, "INSTANCE \"VI_1\" MASTER 100\n");
		wait_state(c, 0, SB_FENCE_ACTIVE, "MASTER");
		say(c, 0, "INSTANCE \"VI_1\" STOP 100\n");
		wait_state(c, 0, SB_FENCE_STANDBY, "STOP");
	}
	assert_int_equal(c->lease.takeovers, 5);
}

/* Storage down at the MASTER transition: standby, and the fence is taken
 * as soon as the storage answers, without another line. */
static void takeover_retried(void **state)
{
	struct ctx *c = *state;

	start_node(c, 0);
	set_fail(c, SB_EUNAVAIL);
	say(c, 0, "INSTANCE \"VI_1\" MASTER 150\n");
	sleep_ms(300);
	assert_int_equal(node_state(&c->node[0], NULL, NULL, 0),
			 SB_FENCE_STANDBY);
	set_fail(c, 0);
	wait_state(c, 0, SB_FENCE_ACTIVE, "MASTER");
	/* BACKUP while the storage is down: standby at once all the same. */
	set_fail(c, SB_EUNAVAIL);
	say(c, 0, "INSTANCE \"VI_1\" BACKUP 150\n");
	wait_state(c, 0, SB_FENCE_STANDBY, "BACKUP");
	set_fail(c, 0);
	sleep_ms(200);
	assert_int_equal(node_state(&c->node[0], NULL, NULL, 0),
			 SB_FENCE_STANDBY);
}

/* A split network: both nodes MASTER. The later takeover wins; the other
 * steps down by its lease check and stays down while the winner holds the
 * fence; when the winner sees BACKUP (the network healed) and releases,
 * the node keepalived still calls MASTER takes over again. */
static void split_brain_watch(void **state)
{
	struct ctx *c = *state;
	char reason[512];

	start_node(c, 0);
	start_node(c, 1);
	say(c, 0, "INSTANCE \"VI_1\" MASTER 150\n");
	wait_state(c, 0, SB_FENCE_ACTIVE, "MASTER");
	say(c, 1, "INSTANCE \"VI_1\" MASTER 100\n");
	wait_state(c, 1, SB_FENCE_ACTIVE, "MASTER");
	wait_state(c, 0, SB_FENCE_STANDBY, "superseded at epoch 2 by mss2");
	sleep_ms(300);
	assert_int_equal(node_state(&c->node[0], NULL, reason, sizeof(reason)),
			 SB_FENCE_STANDBY);
	assert_int_equal(c->lease.takeovers, 2);
	say(c, 1, "INSTANCE \"VI_1\" BACKUP 100\n");
	wait_state(c, 1, SB_FENCE_STANDBY, "BACKUP");
	wait_state(c, 0, SB_FENCE_ACTIVE, "MASTER");
	assert_string_equal(c->lease.holder, "mss1");
	assert_int_equal(c->lease.epoch, 3);
}

/* The core reports a write refused at the node's epoch: it steps down at
 * once (the check interval is long here), and not for a stale epoch. */
static void superseded_by_refused_write(void **state)
{
	struct ctx *c = *state;
	struct sb_error err = {{0}};
	char fifo[160];
	uint64_t epoch;

	snprintf(fifo, sizeof(fifo), "fifo=%s", c->fifo[0]);
	if (try_open(c, 0, &err, fifo, "instance=VI_1", "epoch_check_ms=60000",
		     NULL) != SB_OK)
		fail_msg("open: %s", err.msg);
	assert_int_equal(
		c->ops->start(c->node[0].inst, &c->node[0].hooks, &err), SB_OK);
	say(c, 0, "INSTANCE \"VI_1\" MASTER 150\n");
	wait_state(c, 0, SB_FENCE_ACTIVE, "MASTER");
	node_state(&c->node[0], &epoch, NULL, 0);
	c->ops->superseded(c->node[0].inst, epoch - 1, "mss2", epoch + 1);
	assert_int_equal(node_state(&c->node[0], NULL, NULL, 0),
			 SB_FENCE_ACTIVE);
	c->ops->superseded(c->node[0].inst, epoch, "mss2", epoch + 1);
	assert_int_equal(node_state(&c->node[0], NULL, NULL, 0),
			 SB_FENCE_STANDBY);
	wait_state(c, 0, SB_FENCE_STANDBY, "superseded at epoch 2 by mss2");
}

/* stop() releases the fence and says so. */
static void stop_releases(void **state)
{
	struct ctx *c = *state;

	start_node(c, 0);
	say(c, 0, "INSTANCE \"VI_1\" MASTER 150\n");
	wait_state(c, 0, SB_FENCE_ACTIVE, "MASTER");
	c->ops->stop(c->node[0].inst);
	assert_int_equal(node_state(&c->node[0], NULL, NULL, 0),
			 SB_FENCE_STANDBY);
	assert_int_equal(c->lease.held, 0);
	c->ops->close(c->node[0].inst);
	c->node[0].inst = NULL;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(descriptor_and_ops),
		T(settings_invalid),
		T(missing_fifo_named),
		T(master_backup_fault_stop),
		T(other_lines_ignored),
		T(writer_restart_loses_nothing),
		T(takeover_retried),
		T(split_brain_watch),
		T(superseded_by_refused_write),
		T(stop_releases),
	};

	sb_log_setup(SB_LOG_ERROR, 0, "test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
