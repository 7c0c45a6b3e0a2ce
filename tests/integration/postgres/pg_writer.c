/*
 * pg_writer: the broker's side of the failover test. Loads the postgres
 * plugin through sb_plugin_load, takes the fence, and writes numbered keys
 * in fenced batches until STOPFILE appears, recording every acknowledged
 * batch in ACKLOG (one line, flushed, before the next batch):
 *     ack FIRST COUNT EPOCH
 * and every failure as "fail MS STATUS MESSAGE". It never reopens the
 * store: reconnection, and finding the new primary through the
 * multi-host conninfo, are the plugin's job.
 *
 * When told to stop it checks, on whatever server it now reaches:
 *   - the store's epoch never went below the one it wrote with;
 *   - a takeover now yields a strictly larger epoch;
 *   - a batch with the old epoch is refused (SB_EFENCED) with nothing
 *     applied;
 *   - every acknowledged key is present.
 * It prints a summary and exits 0 only if all hold.
 *
 * Usage: pg_writer PLUGIN_DIR CONNINFO SCHEMA ACKLOG STOPFILE
 */
#define _GNU_SOURCE
#include "pg_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH	    3
#define MAX_BATCHES 200000

static const struct sb_storage_ops *ops;
static struct pgt_store store;
static int acked_first[MAX_BATCHES];
static int n_acked;

static int write_batch(int first, uint64_t epoch, struct sb_error *err)
{
	char keys[BATCH][32], vals[BATCH][32];
	struct sb_batch_op o[BATCH];
	struct sb_batch b = {.ops = o, .n_ops = BATCH, .epoch = epoch};

	memset(o, 0, sizeof(o));
	for (int i = 0; i < BATCH; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k/%07d", first + i);
		snprintf(vals[i], sizeof(vals[i]), "v%d", first + i);
		o[i].type = SB_OP_PUT;
		o[i].key = keys[i];
		o[i].value = (const uint8_t *)vals[i];
		o[i].value_len = strlen(vals[i]);
	}
	memset(err, 0, sizeof(*err));
	return ops->batch_apply(store.inst, &b, err);
}

int main(int argc, char **argv)
{
	char ci[1024], sset[128];
	const char *settings[] = {ci,
				  sset,
				  "op_timeout_ms=1000",
				  "pool_size=2",
				  "reconnect_backoff_max_ms=200",
				  NULL};
	struct sb_lease_info info;
	struct sb_error err;
	uint64_t e0 = 0, e1 = 0, max_seen = 0, ver;
	uint64_t outage_start = 0, longest_outage = 0;
	int seq = 0, n_failed = 0, bad = 0, rc, missing = 0;
	FILE *log;

	if (argc != 6) {
		fprintf(stderr, "usage: pg_writer PLUGIN_DIR CONNINFO SCHEMA "
				"ACKLOG STOPFILE\n");
		return 2;
	}
	ops = pgt_ops(argv[1]);
	snprintf(ci, sizeof(ci), "conninfo=%s", argv[2]);
	snprintf(sset, sizeof(sset), "schema=%s", argv[3]);
	log = fopen(argv[4], "a");
	if (log == NULL) {
		perror(argv[4]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = pgt_open(ops, &store, &err, settings)) != SB_OK) {
		fprintf(stderr, "pg_writer: open: %s\n", err.msg);
		return 1;
	}
	if ((rc = ops->fence_takeover(store.inst, "writer", 0, &e0, &err)) !=
	    SB_OK) {
		fprintf(stderr, "pg_writer: fence_takeover: %s\n", err.msg);
		return 1;
	}
	max_seen = e0;
	fprintf(log, "epoch %llu\n", (unsigned long long)e0);
	fflush(log);

	while (access(argv[5], F_OK) != 0 && n_acked < MAX_BATCHES) {
		uint64_t t0 = pgt_now_ms();

		rc = write_batch(seq, e0, &err);
		if (rc == SB_OK) {
			fprintf(log, "ack %d %d %llu\n", seq, BATCH,
				(unsigned long long)e0);
			fflush(log);
			acked_first[n_acked++] = seq;
			if (outage_start) {
				uint64_t o = pgt_now_ms() - outage_start;

				printf("# writes resumed after %llu ms\n",
				       (unsigned long long)o);
				if (o > longest_outage)
					longest_outage = o;
				outage_start = 0;
			}
		} else {
			if (!outage_start)
				outage_start = t0;
			n_failed++;
			fprintf(log, "fail %llu %d %s\n",
				(unsigned long long)(pgt_now_ms() - t0), rc,
				err.msg);
			fflush(log);
			printf("# write failed after %llu ms: %s\n",
			       (unsigned long long)(pgt_now_ms() - t0),
			       err.msg);
			if (rc == SB_EFENCED) {
				printf("not ok - fenced while writing: "
				       "someone else took the fence\n");
				bad++;
				break;
			}
		}
		seq += BATCH;
		/* The store's epoch as the current server sees it. */
		if (n_acked % 25 == 0 &&
		    ops->lease_read(store.inst, &info, &err) == SB_OK) {
			if (info.epoch < max_seen) {
				printf("not ok - epoch went back from %llu to "
				       "%llu\n",
				       (unsigned long long)max_seen,
				       (unsigned long long)info.epoch);
				bad++;
			}
			if (info.epoch > max_seen)
				max_seen = info.epoch;
		}
	}

	/* Final checks on the server the plugin now reaches. */
	rc = ops->lease_read(store.inst, &info, &err);
	if (rc != SB_OK || info.epoch < e0) {
		printf("not ok - lease after the run: rc %d epoch %llu (was "
		       "%llu): %s\n",
		       rc, (unsigned long long)info.epoch,
		       (unsigned long long)e0, err.msg);
		bad++;
	}
	rc = ops->fence_takeover(store.inst, "writer-after", 0, &e1, &err);
	if (rc != SB_OK || e1 <= max_seen) {
		printf("not ok - takeover after the run: rc %d epoch %llu, not "
		       "above %llu: %s\n",
		       rc, (unsigned long long)e1, (unsigned long long)max_seen,
		       err.msg);
		bad++;
	}
	{
		struct sb_batch_op o = {.type = SB_OP_PUT,
					.key = "stale/write",
					.value = (const uint8_t *)"x",
					.value_len = 1};
		struct sb_batch b = {.ops = &o, .n_ops = 1, .epoch = e0};

		rc = ops->batch_apply(store.inst, &b, &err);
		if (rc != SB_EFENCED) {
			printf("not ok - stale-epoch batch returned %d\n", rc);
			bad++;
		} else {
			printf("# stale-epoch batch refused: %s\n", err.msg);
		}
		rc = ops->get(store.inst, "stale/write", NULL, NULL, &ver,
			      &err);
		if (rc != SB_ENOTFOUND) {
			printf("not ok - the stale batch left its key (rc "
			       "%d)\n",
			       rc);
			bad++;
		}
	}
	for (int i = 0; i < n_acked; i++) {
		for (int j = 0; j < BATCH; j++) {
			char key[32];

			snprintf(key, sizeof(key), "k/%07d",
				 acked_first[i] + j);
			rc = ops->get(store.inst, key, NULL, NULL, &ver, &err);
			if (rc != SB_OK) {
				if (missing++ < 5)
					printf("not ok - acknowledged %s: %s\n",
					       key, err.msg);
			}
		}
	}
	if (missing) {
		printf("not ok - %d acknowledged keys missing\n", missing);
		bad++;
	}
	printf("# writer: %d batches (%d keys) acknowledged, %d failed, "
	       "longest outage %llu ms, epoch %llu -> takeover %llu\n",
	       n_acked, n_acked * BATCH, n_failed,
	       (unsigned long long)longest_outage, (unsigned long long)e0,
	       (unsigned long long)e1);
	pgt_close(ops, &store);
	fclose(log);
	printf("%s - pg_writer\n", bad ? "not ok" : "ok");
	return bad ? 1 : 0;
}
