/*
 * Redis storage plugin: shared definitions.
 *
 * The plugin is split by concern:
 *   redis_settings.c  parses and checks the [storage] settings
 *   redis_scripts.c   the Lua scripts, one per storage operation
 *   redis_sentinel.c  finds the primary through Redis Sentinel
 *   redis_conn.c      the connection pool: connect, handshake, backoff,
 *                     script calls (EVALSHA/NOSCRIPT), WAIT, error mapping
 *   redis_storage.c   struct sb_storage_ops on top of the scripts
 *
 * Every storage operation is one EVALSHA of one script; the script does the
 * fencing-epoch check, the version preconditions and the writes atomically
 * on the server, and reads the lease clock with redis.call('TIME').
 */
#ifndef SB_REDIS_INTERNAL_H
#define SB_REDIS_INTERNAL_H

#include <secretbroker/plugin.h>

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

/* Longest host name or Unix socket path we accept. */
#define RS_HOST_MAX 256
/* "host:port" or a socket path, for messages. */
#define RS_ADDR_MAX	 (RS_HOST_MAX + 8)
#define RS_SENTINELS_MAX 16
#define RS_POOL_MAX	 64
#define RS_PREFIX_MAX	 256
#define RS_PASSWORD_MAX	 4096
/* The version of the key layout written to <prefix>meta (field "layout"). */
#define RS_LAYOUT_VERSION "1"

/* Reconnect backoff after a failed connection attempt: the first retry may
 * happen after RS_BACKOFF_MIN_MS, doubling on each further failure up to
 * reconnect_backoff_max_ms. */
#define RS_BACKOFF_MIN_MS 50

struct rs_endpoint {
	char host[RS_HOST_MAX];
	int port;
};

/* The parsed [storage] section. Strings point into the host's config (they
 * live as long as the instance) except the password, which is a copy in
 * host->secure_alloc memory. */
struct rs_settings {
	const char *host; /* NULL when socket or sentinels are used */
	int port;
	const char *socket_path; /* NULL unless socket = ... */
	const char *user;	 /* NULL: the default user */
	const char *password_file;
	char *password;	       /* secure memory, NUL-terminated, or NULL */
	size_t password_alloc; /* size given to secure_alloc */
	long long db;
	const char *key_prefix;
	int connect_timeout_ms;
	int op_timeout_ms;
	struct rs_endpoint sentinels[RS_SENTINELS_MAX];
	size_t n_sentinels;
	const char *master_name;
	int wait_replicas;
	int wait_timeout_ms;
	int pool_size;
	int reconnect_backoff_max_ms;
	int sentinel_check_interval_ms; /* 0: never while all is well */
};

/* Parses and checks the settings; on success the caller must call
 * rs_settings_clear. Returns SB_OK or SB_EINVAL (err names section and key). */
int rs_settings_parse(const struct sb_host *host, const struct sb_config *cfg,
		      struct rs_settings *out, struct sb_error *err);
/* Wipes and frees the password copy. */
void rs_settings_clear(const struct sb_host *host, struct rs_settings *s);

/* The scripts. Their KEYS and ARGV are documented in redis_scripts.c. */
enum rs_script {
	RS_SCRIPT_GET = 0,
	RS_SCRIPT_SCAN,
	RS_SCRIPT_BATCH,
	RS_SCRIPT_LEASE_ACQUIRE,
	RS_SCRIPT_LEASE_RENEW,
	RS_SCRIPT_LEASE_RELEASE,
	RS_SCRIPT_LEASE_READ,
	RS_SCRIPT_FENCE_TAKEOVER,
	RS_SCRIPT_COUNT
};

struct rs_script_def {
	const char *name;   /* for messages: "batch" */
	const char *source; /* Lua */
	int numkeys;	    /* how many of the arguments are KEYS */
	int writes;	    /* 1 when it may write (WAIT applies) */
};

extern const struct rs_script_def rs_scripts[RS_SCRIPT_COUNT];

/* One pooled connection; used by one thread at a time (busy). */
struct rs_conn {
	redisContext *c;
	uint64_t gen;		/* instance generation it was opened in */
	char addr[RS_ADDR_MAX]; /* where it is connected, for messages */
	int busy;
};

struct rs_inst {
	const struct sb_host *host;
	struct rs_settings set;

	/* Redis key names, all <prefix>NAME; see docs/storage-redis.md. */
	char k_data[RS_PREFIX_MAX + 8];
	char k_ver[RS_PREFIX_MAX + 8];
	char k_idx[RS_PREFIX_MAX + 8];
	char k_epoch[RS_PREFIX_MAX + 8];
	char k_lease[RS_PREFIX_MAX + 8];
	char k_meta[RS_PREFIX_MAX + 8];

	/* SHA1 of each script as the server reported it at SCRIPT LOAD; set
	 * at open by the first connection and never changed afterwards. */
	char sha[RS_SCRIPT_COUNT][41];

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;  /* a pool slot became free */
	struct rs_conn pool[RS_POOL_MAX];

	/* The server connections go to. In sentinel mode have_primary is 0
	 * until a sentinel named one, and again after a failover, a lost
	 * connection or a READONLY reply, which also bump gen so every pooled
	 * connection to the old primary is dropped on its next use. */
	struct rs_endpoint primary;
	int have_primary;
	struct rs_endpoint last_primary; /* the last one logged; port 0: none */
	uint64_t gen;
	size_t sentinel_next;	/* the sentinel to ask first */
	uint64_t recheck_at_ms; /* next periodic check of the sentinels */
	int rechecking;		/* a thread is doing that check */

	/* Backoff after failed connection attempts. */
	unsigned fail_count;
	uint64_t retry_at_ms;
	char last_err[SB_ERROR_MAX];

	/* The server whose durability settings were last checked and logged. */
	char checked_addr[RS_ADDR_MAX];

	pthread_mutex_t discover_mu; /* one Sentinel discovery at a time */
};

/* ---- redis_sentinel.c ---- */

/* Asks the configured sentinels, in order starting with the last one that
 * answered, for the address of master_name. Each sentinel gets
 * connect_timeout_ms to connect and op_timeout_ms to answer. On SB_OK fills
 * *out; otherwise SB_EUNAVAIL with every sentinel's reason in err. Does not
 * touch in->mu. */
int rs_sentinel_discover(struct rs_inst *in, struct rs_endpoint *out,
			 struct sb_error *err);

/* ---- redis_conn.c ---- */

/* Initialises the pool and opens the first connection (which loads the
 * scripts and checks durability). Returns SB_OK or a status with err. */
int rs_pool_init(struct rs_inst *in, struct sb_error *err);
/* Closes every connection. No call may be in flight. */
void rs_pool_destroy(struct rs_inst *in);

/* hiredis writes with write(2), which raises SIGPIPE on a connection the
 * server closed; the host process may not ignore SIGPIPE, so every call
 * that does network I/O blocks it in the calling thread and swallows a
 * SIGPIPE it caused (as libpq does). */
struct rs_sigpipe_guard {
	sigset_t old;
	int was_pending;
};

void rs_sigpipe_block(struct rs_sigpipe_guard *g);
void rs_sigpipe_restore(struct rs_sigpipe_guard *g);

/* A struct timeval of ms milliseconds. */
struct timeval rs_ms_tv(int ms);
/* A failed read or write: did the socket timeout (SO_RCVTIMEO) expire? */
int rs_io_timed_out(const redisContext *c, int saved_errno);
/* Maps a Redis error reply to a status. */
int rs_reply_error_status(const char *msg);

/* Takes a connection from the pool, (re)connecting as the failure policy
 * says; waits at most op_timeout_ms for a free one. Returns SB_OK with
 * *out, or a status with err. */
int rs_conn_get(struct rs_inst *in, struct rs_conn **out, struct sb_error *err);
/* Gives conn back; drop closes it first (its state is unknown). */
void rs_conn_put(struct rs_inst *in, struct rs_conn *conn, int drop);
/* A connection of generation gen was lost: bumps the generation so every
 * connection reconnects and, with Sentinel, forgets the primary. */
void rs_invalidate(struct rs_inst *in, uint64_t gen);

/* ---- redis_cmd.c ---- */

/* Runs script s with args (the script's numkeys keys first, then its ARGV)
 * on a pooled connection. On SB_OK *reply is the server's reply, which the
 * caller frees with freeReplyObject; a Redis error reply is turned into a
 * status and message here, so *reply is never an error reply. For a script
 * that writes, when wait_replicas > 0 and the script reports a write (its
 * reply is an array whose first element is the integer 0), waits with WAIT
 * for the replicas on the same connection and fails with SB_ETIMEOUT when
 * they do not acknowledge in time (the reply is then still returned, so
 * outputs can be filled). what names the operation for messages. */
int rs_eval(struct rs_inst *in, enum rs_script s, int nargs, const char **argv,
	    const size_t *argvlen, redisReply **reply, struct sb_error *err);

/* Runs one plain command (argv[0] is the command) the same way, without
 * WAIT. Used at open for the layout marker. */
int rs_command(struct rs_inst *in, const char *what, int nargs,
	       const char **argv, const size_t *argvlen, redisReply **reply,
	       struct sb_error *err);

/* Formats an endpoint as "host:port" ("[v6]:port"). */
void rs_endpoint_str(const struct rs_endpoint *e, char *buf, size_t len);

#endif
