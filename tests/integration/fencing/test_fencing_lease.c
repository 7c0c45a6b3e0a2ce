/*
 * Unit tests of the "lease" fencing plugin, loaded through the plugin
 * loader and driven by a fake core: fake sb_fence_hooks that stand in for
 * the storage lease (the plugin reaches nothing but the hooks, so this is
 * its real boundary) and record every call with its time.
 *
 * Timing: the tests run the plugin with a short TTL (600 ms: renew every
 * 200 ms, self-fence after 400 ms, acquire every 100 ms) and check every
 * deadline against the times the fake recorded, on CLOCK_BOOTTIME (the
 * plugin's clock). Bounds that guard safety are exact (a step-down after
 * the lease could have expired fails); bounds that only guard promptness
 * leave slack for a loaded or sanitized build.
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
#include <time.h>

#include <cmocka.h>

#include "host/host.h"
#include "runtime/log.h"
#include "host/plugin_loader.h"

#define MAX_EVENTS 256
#define MAX_CALLS  4096
#define NODE	   "node-a"

/* Generous bound for "promptly" (scheduling, sanitizers). */
#define SLACK_MS 150

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

struct event {
	double t;
	int state;
	uint64_t epoch;
	char reason[256];
};

enum call_kind { C_ACQUIRE, C_RENEW, C_RELEASE };

struct call {
	int kind;
	double t_start, t_end;
	uint64_t epoch; /* renew/release: the epoch given; acquire: granted */
	uint32_t ttl_ms;
	int rc;
	char holder[64];
};

/* The fake core and storage lease. Every field under lock. */
struct fake {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* behaviour */
	int acquire_rc;	      /* status of the next acquires */
	int acquire_delay_ms; /* how long an acquire takes */
	uint64_t next_epoch;  /* the backend's counter: +1 per grant */
	int renew_rc;	      /* status of the next renews */
	int renew_block;      /* renews wait until this is cleared */
	int renew_block_rc;   /* what a blocked renew then returns */
	int release_rc;
	/* record */
	struct event ev[MAX_EVENTS];
	int n_ev;
	struct call calls[MAX_CALLS];
	int n_calls;
	int blocked_renews; /* renews waiting in renew_block now */
	int stopped;	    /* set by the test once stop() returned */
	int after_stop;	    /* hook calls after that */
};

static void fake_touch(struct fake *f)
{
	if (f->stopped)
		f->after_stop++;
}

static struct call *fake_call(struct fake *f, int kind, const char *holder)
{
	struct call *c;

	if (f->n_calls >= MAX_CALLS)
		return NULL;
	c = &f->calls[f->n_calls++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->t_start = now_ms();
	snprintf(c->holder, sizeof(c->holder), "%s", holder);
	return c;
}

static void fake_state_changed(void *arg, int state, uint64_t epoch,
			       const char *reason)
{
	struct fake *f = arg;

	pthread_mutex_lock(&f->lock);
	fake_touch(f);
	if (f->n_ev < MAX_EVENTS) {
		struct event *e = &f->ev[f->n_ev++];

		e->t = now_ms();
		e->state = state;
		e->epoch = epoch;
		snprintf(e->reason, sizeof(e->reason), "%s",
			 reason ? reason : "(null)");
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

static int fake_acquire(void *arg, const char *holder, uint32_t ttl_ms,
			uint64_t *epoch, struct sb_error *err)
{
	struct fake *f = arg;
	struct call *c;
	int rc, delay;

	pthread_mutex_lock(&f->lock);
	fake_touch(f);
	delay = f->acquire_delay_ms;
	c = fake_call(f, C_ACQUIRE, holder);
	pthread_mutex_unlock(&f->lock);
	if (delay > 0)
		sleep_ms(delay);
	pthread_mutex_lock(&f->lock);
	rc = f->acquire_rc;
	if (rc == SB_OK)
		*epoch = f->next_epoch++;
	else if (rc == SB_EBUSY)
		snprintf(err->msg, sizeof(err->msg),
			 "fake: lease is held by \"node-b\" for another "
			 "500 ms");
	else
		snprintf(err->msg, sizeof(err->msg),
			 "fake: acquire failed (%s)", sb_status_name(rc));
	if (c) {
		c->t_end = now_ms();
		c->rc = rc;
		c->ttl_ms = ttl_ms;
		c->epoch = rc == SB_OK ? *epoch : 0;
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_renew(void *arg, const char *holder, uint64_t epoch,
		      uint32_t ttl_ms, struct sb_error *err)
{
	struct fake *f = arg;
	struct call *c;
	int rc;

	pthread_mutex_lock(&f->lock);
	fake_touch(f);
	c = fake_call(f, C_RENEW, holder);
	if (f->renew_block) {
		f->blocked_renews++;
		pthread_cond_broadcast(&f->cond);
		while (f->renew_block)
			pthread_cond_wait(&f->cond, &f->lock);
		f->blocked_renews--;
		rc = f->renew_block_rc;
	} else {
		rc = f->renew_rc;
	}
	if (rc != SB_OK)
		snprintf(err->msg, sizeof(err->msg),
			 "fake: renew at epoch %llu: %s",
			 (unsigned long long)epoch, sb_status_name(rc));
	if (c) {
		c->t_end = now_ms();
		c->rc = rc;
		c->ttl_ms = ttl_ms;
		c->epoch = epoch;
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_release(void *arg, const char *holder, uint64_t epoch,
			struct sb_error *err)
{
	struct fake *f = arg;
	struct call *c;
	int rc;

	pthread_mutex_lock(&f->lock);
	fake_touch(f);
	c = fake_call(f, C_RELEASE, holder);
	rc = f->release_rc;
	if (rc != SB_OK)
		snprintf(err->msg, sizeof(err->msg), "fake: release: %s",
			 sb_status_name(rc));
	if (c) {
		c->t_end = c->t_start;
		c->rc = rc;
		c->epoch = epoch;
	}
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return rc;
}

static int fake_read(void *arg, struct sb_lease_info *info,
		     struct sb_error *err)
{
	return SB_ENOTSUP;
}

static int fake_takeover(void *arg, const char *holder, uint32_t ttl_ms,
			 uint64_t *epoch, struct sb_error *err)
{
	return SB_ENOTSUP;
}

struct ctx {
	struct sb_plugin plugin;
	const struct sb_fencing_ops *ops;
	struct sb_host *host;
	struct sb_config *cfg;
	void *inst;
	struct fake f;
	struct sb_fence_hooks hooks;
};

/* Loads the plugin and sets up the fake; the instance is opened by each
 * test (open_with) with its own settings. */
static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;
	char lerr[512];

	assert_non_null(c);
	if (sb_plugin_load(SB_PLUGIN_BUILD_DIR, SB_PLUGIN_FENCING, "lease",
			   &c->plugin, lerr, sizeof(lerr)) != 0)
		fail_msg("loading fencing plugin lease: %s", lerr);
	c->ops = sb_plugin_fencing(&c->plugin);
	c->host = sb_host_new("fencing", "lease", "/nonexistent", NODE);
	assert_non_null(c->host);
	c->cfg = sb_config_new("fencing");
	assert_non_null(c->cfg);
	pthread_mutex_init(&c->f.lock, NULL);
	pthread_condattr_init(&ca);
	pthread_cond_init(&c->f.cond, &ca);
	pthread_condattr_destroy(&ca);
	c->f.next_epoch = 7;
	c->hooks = (struct sb_fence_hooks){
		.size = sizeof(struct sb_fence_hooks),
		.arg = &c->f,
		.state_changed = fake_state_changed,
		.lease_acquire = fake_acquire,
		.lease_renew = fake_renew,
		.lease_release = fake_release,
		.lease_read = fake_read,
		.fence_takeover = fake_takeover,
	};
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	if (c->inst) {
		c->ops->stop(c->inst);
		c->ops->close(c->inst);
	}
	sb_config_free(c->cfg);
	sb_host_free(c->host);
	pthread_cond_destroy(&c->f.cond);
	pthread_mutex_destroy(&c->f.lock);
	sb_plugin_unload(&c->plugin);
	free(c);
	return 0;
}

/* Opens the instance with "key=value" settings, NULL-terminated. */
static void open_with(struct ctx *c, ...)
{
	struct sb_error err = {{0}};
	const char *kv;
	va_list ap;

	sb_config_set(c->cfg, "plugin", "lease");
	va_start(ap, c);
	while ((kv = va_arg(ap, const char *)) != NULL) {
		char key[64];
		const char *eq = strchr(kv, '=');

		assert_non_null(eq);
		snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
		assert_int_equal(sb_config_set(c->cfg, key, eq + 1), 0);
	}
	va_end(ap);
	if (c->ops->open(c->host, c->cfg, &c->inst, &err) != SB_OK)
		fail_msg("open: %s", err.msg);
}

/* The short-TTL settings most tests use: ttl 600, renew 200 (default),
 * self-fence 400 (default), acquire every 100 ms. */
static void open_fast(struct ctx *c)
{
	open_with(c, "ttl_ms=600", "acquire_interval_ms=100", NULL);
}

static void start_ok(struct ctx *c)
{
	struct sb_error err = {{0}};

	if (c->ops->start(c->inst, &c->hooks, &err) != SB_OK)
		fail_msg("start: %s", err.msg);
}

/* Waits up to timeout_ms for the fake to hold at least n events; returns
 * the count. */
static int wait_events(struct ctx *c, int n, int timeout_ms)
{
	double end = now_ms() + timeout_ms;
	int got;

	pthread_mutex_lock(&c->f.lock);
	while (c->f.n_ev < n && now_ms() < end) {
		pthread_mutex_unlock(&c->f.lock);
		sleep_ms(2);
		pthread_mutex_lock(&c->f.lock);
	}
	got = c->f.n_ev;
	pthread_mutex_unlock(&c->f.lock);
	return got;
}

/* Number of calls of kind (with rc, or any when rc == 1) so far. */
static int count_calls(struct ctx *c, int kind, int rc)
{
	int n = 0;

	pthread_mutex_lock(&c->f.lock);
	for (int i = 0; i < c->f.n_calls; i++)
		if (c->f.calls[i].kind == kind &&
		    (rc == 1 || c->f.calls[i].rc == rc))
			n++;
	pthread_mutex_unlock(&c->f.lock);
	return n;
}

static int wait_calls(struct ctx *c, int kind, int rc, int n, int timeout_ms)
{
	double end = now_ms() + timeout_ms;
	int got;

	while ((got = count_calls(c, kind, rc)) < n && now_ms() < end)
		sleep_ms(2);
	return got;
}

/* The start time of the last renew that returned SB_OK, or of the
 * acquire that made the node active when there was none. */
static double last_good_start(struct ctx *c, uint64_t epoch)
{
	double t = -1;

	pthread_mutex_lock(&c->f.lock);
	for (int i = 0; i < c->f.n_calls; i++) {
		struct call *k = &c->f.calls[i];

		if (k->rc == SB_OK && k->epoch == epoch &&
		    (k->kind == C_RENEW || k->kind == C_ACQUIRE))
			t = k->t_start;
	}
	pthread_mutex_unlock(&c->f.lock);
	return t;
}

static void set_fake(struct ctx *c, int *field, int value)
{
	pthread_mutex_lock(&c->f.lock);
	*field = value;
	pthread_cond_broadcast(&c->f.cond);
	pthread_mutex_unlock(&c->f.lock);
}

/* ---- settings ---- */

static void descriptor_and_ops(void **state)
{
	struct ctx *c = *state;

	assert_string_equal(c->plugin.desc->name, "lease");
	assert_int_equal(c->plugin.desc->kind, SB_PLUGIN_FENCING);
	assert_null(c->ops->promote);
	assert_non_null(c->ops->demote);
	assert_non_null(c->ops->start);
	assert_non_null(c->ops->stop);
	assert_non_null(c->ops->status);
}

static void settings_defaults(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;
	struct sb_error err = {{0}};

	/* No [fencing] keys at all (cfg NULL): ttl 3000, deadline 2000. */
	if (c->ops->open(c->host, NULL, &c->inst, &err) != SB_OK)
		fail_msg("open: %s", err.msg);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);
	assert_true(st.lease_left_ms == -1);
	assert_string_equal(st.detail, "not started");
	start_ok(c);
	assert_int_equal(count_calls(c, C_ACQUIRE, SB_OK), 1);
	assert_int_equal(c->f.calls[0].ttl_ms, 3000);
	assert_string_equal(c->f.calls[0].holder, NODE);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_ACTIVE);
	assert_true(st.lease_left_ms > 1500 && st.lease_left_ms <= 2000);
}

static void settings_derived_from_ttl(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;

	open_with(c, "ttl_ms=600", NULL);
	start_ok(c);
	assert_int_equal(c->f.calls[0].ttl_ms, 600);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	/* self_fence 600 - max(200, min(500, 150)) = 400 */
	assert_true(st.lease_left_ms > 250 && st.lease_left_ms <= 400);
	/* renews every 200 ms: 4 or so in 900 ms */
	sleep_ms(900);
	assert_in_range(count_calls(c, C_RENEW, SB_OK), 3, 5);
}

static void settings_invalid(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *kv[3];
		const char *want;
	} cases[] = {
		{{"ttl_ms=abc"}, "[fencing] ttl_ms: \"abc\" is not an integer"},
		{{"ttl_ms=100"}, "[fencing] ttl_ms: 100 is out of range"},
		{{"ttl_ms=999999999"}, "[fencing] ttl_ms"},
		{{"renew_interval_ms=0"}, "[fencing] renew_interval_ms"},
		{{"renew_interval_ms=-5"}, "[fencing] renew_interval_ms"},
		{{"renew_interval_ms=1500"}, "[fencing] renew_interval_ms"},
		{{"self_fence_ms=3000"}, "[fencing] self_fence_ms"},
		{{"self_fence_ms=2990"},
		 "[fencing] self_fence_ms: 2990 leaves"},
		{{"self_fence_ms=900"}, "[fencing] renew_interval_ms: 1000"},
		{{"self_fence_ms=x"}, "[fencing] self_fence_ms"},
		{{"acquire_interval_ms=0"}, "[fencing] acquire_interval_ms"},
		{{"acquire_interval_ms=1e3"}, "[fencing] acquire_interval_ms"},
		{{"ttl_ms=600", "renew_interval_ms=300"},
		 "[fencing] renew_interval_ms: 300 must be less than "
		 "self_fence_ms (300"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sb_config *cfg = sb_config_new("fencing");
		struct sb_error err = {{0}};
		void *inst = NULL;

		for (int k = 0; k < 3 && cases[i].kv[k]; k++) {
			char key[64];
			const char *eq = strchr(cases[i].kv[k], '=');

			snprintf(key, sizeof(key), "%.*s",
				 (int)(eq - cases[i].kv[k]), cases[i].kv[k]);
			sb_config_set(cfg, key, eq + 1);
		}
		assert_int_equal(c->ops->open(c->host, cfg, &inst, &err),
				 SB_EINVAL);
		assert_null(inst);
		if (strstr(err.msg, cases[i].want) == NULL)
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i,
				 err.msg, cases[i].want);
		sb_config_free(cfg);
	}
}

static void long_node_name_refused(void **state)
{
	struct ctx *c = *state;
	char name[300];
	struct sb_host *h;
	struct sb_error err = {{0}};
	void *inst = NULL;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	h = sb_host_new("fencing", "lease", "/nonexistent", name);
	assert_int_equal(c->ops->open(h, NULL, &inst, &err), SB_EINVAL);
	assert_non_null(strstr(err.msg, "255 bytes"));
	sb_host_free(h);
}

/* ---- acquiring ---- */

static void acquire_makes_active(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;

	open_fast(c);
	start_ok(c);
	/* start() returns after the first decision. */
	assert_int_equal(c->f.n_ev, 1);
	assert_int_equal(c->f.ev[0].state, SB_FENCE_ACTIVE);
	assert_true(c->f.ev[0].epoch == 7);
	assert_string_equal(c->f.ev[0].reason, "acquired lease");
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_ACTIVE);
	assert_true(st.epoch == 7);
	assert_true(st.lease_left_ms >= 0 && st.lease_left_ms <= 400);
	assert_non_null(strstr(st.detail, "holding lease, epoch 7, renewed "));
	assert_non_null(strstr(st.detail, " ms ago"));

	/* Renewing keeps it active, with the holder and epoch it got. */
	assert_true(wait_calls(c, C_RENEW, SB_OK, 5, 3000) >= 5);
	assert_int_equal(wait_events(c, 2, 0), 1);
	pthread_mutex_lock(&c->f.lock);
	for (int i = 0; i < c->f.n_calls; i++) {
		struct call *k = &c->f.calls[i];

		if (k->kind != C_RENEW)
			continue;
		assert_string_equal(k->holder, NODE);
		assert_true(k->epoch == 7);
		assert_int_equal(k->ttl_ms, 600);
		/* every 200 ms: never sooner (first one 200 ms after the
		 * acquire began) */
		assert_true(k->t_start - c->f.calls[i - 1].t_start >= 190.0);
	}
	pthread_mutex_unlock(&c->f.lock);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_ACTIVE);
	assert_true(st.lease_left_ms > 0);
}

static void busy_stays_standby_then_acquires(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;
	double t_free, t_active;
	int tries;

	c->f.acquire_rc = SB_EBUSY;
	open_fast(c);
	start_ok(c);
	assert_int_equal(c->f.n_ev, 0);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);
	assert_true(st.epoch == 0);
	assert_true(st.lease_left_ms == -1);
	assert_non_null(strstr(st.detail, "standby, lease held elsewhere"));
	assert_non_null(strstr(st.detail, "node-b"));

	/* Tries every 100 ms: about 6 in 550 ms, never a busy loop. */
	sleep_ms(550);
	tries = count_calls(c, C_ACQUIRE, SB_EBUSY);
	assert_in_range(tries, 4, 7);
	assert_int_equal(c->f.n_ev, 0);

	set_fake(c, &c->f.acquire_rc, SB_OK);
	t_free = now_ms();
	assert_int_equal(wait_events(c, 1, 2000), 1);
	t_active = c->f.ev[0].t;
	assert_int_equal(c->f.ev[0].state, SB_FENCE_ACTIVE);
	assert_true(t_active - t_free <= 100 + SLACK_MS);
}

static void acquire_error_retries(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;

	c->f.acquire_rc = SB_EUNAVAIL;
	open_fast(c);
	start_ok(c); /* a passing outage does not fail start */
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);
	assert_non_null(strstr(st.detail, "cannot acquire the lease"));
	assert_non_null(strstr(st.detail, "fake: acquire failed"));
	set_fake(c, &c->f.acquire_rc, SB_OK);
	assert_int_equal(wait_events(c, 1, 2000), 1);
	assert_int_equal(c->f.ev[0].state, SB_FENCE_ACTIVE);
}

static void unsupported_storage_fails_start(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;
	struct sb_error err = {{0}};

	c->f.acquire_rc = SB_ENOTSUP;
	open_fast(c);
	assert_int_equal(c->ops->start(c->inst, &c->hooks, &err), SB_ENOTSUP);
	assert_non_null(strstr(err.msg, "node-a"));
	assert_non_null(strstr(err.msg, "lease"));
	assert_non_null(strstr(err.msg, "fake: acquire failed"));
	assert_int_equal(c->f.n_ev, 0);
	c->ops->stop(c->inst); /* harmless after a failed start */
	assert_int_equal(c->f.n_ev, 0);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);

	/* Fixed: a new start works. */
	c->f.acquire_rc = SB_OK;
	start_ok(c);
	assert_int_equal(c->f.ev[0].state, SB_FENCE_ACTIVE);
}

static void slow_acquire_not_trusted(void **state)
{
	struct ctx *c = *state;
	uint64_t slow_epoch;

	/* The grant arrives after the self-fencing deadline it would start
	 * with: the lease may be about to expire, so the node must not
	 * believe it holds it, and gives it back. */
	c->f.acquire_delay_ms = 450;
	open_fast(c);
	start_ok(c);
	assert_int_equal(c->f.n_ev, 0);
	slow_epoch = c->f.calls[0].epoch;
	assert_true(slow_epoch == 7);
	assert_true(wait_calls(c, C_RELEASE, 1, 1, 2000) == 1);
	pthread_mutex_lock(&c->f.lock);
	for (int i = 0; i < c->f.n_calls; i++)
		if (c->f.calls[i].kind == C_RELEASE)
			assert_true(c->f.calls[i].epoch == slow_epoch);
	c->f.acquire_delay_ms = 0;
	pthread_mutex_unlock(&c->f.lock);
	assert_true(wait_events(c, 1, 3000) >= 1);
	assert_int_equal(c->f.ev[0].state, SB_FENCE_ACTIVE);
	assert_true(c->f.ev[0].epoch > slow_epoch);
}

/* ---- losing the lease ---- */

/* Renews fail (backend unreachable): the node steps down by itself once
 * self_fence_ms passed since the start of its last successful renew, and
 * strictly before the lease could expire on the backend (ttl_ms). */
static void renew_failures_step_down_before_expiry(void **state)
{
	struct ctx *c = *state;
	double t_good, t_down;
	int failed;

	open_fast(c);
	start_ok(c);
	assert_true(wait_calls(c, C_RENEW, SB_OK, 2, 2000) >= 2);
	set_fake(c, &c->f.renew_rc, SB_EUNAVAIL);
	assert_true(wait_events(c, 2, 2000) >= 2);
	t_good = last_good_start(c, 7);
	t_down = c->f.ev[1].t;
	assert_int_equal(c->f.ev[1].state, SB_FENCE_STANDBY);
	assert_true(c->f.ev[1].epoch == 0);
	assert_non_null(strstr(c->f.ev[1].reason,
			       "lease not renewed within 400 ms: stepped "
			       "down"));
	assert_non_null(strstr(c->f.ev[1].reason, "fake: renew at epoch 7"));
	print_message("stepped down %.1f ms after the last good renew began "
		      "(deadline 400, lease expiry 600)\n",
		      t_down - t_good);
	/* Not before the deadline ... */
	assert_true(t_down - t_good >= 400.0);
	/* ... and before the lease can expire: the safety bound. */
	assert_true(t_down - t_good < 600.0);
	/* Failed renews were retried (every 50 ms), not given up at once. */
	failed = count_calls(c, C_RENEW, SB_EUNAVAIL);
	assert_true(failed >= 2);
	/* It gives back what it may still hold, then competes again, at a
	 * new epoch. */
	assert_true(wait_calls(c, C_RELEASE, 1, 1, 2000) >= 1);
	assert_int_equal(wait_events(c, 3, 2000), 3);
	assert_int_equal(c->f.ev[2].state, SB_FENCE_ACTIVE);
	assert_true(c->f.ev[2].epoch == 8);
}

/* The renew hangs (a backend that stopped answering): the watchdog steps
 * the node down on time although the worker is stuck in the hook, and the
 * late "OK" does not revive the old epoch. */
static void hung_renew_watchdog(void **state)
{
	struct ctx *c = *state;
	double t_good, t_down;
	int nev;

	open_fast(c);
	start_ok(c);
	set_fake(c, &c->f.acquire_rc, SB_EBUSY); /* no re-acquire for now */
	assert_true(wait_calls(c, C_RENEW, SB_OK, 1, 2000) >= 1);
	pthread_mutex_lock(&c->f.lock);
	c->f.renew_block = 1;
	c->f.renew_block_rc = SB_OK;
	pthread_mutex_unlock(&c->f.lock);
	assert_int_equal(wait_events(c, 2, 2000), 2);
	t_good = last_good_start(c, 7);
	t_down = c->f.ev[1].t;
	assert_int_equal(c->f.ev[1].state, SB_FENCE_STANDBY);
	assert_non_null(
		strstr(c->f.ev[1].reason, "lease not renewed within 400 ms"));
	assert_int_equal(c->f.blocked_renews, 1); /* still stuck */
	print_message("stepped down %.1f ms after the last good renew began, "
		      "renew still hanging\n",
		      t_down - t_good);
	assert_true(t_down - t_good >= 400.0 && t_down - t_good < 600.0);

	/* The renew now answers OK, too late: no revival, and the lease it
	 * may have extended is given back. */
	set_fake(c, &c->f.renew_block, 0);
	assert_true(wait_calls(c, C_RELEASE, 1, 1, 2000) >= 1);
	sleep_ms(300);
	nev = wait_events(c, 3, 0);
	assert_int_equal(nev, 2);
	pthread_mutex_lock(&c->f.lock);
	for (int i = 0; i < c->f.n_calls; i++)
		if (c->f.calls[i].kind == C_RELEASE)
			assert_true(c->f.calls[i].epoch == 7);
	pthread_mutex_unlock(&c->f.lock);

	/* Free again: a new, larger epoch, never the old one. */
	set_fake(c, &c->f.acquire_rc, SB_OK);
	assert_int_equal(wait_events(c, 3, 2000), 3);
	assert_int_equal(c->f.ev[2].state, SB_FENCE_ACTIVE);
	assert_true(c->f.ev[2].epoch > 7);
}

static void lost_lease_immediate(struct ctx *c, int rc, const char *word)
{
	double t_answer = -1;

	open_fast(c);
	start_ok(c);
	set_fake(c, &c->f.acquire_rc, SB_EBUSY);
	assert_true(wait_calls(c, C_RENEW, SB_OK, 1, 2000) >= 1);
	set_fake(c, &c->f.renew_rc, rc);
	assert_int_equal(wait_events(c, 2, 2000), 2);
	pthread_mutex_lock(&c->f.lock);
	for (int i = 0; i < c->f.n_calls; i++)
		if (c->f.calls[i].kind == C_RENEW && c->f.calls[i].rc == rc) {
			t_answer = c->f.calls[i].t_end;
			break;
		}
	pthread_mutex_unlock(&c->f.lock);
	assert_true(t_answer > 0);
	assert_int_equal(c->f.ev[1].state, SB_FENCE_STANDBY);
	assert_non_null(strstr(c->f.ev[1].reason, word));
	assert_non_null(strstr(c->f.ev[1].reason, "stepped down"));
	/* At once: not at the deadline. */
	print_message("stepped down %.2f ms after the %s answer\n",
		      c->f.ev[1].t - t_answer, word);
	assert_true(c->f.ev[1].t - t_answer < 50.0);
	/* Exactly one failing renew: it does not retry a lost lease ... */
	assert_int_equal(count_calls(c, C_RENEW, rc), 1);
	/* ... nor release what is no longer its own. */
	sleep_ms(250);
	assert_int_equal(count_calls(c, C_RELEASE, 1), 0);
	assert_true(count_calls(c, C_ACQUIRE, SB_EBUSY) >= 1);
}

static void renew_fenced_steps_down_at_once(void **state)
{
	lost_lease_immediate(*state, SB_EFENCED, "fenced");
}

static void renew_expired_steps_down_at_once(void **state)
{
	lost_lease_immediate(*state, SB_EEXPIRED, "expired");
}

/* ---- stop and demote ---- */

static void stop_releases(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;
	int stopped = 0;

	open_fast(c);
	start_ok(c);
	assert_true(wait_calls(c, C_RENEW, SB_OK, 1, 2000) >= 1);
	c->ops->stop(c->inst);
	pthread_mutex_lock(&c->f.lock);
	c->f.stopped = 1;
	pthread_mutex_unlock(&c->f.lock);

	assert_int_equal(count_calls(c, C_RELEASE, 1), 1);
	for (int i = 0; i < c->f.n_calls; i++)
		if (c->f.calls[i].kind == C_RELEASE) {
			assert_string_equal(c->f.calls[i].holder, NODE);
			assert_true(c->f.calls[i].epoch == 7);
			/* The core heard of the step-down before the
			 * lease was let go. */
			assert_true(c->f.ev[1].t <= c->f.calls[i].t_start);
		}
	assert_int_equal(c->f.n_ev, 2);
	assert_int_equal(c->f.ev[1].state, SB_FENCE_STANDBY);
	assert_true(c->f.ev[1].epoch == 0);
	assert_string_equal(c->f.ev[1].reason, "stopped");
	for (int i = 0; i < c->f.n_ev; i++)
		stopped += strcmp(c->f.ev[i].reason, "stopped") == 0;
	assert_int_equal(stopped, 1);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);
	assert_true(st.lease_left_ms == -1);
	assert_string_equal(st.detail, "stopped");

	/* No hook after stop returned, not even renews on a timer. */
	sleep_ms(500);
	c->ops->stop(c->inst); /* twice: nothing either */
	assert_int_equal(c->f.after_stop, 0);

	/* And it can start again, at a larger epoch. */
	pthread_mutex_lock(&c->f.lock);
	c->f.stopped = 0;
	pthread_mutex_unlock(&c->f.lock);
	start_ok(c);
	assert_int_equal(c->f.ev[2].state, SB_FENCE_ACTIVE);
	assert_true(c->f.ev[2].epoch == 8);
}

static void stop_on_standby(void **state)
{
	struct ctx *c = *state;

	c->f.acquire_rc = SB_EBUSY;
	open_fast(c);
	start_ok(c);
	c->ops->stop(c->inst);
	assert_int_equal(c->f.n_ev, 1);
	assert_int_equal(c->f.ev[0].state, SB_FENCE_STANDBY);
	assert_string_equal(c->f.ev[0].reason, "stopped");
	assert_int_equal(count_calls(c, C_RELEASE, 1), 0);
}

static void *stop_thread(void *arg)
{
	struct ctx *c = arg;

	c->ops->stop(c->inst);
	return NULL;
}

/* stop() while the worker is stuck in a renew: stop waits for it, but the
 * watchdog keeps guarding the deadline meanwhile. */
static void stop_during_hung_renew(void **state)
{
	struct ctx *c = *state;
	pthread_t t;

	open_fast(c);
	start_ok(c);
	set_fake(c, &c->f.acquire_rc, SB_EBUSY);
	assert_true(wait_calls(c, C_RENEW, SB_OK, 1, 2000) >= 1);
	pthread_mutex_lock(&c->f.lock);
	c->f.renew_block = 1;
	c->f.renew_block_rc = SB_ETIMEOUT;
	pthread_mutex_unlock(&c->f.lock);
	while (1) {
		pthread_mutex_lock(&c->f.lock);
		int b = c->f.blocked_renews;
		pthread_mutex_unlock(&c->f.lock);
		if (b)
			break;
		sleep_ms(2);
	}
	assert_int_equal(pthread_create(&t, NULL, stop_thread, c), 0);
	/* The watchdog still steps down on time. */
	assert_int_equal(wait_events(c, 2, 2000), 2);
	assert_non_null(strstr(c->f.ev[1].reason, "not renewed within"));
	set_fake(c, &c->f.renew_block, 0);
	pthread_join(t, NULL);
	assert_int_equal(c->f.ev[c->f.n_ev - 1].state, SB_FENCE_STANDBY);
	assert_string_equal(c->f.ev[c->f.n_ev - 1].reason, "stopped");
	/* The lease it stepped down from was released once. */
	assert_int_equal(count_calls(c, C_RELEASE, 1), 1);
}

static void demote_hands_over(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_status st;
	struct sb_error err = {{0}};
	double t_demote;
	int acq_before;

	open_fast(c);
	start_ok(c);
	assert_true(wait_calls(c, C_RENEW, SB_OK, 1, 2000) >= 1);
	acq_before = count_calls(c, C_ACQUIRE, 1);
	t_demote = now_ms();
	assert_int_equal(c->ops->demote(c->inst, &err), SB_OK);
	/* Down and released before demote returns. */
	assert_int_equal(c->f.n_ev, 2);
	assert_int_equal(c->f.ev[1].state, SB_FENCE_STANDBY);
	assert_non_null(strstr(c->f.ev[1].reason, "demoted"));
	assert_int_equal(count_calls(c, C_RELEASE, SB_OK), 1);
	assert_int_equal(c->ops->status(c->inst, &st), SB_OK);
	assert_int_equal(st.state, SB_FENCE_STANDBY);
	assert_non_null(strstr(st.detail, "demoted"));
	/* No acquire for one TTL (600 ms), then it competes again. */
	assert_int_equal(wait_events(c, 3, 2000), 3);
	assert_int_equal(c->f.ev[2].state, SB_FENCE_ACTIVE);
	assert_true(c->f.ev[2].epoch == 8);
	assert_true(c->f.ev[2].t - t_demote >= 600.0);
	pthread_mutex_lock(&c->f.lock);
	for (int i = 0; i < c->f.n_calls; i++)
		if (c->f.calls[i].kind == C_ACQUIRE &&
		    c->f.calls[i].t_start > t_demote)
			assert_true(c->f.calls[i].t_start - t_demote >= 600.0);
	pthread_mutex_unlock(&c->f.lock);
	assert_int_equal(count_calls(c, C_ACQUIRE, 1), acq_before + 1);
}

static void demote_not_started(void **state)
{
	struct ctx *c = *state;
	struct sb_error err = {{0}};

	open_fast(c);
	assert_int_equal(c->ops->demote(c->inst, &err), SB_EINVAL);
	assert_non_null(strstr(err.msg, "not started"));
}

static void double_start_and_missing_hooks(void **state)
{
	struct ctx *c = *state;
	struct sb_fence_hooks h = c->hooks;
	struct sb_error err = {{0}};

	open_fast(c);
	h.lease_renew = NULL;
	assert_int_equal(c->ops->start(c->inst, &h, &err), SB_EINVAL);
	assert_non_null(strstr(err.msg, "lease_renew"));
	assert_int_equal(c->ops->start(c->inst, NULL, &err), SB_EINVAL);
	h = c->hooks;
	h.size = offsetof(struct sb_fence_hooks, lease_renew);
	assert_int_equal(c->ops->start(c->inst, &h, &err), SB_EINVAL);
	assert_int_equal(c->f.n_calls, 0);
	start_ok(c);
	assert_int_equal(c->ops->start(c->inst, &c->hooks, &err), SB_EINVAL);
	assert_non_null(strstr(err.msg, "already started"));
}

/* The backend hands out an epoch not above one it granted before (a store
 * restored from an old copy): the node refuses to be active on it. */
static void stale_epoch_refused(void **state)
{
	struct ctx *c = *state;
	struct sb_error err = {{0}};

	open_fast(c);
	start_ok(c);
	assert_true(c->f.ev[0].epoch == 7);
	assert_int_equal(c->ops->demote(c->inst, &err), SB_OK);
	set_fake(c, &c->f.acquire_rc, SB_OK);
	pthread_mutex_lock(&c->f.lock);
	c->f.next_epoch = 5; /* goes backwards */
	pthread_mutex_unlock(&c->f.lock);
	assert_true(wait_calls(c, C_RELEASE, SB_OK, 2, 3000) >= 2);
	assert_int_equal(wait_events(c, 3, 0), 2);
	pthread_mutex_lock(&c->f.lock);
	c->f.next_epoch = 20;
	pthread_mutex_unlock(&c->f.lock);
	assert_int_equal(wait_events(c, 3, 3000), 3);
	assert_true(c->f.ev[2].epoch == 20);
}

/* ---- threads ---- */

struct poller {
	struct ctx *c;
	int *stop;
	int inconsistent;
	long polls;
};

static void *poll_status(void *arg)
{
	struct poller *p = arg;

	while (!__atomic_load_n(p->stop, __ATOMIC_ACQUIRE)) {
		struct sb_fence_status st;

		p->c->ops->status(p->c->inst, &st);
		if (st.state == SB_FENCE_ACTIVE
			    ? (st.epoch == 0 || st.lease_left_ms < 0)
			    : (st.epoch != 0 || st.lease_left_ms != -1))
			p->inconsistent++;
		p->polls++;
	}
	return NULL;
}

/* status() from other threads while the node gains and loses the lease,
 * is demoted, stopped and started: always a consistent answer. And the
 * core always hears ACTIVE and STANDBY alternately, never twice the
 * same transition out of order. */
static void status_from_threads(void **state)
{
	struct ctx *c = *state;
	int stop = 0;
	struct poller p[2] = {{.c = c, .stop = &stop}, {.c = c, .stop = &stop}};
	pthread_t t[2];
	struct sb_error err = {{0}};

	open_with(c, "ttl_ms=200", "renew_interval_ms=20",
		  "acquire_interval_ms=10", NULL);
	for (int i = 0; i < 2; i++)
		assert_int_equal(
			pthread_create(&t[i], NULL, poll_status, &p[i]), 0);
	for (int round = 0; round < 6; round++) {
		start_ok(c);
		set_fake(c, &c->f.renew_rc,
			 round % 2 ? SB_EFENCED : SB_EUNAVAIL);
		sleep_ms(120);
		set_fake(c, &c->f.renew_rc, SB_OK);
		if (round % 3 == 2)
			c->ops->demote(c->inst, &err);
		sleep_ms(40);
		c->ops->stop(c->inst);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(p[i].inconsistent, 0);
		assert_true(p[i].polls > 0);
	}
	for (int i = 1; i < c->f.n_ev; i++) {
		/* "stopped" may repeat standby; ACTIVE never repeats
		 * without a standby between, and epochs only grow. */
		if (c->f.ev[i].state == SB_FENCE_ACTIVE) {
			assert_int_equal(c->f.ev[i - 1].state,
					 SB_FENCE_STANDBY);
			for (int k = 0; k < i; k++)
				assert_true(c->f.ev[k].epoch <
					    c->f.ev[i].epoch);
		}
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(descriptor_and_ops),
		T(settings_defaults),
		T(settings_derived_from_ttl),
		T(settings_invalid),
		T(long_node_name_refused),
		T(acquire_makes_active),
		T(busy_stays_standby_then_acquires),
		T(acquire_error_retries),
		T(unsupported_storage_fails_start),
		T(slow_acquire_not_trusted),
		T(renew_failures_step_down_before_expiry),
		T(hung_renew_watchdog),
		T(renew_fenced_steps_down_at_once),
		T(renew_expired_steps_down_at_once),
		T(stop_releases),
		T(stop_on_standby),
		T(stop_during_hung_renew),
		T(demote_hands_over),
		T(demote_not_started),
		T(double_start_and_missing_hooks),
		T(stale_epoch_refused),
		T(status_from_threads),
	};
#undef T

	/* The plugin logs every transition; keep the output readable. */
	sb_log_setup(SB_LOG_ERROR, 0, "test_fencing_lease");
	return cmocka_run_group_tests_name("fencing_lease", tests, NULL, NULL);
}
