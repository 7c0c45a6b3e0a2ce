/*
 * struct sb_storage_ops for Redis: argument checks, one EVALSHA per
 * operation (scripts in redis_scripts.c), and reply decoding. Connection
 * handling lives in redis_conn.c.
 */
#define _GNU_SOURCE
#include "redis_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOLDER_MAX 255 /* struct sb_lease_info.holder minus the NUL */

/* Reads a non-negative integer from an integer or decimal string reply
 * element. Returns 0 or -1. */
static int reply_u64(const redisReply *e, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (e->type == REDIS_REPLY_INTEGER && e->integer >= 0) {
		*out = (uint64_t)e->integer;
		return 0;
	}
	if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->str[0] == '-')
		return -1;
	errno = 0;
	v = strtoull(e->str, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int reply_i64(const redisReply *e, int64_t *out)
{
	char *end;
	long long v;

	if (e->type == REDIS_REPLY_INTEGER) {
		*out = e->integer;
		return 0;
	}
	if (e->type != REDIS_REPLY_STRING || e->len == 0)
		return -1;
	errno = 0;
	v = strtoll(e->str, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Is r an array of at least n elements whose first is an integer? */
static int status_array(const redisReply *r, size_t n)
{
	return r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= n &&
	       r->element[0]->type == REDIS_REPLY_INTEGER;
}

static int bad_reply(struct rs_inst *in, const char *what, struct sb_error *err)
{
	return sb_error_set(
		err, SB_ERR,
		"redis: unexpected reply to %s (key_prefix \"%s\"): is "
		"another program writing under this prefix?",
		what, in->set.key_prefix);
}

static int check_key(const char *key, const char *what, struct sb_error *err)
{
	size_t len;

	if (key == NULL || *key == '\0')
		return sb_error_set(err, SB_EINVAL, "redis: %s: empty key",
				    what);
	len = strnlen(key, SB_KEY_MAX + 1);
	if (len > SB_KEY_MAX)
		return sb_error_set(
			err, SB_EINVAL,
			"redis: %s: key \"%.40s...\" is longer than %d "
			"bytes",
			what, key, SB_KEY_MAX);
	return SB_OK;
}

static int check_holder(const char *holder, const char *what,
			struct sb_error *err)
{
	if (holder == NULL || *holder == '\0')
		return sb_error_set(err, SB_EINVAL, "redis: %s: empty holder",
				    what);
	if (strnlen(holder, HOLDER_MAX + 1) > HOLDER_MAX)
		return sb_error_set(err, SB_EINVAL,
				    "redis: %s: holder longer than %d bytes",
				    what, HOLDER_MAX);
	return SB_OK;
}

static void rs_close(void *p)
{
	struct rs_inst *in = p;

	if (in == NULL)
		return;
	rs_pool_destroy(in);
	rs_settings_clear(in->host, &in->set);
	free(in);
}

/* Marks the key prefix with the layout version, or checks the mark a
 * previous run left, so a future layout change is detected instead of
 * misread. */
static int check_layout(struct rs_inst *in, struct sb_error *err)
{
	const char *argv[4] = {"HSETNX", in->k_meta, "layout",
			       RS_LAYOUT_VERSION};
	size_t lens[4];
	redisReply *r = NULL;
	int ret;

	for (int i = 0; i < 4; i++)
		lens[i] = strlen(argv[i]);
	ret = rs_command(in, "HSETNX layout marker", 4, argv, lens, &r, err);
	if (ret != SB_OK)
		goto done;
	freeReplyObject(r);
	r = NULL;
	argv[0] = "HGET";
	lens[0] = 4;
	ret = rs_command(in, "HGET layout marker", 3, argv, lens, &r, err);
	if (ret != SB_OK)
		goto done;
	if (r->type != REDIS_REPLY_STRING ||
	    strcmp(r->str, RS_LAYOUT_VERSION) != 0) {
		ret = sb_error_set(
			err, SB_EINVAL,
			"redis: key_prefix \"%s\": %s has layout version "
			"\"%s\" but this plugin uses \"%s\"",
			in->set.key_prefix, in->k_meta,
			r->type == REDIS_REPLY_STRING ? r->str : "?",
			RS_LAYOUT_VERSION);
		goto done;
	}
	ret = SB_OK;
done:
	if (r != NULL)
		freeReplyObject(r);
	return ret;
}

static int rs_open(const struct sb_host *host, const struct sb_config *cfg,
		   void **out, struct sb_error *err)
{
	struct rs_inst *in = NULL;
	const char *p;
	int pool_started = 0;
	int ret;

	*out = NULL;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return sb_error_set(err, SB_ENOMEM, "redis: out of memory");
	in->host = host;
	ret = rs_settings_parse(host, cfg, &in->set, err);
	if (ret != SB_OK)
		goto done;
	p = in->set.key_prefix;
	snprintf(in->k_data, sizeof(in->k_data), "%sdata", p);
	snprintf(in->k_ver, sizeof(in->k_ver), "%sver", p);
	snprintf(in->k_idx, sizeof(in->k_idx), "%sidx", p);
	snprintf(in->k_epoch, sizeof(in->k_epoch), "%sepoch", p);
	snprintf(in->k_lease, sizeof(in->k_lease), "%slease", p);
	snprintf(in->k_meta, sizeof(in->k_meta), "%smeta", p);

	pool_started = 1;
	ret = rs_pool_init(in, err);
	if (ret != SB_OK)
		goto done;
	ret = check_layout(in, err);
	if (ret != SB_OK)
		goto done;
	host->log(host, SB_LOG_INFO,
		  "redis: opened key_prefix \"%s\" via %s, db %lld, %d "
		  "connection(s), wait_replicas %d",
		  p,
		  in->set.n_sentinels	? "sentinels"
		  : in->set.socket_path ? in->set.socket_path
					: in->set.host,
		  in->set.db, in->set.pool_size, in->set.wait_replicas);
	*out = in;
	in = NULL;
	ret = SB_OK;
done:
	if (in != NULL) {
		if (pool_started)
			rs_pool_destroy(in);
		rs_settings_clear(host, &in->set);
		free(in);
	}
	return ret;
}

static int rs_get(void *p, const char *key, uint8_t **value, size_t *value_len,
		  uint64_t *version, struct sb_error *err)
{
	struct rs_inst *in = p;
	const char *argv[4];
	size_t lens[4];
	redisReply *r = NULL;
	uint64_t ver;
	int ret;

	ret = check_key(key, "get", err);
	if (ret != SB_OK)
		return ret;
	argv[0] = in->k_data;
	argv[1] = in->k_ver;
	argv[2] = key;
	argv[3] = value != NULL ? "1" : "0";
	for (int i = 0; i < 4; i++)
		lens[i] = strlen(argv[i]);
	ret = rs_eval(in, RS_SCRIPT_GET, 4, argv, lens, &r, err);
	if (ret != SB_OK)
		goto done;
	if (r->type == REDIS_REPLY_NIL) {
		ret = sb_error_set(err, SB_ENOTFOUND,
				   "redis: key \"%s\" not found", key);
		goto done;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
	    reply_u64(r->element[0], &ver) != 0 ||
	    (value != NULL &&
	     (r->elements < 2 || r->element[1]->type != REDIS_REPLY_STRING))) {
		ret = bad_reply(in, "get", err);
		goto done;
	}
	if (value != NULL) {
		const redisReply *v = r->element[1];

		*value = malloc(v->len > 0 ? v->len : 1);
		if (*value == NULL) {
			ret = sb_error_set(
				err, SB_ENOMEM,
				"redis: out of memory reading key \"%s\"", key);
			goto done;
		}
		memcpy(*value, v->str, v->len);
		if (value_len != NULL)
			*value_len = v->len;
	} else if (value_len != NULL) {
		*value_len = 0;
	}
	if (version != NULL)
		*version = ver;
	ret = SB_OK;
done:
	if (r != NULL)
		freeReplyObject(r);
	return ret;
}

/* Builds the ZRANGEBYLEX bounds for "keys starting with prefix and sorting
 * strictly after `after`". A bound is one type byte ('[' inclusive, '('
 * exclusive) followed by the raw key bytes, or "-"/"+" for the open ends;
 * no other escaping exists or is needed, so %, _, *, ?, [ and \ in prefix
 * are literal. The upper bound is the smallest string greater than every
 * string with the prefix: the prefix with trailing 0xff bytes removed and
 * its last byte incremented ("+" when nothing is left). *min and *max are
 * malloc'ed. */
static int scan_bounds(const char *prefix, const char *after, char **min,
		       char **max)
{
	size_t plen = strlen(prefix), alen = strlen(after);

	*min = malloc((plen > alen ? plen : alen) + 2);
	*max = malloc(plen + 2);
	if (*min == NULL || *max == NULL)
		return -1;
	if (alen > 0 && strcmp(after, prefix) >= 0) {
		(*min)[0] = '(';
		memcpy(*min + 1, after, alen + 1);
	} else if (plen > 0) {
		(*min)[0] = '[';
		memcpy(*min + 1, prefix, plen + 1);
	} else {
		strcpy(*min, "-");
	}
	while (plen > 0 && (unsigned char)prefix[plen - 1] == 0xff)
		plen--;
	if (plen == 0) {
		strcpy(*max, "+");
	} else {
		(*max)[0] = '(';
		memcpy(*max + 1, prefix, plen);
		(*max)[plen] = (char)((unsigned char)prefix[plen - 1] + 1);
		(*max)[plen + 1] = '\0';
	}
	return 0;
}

static int rs_scan(void *p, const char *prefix, const char *after, size_t limit,
		   sb_scan_cb cb, void *arg, char *last_key,
		   struct sb_error *err)
{
	struct rs_inst *in = p;
	const char *argv[6];
	size_t lens[6];
	char limbuf[24];
	char *min = NULL, *max = NULL;
	redisReply *r = NULL;
	int ret;

	if (last_key != NULL)
		last_key[0] = '\0';
	if (prefix == NULL)
		prefix = "";
	if (after == NULL)
		after = "";
	if (cb == NULL)
		return sb_error_set(err, SB_EINVAL, "redis: scan: no callback");
	if (strnlen(prefix, SB_KEY_MAX + 1) > SB_KEY_MAX ||
	    strnlen(after, SB_KEY_MAX + 1) > SB_KEY_MAX)
		return sb_error_set(
			err, SB_EINVAL,
			"redis: scan: prefix or after longer than %d "
			"bytes",
			SB_KEY_MAX);
	if (scan_bounds(prefix, after, &min, &max) != 0) {
		ret = sb_error_set(err, SB_ENOMEM,
				   "redis: out of memory in scan");
		goto done;
	}
	snprintf(limbuf, sizeof(limbuf), "%llu",
		 (unsigned long long)(limit > (size_t)LLONG_MAX ? LLONG_MAX
								: limit));
	argv[0] = in->k_idx;
	argv[1] = in->k_data;
	argv[2] = in->k_ver;
	argv[3] = min;
	argv[4] = max;
	argv[5] = limbuf;
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	ret = rs_eval(in, RS_SCRIPT_SCAN, 6, argv, lens, &r, err);
	if (ret != SB_OK)
		goto done;
	if (r->type != REDIS_REPLY_ARRAY || r->elements % 3 != 0) {
		ret = bad_reply(in, "scan", err);
		goto done;
	}
	/* The connection is back in the pool by now, so the callback may
	 * call into this instance again. */
	for (size_t i = 0; i < r->elements; i += 3) {
		const redisReply *k = r->element[i], *v = r->element[i + 1];
		uint64_t ver;

		if (k->type != REDIS_REPLY_STRING || k->len > SB_KEY_MAX ||
		    v->type != REDIS_REPLY_STRING ||
		    reply_u64(r->element[i + 2], &ver) != 0) {
			ret = bad_reply(in, "scan", err);
			goto done;
		}
		if (last_key != NULL)
			memcpy(last_key, k->str, k->len + 1);
		if (cb(arg, k->str, (const uint8_t *)v->str, v->len, ver) != 0)
			break;
	}
	ret = SB_OK;
done:
	free(min);
	free(max);
	if (r != NULL)
		freeReplyObject(r);
	return ret;
}

static int rs_batch_apply(void *p, const struct sb_batch *b,
			  struct sb_error *err)
{
	struct rs_inst *in = p;
	const char **argv = NULL;
	size_t *lens = NULL;
	char *nums = NULL; /* decimal strings, 24 bytes each */
	redisReply *r = NULL;
	size_t nargs, a = 0;
	int ret;

	if (b == NULL || (b->n_ops > 0 && b->ops == NULL))
		return sb_error_set(err, SB_EINVAL,
				    "redis: batch_apply: no ops");
	if (b->n_ops > 1000000)
		return sb_error_set(err, SB_EINVAL,
				    "redis: batch_apply: %zu ops is too many",
				    b->n_ops);
	for (size_t i = 0; i < b->n_ops; i++) {
		const struct sb_batch_op *op = &b->ops[i];

		if (op->type != SB_OP_PUT && op->type != SB_OP_DELETE)
			return sb_error_set(
				err, SB_EINVAL,
				"redis: batch_apply: op %zu has unknown "
				"type %u",
				i, op->type);
		if (op->precondition > SB_PRE_VERSION)
			return sb_error_set(
				err, SB_EINVAL,
				"redis: batch_apply: op %zu has unknown "
				"precondition %u",
				i, op->precondition);
		ret = check_key(op->key, "batch_apply", err);
		if (ret != SB_OK)
			return ret;
		if (op->type == SB_OP_PUT &&
		    (op->value_len > SB_VALUE_MAX ||
		     (op->value == NULL && op->value_len > 0)))
			return sb_error_set(err, SB_EINVAL,
					    "redis: batch_apply: value of key "
					    "\"%s\" is %s",
					    op->key,
					    op->value == NULL ? "NULL"
							      : "too long");
	}
	if (b->n_ops == 0 && b->epoch == 0)
		return SB_OK;

	nargs = 4 + 2 + 5 * b->n_ops;
	argv = calloc(nargs, sizeof(*argv));
	lens = calloc(nargs, sizeof(*lens));
	nums = calloc(b->n_ops + 2, 24);
	if (argv == NULL || lens == NULL || nums == NULL) {
		ret = sb_error_set(err, SB_ENOMEM,
				   "redis: out of memory in batch_apply");
		goto done;
	}
	argv[a++] = in->k_data;
	argv[a++] = in->k_ver;
	argv[a++] = in->k_idx;
	argv[a++] = in->k_epoch;
	snprintf(nums, 24, "%" PRIu64, b->epoch);
	argv[a++] = nums;
	snprintf(nums + 24, 24, "%zu", b->n_ops);
	argv[a++] = nums + 24;
	for (size_t i = 0; i < a; i++)
		lens[i] = strlen(argv[i]);
	for (size_t i = 0; i < b->n_ops; i++) {
		const struct sb_batch_op *op = &b->ops[i];
		char *vbuf = nums + 24 * (i + 2);

		snprintf(vbuf, 24, "%" PRIu64, op->version);
		argv[a] = op->type == SB_OP_PUT ? "1" : "2";
		lens[a++] = 1;
		argv[a] = op->precondition == SB_PRE_ABSENT    ? "1"
			  : op->precondition == SB_PRE_VERSION ? "2"
							       : "0";
		lens[a++] = 1;
		argv[a] = vbuf;
		lens[a++] = strlen(vbuf);
		argv[a] = op->key;
		lens[a++] = strlen(op->key);
		/* The value is binary: its length, never strlen. */
		if (op->type == SB_OP_PUT && op->value != NULL) {
			argv[a] = (const char *)op->value;
			lens[a++] = op->value_len;
		} else {
			argv[a] = "";
			lens[a++] = 0;
		}
	}

	ret = rs_eval(in, RS_SCRIPT_BATCH, (int)nargs, argv, lens, &r, err);
	/* On a failed WAIT the reply is still there: the batch was applied
	 * on the primary, so report its versions with the error. */
	if (r == NULL)
		goto done;
	if (!status_array(r, 1)) {
		ret = bad_reply(in, "batch_apply", err);
		goto done;
	}
	switch (r->element[0]->integer) {
	case 0:
		if (r->elements != b->n_ops + 1) {
			ret = bad_reply(in, "batch_apply", err);
			goto done;
		}
		if (b->versions_out != NULL)
			for (size_t i = 0; i < b->n_ops; i++)
				if (reply_u64(r->element[i + 1],
					      &b->versions_out[i]) != 0)
					b->versions_out[i] = 0;
		break;
	case 1:
		ret = sb_error_set(
			err, SB_EFENCED,
			"redis: batch fenced: its epoch %" PRIu64
			" is not the store's current fencing epoch %s "
			"(key_prefix \"%s\"); nothing was applied",
			b->epoch,
			r->elements > 1 && r->element[1]->type ==
						   REDIS_REPLY_STRING
				? r->element[1]->str
				: "?",
			in->set.key_prefix);
		break;
	case 2: {
		uint64_t idx = 0;

		if (r->elements < 2 || reply_u64(r->element[1], &idx) != 0 ||
		    idx >= b->n_ops) {
			ret = bad_reply(in, "batch_apply", err);
			goto done;
		}
		if (b->failed_op != NULL)
			*b->failed_op = (size_t)idx;
		ret = sb_error_set(
			err, SB_ECONFLICT,
			"redis: batch conflict: precondition of op %zu "
			"(key \"%s\") failed; nothing was applied",
			(size_t)idx, b->ops[idx].key);
		break;
	}
	default: ret = bad_reply(in, "batch_apply", err);
	}
done:
	if (r != NULL)
		freeReplyObject(r);
	free(argv);
	free(lens);
	free(nums);
	return ret;
}

/* Runs a lease script: KEYS lease and epoch, ARGV holder and one or two
 * more (a2 may be NULL). *r is the reply (NULL on a transport error,
 * with err set). */
static int lease_eval(struct rs_inst *in, enum rs_script script,
		      const char *holder, const char *a1, const char *a2,
		      redisReply **r, struct sb_error *err)
{
	const char *argv[5] = {in->k_lease, in->k_epoch, holder, a1, a2};
	size_t lens[5];
	int n = a2 ? 5 : 4;

	for (int i = 0; i < n; i++)
		lens[i] = strlen(argv[i]);
	return rs_eval(in, script, n, argv, lens, r, err);
}

static int rs_lease_acquire(void *p, const char *holder, uint32_t ttl_ms,
			    uint64_t *epoch, struct sb_error *err)
{
	struct rs_inst *in = p;
	char ttl[16];
	redisReply *r = NULL;
	int ret;

	ret = check_holder(holder, "lease_acquire", err);
	if (ret != SB_OK)
		return ret;
	if (ttl_ms == 0)
		return sb_error_set(err, SB_EINVAL,
				    "redis: lease_acquire: ttl_ms must be > 0");
	snprintf(ttl, sizeof(ttl), "%" PRIu32, ttl_ms);
	ret = lease_eval(in, RS_SCRIPT_LEASE_ACQUIRE, holder, ttl, NULL, &r,
			 err);
	if (r == NULL)
		goto done;
	if (!status_array(r, 2)) {
		ret = bad_reply(in, "lease_acquire", err);
		goto done;
	}
	if (r->element[0]->integer == 0) {
		if (reply_u64(r->element[1], epoch) != 0)
			ret = bad_reply(in, "lease_acquire", err);
		goto done;
	}
	if (r->elements < 3 || r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[2]->type != REDIS_REPLY_STRING) {
		ret = bad_reply(in, "lease_acquire", err);
		goto done;
	}
	if (strcmp(r->element[2]->str, "-1") == 0)
		ret = sb_error_set(
			err, SB_EBUSY,
			"redis: lease (key_prefix \"%s\") is held by "
			"\"%s\" without expiry (fence takeover)",
			in->set.key_prefix, r->element[1]->str);
	else
		ret = sb_error_set(
			err, SB_EBUSY,
			"redis: lease (key_prefix \"%s\") is held by "
			"\"%s\" for %s more ms",
			in->set.key_prefix, r->element[1]->str,
			r->element[2]->str);
done:
	if (r != NULL)
		freeReplyObject(r);
	return ret;
}

/* The SB_EFENCED message of renew and release from a {1, holder, epoch}
 * reply. */
static int lease_fenced(struct rs_inst *in, const char *what,
			const redisReply *r, const char *holder, uint64_t epoch,
			struct sb_error *err)
{
	const char *h = "?", *e = "?";

	if (r->elements >= 3 && r->element[1]->type == REDIS_REPLY_STRING &&
	    r->element[2]->type == REDIS_REPLY_STRING) {
		h = r->element[1]->str;
		e = r->element[2]->str;
	}
	if (*h == '\0')
		return sb_error_set(
			err, SB_EFENCED,
			"redis: %s by \"%s\" at epoch %" PRIu64
			": nobody holds the lease (key_prefix \"%s\", "
			"epoch %s)",
			what, holder, epoch, in->set.key_prefix, e);
	return sb_error_set(
		err, SB_EFENCED,
		"redis: %s by \"%s\" at epoch %" PRIu64
		": the lease (key_prefix \"%s\") is held by \"%s\" at "
		"epoch %s",
		what, holder, epoch, in->set.key_prefix, h, e);
}

static int rs_lease_renew(void *p, const char *holder, uint64_t epoch,
			  uint32_t ttl_ms, struct sb_error *err)
{
	struct rs_inst *in = p;
	char ebuf[24], ttl[16];
	redisReply *r = NULL;
	int ret;

	ret = check_holder(holder, "lease_renew", err);
	if (ret != SB_OK)
		return ret;
	if (ttl_ms == 0)
		return sb_error_set(err, SB_EINVAL,
				    "redis: lease_renew: ttl_ms must be > 0");
	snprintf(ebuf, sizeof(ebuf), "%" PRIu64, epoch);
	snprintf(ttl, sizeof(ttl), "%" PRIu32, ttl_ms);
	ret = lease_eval(in, RS_SCRIPT_LEASE_RENEW, holder, ebuf, ttl, &r, err);
	if (r == NULL)
		goto done;
	if (!status_array(r, 1)) {
		ret = bad_reply(in, "lease_renew", err);
		goto done;
	}
	switch (r->element[0]->integer) {
	case 0: break;
	case 1:
		ret = lease_fenced(in, "lease_renew", r, holder, epoch, err);
		break;
	case 2:
		ret = sb_error_set(
			err, SB_EEXPIRED,
			"redis: lease_renew by \"%s\" at epoch %" PRIu64
			": the lease (key_prefix \"%s\") expired %s ms "
			"ago on the server's clock",
			holder, epoch, in->set.key_prefix,
			r->elements > 1 && r->element[1]->type ==
						   REDIS_REPLY_STRING
				? r->element[1]->str
				: "?");
		break;
	default: ret = bad_reply(in, "lease_renew", err);
	}
done:
	if (r != NULL)
		freeReplyObject(r);
	return ret;
}

static int rs_lease_release(void *p, const char *holder, uint64_t epoch,
			    struct sb_error *err)
{
	struct rs_inst *in = p;
	char ebuf[24];
	redisReply *r = NULL;
	int ret;

	ret = check_holder(holder, "lease_release", err);
	if (ret != SB_OK)
		return ret;
	snprintf(ebuf, sizeof(ebuf), "%" PRIu64, epoch);
	ret = lease_eval(in, RS_SCRIPT_LEASE_RELEASE, holder, ebuf, NULL, &r,
			 err);
	if (r == NULL)
		goto done;
	if (!status_array(r, 1)) {
		ret = bad_reply(in, "lease_release", err);
		goto done;
	}
	if (r->element[0]->integer == 1)
		ret = lease_fenced(in, "lease_release", r, holder, epoch, err);
	else if (r->element[0]->integer != 0)
		ret = bad_reply(in, "lease_release", err);
done:
	if (r != NULL)
		freeReplyObject(r);
	return ret;
}

static int rs_lease_read(void *p, struct sb_lease_info *info,
			 struct sb_error *err)
{
	struct rs_inst *in = p;
	const char *argv[2] = {in->k_lease, in->k_epoch};
	size_t lens[2] = {strlen(argv[0]), strlen(argv[1])};
	redisReply *r = NULL;
	int64_t expires = 0, now = 0;
	int ret;

	memset(info, 0, sizeof(*info));
	ret = rs_eval(in, RS_SCRIPT_LEASE_READ, 2, argv, lens, &r, err);
	if (ret != SB_OK)
		goto done;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    r->element[0]->len > HOLDER_MAX ||
	    reply_u64(r->element[1], &info->epoch) != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING ||
	    reply_i64(r->element[3], &now) != 0) {
		ret = bad_reply(in, "lease_read", err);
		goto done;
	}
	if (r->element[0]->len == 0) {
		/* Free: never taken, or released. */
		goto done;
	}
	if (reply_i64(r->element[2], &expires) != 0) {
		ret = bad_reply(in, "lease_read", err);
		goto done;
	}
	if (expires == 0) {
		/* fence_takeover with ttl 0: held until taken over. */
		info->held = 1;
		info->ttl_left_ms = INT64_MAX;
	} else {
		info->ttl_left_ms = expires - now;
		info->held = info->ttl_left_ms > 0;
	}
	/* An expired lease keeps its last holder's name (held = 0, and a
	 * negative ttl_left_ms tells how long ago it expired) until someone
	 * acquires it or it is released. */
	memcpy(info->holder, r->element[0]->str, r->element[0]->len + 1);
done:
	if (r != NULL)
		freeReplyObject(r);
	return ret;
}

static int rs_fence_takeover(void *p, const char *holder, uint32_t ttl_ms,
			     uint64_t *epoch, struct sb_error *err)
{
	struct rs_inst *in = p;
	char ttl[16];
	redisReply *r = NULL;
	int ret;

	ret = check_holder(holder, "fence_takeover", err);
	if (ret != SB_OK)
		return ret;
	snprintf(ttl, sizeof(ttl), "%" PRIu32, ttl_ms);
	ret = lease_eval(in, RS_SCRIPT_FENCE_TAKEOVER, holder, ttl, NULL, &r,
			 err);
	if (r == NULL)
		goto done;
	if (!status_array(r, 2) || r->element[0]->integer != 0 ||
	    reply_u64(r->element[1], epoch) != 0) {
		ret = bad_reply(in, "fence_takeover", err);
		goto done;
	}
done:
	if (r != NULL)
		freeReplyObject(r);
	return ret;
}

static const struct sb_storage_ops redis_ops = {
	.size = sizeof(struct sb_storage_ops),
	.open = rs_open,
	.close = rs_close,
	.get = rs_get,
	.scan = rs_scan,
	.batch_apply = rs_batch_apply,
	.lease_acquire = rs_lease_acquire,
	.lease_renew = rs_lease_renew,
	.lease_release = rs_lease_release,
	.lease_read = rs_lease_read,
	.fence_takeover = rs_fence_takeover,
};

/* Every setting this plugin reads from its section. */
static const char *const plugin_settings[] = {
	"connect_timeout_ms",
	"db",
	"host",
	"key_prefix",
	"master_name",
	"op_timeout_ms",
	"password",
	"password_file",
	"pool_size",
	"port",
	"reconnect_backoff_max_ms",
	"sentinel_check_interval_ms",
	"sentinels",
	"socket",
	"user",
	"wait_replicas",
	"wait_timeout_ms",
	NULL,
};

static const struct sb_plugin_descriptor redis_descriptor = {
	.size = sizeof(struct sb_plugin_descriptor),
	.abi_major = SB_PLUGIN_ABI_MAJOR,
	.abi_minor = SB_PLUGIN_ABI_MINOR,
	.kind = SB_PLUGIN_STORAGE,
	.name = "redis",
	.version = "0.1.0",
	.description = "Redis storage: one Lua script per operation, Sentinel "
		       "failover, optional WAIT for replicas",
	.ops = &redis_ops,
	.settings = plugin_settings,
};

SB_PLUGIN_DEFINE(&redis_descriptor)
