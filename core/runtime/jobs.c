/* Job threads: see jobs.h. */
#include "runtime/jobs.h"
#include "runtime/secure_mem.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
	struct job *next;
	void (*run)(void *);
	void (*done)(void *);
	void *arg;
	struct event *ev; /* on the submitter's base, fired when run returns */
};

struct sb_jobs {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	int stopping;
	int n;
	pthread_t *threads;
};

static void job_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job *j = arg;

	(void)fd;
	(void)what;
	j->done(j->arg);
	event_free(j->ev);
	free(j);
}

static void *job_thread(void *arg)
{
	struct sb_jobs *jobs = arg;

	for (;;) {
		struct job *j;

		pthread_mutex_lock(&jobs->lock);
		while (jobs->head == NULL && !jobs->stopping)
			pthread_cond_wait(&jobs->cond, &jobs->lock);
		j = jobs->head;
		if (j == NULL) {
			pthread_mutex_unlock(&jobs->lock);
			return NULL;
		}
		jobs->head = j->next;
		if (jobs->head == NULL)
			jobs->tail = NULL;
		pthread_mutex_unlock(&jobs->lock);
		j->run(j->arg);
		sb_stack_scrub(); /* jobs derive keys (scrypt, HKDF) */
		/* Thread-safe with evthread_use_pthreads(). */
		event_active(j->ev, EV_READ, 0);
	}
}

struct sb_jobs *sb_jobs_start(int n)
{
	struct sb_jobs *jobs = calloc(1, sizeof(*jobs));

	if (jobs == NULL)
		return NULL;
	pthread_mutex_init(&jobs->lock, NULL);
	pthread_cond_init(&jobs->cond, NULL);
	jobs->threads = calloc((size_t)n, sizeof(pthread_t));
	if (jobs->threads == NULL) {
		free(jobs);
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		if (pthread_create(&jobs->threads[i], NULL, job_thread, jobs) !=
		    0)
			break;
		jobs->n++;
	}
	if (jobs->n == 0) {
		free(jobs->threads);
		free(jobs);
		return NULL;
	}
	return jobs;
}

void sb_jobs_stop(struct sb_jobs *jobs)
{
	if (jobs == NULL)
		return;
	pthread_mutex_lock(&jobs->lock);
	jobs->stopping = 1;
	pthread_cond_broadcast(&jobs->cond);
	pthread_mutex_unlock(&jobs->lock);
	for (int i = 0; i < jobs->n; i++)
		pthread_join(jobs->threads[i], NULL);
	free(jobs->threads);
	pthread_mutex_destroy(&jobs->lock);
	pthread_cond_destroy(&jobs->cond);
	free(jobs);
}

int sb_jobs_submit(struct sb_jobs *jobs, struct event_base *base,
		   void (*run)(void *arg), void (*done)(void *arg), void *arg)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return -1;
	j->run = run;
	j->done = done;
	j->arg = arg;
	j->ev = event_new(base, -1, 0, job_done_cb, j);
	if (j->ev == NULL) {
		free(j);
		return -1;
	}
	pthread_mutex_lock(&jobs->lock);
	if (jobs->tail)
		jobs->tail->next = j;
	else
		jobs->head = j;
	jobs->tail = j;
	pthread_cond_signal(&jobs->cond);
	pthread_mutex_unlock(&jobs->lock);
	return 0;
}
