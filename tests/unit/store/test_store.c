/*
 * The store layer (core/store/store.c) against a fake storage plugin: the
 * epoch stamped on writes, the refusal of fenced writes on a standby, the
 * storage reachability recorded from plugin answers, and the mapping of
 * plugin statuses to API errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/status.h"
#include "store/store.h"

/* What the fake plugin saw and what it answers. */
static struct {
	int calls;
	uint64_t epoch_seen;
	int answer;
	const char *answer_msg;
} fake;

static int fake_batch_apply(void *inst, const struct sb_batch *batch,
			    struct sb_error *err)
{
	(void)inst;
	fake.calls++;
	fake.epoch_seen = batch->epoch;
	if (fake.answer != SB_OK)
		return sb_error_set(err, fake.answer, "%s", fake.answer_msg);
	return SB_OK;
}

static int fake_get(void *inst, const char *key, uint8_t **value,
		    size_t *value_len, uint64_t *version, struct sb_error *err)
{
	(void)inst;
	(void)key;
	(void)value;
	(void)value_len;
	(void)version;
	fake.calls++;
	return sb_error_set(err, fake.answer, "%s", fake.answer_msg);
}

/* No lease ops: store_read_lease answers SB_ENOTSUP itself. */
static const struct sb_storage_ops fake_ops = {
	.size = sizeof(struct sb_storage_ops),
	.get = fake_get,
	.batch_apply = fake_batch_apply,
};

static const struct sb_plugin_descriptor fake_desc = {
	.size = sizeof(struct sb_plugin_descriptor),
	.kind = SB_PLUGIN_STORAGE,
	.name = "fake",
	.ops = &fake_ops,
};

/* The fence view the tests set. */
static struct {
	int state;
	uint64_t epoch;
} view;

static int test_view(void *arg, uint64_t *epoch)
{
	(void)arg;
	*epoch = view.state == SB_FENCE_ACTIVE ? view.epoch : 0;
	return view.state;
}

static struct sb_generation gen;

static int setup(void **state)
{
	(void)state;
	memset(&fake, 0, sizeof(fake));
	memset(&gen, 0, sizeof(gen));
	gen.storage.plugin.desc = &fake_desc;
	view.state = SB_FENCE_STANDBY;
	view.epoch = 0;
	store_set_fence_view(test_view, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	store_set_fence_view(NULL, NULL);
	return 0;
}

static int write_one(struct store_fencing f, struct sb_error *err)
{
	struct sb_batch_op op = {SB_OP_PUT, SB_PRE_NONE,	  0,
				 "k",	    (const uint8_t *)"v", 1};
	/* A stray epoch in the batch must be ignored: fencing decides. */
	struct sb_batch b = {&op, 1, 999, NULL, NULL};

	return store_batch_apply(&gen, f, &b, err);
}

static void fenced_now_stamps_view_epoch(void **state)
{
	struct sb_error err = {{0}};

	(void)state;
	view.state = SB_FENCE_ACTIVE;
	view.epoch = 42;
	assert_int_equal(write_one(STORE_FENCED_NOW, &err), SB_OK);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.epoch_seen, 42);
}

static void fenced_at_stamps_decided_epoch(void **state)
{
	struct sb_error err = {{0}};

	(void)state;
	view.state = SB_FENCE_ACTIVE;
	view.epoch = 7;
	assert_int_equal(write_one(STORE_FENCED_AT(7), &err), SB_OK);
	assert_int_equal(fake.epoch_seen, 7);
}

static void stale_epoch_passes_unchanged(void **state)
{
	struct sb_error err = {{0}};

	(void)state;
	view.state = SB_FENCE_ACTIVE;
	view.epoch = 9;
	fake.answer = SB_EFENCED;
	fake.answer_msg = "epoch 5 is not current (9)";
	assert_int_equal(write_one(STORE_FENCED_AT(5), &err), SB_EFENCED);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.epoch_seen, 5); /* never upgraded to 9 */
	assert_string_equal(err.msg, "epoch 5 is not current (9)");
}

/* The refused-write callback cluster/fence.c registers. */
static struct {
	int calls;
	uint64_t epoch;
	struct sb_generation *g;
} refused;

static void test_refused(void *arg, struct sb_generation *g, uint64_t epoch)
{
	(void)arg;
	refused.calls++;
	refused.epoch = epoch;
	refused.g = g;
}

/* A fenced write the backend refuses is reported with the epoch it was
 * stamped with; a standby's refusal (never sent), an unfenced write and
 * other errors are not. */
static void backend_refusal_reported(void **state)
{
	struct sb_error err = {{0}};

	(void)state;
	memset(&refused, 0, sizeof(refused));
	store_set_fence_refused(test_refused, NULL);
	view.state = SB_FENCE_ACTIVE;
	view.epoch = 9;
	fake.answer = SB_EFENCED;
	fake.answer_msg = "epoch 9 is not current (10)";
	assert_int_equal(write_one(STORE_FENCED_NOW, &err), SB_EFENCED);
	assert_int_equal(refused.calls, 1);
	assert_int_equal(refused.epoch, 9);
	assert_ptr_equal(refused.g, &gen);
	assert_int_equal(write_one(STORE_UNFENCED, &err), SB_EFENCED);
	assert_int_equal(refused.calls, 1);
	fake.answer = SB_ECONFLICT;
	assert_int_equal(write_one(STORE_FENCED_NOW, &err), SB_ECONFLICT);
	assert_int_equal(refused.calls, 1);
	view.state = SB_FENCE_STANDBY;
	assert_int_equal(write_one(STORE_FENCED_NOW, &err), SB_EFENCED);
	assert_int_equal(refused.calls, 1);
	store_set_fence_refused(NULL, NULL);
}

static void standby_refuses_fenced_write(void **state)
{
	struct sb_error err = {{0}};

	(void)state;
	view.state = SB_FENCE_STANDBY;
	assert_int_equal(write_one(STORE_FENCED_AT(3), &err), SB_EFENCED);
	assert_string_equal(err.msg, STORE_STANDBY_MSG);
	assert_int_equal(write_one(STORE_FENCED_NOW, &err), SB_EFENCED);
	assert_int_equal(fake.calls, 0);
}

static void standby_without_view_refuses(void **state)
{
	struct sb_error err = {{0}};

	(void)state;
	store_set_fence_view(NULL, NULL);
	assert_int_equal(write_one(STORE_FENCED_NOW, &err), SB_EFENCED);
	assert_int_equal(fake.calls, 0);
}

static void unfenced_stamps_zero_on_standby(void **state)
{
	struct sb_error err = {{0}};

	(void)state;
	view.state = SB_FENCE_STANDBY;
	assert_int_equal(write_one(STORE_UNFENCED, &err), SB_OK);
	assert_int_equal(fake.calls, 1);
	assert_int_equal(fake.epoch_seen, 0);
	view.state = SB_FENCE_ACTIVE;
	view.epoch = 4;
	assert_int_equal(write_one(STORE_UNFENCED, &err), SB_OK);
	assert_int_equal(fake.epoch_seen, 0);
}

/* Unknown until a call reaches the plugin (it runs first); unavailable and
 * timeout make it unreachable, any other answer ok; the standby refusal
 * and a missing op, which never reach the plugin, leave it alone. */
static void reachability(void **state)
{
	struct sb_error err = {{0}};
	struct sb_lease_info li;
	uint8_t *v = NULL;
	size_t n;
	uint64_t ver;

	(void)state;
	assert_int_equal(store_reachability(), STORE_REACH_UNKNOWN);
	assert_int_equal(write_one(STORE_FENCED_NOW, &err), SB_EFENCED);
	assert_int_equal(store_read_lease(&gen, &li, &err), SB_ENOTSUP);
	assert_int_equal(store_reachability(), STORE_REACH_UNKNOWN);

	fake.answer = SB_EUNAVAIL;
	fake.answer_msg = "connection refused";
	assert_int_equal(write_one(STORE_UNFENCED, &err), SB_EUNAVAIL);
	assert_int_equal(store_reachability(), STORE_REACH_UNREACHABLE);
	/* Still unreachable: refusals of this layer say nothing new. */
	assert_int_equal(write_one(STORE_FENCED_NOW, &err), SB_EFENCED);
	assert_int_equal(store_read_lease(&gen, &li, &err), SB_ENOTSUP);
	assert_int_equal(store_reachability(), STORE_REACH_UNREACHABLE);

	fake.answer = SB_ENOTFOUND;
	fake.answer_msg = "no such key";
	assert_int_equal(store_get_record(&gen, "k", &v, &n, &ver, &err),
			 SB_ENOTFOUND);
	assert_int_equal(store_reachability(), STORE_REACH_OK);

	fake.answer = SB_ETIMEOUT;
	fake.answer_msg = "statement timeout";
	assert_int_equal(store_get_record(&gen, "k", &v, &n, &ver, &err),
			 SB_ETIMEOUT);
	assert_int_equal(store_reachability(), STORE_REACH_UNREACHABLE);

	/* A fencing refusal by the backend is an answer. */
	view.state = SB_FENCE_ACTIVE;
	view.epoch = 2;
	fake.answer = SB_EFENCED;
	fake.answer_msg = "epoch 2 is not current (3)";
	assert_int_equal(write_one(STORE_FENCED_NOW, &err), SB_EFENCED);
	assert_int_equal(store_reachability(), STORE_REACH_OK);
	assert_int_equal(fake.calls, 4);
}

/* One status through store_error_to_api. */
static void expect_api(int status, const char *msg, int http, const char *code,
		       const char *text)
{
	struct sb_error err = {{0}};
	struct sb_api_error e;

	snprintf(err.msg, sizeof(err.msg), "%s", msg);
	assert_int_equal(store_error_to_api(&e, status, &err, "doing X"), -1);
	assert_int_equal(e.http, http);
	assert_string_equal(e.code, code);
	assert_string_equal(e.msg, text);
}

static void error_mapping(void **state)
{
	struct sb_api_error e;

	(void)state;
	expect_api(SB_EUNAVAIL, "down", 503, "storage_unavailable",
		   "SSO database unavailable while doing X: down");
	expect_api(SB_ETIMEOUT, "slow", 503, "storage_unavailable",
		   "SSO database unavailable while doing X: slow");
	expect_api(SB_ETIMEOUT, "commit may or may not have been applied", 503,
		   "outcome_unknown",
		   "the SSO database did not confirm the write while doing "
		   "X, which may or may not have been applied: commit may or "
		   "may not have been applied");
	expect_api(SB_EFENCED, "epoch 3 < 4", 409, "fenced",
		   "write refused while doing X: a newer master secret "
		   "server holds the fencing epoch (epoch 3 < 4)");
	expect_api(SB_EFENCED, STORE_STANDBY_MSG, 409, "fenced",
		   "write refused while doing X: this node is no longer the "
		   "active master secret server");
	expect_api(SB_ECONFLICT, "version 2", 409, "conflict",
		   "concurrent change while doing X: version 2");
	expect_api(SB_ENOTFOUND, "no key", 500, "storage_error",
		   "SSO database error while doing X: no key");
	expect_api(SB_EINVAL, "bad key", 500, "storage_error",
		   "SSO database error while doing X: bad key");
	expect_api(SB_ERR, "boom", 500, "storage_error",
		   "SSO database error while doing X: boom");
	/* No message: the status name stands in. */
	assert_int_equal(store_error_to_api(&e, SB_EUNAVAIL, NULL, "doing X"),
			 -1);
	assert_string_equal(e.msg, "SSO database unavailable while doing X: "
				   "unavailable");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* First: it sees the reachability before any call. */
		cmocka_unit_test_setup_teardown(reachability, setup, teardown),
		cmocka_unit_test_setup_teardown(fenced_now_stamps_view_epoch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(fenced_at_stamps_decided_epoch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(stale_epoch_passes_unchanged,
						setup, teardown),
		cmocka_unit_test_setup_teardown(backend_refusal_reported, setup,
						teardown),
		cmocka_unit_test_setup_teardown(standby_refuses_fenced_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(standby_without_view_refuses,
						setup, teardown),
		cmocka_unit_test_setup_teardown(unfenced_stamps_zero_on_standby,
						setup, teardown),
		cmocka_unit_test_setup_teardown(error_mapping, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
