/*
 * PostgreSQL storage plugin: descriptor, open and close.
 *
 * open reads the settings, connects (the first connection of the pool),
 * and creates or migrates the schema; the other pool connections are made
 * on demand. See docs/storage-postgres.md.
 */
#define _GNU_SOURCE
#include "pg_store.h"

#include <stdlib.h>
#include <string.h>

static void pg_close(void *inst)
{
	struct pg_store *st = inst;

	if (st == NULL)
		return;
	pg_pool_destroy(st);
	pg_stmts_free(st);
	pg_settings_free(&st->set);
	free(st);
}

static int pg_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct pg_store *st;
	int ret;

	*out = NULL;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return sb_error_set(err, SB_ENOMEM, "postgres: out of memory");
	st->host = host;
	if ((ret = pg_settings_load(host, cfg, &st->set, err)) != SB_OK) {
		free(st);
		return ret;
	}
	if ((ret = pg_stmts_init(st, err)) != SB_OK ||
	    (ret = pg_pool_init(st, err)) != SB_OK)
		goto done;
	ret = pg_run(st, "open", pg_schema_migrate, NULL, err);
	if (ret != SB_OK)
		goto done;
	host->log(host, SB_LOG_INFO,
		  "store ready: %s, schema %s (version %d), pool of %lld, "
		  "op_timeout_ms %lld",
		  st->set.targets, st->set.schema, PG_SCHEMA_VERSION,
		  st->set.pool_size, st->set.op_timeout_ms);
	*out = st;
	st = NULL;
done:
	pg_close(st);
	return ret;
}

static const struct sb_storage_ops pg_ops = {
	.size = sizeof(struct sb_storage_ops),
	.open = pg_open,
	.close = pg_close,
	.get = pg_get,
	.scan = pg_scan,
	.batch_apply = pg_batch_apply,
	.lease_acquire = pg_lease_acquire,
	.lease_renew = pg_lease_renew,
	.lease_release = pg_lease_release,
	.lease_read = pg_lease_read,
	.fence_takeover = pg_fence_takeover,
};

/* Every setting this plugin reads from its section. */
static const char *const plugin_settings[] = {
	"conninfo",
	"schema",
	"op_timeout_ms",
	"pool_size",
	"reconnect_backoff_max_ms",
	"scan_page_size",
	NULL,
};

static const struct sb_plugin_descriptor pg_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_STORAGE,
	.name = "postgres",
	.version = "0.1.0",
	.description = "PostgreSQL storage (libpq): transactions, fenced "
		       "batches, lease on the database clock",
	.ops = &pg_ops,
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&pg_descriptor)
