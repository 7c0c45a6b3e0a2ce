/*
 * Unit test of the "none" fencing plugin, loaded through the plugin
 * loader, driven with fake core hooks that record every call.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host/host.h"
#include "runtime/log.h"
#include "host/plugin_loader.h"

/* What the fake core saw. */
struct fake_core {
	pthread_mutex_t lock;
	/* fence_takeover */
	int takeover_calls;
	int takeover_status;	  /* what the next takeover returns */
	const char *takeover_msg; /* its message when failing */
	uint64_t last_epoch;	  /* the backend's epoch counter */
	int zero_epoch;		  /* hand out epoch 0 (a broken backend) */
	char holder[256];
	uint32_t ttl_ms;
	/* state_changed */
	int changes;
	int state;
	uint64_t epoch;
	char reason[256];
	/* set by the test once stop() returned */
	int stopped;
	int calls_after_stop;
	/* any lease hook: the none plugin must not use leases */
	int lease_calls;
};

static void fake_state_changed(void *arg, int state, uint64_t epoch,
			       const char *reason)
{
	struct fake_core *f = arg;

	pthread_mutex_lock(&f->lock);
	if (f->stopped)
		f->calls_after_stop++;
	f->changes++;
	f->state = state;
	f->epoch = epoch;
	snprintf(f->reason, sizeof(f->reason), "%s", reason ? reason : "");
	pthread_mutex_unlock(&f->lock);
}

static int fake_takeover(void *arg, const char *holder, uint32_t ttl_ms,
			 uint64_t *epoch, struct sb_error *err)
{
	struct fake_core *f = arg;
	int rc;

	pthread_mutex_lock(&f->lock);
	if (f->stopped)
		f->calls_after_stop++;
	f->takeover_calls++;
	snprintf(f->holder, sizeof(f->holder), "%s", holder);
	f->ttl_ms = ttl_ms;
	rc = f->takeover_status;
	if (rc == SB_OK)
		*epoch = f->zero_epoch ? 0 : ++f->last_epoch;
	else
		snprintf(err->msg, sizeof(err->msg), "%s", f->takeover_msg);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_lease_acquire(void *arg, const char *holder, uint32_t ttl_ms,
			      uint64_t *epoch, struct sb_error *err)
{
	((struct fake_core *)arg)->lease_calls++;
	return SB_ENOTSUP;
}

static int fake_lease_renew(void *arg, const char *holder, uint64_t epoch,
			    uint32_t ttl_ms, struct sb_error *err)
{
	((struct fake_core *)arg)->lease_calls++;
	return SB_ENOTSUP;
}

static int fake_lease_release(void *arg, const char *holder, uint64_t epoch,
			      struct sb_error *err)
{
	((struct fake_core *)arg)->lease_calls++;
	return SB_ENOTSUP;
}

static int fake_lease_read(void *arg, struct sb_lease_info *info,
			   struct sb_error *err)
{
	((struct fake_core *)arg)->lease_calls++;
	return SB_ENOTSUP;
}

struct ctx {
	struct sb_plugin plugin;
	const struct sb_fencing_ops *ops;
	struct sb_host *host;
	void *inst;
	struct fake_core core;
	struct sb_fence_hooks hooks;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct sb_error err = {{0}};
	char lerr[512];

	assert_non_null(c);
	if (sb_plugin_load(SB_PLUGIN_BUILD_DIR, SB_PLUGIN_FENCING, "none",
			   &c->plugin, lerr, sizeof(lerr)) != 0)
		fail_msg("loading fencing plugin none: %s", lerr);
	c->ops = sb_plugin_fencing(&c->plugin);
	c->host = sb_host_new("fencing", "none", "/nonexistent", "node-a");
	assert_non_null(c->host);
	if (c->ops->open(c->host, NULL, &c->inst, &err) != SB_OK)
		fail_msg("open: %s", err.msg);
	pthread_mutex_init(&c->core.lock, NULL);
	c->core.last_epoch = 41; /* the backend has issued epochs before */
	c->hooks = (struct sb_fence_hooks){
		.size = sizeof(struct sb_fence_hooks),
		.arg = &c->core,
		.state_changed = fake_state_changed,
		.lease_acquire = fake_lease_acquire,
		.lease_renew = fake_lease_renew,
		.lease_release = fake_lease_release,
		.lease_read = fake_lease_read,
		.fence_takeover = fake_takeover,
	};
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	c->ops->close(c->inst);
	sb_host_free(c->host);
	pthread_mutex_destroy(&c->core.lock);
	sb_plugin_unload(&c->plugin);
	free(c);
	return 0;
}

static void start_ok(struct ctx *c)
{
	struct sb_error err = {{0}};

	if (c->ops->start(c->inst, &c->hooks, &err) != SB_OK)
		fail_msg("start: %s", err.msg);
}

static void descriptor_and_ops(void **state)
{
	struct ctx *c = *state;

	assert_string_equal(c->plugin.desc->name, "none");
	assert_int_equal(c->plugin.desc->kind, SB_PLUGIN_FENCING);
	assert_null(c->ops->promote);
	assert_null(c->ops->demote);
	assert_non_null(c->ops->start);
	assert_non_null(c->ops->stop);
	assert_non_null(c->ops->status);
}

static void standby_before_start(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;

	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);
	assert_true(st.epoch == 0);
	assert_true(st.lease_left_ms == -1);
	assert_int_equal(c->core.changes, 0);
}

static void start_takes_fresh_epoch(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;

	start_ok(c);
	assert_int_equal(c->core.takeover_calls, 1);
	assert_string_equal(c->core.holder, "node-a");
	assert_int_equal(c->core.ttl_ms, 0);
	assert_int_equal(c->core.changes, 1);
	assert_int_equal(c->core.state, SB_FENCE_ACTIVE);
	assert_true(c->core.epoch == 42);
	assert_string_equal(c->core.reason,
			    "single node (fencing plugin none)");
	assert_int_equal(c->core.lease_calls, 0);

	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_ACTIVE);
	assert_true(st.epoch == 42);
	assert_true(st.lease_left_ms == -1);
	assert_non_null(strstr(st.detail, "single node"));
	assert_non_null(strstr(st.detail, "42"));
	c->ops->stop(c->inst);
}

static void restart_takes_larger_epoch(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;
	uint64_t first;

	start_ok(c);
	first = c->core.epoch;
	c->ops->stop(c->inst);
	assert_int_equal(c->core.state, SB_FENCE_STANDBY);
	assert_true(c->core.epoch == 0);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);
	assert_true(st.epoch == 0);

	start_ok(c);
	assert_true(c->core.epoch > first);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_true(st.epoch == c->core.epoch);
	c->ops->stop(c->inst);
}

static void takeover_failure(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;
	struct sb_error err = {{0}};

	c->core.takeover_status = SB_EUNAVAIL;
	c->core.takeover_msg = "postgres 127.0.0.1:5432: connection refused";
	assert_int_equal(c->ops->start(c->inst, &c->hooks, &err), SB_EUNAVAIL);
	assert_non_null(strstr(err.msg, "node-a"));
	assert_non_null(strstr(err.msg, "fencing epoch"));
	assert_non_null(strstr(err.msg, c->core.takeover_msg));
	assert_int_equal(c->core.changes, 0);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);
	c->ops->stop(c->inst); /* stop after a failed start is harmless */
	assert_int_equal(c->core.changes, 0);

	c->core.takeover_status = SB_EFENCED;
	c->core.takeover_msg = "epoch moved";
	assert_int_equal(c->ops->start(c->inst, &c->hooks, &err), SB_EFENCED);

	/* The backend is back: a new start succeeds. */
	c->core.takeover_status = SB_OK;
	start_ok(c);
	assert_int_equal(c->core.state, SB_FENCE_ACTIVE);
	c->ops->stop(c->inst);
}

static void zero_epoch_refused(void **state)
{
	struct ctx *c = *state;
	struct sb_error err = {{0}};

	c->core.zero_epoch = 1;
	assert_int_not_equal(c->ops->start(c->inst, &c->hooks, &err), SB_OK);
	assert_non_null(strstr(err.msg, "epoch 0"));
	assert_int_equal(c->core.changes, 0);
}

static void double_start_refused(void **state)
{
	struct ctx *c = *state;
	struct sb_error err = {{0}};

	start_ok(c);
	assert_int_equal(c->ops->start(c->inst, &c->hooks, &err), SB_EINVAL);
	assert_non_null(strstr(err.msg, "already started"));
	assert_int_equal(c->core.takeover_calls, 1);
	c->ops->stop(c->inst);
}

static void no_hooks_after_stop(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;

	start_ok(c);
	c->ops->stop(c->inst);
	pthread_mutex_lock(&c->core.lock);
	c->core.stopped = 1;
	pthread_mutex_unlock(&c->core.lock);
	c->ops->stop(c->inst); /* twice: still no hook */
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);
	assert_int_equal(c->core.calls_after_stop, 0);
}

static void missing_hooks_refused(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_hooks h = c->hooks;
	struct sb_error err = {{0}};

	h.fence_takeover = NULL;
	assert_int_equal(c->ops->start(c->inst, &h, &err), SB_EINVAL);
	assert_int_equal(c->ops->start(c->inst, NULL, &err), SB_EINVAL);
	h = c->hooks;
	h.size = offsetof(struct sb_fence_hooks, fence_takeover);
	assert_int_equal(c->ops->start(c->inst, &h, &err), SB_EINVAL);
	assert_int_equal(c->core.takeover_calls, 0);
}

/* status() from other threads while the node starts and stops: every
 * answer is consistent (active with an epoch, or standby with none). */
struct poller {
	struct ctx *c;
	int *stop; /* shared, accessed atomically */
	int inconsistent;
	long polls;
};

static void *poll_status(void *arg)
{
	struct poller *p = arg;

	while (!__atomic_load_n(p->stop, __ATOMIC_ACQUIRE)) {
		struct sb_fence_status st;

		p->c->ops->status(p->c->inst, &st);
		if ((st.state == SB_FENCE_ACTIVE) != (st.epoch != 0))
			p->inconsistent++;
		p->polls++;
	}
	return NULL;
}

static void status_from_threads(void **state)
{
	struct ctx *c = *state;
	int stop = 0;
	struct poller p[2] = {{.c = c, .stop = &stop}, {.c = c, .stop = &stop}};
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		assert_int_equal(
			pthread_create(&t[i], NULL, poll_status, &p[i]), 0);
	for (int i = 0; i < 200; i++) {
		start_ok(c);
		c->ops->stop(c->inst);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(p[i].inconsistent, 0);
	}
	assert_int_equal(c->core.takeover_calls, 200);
	assert_true(c->core.last_epoch == 41 + 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(descriptor_and_ops, setup,
						teardown),
		cmocka_unit_test_setup_teardown(standby_before_start, setup,
						teardown),
		cmocka_unit_test_setup_teardown(start_takes_fresh_epoch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(restart_takes_larger_epoch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(takeover_failure, setup,
						teardown),
		cmocka_unit_test_setup_teardown(zero_epoch_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(double_start_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(no_hooks_after_stop, setup,
						teardown),
		cmocka_unit_test_setup_teardown(missing_hooks_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(status_from_threads, setup,
						teardown),
	};

	/* The plugin logs every activation; keep the test output readable. */
	sb_log_setup(SB_LOG_WARNING, 0, "test_fencing_none");
	return cmocka_run_group_tests_name("fencing_none", tests, NULL, NULL);
}
