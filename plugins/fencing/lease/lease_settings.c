/*
 * [fencing] settings of the lease plugin: defaults and validation.
 *
 *   ttl_ms               the lease's time to live on the storage backend
 *                        (default 3000, 200..600000)
 *   renew_interval_ms    how often the active node renews (default
 *                        ttl_ms / 3; at least 10, below self_fence_ms)
 *   self_fence_ms        the self-fencing deadline: the active node steps
 *                        down when this long has passed since the start of
 *                        its last successful renew (default ttl_ms -
 *                        max(renew_interval_ms, min(500, ttl_ms / 4)); above
 *                        renew_interval_ms, at least LS_MIN_MARGIN_MS below
 *                        ttl_ms)
 *   acquire_interval_ms  how often a standby tries to acquire (default
 *                        renew_interval_ms, 10..600000)
 *
 * Why that default deadline: a renew that starts at t on this node's clock
 * extends the lease to at least t + ttl_ms on the backend's clock (the
 * backend reads its clock after the request left here). Stepping down at
 * t + self_fence_ms is safe when the gap ttl_ms - self_fence_ms covers how
 * late the step-down can take effect (timer wake-up, scheduling on a busy
 * host, cgroup CPU throttling: up to hundreds of ms) plus the rate
 * difference of the two clocks over one TTL (NTP slews at most 500 ppm:
 * 1.5 ms per 3 s). Half a second, or a quarter of a short TTL, covers
 * that; a gap of at least one renew interval keeps the default at the
 * familiar "renew at ttl/3, give up at 2*ttl/3" (2000 ms of a 3000 ms TTL),
 * which leaves two renews and their retries before the deadline. See
 * docs/fencing-lease.md.
 */
#include "lease.h"

#include <stdio.h>

#define LS_DEFAULT_TTL_MS 3000
#define LS_MIN_TTL_MS	  200
#define LS_MAX_TTL_MS	  600000
#define LS_MIN_INTERVAL	  10
#define LS_MAX_INTERVAL	  600000

static long long max_ll(long long a, long long b)
{
	return a > b ? a : b;
}

static long long min_ll(long long a, long long b)
{
	return a < b ? a : b;
}

int ls_settings_read(const struct sb_host *host, const struct sb_config *cfg,
		     struct ls_settings *out, struct sb_error *err)
{
	long long ttl, renew, fence, acquire, margin;
	int rc;

	rc = sb_setting_ms(host, cfg, "ttl_ms", LS_DEFAULT_TTL_MS,
			   LS_MIN_TTL_MS, LS_MAX_TTL_MS, &ttl, err);
	if (rc != SB_OK)
		return rc;
	rc = sb_setting_ms(host, cfg, "renew_interval_ms", ttl / 3,
			   LS_MIN_INTERVAL, ttl, &renew, err);
	if (rc != SB_OK)
		return rc;
	margin = max_ll(renew, min_ll(500, ttl / 4));
	rc = sb_setting_ms(host, cfg, "self_fence_ms", ttl - margin, 1, ttl,
			   &fence, err);
	if (rc != SB_OK)
		return rc;
	if (ttl - fence < LS_MIN_MARGIN_MS)
		return sb_error_set(
			err, SB_EINVAL,
			"[fencing] self_fence_ms: %lld leaves %lld ms "
			"before the lease can expire (ttl_ms %lld); at "
			"least %d ms are needed to step down in time",
			fence, ttl - fence, ttl, LS_MIN_MARGIN_MS);
	if (renew >= fence)
		return sb_error_set(
			err, SB_EINVAL,
			"[fencing] renew_interval_ms: %lld must be "
			"less than self_fence_ms (%lld), or the node "
			"steps down before it ever renews; with "
			"ttl_ms %lld, renew every %lld ms or less",
			renew, fence, ttl, ttl / 3);
	rc = sb_setting_ms(host, cfg, "acquire_interval_ms", renew,
			   LS_MIN_INTERVAL, LS_MAX_INTERVAL, &acquire, err);
	if (rc != SB_OK)
		return rc;
	out->ttl_ms = (uint32_t)ttl;
	out->renew_interval_ms = (uint32_t)renew;
	out->self_fence_ms = (uint32_t)fence;
	out->acquire_interval_ms = (uint32_t)acquire;
	/* A failed renew is retried sooner than the next regular one, so
	 * that a short outage costs several tries before the deadline. */
	out->renew_retry_ms = (uint32_t)max_ll(renew / 4, LS_MIN_INTERVAL);
	return SB_OK;
}
