/*
 * A small pool of threads for slow work (scrypt, big storage scans) so it
 * never runs on a thread that serves requests. A job's result is delivered
 * back on the event loop that submitted it.
 */
#ifndef SB_JOBS_H
#define SB_JOBS_H

#include <event2/event.h>

struct sb_jobs;

/* Starts n threads. Returns NULL on failure. */
struct sb_jobs *sb_jobs_start(int n);
/* Finishes queued jobs, joins the threads, frees the pool. */
void sb_jobs_stop(struct sb_jobs *jobs);

/* Queues run(arg) on a pool thread; when it returns, done(arg) runs on
 * base's loop thread. Returns 0, or -1 (nothing queued) on ENOMEM. */
int sb_jobs_submit(struct sb_jobs *jobs, struct event_base *base,
		   void (*run)(void *arg), void (*done)(void *arg), void *arg);

#endif
