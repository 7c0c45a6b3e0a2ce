/* Background re-encryption after a rotation: see reencrypt.h. */
#define _GNU_SOURCE
#include "api/reencrypt.h"

#include "api/records.h"
#include "host/daemon.h"
#include "host/host.h"
#include "runtime/cache.h"
#include "runtime/clock.h"
#include "runtime/crash_point.h"
#include "runtime/log.h"
#include "runtime/secure_mem.h"
#include "secret/rotate.h"
#include "secret/secret.h"
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_MS	    1000
#define RETRY_MS    2000
#define CONFLICT_MS 100 /* a user's write won: no busy loop */
#define DAY_MS	    (86400ULL * 1000)
#define N_PREFIXES  2
static const char *const prefixes[N_PREFIXES] = {"cfg/", "map/"};

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int wake, stop, started;
	struct sb_daemon *d;
} rt = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* What this node's thread knows between ticks (only the thread uses it). */
struct worker {
	struct sb_daemon *d;
	struct sb_record_keys *keys; /* secure memory */
	char rate_for[SB_MSID_MAX + 1];
	char started_for[SB_MSID_MAX + 1]; /* the rotation it logged */
	uint64_t rate_since_ms, rate_count;
	uint64_t warned_age_ms, warned_missing_ms;
};

/* One record a scan delivered (copies). */
struct item {
	char *key;
	char *value;
	size_t len;
	uint64_t version;
};

struct collect {
	struct item *items;
	size_t n, cap;
	int oom;
};

static int collect_cb(void *arg, const char *key, const uint8_t *value,
		      size_t len, uint64_t version)
{
	struct collect *c = arg;
	struct item *it;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 64;
		struct item *n = realloc(c->items, cap * sizeof(*n));

		if (n == NULL) {
			c->oom = 1;
			return 1;
		}
		c->items = n;
		c->cap = cap;
	}
	it = &c->items[c->n];
	it->key = strdup(key);
	it->value = malloc(len + 1);
	if (it->key == NULL || it->value == NULL) {
		free(it->key);
		free(it->value);
		c->oom = 1;
		return 1;
	}
	memcpy(it->value, value, len);
	it->value[len] = '\0';
	it->len = len;
	it->version = version;
	c->n++;
	return 0;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->items[i].key);
		free(c->items[i].value);
	}
	free(c->items);
	memset(c, 0, sizeof(*c));
}

/* A store_scan callback that only counts. */
static int count_cb(void *arg, const char *key, const uint8_t *value,
		    size_t len, uint64_t version)
{
	(void)key;
	(void)value;
	(void)len;
	(void)version;
	(*(uint64_t *)arg)++;
	return 0;
}

int sb_reencrypt_count(struct sb_generation *g, uint64_t *total,
		       struct sb_error *err)
{
	char last[SB_KEY_MAX + 1], after[SB_KEY_MAX + 1];
	uint64_t n = 0, before;
	int rc = SB_OK;

	for (size_t p = 0; p < N_PREFIXES && rc == SB_OK; p++) {
		after[0] = '\0';
		do {
			before = n;
			rc = store_scan(g, prefixes[p], after, 1000, count_cb,
					&n, last, err);
			snprintf(after, sizeof(after), "%s", last);
		} while (rc == SB_OK && n - before == 1000);
	}
	*total = n;
	return rc;
}

/* Re-seals one sealed value (a JSON string) of (kind, app, owner, item)
 * from msid `from` to keys[0]. Returns the new JSON string, or NULL with
 * e. */
static json_t *reseal(const struct sb_crypto_ctx *cc, const char *kind,
		      const char *app, const char *owner, const char *item,
		      const char *from, json_t *sealed, struct sb_api_error *e)
{
	char *pt = NULL;
	size_t len = 0;
	json_t *out;

	if (sb_value_open(cc, kind, app, owner, item, from,
			  json_string_value(sealed), &pt, &len, e) != 0)
		return NULL;
	out = sb_value_seal(cc, kind, app, owner, item, pt, len, e);
	explicit_bzero(pt, len);
	free(pt);
	return out;
}

/* The app record of app (cached in *cached across one batch). Returns 0,
 * or -1 when it cannot be read (the record is then skipped). */
static int load_app(struct sb_generation *g, const char *app,
		    struct sb_app *cached)
{
	char key[SB_KEY_MAX + 1];
	uint8_t *val = NULL;
	size_t len = 0;
	uint64_t v;
	struct sb_error err = {{0}};
	int rc;

	if (cached->json && strcmp(cached->name, app) == 0)
		return 0;
	sb_app_clear(cached);
	snprintf(key, sizeof(key), "app/%s", app);
	if (store_get_record(g, key, &val, &len, &v, &err) != SB_OK)
		return -1;
	rc = sb_app_parse(val, len, cached);
	free(val);
	return rc;
}

/* Splits key (prefix/a/b[/c]) into parts (a copy in buf). Returns how many
 * parts after the prefix. */
static int split_key(const char *key, char *buf, size_t buflen, char *parts[3])
{
	char *save = NULL, *tok;
	int n = 0;

	snprintf(buf, buflen, "%s", strchr(key, '/') + 1);
	for (tok = strtok_r(buf, "/", &save); tok && n < 3;
	     tok = strtok_r(NULL, "/", &save))
		parts[n++] = tok;
	return tok ? 4 : n;
}

/*
 * The record of it as re-encrypted under cc's current key, as new JSON
 * text (malloc'ed) in *out. Returns 1 re-encrypted, 0 already under
 * rot->to (nothing to do), -1 left as is (under another secret, or
 * damaged: logged).
 */
static int reencrypt_record(struct sb_generation *g,
			    const struct sb_crypto_ctx *cc,
			    const struct sb_rotation *rot,
			    const struct item *it, struct sb_app *app,
			    char **out)
{
	char buf[SB_KEY_MAX + 1], *parts[3] = {0};
	json_t *rec = json_loadb(it->value, it->len, 0, NULL), *v, *fields;
	const char *msid = json_string_value(json_object_get(rec, "msid"));
	struct sb_api_error e = {0};
	int np, ret = -1;

	*out = NULL;
	if (msid && strcmp(msid, rot->to) == 0) {
		ret = 0;
		goto done;
	}
	if (rec == NULL || msid == NULL || strcmp(msid, rot->from) != 0) {
		sb_warn("re-encryption: record %s is under master secret %s, "
			"neither %s nor %s: left as is",
			it->key, msid ? msid : "(none)", rot->to, rot->from);
		goto done;
	}
	np = split_key(it->key, buf, sizeof(buf), parts);
	if (strncmp(it->key, "cfg/", 4) == 0 && np == 3) {
		v = reseal(cc, "cfg", parts[0], parts[1], parts[2], msid,
			   json_object_get(rec, "value"), &e);
		if (v == NULL)
			goto damaged;
		json_object_set_new(rec, "value", v);
	} else if (strncmp(it->key, "map/", 4) == 0 && np == 2) {
		fields = json_object_get(rec, "fields");
		if (load_app(g, parts[0], app) != 0 ||
		    json_array_size(fields) != app->n_fields) {
			snprintf(e.msg, sizeof(e.msg),
				 "its application is missing or has other "
				 "fields");
			goto damaged;
		}
		for (size_t f = 0; f < app->n_fields; f++) {
			v = reseal(cc, "map", parts[0], parts[1],
				   app->fields[f].label, msid,
				   json_array_get(fields, f), &e);
			if (v == NULL)
				goto damaged;
			json_array_set_new(fields, f, v);
		}
	} else {
		snprintf(e.msg, sizeof(e.msg), "not a credential record key");
		goto damaged;
	}
	json_object_set_new(rec, "msid", json_string(rot->to));
	*out = json_dumps(rec, JSON_COMPACT);
	ret = *out ? 1 : -1;
	goto done;
damaged:
	sb_warn("re-encryption: record %s cannot be re-encrypted (%s): left "
		"as is",
		it->key, e.msg);
done:
	json_decref(rec);
	return ret;
}

/* Where the cursor points: the prefix index and the key to scan after. */
static size_t cursor_phase(const char *cursor)
{
	for (size_t p = N_PREFIXES; p-- > 0;)
		if (strncmp(cursor, prefixes[p], strlen(prefixes[p])) == 0)
			return p;
	return 0;
}

/* Notes n records re-encrypted now for the rate of rot->to. */
static void note_rate(struct worker *w, struct sb_rotation *rot, uint64_t n)
{
	uint64_t now = sb_mono_ms();

	if (strcmp(w->rate_for, rot->to) != 0) {
		snprintf(w->rate_for, sizeof(w->rate_for), "%s", rot->to);
		w->rate_since_ms = now;
		w->rate_count = 0;
	}
	w->rate_count += n;
	rot->rate = now > w->rate_since_ms
			    ? (double)w->rate_count * 1000.0 /
				      (double)(now - w->rate_since_ms)
			    : 0;
}

/*
 * One step of the re-encryption of rot on the active node at epoch: a
 * batch of records from the cursor, the next prefix, the next pass, or
 * the retirement. Returns the milliseconds to wait before the next step
 * (0: at once), and updates the progress.
 */
static uint64_t step(struct worker *w, struct sb_generation *g, uint64_t epoch,
		     struct sb_rotation *rot)
{
	struct sb_daemon *d = w->d;
	struct sb_crypto_ctx cc = {g->cops, g->crypto.inst, w->keys};
	struct collect c = {0};
	struct sb_batch_op *ops = NULL;
	char **texts = NULL, last[SB_KEY_MAX + 1];
	struct sb_app app = {0};
	struct sb_error err = {{0}};
	size_t phase = cursor_phase(rot->cursor), n_ops = 0, failed = 0;
	unsigned batch = g->conf->reencrypt_batch;
	uint64_t wait = 0, rewritten = 0, skipped = 0, seq, t0 = sb_mono_ms();
	int rc;

	sb_secret_copy_record_keys(d->secret, w->keys, &seq);
	if (w->keys->n != 2 || strcmp(w->keys->msid[0], rot->to) != 0 ||
	    strcmp(w->keys->msid[1], rot->from) != 0)
		return IDLE_MS;
	rc = store_scan(g, prefixes[phase],
			strcmp(rot->cursor, prefixes[phase]) == 0 ? ""
								  : rot->cursor,
			batch, collect_cb, &c, last, &err);
	if (rc != SB_OK || c.oom) {
		sb_warn("re-encryption: cannot read the records after %s: %s",
			rot->cursor[0] ? rot->cursor : "the start",
			c.oom ? "out of memory" : err.msg);
		wait = RETRY_MS;
		goto done;
	}
	if (c.n == 0) {
		if (phase + 1 < N_PREFIXES) {
			snprintf(rot->cursor, sizeof(rot->cursor), "%s",
				 prefixes[phase + 1]);
		} else if (rot->rewritten == 0) {
			rc = sb_rotation_retire(d, g, epoch, rot, &err);
			if (rc != SB_OK) {
				sb_warn("re-encryption: cannot retire master "
					"secret %s: %s",
					rot->from, err.msg);
				wait = RETRY_MS;
			} else {
				sb_cache_invalidate_all(&d->cache_inval);
				rot->pass = 0; /* retired: no progress left */
			}
			goto done;
		} else {
			/* Another pass: a write under the old keys may have
			 * landed behind the cursor. */
			rot->pass++;
			rot->rewritten = rot->done = rot->skipped = 0;
			rot->cursor[0] = '\0';
		}
		rc = sb_rotation_advance(g, epoch, NULL, 0, rot, NULL, &err);
		goto applied;
	}
	ops = calloc(c.n, sizeof(*ops));
	texts = calloc(c.n, sizeof(*texts));
	if (ops == NULL || texts == NULL) {
		wait = RETRY_MS;
		goto done;
	}
	for (size_t i = 0; i < c.n; i++) {
		int r = reencrypt_record(g, &cc, rot, &c.items[i], &app,
					 &texts[i]);

		if (r < 0)
			skipped++;
		if (r != 1)
			continue;
		ops[n_ops++] = (struct sb_batch_op){
			SB_OP_PUT,	SB_PRE_VERSION,	     c.items[i].version,
			c.items[i].key, (uint8_t *)texts[i], strlen(texts[i])};
	}
	rewritten = n_ops;
	snprintf(rot->cursor, sizeof(rot->cursor), "%s", c.items[c.n - 1].key);
	rot->done += c.n;
	rot->rewritten += rewritten;
	rot->skipped += skipped;
	if (rot->pass == 1 && rot->total > 0 && rot->done * 2 >= rot->total)
		sb_pause_point("reencrypt", "halfway");
	rc = sb_rotation_advance(g, epoch, ops, n_ops, rot, &failed, &err);
	if (rc == SB_OK) {
		for (size_t i = 0; i < n_ops; i++)
			sb_cache_invalidate(&d->cache_inval, ops[i].key);
		note_rate(w, rot, rewritten);
		if (rot->pass == 1 && rot->total > 0 &&
		    rot->done * 2 >= rot->total)
			sb_crash_point("reencrypt", "halfway");
		if (g->conf->reencrypt_rate > 0) {
			/* The pace counts the batch's own time. */
			uint64_t due = rewritten * 1000 /
				       g->conf->reencrypt_rate,
				 took = sb_mono_ms() - t0;

			wait = due > took ? due - took : 0;
		}
	}
applied:
	if (rc == SB_ECONFLICT) {
		/* A record changed under us (a user's write, under the
		 * current secret already): the same batch again. */
		sb_debug("re-encryption: %s changed meanwhile; retrying the "
			 "batch",
			 failed < n_ops ? ops[failed].key : "secret/rotation");
		wait = CONFLICT_MS;
	} else if (rc == SB_EFENCED) {
		sb_warn("re-encryption paused: this node no longer holds the "
			"fencing epoch %llu (%s)",
			(unsigned long long)epoch, err.msg);
		wait = IDLE_MS;
	} else if (rc != SB_OK) {
		sb_warn("re-encryption: cannot write a batch: %s", err.msg);
		wait = RETRY_MS;
	}
done:
	if (rc != SB_OK)
		(void)sb_rotation_read(g, rot, &err); /* the stored state */
	sb_app_clear(&app);
	for (size_t i = 0; texts && i < c.n; i++)
		free(texts[i]);
	free(texts);
	free(ops);
	collect_free(&c);
	return wait;
}

/* Logs once a day when the current secret is older than max_age_days. */
static void check_age(struct worker *w, struct sb_generation *g)
{
	char msid[SB_MSID_MAX + 1], prev[SB_MSID_MAX + 1];
	uint64_t created, now = sb_wall_ms(), days;
	unsigned max = g->conf->max_age_days;

	if (max == 0 ||
	    sb_secret_current_info(w->d->secret, msid, prev, &created) != 0)
		return;
	days = now > created ? (now - created) / DAY_MS : 0;
	if (days < max || (w->warned_age_ms && now - w->warned_age_ms < DAY_MS))
		return;
	w->warned_age_ms = now;
	sb_warn("master secret %s is %llu days old, older than [secret] "
		"max_age_days (%u): rotate it ('sbctl secret rotate FILE')",
		msid, (unsigned long long)days, max);
}

/* One tick on an MSS node. Returns the milliseconds to wait. */
static uint64_t tick(struct worker *w, struct sb_generation *g)
{
	struct sb_daemon *d = w->d;
	struct sb_rotation rot, mem;
	struct sb_error err = {{0}};
	char msid[SB_MSID_MAX + 1], prev[SB_MSID_MAX + 1];
	uint64_t epoch, created, wait, now = sb_wall_ms();
	int rc;

	check_age(w, g);
	sb_secret_rotate_forget_expired(d->secret);
	if (sb_rotation_settle(d, g) == 1)
		sb_cache_invalidate_all(&d->cache_inval);
	rc = sb_rotation_read(g, &rot, &err);
	if (rc == SB_ENOTFOUND) {
		sb_rotation_progress_set(d->secret, NULL);
		return IDLE_MS;
	}
	if (rc != SB_OK)
		return RETRY_MS;
	if (sb_rotation_progress_get(d->secret, &mem) &&
	    strcmp(mem.to, rot.to) == 0)
		rot.rate = mem.rate;
	sb_rotation_progress_set(d->secret, &rot);
	if (store_fence_view(&epoch) != SB_FENCE_ACTIVE)
		return IDLE_MS;
	if (sb_secret_current_info(d->secret, msid, prev, &created) != 0 ||
	    strcmp(msid, rot.to) != 0 || strcmp(prev, rot.from) != 0) {
		if (!w->warned_missing_ms || now - w->warned_missing_ms > 60000)
			sb_warn("re-encryption from master secret %s to %s "
				"cannot run here: this node holds %s; restore "
				"the backup that 'sbctl secret rotate' wrote",
				rot.from, rot.to, msid[0] ? msid : "none");
		w->warned_missing_ms = now;
		return IDLE_MS;
	}
	if (now < rot.started_at_ms + g->conf->reencrypt_delay_ms)
		return rot.started_at_ms + g->conf->reencrypt_delay_ms - now;
	if (strcmp(w->started_for, rot.to) != 0) {
		snprintf(w->started_for, sizeof(w->started_for), "%s", rot.to);
		sb_info("re-encryption from master secret %s to %s: %s at "
			"%s (pass %llu, %llu of %llu records)",
			rot.from, rot.to,
			rot.cursor[0] || rot.pass > 1 ? "resuming" : "starting",
			rot.cursor[0] ? rot.cursor : "the first record",
			(unsigned long long)rot.pass,
			(unsigned long long)rot.done,
			(unsigned long long)rot.total);
	}
	wait = step(w, g, epoch, &rot);
	sb_rotation_progress_set(d->secret, rot.pass ? &rot : NULL);
	return wait;
}

static void *thread_main(void *arg)
{
	struct worker w = {.d = arg};
	struct timespec ts;
	uint64_t wait;

	w.keys = sb_secure_alloc(sizeof(*w.keys));
	if (w.keys == NULL) {
		sb_err("re-encryption thread: cannot lock memory; rotation "
		       "will not re-encrypt on this node");
		return NULL;
	}
	pthread_mutex_lock(&rt.lock);
	while (!rt.stop) {
		struct sb_generation *g;

		pthread_mutex_unlock(&rt.lock);
		g = sb_gen_current(w.d);
		wait = tick(&w, g);
		sb_gen_unref(g);
		sb_stack_scrub(); /* plaintexts passed through this stack */
		pthread_mutex_lock(&rt.lock);
		if (wait == 0 || rt.stop || rt.wake) {
			rt.wake = 0;
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += (time_t)(wait / 1000);
		ts.tv_nsec += (long)(wait % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		while (!rt.stop && !rt.wake &&
		       pthread_cond_timedwait(&rt.cond, &rt.lock, &ts) !=
			       ETIMEDOUT)
			;
		rt.wake = 0;
	}
	pthread_mutex_unlock(&rt.lock);
	sb_secure_free(w.keys, sizeof(*w.keys));
	return NULL;
}

int sb_reencrypt_start(struct sb_daemon *d)
{
	struct sb_generation *g = sb_gen_current(d);
	int member = g->conf->role == SB_ROLE_MEMBER;
	pthread_condattr_t ca;

	sb_gen_unref(g);
	if (member)
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&rt.cond);
	pthread_cond_init(&rt.cond, &ca);
	pthread_condattr_destroy(&ca);
	rt.d = d;
	rt.stop = 0;
	if (pthread_create(&rt.thread, NULL, thread_main, d) != 0)
		return -1;
	rt.started = 1;
	return 0;
}

void sb_reencrypt_wake(void)
{
	pthread_mutex_lock(&rt.lock);
	rt.wake = 1;
	pthread_cond_signal(&rt.cond);
	pthread_mutex_unlock(&rt.lock);
}

void sb_reencrypt_stop(void)
{
	if (!rt.started)
		return;
	pthread_mutex_lock(&rt.lock);
	rt.stop = 1;
	pthread_cond_signal(&rt.cond);
	pthread_mutex_unlock(&rt.lock);
	pthread_join(rt.thread, NULL);
	rt.started = 0;
}
