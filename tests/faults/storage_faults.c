/*
 * storage_faults.so: a test-only storage plugin that wraps a real one and
 * injects faults at random points (tests/faults/fault_run.py drives it).
 * It loads the inner plugin's .so itself and hands it the same host table
 * and config section, so the inner plugin reads its own settings (path,
 * ...) from the [storage] section as usual.
 *
 * [storage] settings (besides the inner plugin's):
 *   inner              absolute path of the wrapped plugin's .so (required)
 *   seed               random seed (default 1); mixed with the pid, so a
 *                      restarted daemon draws other faults
 *   error_per_mille    get, scan or batch fails with SB_EUNAVAIL before it
 *                      reaches the inner plugin (default 0)
 *   timeout_per_mille  the call sleeps timeout_ms and fails with
 *                      SB_ETIMEOUT, not reaching the inner plugin
 *   lost_per_mille     a batch is applied by the inner plugin, and then
 *                      answered SB_ETIMEOUT (the reply was lost: the
 *                      caller cannot tell whether it was written)
 *   drop_per_mille     a batch is answered SB_OK and never applied: a
 *                      store that lies, for the run's self-check only
 *                      (fault_run.py --self-check must then find lost
 *                      writes or wrong answers)
 *   fence_error_per_mille  lease_acquire and fence_takeover fail with
 *                      SB_EUNAVAIL (a fencing plugin then cannot start,
 *                      or cannot take the lease)
 *   timeout_ms         default 100
 *   fault_log          a file each injected fault appends one line to
 *                      ("unavail get", "timeout batch", "lost batch"),
 *                      so a count survives the daemon's SIGKILL
 * lease_renew, lease_release and lease_read pass through untouched.
 */
#define _GNU_SOURCE
#include <secretbroker/plugin.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum fault_kind {
	FAULT_NONE,
	FAULT_UNAVAIL,
	FAULT_TIMEOUT,
	FAULT_LOST,
	FAULT_DROP
};

struct faults {
	const struct sb_host *host;
	void *dl;
	const struct sb_storage_ops *inner;
	void *inst;
	pthread_mutex_t lock; /* guards rng */
	uint64_t rng;
	long long error_pm, timeout_pm, lost_pm, drop_pm, fence_pm, timeout_ms;
	int log_fd; /* -1: no fault_log */
};

/* xorshift64*: plenty for picking fault points. */
static uint64_t next_random(struct faults *f)
{
	uint64_t x;

	pthread_mutex_lock(&f->lock);
	x = f->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	f->rng = x;
	pthread_mutex_unlock(&f->lock);
	return x * 0x2545F4914F6CDD1DULL;
}

/* Draws the fault of one call: lost and drop only for batches
 * (is_batch). */
static enum fault_kind draw(struct faults *f, int is_batch)
{
	long long r = (long long)(next_random(f) % 1000);

	if (r < f->error_pm)
		return FAULT_UNAVAIL;
	r -= f->error_pm;
	if (r < f->timeout_pm)
		return FAULT_TIMEOUT;
	r -= f->timeout_pm;
	if (is_batch && r < f->lost_pm)
		return FAULT_LOST;
	r -= f->lost_pm;
	if (is_batch && r < f->drop_pm)
		return FAULT_DROP;
	return FAULT_NONE;
}

static void record(struct faults *f, const char *kind, const char *op)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "%s %s\n", kind, op);

	/* One write of a short line with O_APPEND: whole lines even when
	 * several threads inject at once. */
	if (f->log_fd >= 0 && write(f->log_fd, line, (size_t)n) != n)
		f->host->log(f->host, SB_LOG_WARNING,
			     "cannot append to fault_log: %s", strerror(errno));
}

/* Applies a drawn fault that stops the call before the inner plugin:
 * returns the status to give, or SB_OK to go on. */
static int inject_before(struct faults *f, enum fault_kind k, const char *op,
			 struct sb_error *err)
{
	if (k == FAULT_UNAVAIL) {
		record(f, "unavail", op);
		return sb_error_set(err, SB_EUNAVAIL, "injected fault: %s", op);
	}
	if (k == FAULT_TIMEOUT) {
		struct timespec ts = {f->timeout_ms / 1000,
				      (f->timeout_ms % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		record(f, "timeout", op);
		return sb_error_set(err, SB_ETIMEOUT,
				    "injected timeout after %lld ms: %s",
				    f->timeout_ms, op);
	}
	return SB_OK;
}

static int fi_get(void *inst, const char *key, uint8_t **value,
		  size_t *value_len, uint64_t *version, struct sb_error *err)
{
	struct faults *f = inst;
	int rc = inject_before(f, draw(f, 0), "get", err);

	if (rc != SB_OK)
		return rc;
	return f->inner->get(f->inst, key, value, value_len, version, err);
}

static int fi_scan(void *inst, const char *prefix, const char *after,
		   size_t limit, sb_scan_cb cb, void *arg, char *last_key,
		   struct sb_error *err)
{
	struct faults *f = inst;
	int rc = inject_before(f, draw(f, 0), "scan", err);

	if (rc != SB_OK)
		return rc;
	return f->inner->scan(f->inst, prefix, after, limit, cb, arg, last_key,
			      err);
}

static int fi_batch_apply(void *inst, const struct sb_batch *batch,
			  struct sb_error *err)
{
	struct faults *f = inst;
	enum fault_kind k = draw(f, 1);
	int rc = inject_before(f, k, "batch", err);

	if (rc != SB_OK)
		return rc;
	if (k == FAULT_DROP) {
		record(f, "dropped", "batch");
		return SB_OK;
	}
	rc = f->inner->batch_apply(f->inst, batch, err);
	if (rc == SB_OK && k == FAULT_LOST) {
		record(f, "lost", "batch");
		return sb_error_set(err, SB_ETIMEOUT,
				    "injected: the batch was applied but its "
				    "answer was lost");
	}
	return rc;
}

/* Returns SB_EUNAVAIL (recorded) for fence_pm per mille of the calls,
 * else SB_OK. */
static int fence_fault(struct faults *f, const char *op, struct sb_error *err)
{
	if ((long long)(next_random(f) % 1000) >= f->fence_pm)
		return SB_OK;
	record(f, "unavail", op);
	return sb_error_set(err, SB_EUNAVAIL, "injected fault: %s", op);
}

static int fi_lease_acquire(void *inst, const char *holder, uint32_t ttl_ms,
			    uint64_t *epoch, struct sb_error *err)
{
	struct faults *f = inst;

	if (fence_fault(f, "lease_acquire", err) != SB_OK)
		return SB_EUNAVAIL;
	return f->inner->lease_acquire(f->inst, holder, ttl_ms, epoch, err);
}

static int fi_lease_renew(void *inst, const char *holder, uint64_t epoch,
			  uint32_t ttl_ms, struct sb_error *err)
{
	struct faults *f = inst;

	return f->inner->lease_renew(f->inst, holder, epoch, ttl_ms, err);
}

static int fi_lease_release(void *inst, const char *holder, uint64_t epoch,
			    struct sb_error *err)
{
	struct faults *f = inst;

	return f->inner->lease_release(f->inst, holder, epoch, err);
}

static int fi_lease_read(void *inst, struct sb_lease_info *info,
			 struct sb_error *err)
{
	struct faults *f = inst;

	return f->inner->lease_read(f->inst, info, err);
}

static int fi_fence_takeover(void *inst, const char *holder, uint32_t ttl_ms,
			     uint64_t *epoch, struct sb_error *err)
{
	struct faults *f = inst;

	if (fence_fault(f, "fence_takeover", err) != SB_OK)
		return SB_EUNAVAIL;
	return f->inner->fence_takeover(f->inst, holder, ttl_ms, epoch, err);
}

static void fi_close(void *inst)
{
	struct faults *f = inst;

	if (f == NULL)
		return;
	if (f->inst)
		f->inner->close(f->inst);
	if (f->dl)
		dlclose(f->dl);
	if (f->log_fd >= 0)
		close(f->log_fd);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Loads the inner plugin's .so and checks it is a storage plugin with
 * every 1.0 member this shim forwards. */
static int load_inner(struct faults *f, const char *path, struct sb_error *err)
{
	const struct sb_plugin_descriptor *(*entry)(void);
	const struct sb_plugin_descriptor *desc;
	const struct sb_storage_ops *ops;

	f->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (f->dl == NULL)
		return sb_error_set(err, SB_EINVAL, "[storage] inner: %s",
				    dlerror());
	*(void **)&entry = dlsym(f->dl, SB_PLUGIN_ENTRY_SYMBOL);
	desc = entry ? entry() : NULL;
	if (desc == NULL || desc->kind != SB_PLUGIN_STORAGE ||
	    desc->abi_major != SB_PLUGIN_ABI_MAJOR)
		return sb_error_set(err, SB_EINVAL,
				    "[storage] inner: %s is not a storage "
				    "plugin of ABI %d",
				    path, SB_PLUGIN_ABI_MAJOR);
	ops = desc->ops;
	if (ops->size < SB_STORAGE_OPS_SIZE_1_0 || !ops->lease_acquire ||
	    !ops->lease_renew || !ops->lease_release || !ops->lease_read ||
	    !ops->fence_takeover)
		return sb_error_set(err, SB_EINVAL,
				    "[storage] inner: %s lacks lease "
				    "operations",
				    path);
	f->inner = ops;
	return SB_OK;
}

static int fi_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct faults *f = calloc(1, sizeof(*f));
	const char *inner, *log_path;
	long long seed;
	int rc = SB_ENOMEM;

	if (f == NULL)
		return sb_error_set(err, SB_ENOMEM, "out of memory");
	f->host = host;
	f->log_fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	inner = host->config_get(cfg, "inner", NULL);
	if (inner == NULL || inner[0] != '/') {
		rc = sb_error_set(err, SB_EINVAL,
				  "[storage] inner: the absolute path of the "
				  "wrapped plugin is required");
		goto fail;
	}
	if ((rc = host->config_get_int(cfg, "seed", 1, &seed, err)) != SB_OK ||
	    (rc = host->config_get_int(cfg, "error_per_mille", 0, &f->error_pm,
				       err)) != SB_OK ||
	    (rc = host->config_get_int(cfg, "timeout_per_mille", 0,
				       &f->timeout_pm, err)) != SB_OK ||
	    (rc = host->config_get_int(cfg, "lost_per_mille", 0, &f->lost_pm,
				       err)) != SB_OK ||
	    (rc = host->config_get_int(cfg, "drop_per_mille", 0, &f->drop_pm,
				       err)) != SB_OK ||
	    (rc = host->config_get_int(cfg, "fence_error_per_mille", 0,
				       &f->fence_pm, err)) != SB_OK ||
	    (rc = host->config_get_int(cfg, "timeout_ms", 100, &f->timeout_ms,
				       err)) != SB_OK)
		goto fail;
	if (f->error_pm < 0 || f->timeout_pm < 0 || f->lost_pm < 0 ||
	    f->drop_pm < 0 || f->fence_pm < 0 || f->fence_pm > 1000 ||
	    f->error_pm + f->timeout_pm + f->lost_pm + f->drop_pm > 1000 ||
	    f->timeout_ms < 0 || f->timeout_ms > 60000) {
		rc = sb_error_set(err, SB_EINVAL,
				  "[storage] the fault rates must be 0..1000 "
				  "per mille in all, timeout_ms 0..60000");
		goto fail;
	}
	f->rng = ((uint64_t)seed * 0x9E3779B97F4A7C15ULL) ^
		 ((uint64_t)getpid() << 17) ^ 0x5DEECE66DULL;
	if (f->rng == 0)
		f->rng = 1;
	log_path = host->config_get(cfg, "fault_log", NULL);
	if (log_path != NULL &&
	    (f->log_fd =
		     open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			  0600)) < 0) {
		rc = sb_error_set(err, SB_EINVAL, "[storage] fault_log %s: %s",
				  log_path, strerror(errno));
		goto fail;
	}
	if ((rc = load_inner(f, inner, err)) != SB_OK)
		goto fail;
	/* The inner plugin opens without faults: a daemon that cannot open
	 * its store does not start, which the run's restarts already cover. */
	if ((rc = f->inner->open(host, cfg, &f->inst, err)) != SB_OK) {
		f->inst = NULL;
		goto fail;
	}
	*out = f;
	return SB_OK;
fail:
	fi_close(f);
	return rc;
}

static const struct sb_storage_ops fi_ops = {
	.size = sizeof(struct sb_storage_ops),
	.open = fi_open,
	.close = fi_close,
	.get = fi_get,
	.scan = fi_scan,
	.batch_apply = fi_batch_apply,
	.lease_acquire = fi_lease_acquire,
	.lease_renew = fi_lease_renew,
	.lease_release = fi_lease_release,
	.lease_read = fi_lease_read,
	.fence_takeover = fi_fence_takeover,
};

static const struct sb_plugin_descriptor fi_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_STORAGE,
	.name = "faults",
	.version = "0.1.0",
	.description = "test only: wraps a storage plugin and injects faults",
	.ops = &fi_ops,
	/* Not declared: the inner plugin's settings share the section. */
	.settings = NULL,
};

SB_PLUGIN_DEFINE(&fi_descriptor)
