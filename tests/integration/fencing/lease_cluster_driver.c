/*
 * sb-fencing-lease-cluster: two master secret server candidates, in two
 * processes, each running fencing_lease.so over the REAL storage plugin on
 * one shared store; the driver kills and pauses them and checks that the
 * lease never lets two of them act as active at once.
 *
 *   sb-fencing-lease-cluster --plugin-dir DIR --plugin NAME [--set k=v]...
 *       [--driver-set k=v]... [--state-dir DIR] [--ttl-ms N]
 *       [--acquire-interval-ms N] [--kill-cycles N] [--write-every-ms N]
 *       [--keep]
 *
 * --set settings go to every [storage] instance (nodes and the driver's
 * own, which makes the store first and checks it afterwards);
 * --driver-set ones to the driver's only (short lock timeouts for its
 * probe). Without --state-dir a temporary state directory is made, and
 * removed when every check passed: a relative sqlite path names a fresh
 * file there. Other backends need a fresh schema or key prefix in --set.
 *
 * What it does, printing "ok N - ..." / "not ok N - ..." per check and
 * "# ..." lines with the measured times:
 *   1. starts node-a and node-b at once: exactly one becomes active and
 *      stays so, the other reports standby
 *   2. --kill-cycles times: SIGKILL the active one; the other becomes
 *      active within ttl + acquire_interval (+ scheduling slack) at a
 *      strictly larger epoch; the killed node is restarted as standby
 *   3. "quit" the active one (stop releases the lease): the other takes
 *      over within acquire_interval (+ slack)
 *   4. SIGSTOP the active one; the other takes over; SIGCONT: the old one
 *      steps down by itself ("lease not renewed within"), and a fenced
 *      batch it then attempts with its old epoch is refused (SB_EFENCED)
 *      with nothing applied (checked with get)
 *   5. from all the logs: the intervals in which processes believed
 *      themselves active never overlap; epochs grow with every
 *      activation; every acknowledged write began before the next epoch
 *      was taken; every refused write left nothing behind, and every
 *      acknowledged one is there
 *
 * The one exemption in 5 is physical: a process resumed from SIGSTOP
 * cannot have stepped down while stopped, so between SIGCONT and its own
 * step-down (measured and bounded here, a few ms) it still believes. That
 * window is exactly what the storage's epoch check is for, and the test
 * requires every write the process attempted in it to be refused.
 *
 * SQLite: a process stopped while it holds the database's write lock
 * stalls every other writer (the lease cannot move: safe, but nobody can
 * take over until it resumes). That is the file lock, not the lease, so
 * before counting a pause the driver probes the store with a renew under a
 * short timeout and, if the lock is held, resumes the process and pauses it
 * again a moment later. PostgreSQL's row lock in an open transaction
 * behaves alike; the same probe covers it.
 */
#define _GNU_SOURCE
#include "lease_cluster.h"

#include "host/host.h"
#include "runtime/log.h"
#include "host/plugin_loader.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MS	   1000000LL /* ns */
#define MAX_PROCS  32
#define MAX_PAUSES 4
/* Scheduling slack on top of the protocol's bounds: 2 cores, parallel
 * ctest, sanitizers. SB_LEASE_SLACK_MS overrides it. */
#define DEFAULT_SLACK_MS 300

struct proc {
	char name[32];
	int incarnation;
	pid_t pid;
	int in_fd, out_fd;
	char rbuf[4096];
	size_t rlen;
	char log_path[PATH_MAX], err_path[PATH_MAX];
	int alive;
	int killed;
	int64_t t_end; /* killed and reaped, or quit */
	int64_t pause_start[MAX_PAUSES], pause_end[MAX_PAUSES];
	int n_pauses;
};

struct ev {
	int is_write;
	int64_t t, t1; /* STATE: t; WRITE: t0, t1 */
	int state;     /* STATE */
	uint64_t epoch;
	int rc;		/* WRITE */
	char text[256]; /* STATE: reason; WRITE: key */
};

static const struct lc_opts *O;
static char state_dir[PATH_MAX];
static struct proc procs[MAX_PROCS];
static int n_procs;
static int n_checks, n_failed;
static int64_t slack_ns;

/* The driver's own storage instance. */
static struct sb_plugin dplug;
static const struct sb_storage_ops *dops;
static struct sb_host *dhost;
static struct sb_config *dcfg;
static void *dinst;

static void check(int ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(int ok, const char *fmt, ...)
{
	va_list ap;

	n_checks++;
	if (!ok)
		n_failed++;
	printf("%sok %d - ", ok ? "" : "not ", n_checks);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void note(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static double ms_of(int64_t ns)
{
	return (double)ns / 1e6;
}

/* ---- node processes ---- */

static struct proc *spawn(const char *name)
{
	struct proc *p;
	int to_child[2], from_child[2], incarnation = 0;
	char ttl[16], acq[16], wev[16];
	const char *argv[16 + 2 * LC_MAX_SETS];
	int argc = 0, errfd;

	if (n_procs >= MAX_PROCS)
		return NULL;
	for (int i = 0; i < n_procs; i++)
		if (strcmp(procs[i].name, name) == 0)
			incarnation++;
	p = &procs[n_procs];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->incarnation = incarnation;
	if (snprintf(p->log_path, sizeof(p->log_path), "%s/%s.%d.log",
		     state_dir, name,
		     incarnation) >= (int)sizeof(p->log_path) ||
	    snprintf(p->err_path, sizeof(p->err_path), "%s/%s.%d.stderr",
		     state_dir, name,
		     incarnation) >= (int)sizeof(p->err_path)) {
		fprintf(stderr, "state directory name too long: %s\n",
			state_dir);
		return NULL;
	}
	snprintf(ttl, sizeof(ttl), "%d", O->ttl_ms);
	snprintf(acq, sizeof(acq), "%d", O->acquire_interval_ms);
	argv[argc++] = "sb-fencing-lease-cluster";
	argv[argc++] = "--node";
	argv[argc++] = name;
	argv[argc++] = "--log";
	argv[argc++] = p->log_path;
	argv[argc++] = "--plugin-dir";
	argv[argc++] = O->plugin_dir;
	argv[argc++] = "--plugin";
	argv[argc++] = O->plugin;
	argv[argc++] = "--state-dir";
	argv[argc++] = state_dir;
	argv[argc++] = "--ttl-ms";
	argv[argc++] = ttl;
	argv[argc++] = "--acquire-interval-ms";
	argv[argc++] = acq;
	snprintf(wev, sizeof(wev), "%d", O->write_every_ms);
	argv[argc++] = "--write-every-ms";
	argv[argc++] = wev;
	for (int i = 0; i < O->n_sets; i++) {
		argv[argc++] = "--set";
		argv[argc++] = O->sets[i];
	}
	argv[argc] = NULL;
	if (pipe2(to_child, O_CLOEXEC) != 0)
		return NULL;
	if (pipe2(from_child, O_CLOEXEC) != 0) {
		close(to_child[0]);
		close(to_child[1]);
		return NULL;
	}
	errfd = open(p->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		     0600);
	fflush(stdout);
	p->pid = fork();
	if (p->pid == 0) {
		if (dup2(to_child[0], 0) < 0 || dup2(from_child[1], 1) < 0 ||
		    (errfd >= 0 && dup2(errfd, 2) < 0))
			_exit(126);
		execv("/proc/self/exe", (char *const *)argv);
		fprintf(stderr, "exec /proc/self/exe: %s\n", strerror(errno));
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	if (errfd >= 0)
		close(errfd);
	if (p->pid < 0) {
		close(to_child[1]);
		close(from_child[0]);
		return NULL;
	}
	p->in_fd = to_child[1];
	p->out_fd = from_child[0];
	p->alive = 1;
	n_procs++;
	return p;
}

/* Reads one line the node printed, waiting at most timeout_ms. */
static int proc_readline(struct proc *p, char *line, size_t size,
			 int timeout_ms)
{
	int64_t end = lc_mono_ns() + timeout_ms * MS;

	for (;;) {
		char *nl = memchr(p->rbuf, '\n', p->rlen);
		struct pollfd pfd = {.fd = p->out_fd, .events = POLLIN};
		int64_t left;
		ssize_t r;

		if (nl != NULL) {
			size_t n = (size_t)(nl - p->rbuf);

			snprintf(line, size, "%.*s", (int)n, p->rbuf);
			memmove(p->rbuf, nl + 1, p->rlen - n - 1);
			p->rlen -= n + 1;
			return 0;
		}
		left = end - lc_mono_ns();
		if (left <= 0 || p->rlen >= sizeof(p->rbuf))
			return -1;
		if (poll(&pfd, 1, (int)(left / MS) + 1) <= 0)
			continue;
		r = read(p->out_fd, p->rbuf + p->rlen,
			 sizeof(p->rbuf) - p->rlen);
		if (r <= 0)
			return -1; /* EOF: the node is gone */
		p->rlen += (size_t)r;
	}
}

static int proc_cmd(struct proc *p, const char *cmd, char *reply, size_t size,
		    int timeout_ms)
{
	char buf[600];
	int n = snprintf(buf, sizeof(buf), "%s\n", cmd);

	if (write(p->in_fd, buf, (size_t)n) != n)
		return -1;
	return proc_readline(p, reply, size, timeout_ms);
}

static int wait_ready(struct proc *p)
{
	char line[256];

	if (proc_readline(p, line, sizeof(line), 20000) != 0 ||
	    strcmp(line, "ready") != 0) {
		check(0, "%s (incarnation %d, pid %d) starts", p->name,
		      p->incarnation, (int)p->pid);
		return -1;
	}
	return 0;
}

static void reap(struct proc *p, int *status)
{
	while (waitpid(p->pid, status, 0) < 0 && errno == EINTR)
		;
	p->alive = 0;
	close(p->in_fd);
	close(p->out_fd);
}

static void kill_proc(struct proc *p)
{
	int status;

	kill(p->pid, SIGKILL);
	reap(p, &status);
	p->t_end = lc_mono_ns();
	p->killed = 1;
}

/* Asks the node to stop (as the daemon does on shutdown) and waits for
 * it. Returns its exit status, or -1. */
static int quit_proc(struct proc *p)
{
	char line[128];
	int status = 0;

	if (proc_cmd(p, "quit", line, sizeof(line), 20000) != 0 ||
	    strcmp(line, "bye") != 0) {
		kill(p->pid, SIGKILL);
		reap(p, &status);
		p->t_end = lc_mono_ns();
		p->killed = 1;
		return -1;
	}
	reap(p, &status);
	p->t_end = lc_mono_ns();
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whether the kernel shows the process stopped (state T). */
static int is_stopped(pid_t pid)
{
	char path[64], buf[512], *rp;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	rp = strrchr(buf, ')');
	return rp != NULL && rp[1] == ' ' && (rp[2] == 'T' || rp[2] == 't');
}

/* ---- logs ---- */

/* Reads every complete line of p's log into *out (malloc'ed). */
static int read_log(const struct proc *p, struct ev **out, int *n_out)
{
	FILE *f = fopen(p->log_path, "r");
	char line[1024];
	struct ev *evs = NULL;
	int n = 0, cap = 0;

	*out = NULL;
	*n_out = 0;
	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		struct ev e = {0};
		size_t len = strlen(line);
		int off = 0;

		if (len == 0 || line[len - 1] != '\n')
			break; /* being written: not yet a record */
		line[len - 1] = '\0';
		if (sscanf(line, "STATE %" SCNd64 " %d %" SCNu64 " %n", &e.t,
			   &e.state, &e.epoch, &off) == 3) {
			snprintf(e.text, sizeof(e.text), "%s", line + off);
		} else if (sscanf(line,
				  "WRITE %" SCNd64 " %" SCNd64 " %" SCNu64
				  " %d %255s",
				  &e.t, &e.t1, &e.epoch, &e.rc, e.text) == 5) {
			e.is_write = 1;
		} else {
			continue;
		}
		if (n == cap) {
			struct ev *ne;

			cap = cap ? cap * 2 : 64;
			ne = realloc(evs, (size_t)cap * sizeof(*ne));
			if (ne == NULL) {
				free(evs);
				fclose(f);
				return -1;
			}
			evs = ne;
		}
		evs[n++] = e;
	}
	fclose(f);
	*out = evs;
	*n_out = n;
	return 0;
}

/* The last state_changed of p: its state, epoch and time. Standby with
 * t 0 when it reported none yet. */
static void last_state(const struct proc *p, int *state, uint64_t *epoch,
		       int64_t *t, char *reason, size_t rsize)
{
	struct ev *evs;
	int n;

	*state = SB_FENCE_STANDBY;
	*epoch = 0;
	*t = 0;
	if (reason)
		reason[0] = '\0';
	if (read_log(p, &evs, &n) != 0)
		return;
	for (int i = n - 1; i >= 0; i--)
		if (!evs[i].is_write) {
			*state = evs[i].state;
			*epoch = evs[i].epoch;
			*t = evs[i].t;
			if (reason)
				snprintf(reason, rsize, "%s", evs[i].text);
			break;
		}
	free(evs);
}

/* Waits until p reports state (ACTIVE: at an epoch >= min_epoch) in a
 * transition at or after since. Returns 0 with *t and *epoch, or -1. */
static int wait_state(const struct proc *p, int state, uint64_t min_epoch,
		      int64_t since, int timeout_ms, int64_t *t,
		      uint64_t *epoch, char *reason, size_t rsize)
{
	int64_t end = lc_mono_ns() + timeout_ms * MS;

	do {
		int s;

		last_state(p, &s, epoch, t, reason, rsize);
		if (s == state && *t >= since &&
		    (state != SB_FENCE_ACTIVE || *epoch >= min_epoch))
			return 0;
		sleep_ms(2);
	} while (lc_mono_ns() < end);
	return -1;
}

static void dump_file(const char *path, int max_lines)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	long total = 0, skip;

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		total++;
	rewind(f);
	skip = total > max_lines ? total - max_lines : 0;
	printf("# ----- %s (%ld lines%s)\n", path, total,
	       skip ? ", the last shown" : "");
	for (long i = 0; fgets(line, sizeof(line), f) != NULL; i++)
		if (i >= skip)
			printf("#   %s", line);
	fclose(f);
}

/* ---- the scenario ---- */

static struct proc *find_live(const char *name)
{
	for (int i = n_procs - 1; i >= 0; i--)
		if (procs[i].alive && strcmp(procs[i].name, name) == 0)
			return &procs[i];
	return NULL;
}

/* The live nodes' current states: the active one (NULL if none), the
 * other, and how many are active. */
static int who_is_active(struct proc **act, struct proc **other,
			 uint64_t *epoch)
{
	struct proc *a = find_live("node-a"), *b = find_live("node-b");
	int sa = 0, sb = 0;
	uint64_t ea = 0, eb = 0;
	int64_t t;

	if (a)
		last_state(a, &sa, &ea, &t, NULL, 0);
	if (b)
		last_state(b, &sb, &eb, &t, NULL, 0);
	*act = sa ? a : sb ? b : NULL;
	*other = sa ? b : a;
	*epoch = sa ? ea : eb;
	return sa + sb;
}

static int status_of(struct proc *p, int *state, uint64_t *epoch,
		     long long *left, char *detail, size_t dsize)
{
	char line[512];
	int off = 0;

	if (proc_cmd(p, "status", line, sizeof(line), 5000) != 0)
		return -1;
	if (sscanf(line, "status %d %" SCNu64 " %lld %n", state, epoch, left,
		   &off) != 3)
		return -1;
	snprintf(detail, dsize, "%s", line + off);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void figures(const char *what, double *v, int n)
{
	if (n == 0)
		return;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	note("%s: n=%d min %.0f ms, median %.0f ms, max %.0f ms", what, n, v[0],
	     v[n / 2], v[n - 1]);
}

/* Step 1. Returns 0 when the run can go on. */
static int first_election(void)
{
	struct proc *a, *b, *act, *other;
	uint64_t epoch, e;
	int64_t end;
	int n_act, stable = 1, state, rc;
	long long left;
	char detail[300];

	a = spawn("node-a");
	b = spawn("node-b");
	if (!a || !b) {
		check(0, "spawn node-a and node-b");
		return -1;
	}
	if (wait_ready(a) != 0 || wait_ready(b) != 0)
		return -1;
	end = lc_mono_ns() + (O->ttl_ms + O->acquire_interval_ms + 5000) * MS;
	while ((n_act = who_is_active(&act, &other, &epoch)) == 0 &&
	       lc_mono_ns() < end)
		sleep_ms(5);
	check(n_act == 1,
	      "node-a and node-b started together: exactly one "
	      "active (%d)",
	      n_act);
	if (n_act != 1)
		return -1;
	/* Three TTLs: renewing, nobody flaps. */
	end = lc_mono_ns() + 3LL * O->ttl_ms * MS;
	while (lc_mono_ns() < end) {
		struct proc *a2, *o2;

		if (who_is_active(&a2, &o2, &e) != 1 || a2 != act || e != epoch)
			stable = 0;
		sleep_ms(10);
	}
	check(stable,
	      "%s stays the one active node at epoch %" PRIu64 " for 3 TTLs",
	      act->name, epoch);
	/* (status_of before check: argument order is unspecified.) */
	rc = status_of(other, &state, &e, &left, detail, sizeof(detail));
	check(rc == 0 && state == SB_FENCE_STANDBY && e == 0 && left == -1 &&
		      strstr(detail, "held elsewhere") != NULL,
	      "%s status: standby, no lease, \"%s\"", other->name, detail);
	rc = status_of(act, &state, &e, &left, detail, sizeof(detail));
	check(rc == 0 && state == SB_FENCE_ACTIVE && e == epoch && left >= 0 &&
		      left <= O->ttl_ms &&
		      strstr(detail, "holding lease") != NULL,
	      "%s status: active at %" PRIu64 ", %lld ms left, \"%s\"",
	      act->name, epoch, left, detail);
	return 0;
}

/* Step 2: one SIGKILL cycle. *takeover_ms gets the measured time. */
static int kill_cycle(int cycle, double *takeover_ms)
{
	struct proc *act, *other, *np;
	uint64_t e_old, e_new;
	int64_t t_kill, t_act;
	char name[32];
	int64_t bound = (O->ttl_ms + O->acquire_interval_ms) * MS;

	/* Kill at a random point of the renew cycle: the steps before end
	 * in step with it (right after an acquire). */
	sleep_ms(rand() % (O->ttl_ms / 3));
	if (who_is_active(&act, &other, &e_old) != 1 || other == NULL) {
		check(0, "cycle %d: one active node and one standby", cycle);
		return -1;
	}
	snprintf(name, sizeof(name), "%s", act->name);
	t_kill = lc_mono_ns();
	kill_proc(act);
	if (wait_state(other, SB_FENCE_ACTIVE, e_old + 1, t_kill,
		       (int)((bound + slack_ns) / MS) + 5000, &t_act, &e_new,
		       NULL, 0) != 0) {
		check(0, "cycle %d: after SIGKILL of %s, %s becomes active",
		      cycle, name, other->name);
		return -1;
	}
	*takeover_ms = ms_of(t_act - t_kill);
	check(e_new > e_old,
	      "cycle %d: %s active at epoch %" PRIu64 " > %" PRIu64, cycle,
	      other->name, e_new, e_old);
	check(t_act - t_kill <= bound + slack_ns,
	      "cycle %d: SIGKILL of %s -> %s active in %.0f ms (bound: ttl "
	      "%d + acquire_interval %d + slack %.0f)",
	      cycle, name, other->name, *takeover_ms, O->ttl_ms,
	      O->acquire_interval_ms, ms_of(slack_ns));
	note("takeover after SIGKILL, cycle %d: %.0f ms", cycle, *takeover_ms);
	np = spawn(name);
	if (np == NULL || wait_ready(np) != 0)
		return -1;
	{
		int s;
		uint64_t e;
		int64_t t;

		last_state(np, &s, &e, &t, NULL, 0);
		check(s == SB_FENCE_STANDBY,
		      "cycle %d: %s restarted: standby while %s holds the "
		      "lease",
		      cycle, name, other->name);
	}
	return 0;
}

/* Step 3: graceful stop hands the lease over without waiting for it to
 * expire. */
static int graceful_handover(double *handover_ms)
{
	struct proc *act, *other, *np;
	uint64_t e_old, e_new;
	int64_t t_quit, t_act;
	char name[32];
	int rc;

	if (who_is_active(&act, &other, &e_old) != 1 || other == NULL) {
		check(0, "graceful: one active node and one standby");
		return -1;
	}
	snprintf(name, sizeof(name), "%s", act->name);
	t_quit = lc_mono_ns();
	rc = quit_proc(act);
	check(rc == 0, "graceful: %s stopped (exit status %d)", name, rc);
	if (wait_state(other, SB_FENCE_ACTIVE, e_old + 1, t_quit,
		       O->ttl_ms + O->acquire_interval_ms + 5000, &t_act,
		       &e_new, NULL, 0) != 0) {
		check(0, "graceful: %s becomes active after %s stopped",
		      other->name, name);
		return -1;
	}
	*handover_ms = ms_of(t_act - t_quit);
	check(t_act - t_quit <= O->acquire_interval_ms * MS + slack_ns,
	      "graceful: %s stopped -> %s active at epoch %" PRIu64
	      " in %.0f ms (released, no TTL wait; bound acquire_interval "
	      "%d + slack)",
	      name, other->name, e_new, *handover_ms, O->acquire_interval_ms);
	np = spawn(name);
	if (np == NULL || wait_ready(np) != 0)
		return -1;
	return 0;
}

/* Step 4. *takeover_ms and *stale_ms get the measured times. */
static int pause_cycle(double *takeover_ms, double *stale_ms, int *retries)
{
	struct proc *p, *q;
	uint64_t e_old, e_new, e;
	int64_t t_stop = 0, t_cont, t_act, t_down;
	int64_t bound = (O->ttl_ms + O->acquire_interval_ms) * MS;
	char reason[300], line[700], detail[300], key[64];
	int state, rc = -1, paused = 0;
	long long left;
	uint8_t *val = NULL;
	size_t vlen;
	uint64_t ver;
	struct sb_error err;

	sleep_ms(rand() % (O->ttl_ms / 3)); /* as in kill_cycle */
	if (who_is_active(&p, &q, &e_old) != 1 || q == NULL) {
		check(0, "pause: one active node and one standby");
		return -1;
	}
	for (*retries = 0; *retries < 30 && !paused; (*retries)++) {
		int64_t t0, dt;
		int prc;

		kill(p->pid, SIGSTOP);
		t_stop = lc_mono_ns();
		for (int i = 0; i < 1000 && !is_stopped(p->pid); i++)
			sleep_ms(1);
		/* Does the stopped process hold the store's write lock? A
		 * renew of a lease nobody holds under this name must be
		 * refused at once. */
		memset(&err, 0, sizeof(err));
		t0 = lc_mono_ns();
		prc = dops->lease_renew(dinst, "lease-test-probe", 1, 1000,
					&err);
		dt = lc_mono_ns() - t0;
		if (prc == SB_EFENCED && dt < 150 * MS) {
			paused = 1;
			break;
		}
		note("pause: %s stopped holding the store's lock (probe: %s "
		     "in %.0f ms: %s); resuming and trying again",
		     p->name, sb_status_name(prc), ms_of(dt), err.msg);
		kill(p->pid, SIGCONT);
		sleep_ms(10 + rand() % 50);
	}
	if (!paused) {
		check(0, "pause: could not stop %s outside a write", p->name);
		return -1;
	}
	p->pause_start[p->n_pauses] = t_stop;
	if (wait_state(q, SB_FENCE_ACTIVE, e_old + 1, t_stop,
		       (int)((bound + slack_ns) / MS) + 5000, &t_act, &e_new,
		       NULL, 0) != 0) {
		check(0, "pause: %s becomes active while %s is stopped",
		      q->name, p->name);
		goto resume;
	}
	*takeover_ms = ms_of(t_act - t_stop);
	check(e_new > e_old && t_act - t_stop <= bound + slack_ns,
	      "pause: SIGSTOP of %s -> %s active at epoch %" PRIu64
	      " > %" PRIu64 " in %.0f ms",
	      p->name, q->name, e_new, e_old, *takeover_ms);
	/* Let the new holder renew a few times while the old one sleeps. */
	sleep_ms(O->ttl_ms / 2);
	rc = 0;
resume:
	t_cont = lc_mono_ns();
	kill(p->pid, SIGCONT);
	p->pause_end[p->n_pauses++] = t_cont;
	if (rc != 0)
		return -1;
	rc = -1;
	if (wait_state(p, SB_FENCE_STANDBY, 0, t_stop, 5000, &t_down, &e,
		       reason, sizeof(reason)) != 0) {
		check(0, "pause: %s steps down after SIGCONT", p->name);
		return -1;
	}
	*stale_ms = ms_of(t_down - t_cont);
	check(strstr(reason, "lease not renewed within") != NULL &&
		      strstr(reason, "stepped down") != NULL,
	      "pause: %s stepped down by itself: \"%s\"", p->name, reason);
	/* At once, as far as the scheduler lets it run: the slack bounds
	 * how long a loaded machine may keep it waiting for a CPU. */
	check(t_down >= t_cont && t_down - t_cont <= slack_ns,
	      "pause: %s stepped down %.1f ms after SIGCONT (at most the "
	      "slack, %.0f)",
	      p->name, *stale_ms, ms_of(slack_ns));
	rc = status_of(p, &state, &e, &left, detail, sizeof(detail));
	check(rc == 0 && state == SB_FENCE_STANDBY && e == 0 && left == -1,
	      "pause: %s reports standby: \"%s\"", p->name, detail);

	/* The old epoch is dead in the store: nothing it writes lands. */
	snprintf(key, sizeof(key), "fence/%s/%d", p->name, (int)p->pid);
	snprintf(line, sizeof(line), "stale-write %s", key);
	if (proc_cmd(p, line, line, sizeof(line), 10000) != 0) {
		check(0, "pause: %s answers stale-write", p->name);
		return -1;
	}
	{
		int wrc = 0;
		uint64_t we = 0;

		sscanf(line, "stale-write %d %" SCNu64, &wrc, &we);
		check(wrc == SB_EFENCED && we == e_old,
		      "pause: %s's batch at its old epoch %" PRIu64
		      " refused by the store: \"%s\"",
		      p->name, e_old, line);
	}
	memset(&err, 0, sizeof(err));
	rc = dops->get(dinst, key, &val, &vlen, &ver, &err);
	check(rc == SB_ENOTFOUND, "pause: nothing applied: get %s: %s", key,
	      sb_status_name(rc));
	free(val);
	rc = status_of(q, &state, &e, &left, detail, sizeof(detail));
	check(rc == 0 && state == SB_FENCE_ACTIVE && e == e_new,
	      "pause: %s still active at epoch %" PRIu64 ": \"%s\"", q->name,
	      e_new, detail);
	return 0;
}

/* ---- step 5: the logs of every process ---- */

struct piece {
	const struct proc *p;
	int64_t a, b; /* believed active from a to b */
	uint64_t epoch;
	int stale; /* after SIGCONT, before its own step-down */
};

struct activation {
	int64_t t;
	uint64_t epoch;
	const struct proc *p;
};

static int cmp_act(const void *x, const void *y)
{
	const struct activation *a = x, *b = y;

	return a->t < b->t ? -1 : a->t > b->t;
}

/* Adds p's belief [a, b] at epoch, cut at p's pauses: the part before a
 * SIGSTOP counts, the stopped part does not (a stopped process does
 * nothing), the part after SIGCONT is the stale window. */
static void add_interval(struct piece *pieces, int *n, int max,
			 const struct proc *p, int64_t a, int64_t b,
			 uint64_t epoch, double *max_stale)
{
	for (int s = 0; s < p->n_pauses; s++) {
		int64_t ps = p->pause_start[s], pe = p->pause_end[s];

		if (ps < a || ps >= b)
			continue;
		if (*n < max)
			pieces[(*n)++] = (struct piece){p, a, ps, epoch, 0};
		if (pe < b && *n < max) {
			pieces[(*n)++] = (struct piece){p, pe, b, epoch, 1};
			if (ms_of(b - pe) > *max_stale)
				*max_stale = ms_of(b - pe);
		}
		return;
	}
	if (*n < max)
		pieces[(*n)++] = (struct piece){p, a, b, epoch, 0};
}

#define MAX_PIECES 512
#define MAX_ACTS   256

static void analyse(void)
{
	struct piece pieces[MAX_PIECES];
	struct activation acts[MAX_ACTS];
	int n_pieces = 0, n_acts = 0, overlaps = 0, order_ok = 1;
	long acked = 0, refused = 0, superseded = 0, superseded_fenced = 0;
	long late_acks = 0, lost = 0, leaked = 0;
	double max_stale = 0;

	for (int i = 0; i < n_procs; i++) {
		const struct proc *p = &procs[i];
		struct ev *evs;
		int n;
		int64_t a = -1;
		uint64_t ep = 0;

		if (read_log(p, &evs, &n) != 0) {
			check(0, "read %s", p->log_path);
			continue;
		}
		for (int k = 0; k < n; k++) {
			if (evs[k].is_write)
				continue;
			if (evs[k].state == SB_FENCE_ACTIVE) {
				if (n_acts < MAX_ACTS)
					acts[n_acts++] = (struct activation){
						evs[k].t, evs[k].epoch, p};
				if (a < 0) {
					a = evs[k].t;
					ep = evs[k].epoch;
				}
			} else if (a >= 0) {
				add_interval(pieces, &n_pieces, MAX_PIECES, p,
					     a, evs[k].t, ep, &max_stale);
				a = -1;
			}
		}
		/* Still active when it died (SIGKILL). */
		if (a >= 0)
			add_interval(pieces, &n_pieces, MAX_PIECES, p, a,
				     p->t_end, ep, &max_stale);
		free(evs);
	}
	for (int i = 0; i < n_pieces; i++)
		for (int k = i + 1; k < n_pieces; k++) {
			const struct piece *x = &pieces[i], *y = &pieces[k];

			if (x->p == y->p || x->stale || y->stale)
				continue;
			if (x->a < y->b && y->a < x->b) {
				overlaps++;
				note("OVERLAP: %s#%d active %.1f..%.1f ms at "
				     "epoch %" PRIu64 ", %s#%d %.1f..%.1f ms "
				     "at epoch %" PRIu64,
				     x->p->name, x->p->incarnation, ms_of(x->a),
				     ms_of(x->b), x->epoch, y->p->name,
				     y->p->incarnation, ms_of(y->a),
				     ms_of(y->b), y->epoch);
			}
		}
	check(n_pieces >= 2 && overlaps == 0,
	      "logs: %d active intervals of %d processes, none overlapping "
	      "another process's (post-SIGCONT window exempt: %.1f ms)",
	      n_pieces, n_procs, max_stale);

	qsort(acts, (size_t)n_acts, sizeof(acts[0]), cmp_act);
	for (int i = 1; i < n_acts; i++)
		if (acts[i].epoch <= acts[i - 1].epoch)
			order_ok = 0;
	check(n_acts >= 2 && order_ok,
	      "logs: %d activations, each at a strictly larger epoch", n_acts);

	/* Every write against the store: a write begun after a larger epoch
	 * was taken must be refused; acknowledged ones are all there;
	 * refused ones left nothing. */
	for (int i = 0; i < n_procs; i++) {
		const struct proc *p = &procs[i];
		struct ev *evs;
		int n;

		if (read_log(p, &evs, &n) != 0)
			continue;
		for (int k = 0; k < n; k++) {
			struct ev *w = &evs[k];
			struct sb_error err = {{0}};
			uint8_t *val = NULL;
			size_t vlen;
			uint64_t ver;
			int grc, sup = -1;

			if (!w->is_write)
				continue;
			for (int a = 0; a < n_acts && sup < 0; a++)
				if (acts[a].epoch > w->epoch &&
				    acts[a].t <= w->t)
					sup = a;
			grc = dops->get(dinst, w->text, &val, &vlen, &ver,
					&err);
			free(val);
			if (sup >= 0) {
				superseded++;
				superseded_fenced += w->rc == SB_EFENCED;
			}
			if (w->rc == SB_OK) {
				acked++;
				if (grc != SB_OK)
					lost++;
				if (sup >= 0) {
					late_acks++;
					note("LATE ACK: %s at epoch %" PRIu64
					     " began %.1f ms after epoch "
					     "%" PRIu64 " was taken",
					     w->text, w->epoch,
					     ms_of(w->t - acts[sup].t),
					     acts[sup].epoch);
				}
			} else {
				refused++;
				if (grc != SB_ENOTFOUND)
					leaked++;
			}
		}
		free(evs);
	}
	check(acked > 0 && lost == 0,
	      "writes: %ld acknowledged, all in the store", acked);
	check(late_acks == 0,
	      "writes: %ld begun at an epoch already superseded (by a "
	      "resumed node), none acknowledged (%ld refused as fenced)",
	      superseded, superseded_fenced);
	check(leaked == 0, "writes: %ld refused, none applied", refused);
}

/* ---- setup ---- */

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int driver_open(void)
{
	struct sb_error err = {{0}};
	char lerr[512];
	int rc;

	if (sb_plugin_load(O->plugin_dir, SB_PLUGIN_STORAGE, O->plugin, &dplug,
			   lerr, sizeof(lerr)) != 0) {
		check(0, "load storage plugin: %s", lerr);
		return -1;
	}
	dops = sb_plugin_storage(&dplug);
	dhost = sb_host_new("storage", O->plugin, state_dir, "lease-test");
	dcfg = sb_config_new("storage");
	if (dhost == NULL || dcfg == NULL ||
	    sb_config_set(dcfg, "plugin", O->plugin) != 0)
		return -1;
	for (int pass = 0; pass < 2; pass++) {
		const char *const *sets = pass ? O->driver_sets : O->sets;
		int n = pass ? O->n_driver_sets : O->n_sets;

		for (int i = 0; i < n; i++) {
			char key[128];
			const char *eq = strchr(sets[i], '=');

			if (eq == NULL || eq == sets[i]) {
				check(0, "setting \"%s\": want key=value",
				      sets[i]);
				return -1;
			}
			snprintf(key, sizeof(key), "%.*s", (int)(eq - sets[i]),
				 sets[i]);
			if (sb_config_set(dcfg, key, eq + 1) != 0)
				return -1;
		}
	}
	/* Made (file, schema, ...) here first, so the nodes never race to
	 * create it. */
	rc = dops->open(dhost, dcfg, &dinst, &err);
	if (rc != SB_OK) {
		check(0, "open storage %s: %s", O->plugin, err.msg);
		return -1;
	}
	return 0;
}

static void driver_close(void)
{
	if (dinst)
		dops->close(dinst);
	sb_config_free(dcfg);
	sb_host_free(dhost);
	if (dplug.dl)
		sb_plugin_unload(&dplug);
}

static int driver_main(const struct lc_opts *o)
{
	double kill_ms[16], handover_ms = 0, pause_ms = 0, stale_ms = 0;
	int n_kill = 0, own_dir = 0, retries = 0, ok = -1;
	const char *slack = getenv("SB_LEASE_SLACK_MS");

	O = o;
	slack_ns = (slack ? atoi(slack) : DEFAULT_SLACK_MS) * MS;
	srand((unsigned)getpid());
	if (o->state_dir) {
		snprintf(state_dir, sizeof(state_dir), "%s", o->state_dir);
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(state_dir, sizeof(state_dir), "%s/sb-lease-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(state_dir) == NULL) {
			fprintf(stderr, "mkdtemp %s: %s\n", state_dir,
				strerror(errno));
			return 1;
		}
		own_dir = 1;
	}
	note("storage %s, state dir %s, ttl %d ms, acquire every %d ms, "
	     "slack %.0f ms",
	     o->plugin, state_dir, o->ttl_ms, o->acquire_interval_ms,
	     ms_of(slack_ns));
	if (driver_open() != 0)
		goto done;
	if (first_election() != 0)
		goto done;
	for (int i = 0; i < o->kill_cycles && i < 16; i++) {
		if (kill_cycle(i + 1, &kill_ms[n_kill]) != 0)
			goto done;
		n_kill++;
	}
	if (graceful_handover(&handover_ms) != 0)
		goto done;
	if (pause_cycle(&pause_ms, &stale_ms, &retries) != 0)
		goto done;
	ok = 0;
done:
	/* Stop the rest as the daemon would, then read the record. */
	for (int i = 0; i < n_procs; i++)
		if (procs[i].alive) {
			int rc = quit_proc(&procs[i]);

			if (ok == 0)
				check(rc == 0, "%s#%d stops cleanly (%d)",
				      procs[i].name, procs[i].incarnation, rc);
		}
	if (ok == 0 && dinst)
		analyse();
	figures("takeover after SIGKILL", kill_ms, n_kill);
	if (ok == 0) {
		note("handover after a clean stop: %.0f ms", handover_ms);
		note("takeover after SIGSTOP: %.0f ms; resumed node stepped "
		     "down %.1f ms after SIGCONT (%d pause retries)",
		     pause_ms, stale_ms, retries);
	}
	if (ok != 0 && n_failed == 0)
		check(0, "scenario completed");
	if (n_failed > 0) {
		for (int i = 0; i < n_procs; i++) {
			dump_file(procs[i].log_path, 60);
			dump_file(procs[i].err_path, 60);
		}
	}
	driver_close();
	printf("%d passed, %d failed\n", n_checks - n_failed, n_failed);
	if (own_dir && n_failed == 0 && !o->keep)
		nftw(state_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else if (own_dir)
		printf("# state kept in %s\n", state_dir);
	return n_failed == 0 ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: sb-fencing-lease-cluster --plugin-dir DIR --plugin "
		"NAME "
		"[--set k=v]... [--driver-set k=v]... [--state-dir DIR] "
		"[--ttl-ms N] [--acquire-interval-ms N] [--kill-cycles N] "
		"[--write-every-ms N] [--keep]\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"plugin-dir", required_argument, NULL, 'd'},
		{"plugin", required_argument, NULL, 'p'},
		{"set", required_argument, NULL, 's'},
		{"driver-set", required_argument, NULL, 'D'},
		{"state-dir", required_argument, NULL, 'S'},
		{"ttl-ms", required_argument, NULL, 't'},
		{"acquire-interval-ms", required_argument, NULL, 'a'},
		{"kill-cycles", required_argument, NULL, 'k'},
		{"write-every-ms", required_argument, NULL, 'w'},
		{"keep", no_argument, NULL, 'K'},
		{"node", required_argument, NULL, 'n'},
		{"log", required_argument, NULL, 'l'},
		{NULL, 0, NULL, 0},
	};
	struct lc_opts o = {
		.ttl_ms = 600, .kill_cycles = 3, .write_every_ms = 5};
	int c;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o.plugin_dir = optarg; break;
		case 'p': o.plugin = optarg; break;
		case 's':
			if (o.n_sets >= LC_MAX_SETS)
				return 2;
			o.sets[o.n_sets++] = optarg;
			break;
		case 'D':
			if (o.n_driver_sets >= LC_MAX_SETS)
				return 2;
			o.driver_sets[o.n_driver_sets++] = optarg;
			break;
		case 'S': o.state_dir = optarg; break;
		case 't': o.ttl_ms = atoi(optarg); break;
		case 'a': o.acquire_interval_ms = atoi(optarg); break;
		case 'k': o.kill_cycles = atoi(optarg); break;
		case 'w': o.write_every_ms = atoi(optarg); break;
		case 'K': o.keep = 1; break;
		case 'n': o.node = optarg; break;
		case 'l': o.log_path = optarg; break;
		default: usage(); return 2;
		}
	}
	if (o.plugin_dir == NULL || o.plugin == NULL || o.ttl_ms < 200 ||
	    o.write_every_ms < 0 || optind != argc) {
		usage();
		return 2;
	}
	if (o.acquire_interval_ms <= 0)
		o.acquire_interval_ms = o.ttl_ms / 3;
	if (o.node != NULL) {
		if (o.log_path == NULL || o.state_dir == NULL) {
			usage();
			return 2;
		}
		return lc_node_main(&o);
	}
	sb_log_setup(SB_LOG_WARNING, 0, "sb-fencing-lease-cluster");
	return driver_main(&o);
}
