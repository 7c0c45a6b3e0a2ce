/* Member nodes: see member.h. */
#define _GNU_SOURCE
#include "cluster/member.h"
#include "secret/secret.h"

#include "cluster/cluster.h"
#include "host/daemon.h"
#include "host/host.h"
#include "runtime/clock.h"
#include "runtime/log.h"
#include "cluster/member_fetch.h"
#include "runtime/secure_mem.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define FETCH_TIMEOUT_MS 5000

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop, started;
	int check_soon; /* under lock: fetch without waiting */
	atomic_int reachable;
	atomic_uint_fast64_t last_early_ms; /* sb_member_check_soon's limit */
} mt = {.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.reachable = 1};

int sb_member_can_encrypt(struct sb_daemon *d)
{
	(void)d;
	return atomic_load(&mt.reachable);
}

int sb_member_fetch_now(struct sb_daemon *d, struct sb_generation *g, char *msg,
			size_t msglen)
{
	const struct sb_conf *c = g->conf;
	struct sb_member_tls tls = {c->tls_cert, c->tls_key, c->tls_ca};
	struct sb_backup_secret *secrets = NULL;
	const char *addr;
	size_t n = 0;
	json_t *mss;
	int st, rc, ret = -1;

	mss = sb_cluster_active_mss(g, &st);
	addr = mss ? json_string_value(json_object_get(mss, "address")) : NULL;
	if (addr == NULL || addr[0] == '\0') {
		snprintf(msg, msglen,
			 mss ? "the active master secret server %s recorded no "
			       "address ([cluster] address)"
			     : "no active master secret server is recorded in "
			       "the SSO database (cluster/mss)%s",
			 mss ? json_string_value(json_object_get(mss, "node"))
			 : st == SB_ENOTFOUND
				 ? ""
				 : ": the SSO database is unavailable");
		goto done;
	}
	if (sb_member_fetch_secrets(addr, &tls, FETCH_TIMEOUT_MS, &secrets, &n,
				    msg, msglen) != 0)
		goto done;
	rc = sb_secret_install_memory(d->secret, g, secrets, n, msg, msglen);
	if (rc < 0)
		goto done;
	/* A retired secret's records may sit in the cache: drop them all
	 * (a rotation changes the secrets twice, hours apart). */
	if (rc > 0)
		sb_cache_invalidate_all(&d->cache_inval);
	ret = 0;
done:
	atomic_store(&mt.reachable, ret == 0);
	sb_secure_free(secrets, n * sizeof(*secrets));
	json_decref(mss);
	return ret;
}

void sb_member_check_soon(void)
{
	uint64_t now = sb_mono_ms(), last = atomic_load(&mt.last_early_ms);

	if (last != 0 && now - last < 1000)
		return;
	if (!atomic_compare_exchange_strong(&mt.last_early_ms, &last, now))
		return; /* another thread asked at the same moment */
	pthread_mutex_lock(&mt.lock);
	if (mt.started && !mt.stop) {
		mt.check_soon = 1;
		pthread_cond_signal(&mt.cond);
	}
	pthread_mutex_unlock(&mt.lock);
}

static void *member_main(void *arg)
{
	struct sb_daemon *d = arg;

	pthread_mutex_lock(&mt.lock);
	while (!mt.stop) {
		struct sb_generation *g;
		struct timespec ts;
		char msg[1024];
		int was = atomic_load(&mt.reachable);
		long refresh_ms;

		pthread_mutex_unlock(&mt.lock);
		g = sb_gen_current(d);
		refresh_ms = g ? (long)g->conf->refresh_ms : 30000;
		if (g && sb_member_fetch_now(d, g, msg, sizeof(msg)) != 0)
			sb_warn("member: cannot reach the master secret "
				"server: %s; serving lookups with the secret "
				"held, refusing to encrypt",
				msg);
		else if (g && !was)
			sb_info("member: the master secret server is reachable "
				"again");
		sb_gen_unref(g);
		sb_stack_scrub(); /* the fetch decoded the secret */

		pthread_mutex_lock(&mt.lock);
		if (mt.stop)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += refresh_ms / 1000;
		ts.tv_nsec += (refresh_ms % 1000) * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		while (!mt.stop && !mt.check_soon &&
		       pthread_cond_timedwait(&mt.cond, &mt.lock, &ts) == 0)
			;
		if (mt.check_soon)
			sb_info("member: a record is sealed under a master "
				"secret this node does not hold: checking the "
				"master secret server now");
		mt.check_soon = 0;
	}
	pthread_mutex_unlock(&mt.lock);
	return NULL;
}

int sb_member_start(struct sb_daemon *d)
{
	mt.stop = 0;
	if (pthread_create(&mt.thread, NULL, member_main, d) != 0)
		return -1;
	mt.started = 1;
	return 0;
}

void sb_member_stop(struct sb_daemon *d)
{
	(void)d;
	if (!mt.started)
		return;
	pthread_mutex_lock(&mt.lock);
	mt.stop = 1;
	pthread_cond_signal(&mt.cond);
	pthread_mutex_unlock(&mt.lock);
	pthread_join(mt.thread, NULL);
	mt.started = 0;
}
