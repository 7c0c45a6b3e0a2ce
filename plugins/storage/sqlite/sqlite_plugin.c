/*
 * The sqlite storage plugin: secretbroker's embedded default store, one
 * SQLite file on local disk.
 *
 * [storage] settings:
 *   path             the database file (required); a relative path is
 *                    relative to the daemon's state directory. Created
 *                    0600 when absent.
 *   busy_timeout_ms  how long to wait for another process's lock on the
 *                    file before failing with SB_ETIMEOUT (default 5000).
 *   pool_size        read connections kept open for parallel lookups
 *                    (default 4). When more threads read at once, extra
 *                    connections are opened for them and closed after
 *                    use, so size it to the number of reading threads.
 *
 * This file: the descriptor, settings, and opening and closing an
 * instance. See sqlite_store.h for how the parts fit.
 */
#define _GNU_SOURCE /* asprintf */
#include "sqlite_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SQ_DEFAULT_BUSY_TIMEOUT_MS 5000
#define SQ_MAX_BUSY_TIMEOUT_MS	   (10 * 60 * 1000)
#define SQ_DEFAULT_POOL_SIZE	   4
#define SQ_MAX_POOL_SIZE	   64

static void sq_close(void *inst);

/* Builds the file name from the path setting: absolute as given, relative
 * under host->state_dir. The result never starts with "file:" so SQLite
 * (built with URI names on) cannot read it as a URI. */
static int resolve_path(const struct sb_host *host, const char *path,
			char **out, struct sb_error *err)
{
	const char *dir = host->state_dir;
	int n;

	*out = NULL;
	if (path == NULL || path[0] == '\0')
		return sb_error_set(
			err, SB_EINVAL,
			"[storage] path: required by the sqlite plugin "
			"(the database file)");
	if (path[0] == '/')
		n = asprintf(out, "%s", path);
	else if (dir != NULL && dir[0] != '\0')
		n = asprintf(out, "%s%s%s%s", dir[0] == '/' ? "" : "./", dir,
			     dir[strlen(dir) - 1] == '/' ? "" : "/", path);
	else
		return sb_error_set(
			err, SB_EINVAL,
			"[storage] path: \"%s\" is relative and the "
			"daemon has no state directory",
			path);
	if (n < 0) {
		*out = NULL;
		return sb_error_set(err, SB_ENOMEM, "sqlite %s: out of memory",
				    path);
	}
	return SB_OK;
}

/* Creates the file 0600 when it does not exist yet (SQLite would create it
 * with the umask's mode), and checks that it is a regular file. */
static int prepare_file(const struct sq_store *s, struct sb_error *err)
{
	struct stat st;
	int fd;

	fd = open(s->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return sb_error_set(err, errno == ENOENT ? SB_EUNAVAIL : SB_ERR,
				    "sqlite %s: cannot open: %s", s->path,
				    strerror(errno));
	if (fstat(fd, &st) != 0) {
		int e = errno;

		close(fd);
		return sb_error_set(err, SB_ERR, "sqlite %s: cannot stat: %s",
				    s->path, strerror(e));
	}
	close(fd);
	if (!S_ISREG(st.st_mode))
		return sb_error_set(err, SB_EINVAL,
				    "sqlite %s: not a regular file", s->path);
	/* The file holds only ciphertext, so other readers are a warning,
	 * not a refusal; the operator may have reasons. */
	if (st.st_mode & 077)
		s->host->log(s->host, SB_LOG_WARNING,
			     "sqlite %s: mode %04o lets group or others at the "
			     "database; 0600 is expected",
			     s->path, (unsigned)(st.st_mode & 07777));
	return SB_OK;
}

static int sq_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct sq_store *s = NULL;
	long long busy, pool;
	int ret = SB_ERR;

	*out = NULL;
	if (!sqlite3_threadsafe())
		return sb_error_set(
			err, SB_ERR,
			"sqlite: the SQLite library was built without "
			"thread support");
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return sb_error_set(err, SB_ENOMEM, "sqlite: out of memory");
	s->host = host;
	pthread_mutex_init(&s->write_lock, NULL);
	pthread_mutex_init(&s->pool_lock, NULL);

	ret = resolve_path(host, host->config_get(cfg, "path", NULL), &s->path,
			   err);
	if (ret != SB_OK)
		goto done;
	ret = sb_setting_ms(host, cfg, "busy_timeout_ms",
			    SQ_DEFAULT_BUSY_TIMEOUT_MS, 0,
			    SQ_MAX_BUSY_TIMEOUT_MS, &busy, err);
	if (ret != SB_OK)
		goto done;
	ret = sb_setting_int(host, cfg, "pool_size", SQ_DEFAULT_POOL_SIZE, 1,
			     SQ_MAX_POOL_SIZE, &pool, err);
	if (ret != SB_OK)
		goto done;
	s->busy_timeout_ms = (int)busy;
	s->pool_size = (size_t)pool;

	ret = prepare_file(s, err);
	if (ret != SB_OK)
		goto done;
	ret = sq_conn_open(s, 0, &s->writer, err);
	if (ret != SB_OK)
		goto done;
	ret = sq_schema_migrate(s, err);
	if (ret != SB_OK)
		goto done;
	/* Open the readers now so a problem shows at open, not at the first
	 * lookup. */
	for (size_t i = 0; i < s->pool_size; i++) {
		struct sq_conn *c;

		ret = sq_conn_open(s, 1, &c, err);
		if (ret != SB_OK)
			goto done;
		c->next = s->idle;
		s->idle = c;
		s->n_idle++;
	}
	host->log(host, SB_LOG_DEBUG,
		  "sqlite %s: open (busy_timeout_ms=%d, pool_size=%zu)",
		  s->path, s->busy_timeout_ms, s->pool_size);
	*out = s;
	s = NULL;
	ret = SB_OK;
done:
	sq_close(s);
	return ret;
}

static void sq_close(void *inst)
{
	struct sq_store *s = inst;
	struct sq_conn *c;

	if (s == NULL)
		return;
	while ((c = s->idle) != NULL) {
		s->idle = c->next;
		sq_conn_close(c);
	}
	/* The writer last: closing the last connection checkpoints the WAL
	 * into the main file. */
	sq_conn_close(s->writer);
	pthread_mutex_destroy(&s->write_lock);
	pthread_mutex_destroy(&s->pool_lock);
	free(s->path);
	free(s);
}

static const struct sb_storage_ops sq_ops = {
	.size = sizeof(struct sb_storage_ops),
	.open = sq_open,
	.close = sq_close,
	.get = sq_kv_get,
	.scan = sq_kv_scan,
	.batch_apply = sq_kv_batch_apply,
	.lease_acquire = sq_lease_acquire,
	.lease_renew = sq_lease_renew,
	.lease_release = sq_lease_release,
	.lease_read = sq_lease_read,
	.fence_takeover = sq_fence_takeover,
};

/* Every setting this plugin reads from its section. */
static const char *const plugin_settings[] = {
	"path",
	"busy_timeout_ms",
	"pool_size",
	NULL,
};

static const struct sb_plugin_descriptor sq_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_STORAGE,
	.name = "sqlite",
	.version = "0.1.0",
	.description = "embedded SQLite file store (WAL, local fencing lease)",
	.ops = &sq_ops,
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&sq_descriptor)
