/*
 * The fencing state (core/cluster/fence.c): standby at init, active with
 * an epoch, back to standby clears it, and the store's view follows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cluster/fence.h"
#include "store/store.h"

static struct sb_daemon daemon_;

static int setup(void **state)
{
	(void)state;
	memset(&daemon_, 0, sizeof(daemon_));
	return sb_fence_init(&daemon_);
}

static int teardown(void **state)
{
	(void)state;
	sb_fence_destroy(&daemon_);
	return 0;
}

static void standby_at_init(void **state)
{
	int st = -1;
	uint64_t epoch = 99;

	(void)state;
	sb_fence_view(&daemon_, &st, &epoch);
	assert_int_equal(st, SB_FENCE_STANDBY);
	assert_int_equal(epoch, 0);
	epoch = 99;
	assert_int_equal(store_fence_view(&epoch), SB_FENCE_STANDBY);
	assert_int_equal(epoch, 0);
}

static void active_then_standby(void **state)
{
	int st = -1;
	uint64_t epoch = 0;

	(void)state;
	sb_fence_state_changed(&daemon_, SB_FENCE_ACTIVE, 12, "lease taken");
	sb_fence_view(&daemon_, &st, &epoch);
	assert_int_equal(st, SB_FENCE_ACTIVE);
	assert_int_equal(epoch, 12);
	epoch = 0;
	assert_int_equal(store_fence_view(&epoch), SB_FENCE_ACTIVE);
	assert_int_equal(epoch, 12);

	/* A standby report's epoch is not kept. */
	sb_fence_state_changed(&daemon_, SB_FENCE_STANDBY, 12, "lease lost");
	sb_fence_view(&daemon_, &st, &epoch);
	assert_int_equal(st, SB_FENCE_STANDBY);
	assert_int_equal(epoch, 0);
	epoch = 99;
	assert_int_equal(store_fence_view(&epoch), SB_FENCE_STANDBY);
	assert_int_equal(epoch, 0);
}

static void destroy_unregisters_view(void **state)
{
	uint64_t epoch = 99;

	(void)state;
	sb_fence_state_changed(&daemon_, SB_FENCE_ACTIVE, 3, "taken");
	sb_fence_destroy(&daemon_);
	assert_int_equal(store_fence_view(&epoch), SB_FENCE_STANDBY);
	assert_int_equal(epoch, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(standby_at_init, setup,
						teardown),
		cmocka_unit_test_setup_teardown(active_then_standby, setup,
						teardown),
		cmocka_unit_test_setup_teardown(destroy_unregisters_view, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
