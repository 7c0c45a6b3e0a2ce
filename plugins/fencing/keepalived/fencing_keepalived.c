/*
 * The "keepalived" fencing plugin: keepalived's VRRP decides which master
 * secret server node is active, the storage's fencing epoch decides whose
 * writes count (see docs/fencing-keepalived.md).
 *
 * A reader thread follows keepalived's notify_fifo. For the VRRP instance
 * named in [fencing] instance, a line
 *
 *     INSTANCE "VI_1" MASTER 150
 *
 * makes the node take the fence (fence_takeover, no expiry: an epoch
 * strictly larger than any issued), after which the core writes the MSS
 * name and answers writes; BACKUP, FAULT and STOP make it standby at once,
 * before anything else reaches the storage, and release the lease. GROUP
 * lines, other instances and other states are ignored.
 *
 * VRRP alone can make two nodes MASTER (a split network). Both then take
 * over in turn; the one taken over from gets SB_EFENCED on its next write
 * (the core reports it through the "superseded" op) or sees another holder
 * at its next lease check, every epoch_check_ms, and steps down: "superseded
 * at epoch N by NODE". It takes the fence again only on a new MASTER line,
 * or when the node that superseded it releases the lease (that node saw
 * BACKUP when the network healed, so exactly one active node remains).
 *
 * The FIFO is opened O_RDWR: this process holds a writer end itself, so a
 * restart of keepalived (its writer gone, the FIFO reopened) never gives
 * end-of-file and loses no line. It must exist at start (keepalived's own
 * FIFO, or created with mkfifo by the unit); a missing path, or a path that
 * is not a FIFO, is an error naming it.
 *
 * Settings in [fencing]: fifo (required), instance (required),
 * epoch_check_ms (default 500, 50..60000).
 */
#define _GNU_SOURCE
#include "designation.h"

#include <secretbroker/plugin.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* keepalived's lines are short; a longer one is not keepalived's. */
#define KA_LINE_MAX 1024

struct ka_instance {
	struct designation dz;
	const struct sb_host *host;
	char fifo[PATH_MAX];
	char instance[256];
	int fd;	     /* the FIFO, O_RDWR | O_NONBLOCK */
	int wake[2]; /* written to stop the reader */
	pthread_t reader;
	int reader_running;
	char line[KA_LINE_MAX + 1];
	size_t line_len;
	int line_overlong; /* discarding up to the next newline */
};

/* Copies setting key (required) into out. */
static int required_string(const struct sb_host *host,
			   const struct sb_config *cfg, const char *key,
			   char *out, size_t out_size, struct sb_error *err)
{
	const char *v = host->config_get(cfg, key, NULL);

	if (v == NULL || v[0] == '\0')
		return sb_error_set(err, SB_EINVAL,
				    "[%s] %s: required by fencing plugin "
				    "keepalived",
				    host->config_section(cfg), key);
	if (strlen(v) >= out_size)
		return sb_error_set(
			err, SB_EINVAL, "[%s] %s: longer than %zu bytes",
			host->config_section(cfg), key, out_size - 1);
	memcpy(out, v, strlen(v) + 1);
	return SB_OK;
}

/* Opens the FIFO at path for reading without ever seeing end-of-file.
 * Returns the fd, or -1 with err naming the path. */
static int open_fifo(const char *section, const char *path,
		     struct sb_error *err)
{
	struct stat st;
	int fd;

	if (stat(path, &st) != 0) {
		sb_error_set(err, SB_EINVAL,
			     "[%s] fifo: %s: %s (the path of keepalived's "
			     "notify_fifo; create it with mkfifo)",
			     section, path, strerror(errno));
		return -1;
	}
	if (!S_ISFIFO(st.st_mode)) {
		sb_error_set(err, SB_EINVAL,
			     "[%s] fifo: %s is not a FIFO (keepalived's "
			     "notify_fifo)",
			     section, path);
		return -1;
	}
	/* O_RDWR: we are a writer too, so keepalived closing its end (a
	 * restart) never ends the stream; O_NONBLOCK: poll decides. */
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		sb_error_set(err, SB_EINVAL, "[%s] fifo: cannot open %s: %s",
			     section, path, strerror(errno));
	return fd;
}

static int ka_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct ka_instance *ki;
	long long check_ms;
	int rc;

	*out = NULL;
	ki = calloc(1, sizeof(*ki));
	if (ki == NULL)
		return sb_error_set(err, SB_ENOMEM, "out of memory");
	ki->fd = -1;
	ki->wake[0] = ki->wake[1] = -1;
	ki->host = host;
	rc = required_string(host, cfg, "fifo", ki->fifo, sizeof(ki->fifo),
			     err);
	if (rc == SB_OK)
		rc = required_string(host, cfg, "instance", ki->instance,
				     sizeof(ki->instance), err);
	if (rc == SB_OK)
		rc = sb_setting_ms(host, cfg, "epoch_check_ms", 500, 50, 60000,
				   &check_ms, err);
	if (rc != SB_OK)
		goto fail;
	ki->fd = open_fifo(host->config_section(cfg), ki->fifo, err);
	if (ki->fd < 0) {
		rc = SB_EINVAL;
		goto fail;
	}
	if (pipe2(ki->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		rc = sb_error_set(err, SB_ERR, "pipe: %s", strerror(errno));
		goto fail;
	}
	/* Retry: while keepalived says MASTER the node keeps trying to take
	 * the fence (storage down at the transition, or the superseding node
	 * has released it). */
	designation_init(&ki->dz, host, "keepalived", check_ms, 1);
	*out = ki;
	return SB_OK;
fail:
	if (ki->fd >= 0)
		close(ki->fd);
	if (ki->wake[0] >= 0) {
		close(ki->wake[0]);
		close(ki->wake[1]);
	}
	free(ki);
	return rc;
}

static void ka_close(void *inst)
{
	struct ka_instance *ki = inst;

	if (ki == NULL)
		return;
	designation_destroy(&ki->dz);
	close(ki->fd);
	close(ki->wake[0]);
	close(ki->wake[1]);
	free(ki);
}

/* Acts on one complete line (NUL-terminated, no newline). */
static void handle_line(struct ka_instance *ki, const char *line)
{
	static const char prefix[] = "INSTANCE \"";
	struct sb_error err = {0};
	char why[384], state[32];
	const char *name, *end;
	size_t name_len;
	int rc;

	if (strncmp(line, prefix, sizeof(prefix) - 1) != 0)
		return; /* GROUP and anything else */
	name = line + sizeof(prefix) - 1;
	end = strchr(name, '"');
	if (end == NULL)
		return;
	name_len = (size_t)(end - name);
	if (name_len != strlen(ki->instance) ||
	    memcmp(name, ki->instance, name_len) != 0)
		return;
	if (sscanf(end + 1, " %31s", state) != 1)
		return;
	snprintf(why, sizeof(why), "keepalived reports %s for instance %s",
		 state, ki->instance);
	if (strcmp(state, "MASTER") == 0) {
		rc = designation_take(&ki->dz, why, &err);
		if (rc != SB_OK)
			ki->host->log(ki->host, SB_LOG_WARNING,
				      "%s, but the fence cannot be taken yet "
				      "(retrying every %lld ms): %s",
				      why, ki->dz.check_ms, err.msg);
	} else if (strcmp(state, "BACKUP") == 0 ||
		   strcmp(state, "FAULT") == 0 || strcmp(state, "STOP") == 0) {
		rc = designation_step_down(&ki->dz, why, 1, &err);
		if (rc != SB_OK)
			ki->host->log(ki->host, SB_LOG_WARNING,
				      "%s: standby, but the lease could not be "
				      "released: %s",
				      why, err.msg);
	}
}

/* Appends n bytes read from the FIFO and handles every complete line. */
static void feed(struct ka_instance *ki, const char *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];

		if (c == '\n') {
			if (!ki->line_overlong) {
				ki->line[ki->line_len] = '\0';
				handle_line(ki, ki->line);
			}
			ki->line_len = 0;
			ki->line_overlong = 0;
		} else if (ki->line_len < KA_LINE_MAX) {
			ki->line[ki->line_len++] = c;
		} else if (!ki->line_overlong) {
			ki->line_overlong = 1;
			ki->host->log(ki->host, SB_LOG_WARNING,
				      "%s: a line longer than %d bytes, "
				      "ignored",
				      ki->fifo, KA_LINE_MAX);
		}
	}
}

static void *reader_main(void *arg)
{
	struct ka_instance *ki = arg;
	char buf[4096];

	for (;;) {
		struct pollfd p[2] = {{ki->fd, POLLIN, 0},
				      {ki->wake[0], POLLIN, 0}};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ki->host->log(ki->host, SB_LOG_ERROR,
				      "%s: poll: %s; no longer following "
				      "keepalived",
				      ki->fifo, strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		n = read(ki->fd, buf, sizeof(buf));
		if (n > 0)
			feed(ki, buf, (size_t)n);
		else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			ki->host->log(ki->host, SB_LOG_ERROR,
				      "%s: read: %s; no longer following "
				      "keepalived",
				      ki->fifo, strerror(errno));
			break;
		}
	}
	return NULL;
}

static int ka_start(void *inst, const struct sb_fence_hooks *hooks,
		    struct sb_error *err)
{
	struct ka_instance *ki = inst;
	char why[384];
	int rc;

	rc = designation_start(&ki->dz, hooks, err);
	if (rc != SB_OK)
		return rc;
	snprintf(why, sizeof(why),
		 "standby until keepalived reports MASTER for instance %s",
		 ki->instance);
	pthread_mutex_lock(&ki->dz.lock);
	designation_set_standby_locked(&ki->dz, why);
	pthread_mutex_unlock(&ki->dz.lock);
	if (pthread_create(&ki->reader, NULL, reader_main, ki) != 0) {
		rc = sb_error_set(err, SB_ERR,
				  "cannot start the FIFO reader: %s",
				  strerror(errno));
		designation_stop(&ki->dz, "not started");
		return rc;
	}
	ki->reader_running = 1;
	return SB_OK;
}

static void ka_stop(void *inst)
{
	struct ka_instance *ki = inst;
	struct sb_error err;
	char c = 0;

	if (ki->reader_running) {
		if (write(ki->wake[1], &c, 1) < 0) {
			/* full pipe: a wake-up is already pending */
		}
		pthread_join(ki->reader, NULL);
		ki->reader_running = 0;
	}
	/* Release what this node holds so the lease shows nobody. */
	designation_step_down(&ki->dz, "stopped", 1, &err);
	designation_stop(&ki->dz, "stopped");
}

static int ka_status(void *inst, struct sb_fence_status *out)
{
	struct ka_instance *ki = inst;

	return designation_status(&ki->dz, out);
}

static void ka_superseded(void *inst, uint64_t epoch, const char *holder,
			  uint64_t holder_epoch)
{
	struct ka_instance *ki = inst;

	designation_superseded(&ki->dz, epoch, holder, holder_epoch);
}

static const struct sb_fencing_ops ka_ops = {
	.size = sizeof(struct sb_fencing_ops),
	.open = ka_open,
	.close = ka_close,
	.start = ka_start,
	.stop = ka_stop,
	.status = ka_status,
	/* No promote or demote: VRRP decides. */
	.superseded = ka_superseded,
};

/* Every setting this plugin reads from its section. */
static const char *const plugin_settings[] = {
	"fifo",
	"instance",
	"epoch_check_ms",
	NULL,
};

static const struct sb_plugin_descriptor ka_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_FENCING,
	.name = "keepalived",
	.version = "0.1.0",
	.description = "keepalived's VRRP decides the active master secret "
		       "server; the storage's fencing epoch makes it safe",
	.ops = &ka_ops,
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&ka_descriptor)
