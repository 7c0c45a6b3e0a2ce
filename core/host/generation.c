/*
 * Generations: build a whole new configuration with its plugins beside the
 * running one, swap only on success (nginx's ngx_init_cycle, bgpd's
 * reconfigure). The fencing hooks a new fencing instance starts with come
 * from the caller (cluster/fence.c), so this layer never calls upward.
 */
#define _GNU_SOURCE
#include "host/daemon.h"

#include "host/host.h"
#include "runtime/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void instance_close(struct sb_plugin_instance *pi, int kind)
{
	if (pi->plugin.desc && pi->inst) {
		const void *ops = pi->plugin.desc->ops;

		switch (kind) {
		case SB_PLUGIN_STORAGE:
			((const struct sb_storage_ops *)ops)->close(pi->inst);
			break;
		case SB_PLUGIN_CRYPTO:
			((const struct sb_crypto_ops *)ops)->close(pi->inst);
			break;
		case SB_PLUGIN_FENCING:
			((const struct sb_fencing_ops *)ops)->close(pi->inst);
			break;
		}
	}
	pi->inst = NULL;
	sb_plugin_unload(&pi->plugin);
	sb_host_free(pi->host);
	pi->host = NULL;
}

/* Loads and opens one plugin of kind for section cfg. Returns 0 or -1 with
 * one message in errs naming the plugin and the reason. */
static int instance_open(struct sb_plugin_instance *pi, int kind,
			 const struct sb_conf *conf,
			 const struct sb_config *cfg, struct sb_errlist *errs)
{
	const char *name = sb_config_get(cfg, "plugin", "");
	const char *kname = sb_plugin_kind_name(kind);
	struct sb_error err = {{0}};
	char msg[1024];
	int rc = SB_ERR;

	memset(pi, 0, sizeof(*pi));
	if (sb_plugin_load(conf->plugin_dir, kind, name, &pi->plugin, msg,
			   sizeof(msg)) != 0) {
		sb_errlist_add(errs, "[%s] plugin: %s", kname, msg);
		return -1;
	}
	{
		const char *const *known = sb_plugin_settings(&pi->plugin);
		int bad = 0;

		for (size_t i = 0; known && i < sb_config_count(cfg); i++) {
			const char *k = sb_config_key_at(cfg, i);
			int ok = strcmp(k, "plugin") == 0;

			for (size_t j = 0; !ok && known[j]; j++)
				ok = strcmp(k, known[j]) == 0;
			if (!ok) {
				sb_errlist_add(
					errs,
					"[%s] %s: unknown key for %s plugin %s",
					kname, k, kname, name);
				bad = 1;
			}
		}
		if (bad)
			goto fail;
	}
	pi->host = sb_host_new(kname, name, conf->state_dir, conf->node_name);
	if (pi->host == NULL) {
		sb_errlist_add(errs, "[%s] plugin %s: out of memory", kname,
			       name);
		goto fail;
	}
	switch (kind) {
	case SB_PLUGIN_STORAGE:
		rc = sb_plugin_storage(&pi->plugin)
			     ->open(pi->host, cfg, &pi->inst, &err);
		break;
	case SB_PLUGIN_CRYPTO:
		rc = sb_plugin_crypto(&pi->plugin)
			     ->open(pi->host, cfg, &pi->inst, &err);
		break;
	case SB_PLUGIN_FENCING:
		rc = sb_plugin_fencing(&pi->plugin)
			     ->open(pi->host, cfg, &pi->inst, &err);
		break;
	}
	if (rc != SB_OK) {
		char prefix[32];

		pi->inst = NULL;
		/* Plugins name their section themselves in settings errors. */
		snprintf(prefix, sizeof(prefix), "[%s]", kname);
		if (strncmp(err.msg, prefix, strlen(prefix)) == 0)
			sb_errlist_add(errs, "%s (plugin %s)", err.msg, name);
		else
			sb_errlist_add(errs, "[%s] plugin %s: %s", kname, name,
				       err.msg[0] ? err.msg
						  : sb_status_name(rc));
		goto fail;
	}
	return 0;
fail:
	instance_close(pi, kind);
	return -1;
}

static void gen_free(struct sb_generation *g)
{
	if (g == NULL)
		return;
	if (g->fencing_owned) {
		if (g->fencing_started && g->fops)
			g->fops->stop(g->fencing.inst);
		instance_close(&g->fencing, SB_PLUGIN_FENCING);
	}
	instance_close(&g->crypto, SB_PLUGIN_CRYPTO);
	instance_close(&g->storage, SB_PLUGIN_STORAGE);
	sb_conf_free(g->conf);
	free(g);
}

void sb_gen_ref(struct sb_generation *g)
{
	atomic_fetch_add_explicit(&g->refs, 1, memory_order_relaxed);
}

void sb_gen_unref(struct sb_generation *g)
{
	if (g &&
	    atomic_fetch_sub_explicit(&g->refs, 1, memory_order_acq_rel) == 1)
		gen_free(g);
}

struct sb_generation *sb_gen_current(struct sb_daemon *d)
{
	struct sb_generation *g;

	pthread_mutex_lock(&d->lock);
	g = d->current;
	if (g)
		sb_gen_ref(g);
	pthread_mutex_unlock(&d->lock);
	return g;
}

struct sb_generation *sb_gen_build(struct sb_daemon *d, struct sb_conf *conf,
				   struct sb_generation *carry,
				   struct sb_errlist *errs)
{
	struct sb_generation *g = calloc(1, sizeof(*g));
	int ok = 1;

	if (g == NULL) {
		sb_errlist_add(errs, "out of memory");
		sb_conf_free(conf);
		return NULL;
	}
	atomic_init(&g->refs, 1);
	g->conf = conf;
	g->loaded_at = time(NULL);

	/* Open everything so every error is reported at once. */
	if (instance_open(&g->storage, SB_PLUGIN_STORAGE, conf, conf->storage,
			  errs) != 0)
		ok = 0;
	if (instance_open(&g->crypto, SB_PLUGIN_CRYPTO, conf, conf->crypto,
			  errs) != 0)
		ok = 0;
	if (conf->role == SB_ROLE_MEMBER) {
		/* A member never takes part in electing the MSS. */
	} else if (carry && carry->fencing_owned &&
		   sb_config_equal(carry->conf->storage, conf->storage) &&
		   sb_config_equal(carry->conf->fencing, conf->fencing) &&
		   strcmp(carry->conf->plugin_dir, conf->plugin_dir) == 0) {
		/* Handed over in sb_gen_install, once nothing can fail. */
	} else if (instance_open(&g->fencing, SB_PLUGIN_FENCING, conf,
				 conf->fencing, errs) != 0) {
		ok = 0;
	} else {
		g->fencing_owned = 1;
	}
	if (!ok) {
		gen_free(g);
		return NULL;
	}
	g->cops = sb_plugin_crypto(&g->crypto.plugin);
	if (g->fencing_owned)
		g->fops = sb_plugin_fencing(&g->fencing.plugin);
	(void)d;
	return g;
}

int sb_gen_install(struct sb_daemon *d, struct sb_generation *g,
		   const struct sb_fence_hooks *hooks, struct sb_errlist *errs)
{
	struct sb_generation *old;
	struct sb_error err = {{0}};
	int rc;

	pthread_mutex_lock(&d->lock);
	old = d->current;
	g->number = ++d->next_gen_number;
	if (g->conf->role == SB_ROLE_MEMBER) {
		d->current = g;
		atomic_fetch_add(&d->gen_seq, 1);
		pthread_mutex_unlock(&d->lock);
		sb_gen_unref(old);
		return 0;
	}
	if (!g->fencing_owned && old) {
		/* Carry the running fencing instance over. */
		g->fencing = old->fencing;
		g->fops = old->fops;
		g->fencing_owned = 1;
		g->fencing_started = old->fencing_started;
		old->fencing_owned = 0;
		old->fencing_started = 0;
		memset(&old->fencing, 0, sizeof(old->fencing));
		d->current = g;
		atomic_fetch_add(&d->gen_seq, 1);
		pthread_mutex_unlock(&d->lock);
		sb_gen_unref(old);
		return 0;
	}
	/* A new fencing instance. The old one stops first, while its storage
	 * is still current (a lease is released where it was taken); then the
	 * new storage becomes current before the new instance starts, since
	 * its hooks act on the current storage. */
	pthread_mutex_unlock(&d->lock);
	if (old && old->fencing_owned && old->fencing_started) {
		old->fops->stop(old->fencing.inst);
		old->fencing_started = 0;
		hooks->state_changed(hooks->arg, SB_FENCE_STANDBY, 0,
				     "fencing restarted by reload");
	}
	pthread_mutex_lock(&d->lock);
	d->current = g;
	atomic_fetch_add(&d->gen_seq, 1);
	pthread_mutex_unlock(&d->lock);
	rc = g->fops->start(g->fencing.inst, hooks, &err);
	if (rc != SB_OK) {
		sb_errlist_add(errs, "[fencing] plugin %s: cannot start: %s",
			       g->fencing.plugin.desc->name,
			       err.msg[0] ? err.msg : sb_status_name(rc));
		/* Put the old generation back, its fencing restarted. */
		pthread_mutex_lock(&d->lock);
		if (old) {
			d->current = old;
			atomic_fetch_add(&d->gen_seq, 1);
		}
		pthread_mutex_unlock(&d->lock);
		if (old && old->fencing_owned) {
			struct sb_error err2 = {{0}};

			if (old->fops->start(old->fencing.inst, hooks, &err2) ==
			    SB_OK)
				old->fencing_started = 1;
			else
				sb_err("fencing: cannot restart the running "
				       "plugin: %s",
				       err2.msg);
		}
		if (old == NULL) {
			pthread_mutex_lock(&d->lock);
			d->current = NULL;
			pthread_mutex_unlock(&d->lock);
		}
		sb_gen_unref(g);
		return -1;
	}
	g->fencing_started = 1;
	sb_gen_unref(old);
	return 0;
}

void sb_gen_shutdown(struct sb_daemon *d)
{
	struct sb_generation *g = sb_gen_current(d);

	/* Stop fencing while g is still current: a lease plugin releases its
	 * lease through the hooks, so the next node need not wait a TTL. */
	if (g && g->fencing_owned && g->fencing_started) {
		g->fops->stop(g->fencing.inst);
		g->fencing_started = 0;
	}
	sb_gen_unref(g);
	pthread_mutex_lock(&d->lock);
	g = d->current;
	d->current = NULL;
	atomic_fetch_add(&d->gen_seq, 1);
	pthread_mutex_unlock(&d->lock);
	sb_gen_unref(g);
}
