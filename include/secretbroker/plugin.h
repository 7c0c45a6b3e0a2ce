/*
 * secretbroker plugin ABI.
 *
 * This is the one header a plugin author needs. A plugin is a shared object
 * that exports one function, SB_PLUGIN_ENTRY_SYMBOL ("sb_plugin_entry"),
 * returning a pointer to a const struct sb_plugin_descriptor. The daemon
 * loads it with dlopen(RTLD_NOW) and refuses it (one log line naming the file
 * and both ABI versions) when the descriptor's size or ABI major differ from
 * its own, or when the plugin is not of the kind the config asked for.
 *
 * Compatibility rules, in the manner of OpenSSL 3's dispatch tables:
 *   - every struct below begins with its size; new members are only ever
 *     appended, and a new member raises SB_PLUGIN_ABI_MINOR;
 *   - an ops member a plugin does not support is NULL;
 *   - a change that is not an append raises SB_PLUGIN_ABI_MAJOR, and the
 *     loader refuses plugins built against another major.
 *
 * Plugins never see the daemon's structures and never link against its
 * libraries; everything they need from the host comes through
 * struct sb_host. Build out of tree with
 *   cc -shared -fPIC $(pkg-config --cflags secretbroker) -o myplugin.so ...
 *
 * Threads: every ops function of an opened instance may be called from
 * several threads at once unless its comment says otherwise; a plugin that
 * wraps a non-thread-safe client library serialises or pools internally.
 */
#ifndef SECRETBROKER_PLUGIN_H
#define SECRETBROKER_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SB_PLUGIN_ABI_MAJOR 1
#define SB_PLUGIN_ABI_MINOR 2

#define SB_PLUGIN_ENTRY_SYMBOL "sb_plugin_entry"

#if defined(__GNUC__)
#define SB_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define SB_PLUGIN_EXPORT
#endif

/* Declares the entry function; a plugin writes
 *   SB_PLUGIN_DEFINE(&my_descriptor)
 * once, at file scope. */
#define SB_PLUGIN_DEFINE(desc_ptr)                                             \
	SB_PLUGIN_EXPORT const struct sb_plugin_descriptor *sb_plugin_entry(   \
		void);                                                         \
	SB_PLUGIN_EXPORT const struct sb_plugin_descriptor *sb_plugin_entry(   \
		void)                                                          \
	{                                                                      \
		return (desc_ptr);                                             \
	}

/* ------------------------------------------------------------------ */
/* Status codes shared by every plugin kind. Zero is success; every    */
/* failure is negative and comes with a message in struct sb_error.    */
/* ------------------------------------------------------------------ */

enum sb_status {
	SB_OK = 0,
	SB_ERR = -1,	   /* failure not covered below */
	SB_ENOTFOUND = -2, /* key or lease does not exist */
	SB_ECONFLICT = -3, /* a per-key version precondition failed */
	SB_EFENCED = -4,   /* the batch's or renew's epoch is not current */
	SB_EBUSY = -5,	   /* the lease is held by someone else */
	SB_EUNAVAIL = -6,  /* backend unreachable (connection lost, down) */
	SB_ETIMEOUT = -7,  /* backend did not answer within the timeout */
	SB_EINVAL = -8,	   /* bad argument or config value */
	SB_ENOMEM = -9,	   /* out of memory */
	SB_EAUTH = -10,	   /* authentication failed: AEAD tag, sealed blob */
	SB_ENOTSUP = -11,  /* operation not supported by this plugin */
	SB_EEXPIRED = -12, /* the lease expired before the renew */
};

/* A plugin writes a one-line, human-readable reason here on failure. It
 * names what failed and where (server, file, key), never a secret. */
#define SB_ERROR_MAX 512
struct sb_error {
	char msg[SB_ERROR_MAX];
};

/* ------------------------------------------------------------------ */
/* Host services: what the daemon offers a plugin.                    */
/* ------------------------------------------------------------------ */

#define SB_HOST_VERSION 1

enum sb_log_level {
	SB_LOG_ERROR = 0,
	SB_LOG_WARNING = 1,
	SB_LOG_INFO = 2,
	SB_LOG_DEBUG = 3,
};

/* Opaque view of the plugin's own config section. */
struct sb_config;

struct sb_host {
	uint32_t size;	  /* sizeof(struct sb_host) as the host knows it */
	uint32_t version; /* SB_HOST_VERSION */

	/* Logs one line, prefixed by the host with the plugin's name. Never
	 * pass secret material. Safe from any thread. */
	void (*log)(const struct sb_host *host, int level, const char *fmt, ...)
#if defined(__GNUC__)
		__attribute__((format(printf, 3, 4)))
#endif
		;

	/* Secure memory: zeroed, mlock'ed, excluded from core dumps. Returns
	 * NULL on failure. secure_free wipes (explicit_bzero) and frees; n must
	 * be the size given to secure_alloc. secure_free(NULL, n) is a no-op.
	 */
	void *(*secure_alloc)(size_t n);
	void (*secure_free)(void *p, size_t n);

	/* The plugin's config section (the section that names the plugin, e.g.
	 * [storage] for a storage plugin). config_get returns the raw value or
	 * def when the key is absent; the string lives as long as the opened
	 * instance. config_get_int parses a decimal integer; on a value that is
	 * not one it writes a message naming section and key into err and
	 * returns SB_EINVAL. config_get_bool accepts
	 * true/false/yes/no/on/off/1/0 in the same way. config_section names
	 * the section ("storage"). */
	const char *(*config_get)(const struct sb_config *cfg, const char *key,
				  const char *def);
	int (*config_get_int)(const struct sb_config *cfg, const char *key,
			      long long def, long long *out,
			      struct sb_error *err);
	int (*config_get_bool)(const struct sb_config *cfg, const char *key,
			       int def, int *out, struct sb_error *err);
	const char *(*config_section)(const struct sb_config *cfg);

	/* Clocks in milliseconds: wall (CLOCK_REALTIME, for timestamps) and
	 * monotonic (CLOCK_MONOTONIC, for deadlines and timeouts). */
	uint64_t (*wall_ms)(void);
	uint64_t (*mono_ms)(void);

	/* Daemon facts: the state directory (0700, owned by the daemon user)
	 * and this node's name. Both valid for the life of the instance. */
	const char *state_dir;
	const char *node_name;

	/* Host-private; plugins must not touch it. */
	void *host_private;
};

/* ------------------------------------------------------------------ */
/* Descriptor                                                          */
/* ------------------------------------------------------------------ */

enum sb_plugin_kind {
	SB_PLUGIN_STORAGE = 1,
	SB_PLUGIN_CRYPTO = 2,
	SB_PLUGIN_FENCING = 3,
};

struct sb_plugin_descriptor {
	uint32_t size;	     /* sizeof(struct sb_plugin_descriptor) */
	uint16_t abi_major;  /* SB_PLUGIN_ABI_MAJOR at build time */
	uint16_t abi_minor;  /* SB_PLUGIN_ABI_MINOR at build time */
	uint32_t kind;	     /* enum sb_plugin_kind */
	const char *name;    /* short name, e.g. "sqlite" */
	const char *version; /* the plugin's own version, e.g. "0.1.0" */
	const char *description;
	/* Points to struct sb_storage_ops, sb_crypto_ops or sb_fencing_ops
	 * according to kind. */
	const void *ops;

	/* ABI 1.1: the NULL-terminated list of the settings the plugin reads
	 * from its section (besides "plugin"). The daemon then refuses any
	 * other key there, naming it, so a misspelt setting is an error, not
	 * a silently applied default. NULL: not declared, nothing checked. */
	const char *const *settings;
};

/* ------------------------------------------------------------------ */
/* Storage: a small, durable key/value store with fencing.             */
/* ------------------------------------------------------------------ */

/* Keys are NUL-terminated UTF-8 strings of 1..SB_KEY_MAX bytes, compared
 * bytewise (memcmp order). Values are opaque bytes of 0..SB_VALUE_MAX. Every
 * key has a version: 1 when created, +1 on every put; a deleted and
 * recreated key starts at 1 again. */
#define SB_KEY_MAX   1024
#define SB_VALUE_MAX (1024 * 1024)

enum sb_batch_op_type {
	SB_OP_PUT = 1,
	SB_OP_DELETE = 2,
};

enum sb_precondition {
	SB_PRE_NONE = 0,    /* no check */
	SB_PRE_ABSENT = 1,  /* the key must not exist */
	SB_PRE_VERSION = 2, /* the key must exist with version == version */
};

struct sb_batch_op {
	uint32_t type;	       /* enum sb_batch_op_type */
	uint32_t precondition; /* enum sb_precondition */
	uint64_t version;      /* for SB_PRE_VERSION */
	const char *key;
	const uint8_t *value; /* for SB_OP_PUT */
	size_t value_len;
};

struct sb_batch {
	const struct sb_batch_op *ops;
	size_t n_ops;
	/* 0: no fencing check. Otherwise the backend's current fencing epoch
	 * must equal this, checked atomically with the writes. */
	uint64_t epoch;
	/* Optional output, n_ops entries: the version each key has after the
	 * batch (0 for a delete). May be NULL. */
	uint64_t *versions_out;
	/* Optional output: on SB_ECONFLICT, the index of the first op whose
	 * precondition failed. May be NULL. */
	size_t *failed_op;
};

/* Lease state as the backend sees it, on the backend's own clock. */
struct sb_lease_info {
	char holder[256];    /* "" when nobody holds it */
	uint64_t epoch;	     /* the current fencing epoch (0 if never taken) */
	int64_t ttl_left_ms; /* >0 held; <=0 expired or free */
	int held;	     /* 1 when held and not expired */
};

/* Called once per scanned item, in key order. The pointers are valid only
 * during the call. Return 0 to go on, non-zero to stop the scan early
 * (the scan then returns SB_OK). */
/* Ops tables grow only by appending. SB_OPS_SIZE_THROUGH(type, member) is
 * the size a table must have to hold member; SB_OPS_HAS(ops, member) is
 * true when the table (whose first field is its uint32_t size) is large
 * enough to hold member and member is set. The host calls any member
 * appended after 1.0 only through SB_OPS_HAS; a plugin checks the struct
 * sb_host table the same way. (SB_OPS_HAS uses __typeof__, a GNU C
 * extension that GCC and Clang both have.) */
#define SB_OPS_SIZE_THROUGH(type, member)                                      \
	(offsetof(type, member) + sizeof(((type *)0)->member))
#define SB_OPS_HAS(ops, member)                                                \
	((ops)->size >= SB_OPS_SIZE_THROUGH(__typeof__(*(ops)), member) &&     \
	 (ops)->member != NULL)

typedef int (*sb_scan_cb)(void *arg, const char *key, const uint8_t *value,
			  size_t value_len, uint64_t version);

struct sb_storage_ops {
	uint32_t size; /* sizeof(struct sb_storage_ops) */

	/* Opens an instance from the plugin's config section: connects,
	 * creates or migrates its schema. Returns SB_OK and sets *out, or a
	 * status with err filled. Never blocks longer than its configured
	 * timeouts. */
	int (*open)(const struct sb_host *host, const struct sb_config *cfg,
		    void **out, struct sb_error *err);
	/* Closes and frees the instance; no call may be in flight. */
	void (*close)(void *inst);

	/* Reads one key. On SB_OK, *value is malloc'ed (caller frees with
	 * free(); for a zero-length value it is a valid 1-byte allocation),
	 * *value_len and *version set. SB_ENOTFOUND if absent. value may be
	 * NULL to fetch the version only. */
	int (*get)(void *inst, const char *key, uint8_t **value,
		   size_t *value_len, uint64_t *version, struct sb_error *err);

	/* Calls cb for keys that start with prefix and sort strictly after
	 * `after` ("" or NULL: from the first), in ascending order, at most
	 * limit items (0: no limit). Sets *last_key (caller-provided buffer of
	 * SB_KEY_MAX + 1 bytes, may be NULL) to the last key delivered, ""
	 * when none, so the caller can page. Reads a consistent snapshot. */
	int (*scan)(void *inst, const char *prefix, const char *after,
		    size_t limit, sb_scan_cb cb, void *arg, char *last_key,
		    struct sb_error *err);

	/* Applies every op of the batch or none: SB_ECONFLICT when a
	 * precondition fails, SB_EFENCED when batch->epoch is non-zero and is
	 * not the backend's current epoch, checked atomically with the writes.
	 * Ops on the same key apply in order. */
	int (*batch_apply)(void *inst, const struct sb_batch *batch,
			   struct sb_error *err);

	/* The one fencing lease of this store. Expiry is judged on the
	 * backend's clock, never the caller's.
	 *
	 * lease_acquire: succeeds only when the lease is free or expired; sets
	 *   the holder, the expiry (now + ttl_ms) and a new epoch strictly
	 *   larger than any epoch this store ever issued, returned in *epoch.
	 *   SB_EBUSY (err names the holder) when someone holds it, including
	 *   the same holder.
	 * lease_renew: extends the expiry to now + ttl_ms only when holder and
	 *   epoch match and the lease has not expired. Never creates a lease,
	 *   never changes the epoch. SB_EFENCED when holder or epoch differ (or
	 *   the lease is gone), SB_EEXPIRED when it matched but had expired.
	 * lease_release: frees the lease when holder and epoch match (the epoch
	 *   counter is kept); SB_EFENCED otherwise.
	 * lease_read: the current state, *info filled.
	 * fence_takeover: unconditionally makes holder the holder with a new,
	 *   strictly larger epoch; ttl_ms 0 means no expiry (the external
	 *   cluster manager, not the lease, decides who is active). */
	int (*lease_acquire)(void *inst, const char *holder, uint32_t ttl_ms,
			     uint64_t *epoch, struct sb_error *err);
	int (*lease_renew)(void *inst, const char *holder, uint64_t epoch,
			   uint32_t ttl_ms, struct sb_error *err);
	int (*lease_release)(void *inst, const char *holder, uint64_t epoch,
			     struct sb_error *err);
	int (*lease_read)(void *inst, struct sb_lease_info *info,
			  struct sb_error *err);
	int (*fence_takeover)(void *inst, const char *holder, uint32_t ttl_ms,
			      uint64_t *epoch, struct sb_error *err);
};

/* The size of the ABI 1.0 storage table: the loader refuses a smaller one
 * and accepts any larger one, so members appended later never refuse a
 * plugin built before them. Frozen: a new member goes after
 * fence_takeover and is called only when SB_OPS_HAS() says so. Required
 * (checked non-NULL at load): open, close, get, scan, batch_apply. The
 * lease_* and fence_takeover members may be NULL: lease fencing then
 * cannot run on that storage (SB_ENOTSUP). */
#define SB_STORAGE_OPS_SIZE_1_0                                                \
	SB_OPS_SIZE_THROUGH(struct sb_storage_ops, fence_takeover)

/* ------------------------------------------------------------------ */
/* Crypto                                                              */
/* ------------------------------------------------------------------ */

#define SB_AEAD_KEY_LEN	  32 /* AES-256-GCM */
#define SB_AEAD_NONCE_LEN 12 /* 96-bit nonce */
#define SB_AEAD_TAG_LEN	  16

struct sb_crypto_ops {
	uint32_t size; /* sizeof(struct sb_crypto_ops) */

	/* Opens an instance. A plugin that seals at rest locates or creates
	 * its key material here (the openssl plugin: a key file, 0600, in
	 * host->state_dir unless configured) and refuses files or
	 * directories that group or others can read. */
	int (*open)(const struct sb_host *host, const struct sb_config *cfg,
		    void **out, struct sb_error *err);
	void (*close)(void *inst);

	/* Fills buf with n cryptographically strong random bytes. */
	int (*random)(void *inst, uint8_t *buf, size_t n, struct sb_error *err);

	/* AES-256-GCM with an explicit 96-bit nonce (the caller makes it
	 * fresh and random). ct has pt_len bytes, tag SB_AEAD_TAG_LEN. aad may
	 * be NULL when aad_len is 0. aead_decrypt returns SB_EAUTH when the
	 * tag does not verify, and then leaves pt zeroed. */
	int (*aead_encrypt)(void *inst, const uint8_t key[SB_AEAD_KEY_LEN],
			    const uint8_t nonce[SB_AEAD_NONCE_LEN],
			    const uint8_t *aad, size_t aad_len,
			    const uint8_t *pt, size_t pt_len, uint8_t *ct,
			    uint8_t tag[SB_AEAD_TAG_LEN], struct sb_error *err);
	int (*aead_decrypt)(void *inst, const uint8_t key[SB_AEAD_KEY_LEN],
			    const uint8_t nonce[SB_AEAD_NONCE_LEN],
			    const uint8_t *aad, size_t aad_len,
			    const uint8_t *ct, size_t ct_len,
			    const uint8_t tag[SB_AEAD_TAG_LEN], uint8_t *pt,
			    struct sb_error *err);

	/* HKDF-SHA256 (RFC 5869): out_len bytes from ikm, salt (may be NULL)
	 * and info. */
	int (*kdf)(void *inst, const uint8_t *ikm, size_t ikm_len,
		   const uint8_t *salt, size_t salt_len, const uint8_t *info,
		   size_t info_len, uint8_t *out, size_t out_len,
		   struct sb_error *err);

	/* Password-based key derivation, scrypt (RFC 7914) with N = 2^log2_n.
	 * Slow by design: the daemon never calls it on a request thread. */
	int (*password_kdf)(void *inst, const char *password,
			    size_t password_len, const uint8_t *salt,
			    size_t salt_len, uint32_t log2_n, uint32_t r,
			    uint32_t p, uint8_t *out, size_t out_len,
			    struct sb_error *err);

	/* Seals data (the master secret) for storage at rest on this node
	 * only. *out is malloc'ed (caller frees). */
	int (*seal)(void *inst, const uint8_t *pt, size_t pt_len, uint8_t **out,
		    size_t *out_len, struct sb_error *err);
	/* Reverses seal. *pt is allocated with host->secure_alloc(*pt_len);
	 * the caller releases it with host->secure_free(*pt, *pt_len).
	 * SB_EAUTH when the blob was not sealed by this node's key or was
	 * altered. */
	int (*unseal)(void *inst, const uint8_t *in, size_t in_len,
		      uint8_t **pt, size_t *pt_len, struct sb_error *err);
};

/* The size of the ABI 1.0 crypto table (see SB_STORAGE_OPS_SIZE_1_0).
 * Every 1.0 member is required: open, close, random, aead_encrypt,
 * aead_decrypt, kdf, password_kdf, seal, unseal. */
#define SB_CRYPTO_OPS_SIZE_1_0 SB_OPS_SIZE_THROUGH(struct sb_crypto_ops, unseal)

/* ------------------------------------------------------------------ */
/* Fencing: decides whether this node is the active master secret      */
/* server, and holds the fencing epoch it was elected at.              */
/* ------------------------------------------------------------------ */

enum sb_fence_state {
	SB_FENCE_STANDBY = 0,
	SB_FENCE_ACTIVE = 1,
};

/* What the core gives a started fencing instance. The lease functions act
 * on the current storage instance's lease (see struct sb_storage_ops).
 * state_changed tells the core of every transition; the epoch is the one
 * the node became active at (0 on standby). It may be called from any
 * thread, including from inside start(). */
struct sb_fence_hooks {
	uint32_t size; /* sizeof(struct sb_fence_hooks) */
	void *arg;     /* passed back to every hook */
	void (*state_changed)(void *arg, int state, uint64_t epoch,
			      const char *reason);
	int (*lease_acquire)(void *arg, const char *holder, uint32_t ttl_ms,
			     uint64_t *epoch, struct sb_error *err);
	int (*lease_renew)(void *arg, const char *holder, uint64_t epoch,
			   uint32_t ttl_ms, struct sb_error *err);
	int (*lease_release)(void *arg, const char *holder, uint64_t epoch,
			     struct sb_error *err);
	int (*lease_read)(void *arg, struct sb_lease_info *info,
			  struct sb_error *err);
	int (*fence_takeover)(void *arg, const char *holder, uint32_t ttl_ms,
			      uint64_t *epoch, struct sb_error *err);
};

struct sb_fence_status {
	int state;	       /* enum sb_fence_state */
	uint64_t epoch;	       /* epoch this node is active at, 0 on standby */
	int64_t lease_left_ms; /* time left on this node's claim, -1 if n/a */
	char detail[256]; /* short human-readable state, e.g. "holding lease" */
};

struct sb_fencing_ops {
	uint32_t size; /* sizeof(struct sb_fencing_ops) */

	int (*open)(const struct sb_host *host, const struct sb_config *cfg,
		    void **out, struct sb_error *err);
	void (*close)(void *inst);

	/* Begins deciding. hooks stays valid until stop() returns. A plugin
	 * may start its own thread. Returns once the first decision is made
	 * or within its own bounded time. */
	int (*start)(void *inst, const struct sb_fence_hooks *hooks,
		     struct sb_error *err);
	/* Steps down (releasing what it holds) and stops; after it returns,
	 * no hook is called again. */
	void (*stop)(void *inst);
	/* The current state; cheap, safe from any thread. */
	int (*status)(void *inst, struct sb_fence_status *out);

	/* Administrative promotion and demotion (Pacemaker, manual
	 * designation). NULL when the plugin decides by itself. */
	int (*promote)(void *inst, struct sb_error *err);
	int (*demote)(void *inst, struct sb_error *err);

	/* ABI 1.2, may be NULL. The storage refused a fenced write of this
	 * node made at epoch (SB_EFENCED): another node took the fence
	 * since. holder and holder_epoch are the lease as read just after
	 * ("" and 0 when it could not be read). The plugin steps down when it
	 * is still active at epoch, and decides when to try again; the write
	 * itself has already failed. Called from a request thread, never with
	 * a core lock held, and possibly concurrently with any other op but
	 * open and close. NULL: the plugin finds out by itself (the lease
	 * plugin at its next renew). */
	void (*superseded)(void *inst, uint64_t epoch, const char *holder,
			   uint64_t holder_epoch);
};

/* The size of the ABI 1.0 fencing table (see SB_STORAGE_OPS_SIZE_1_0).
 * Required: open, close, start, stop; status, promote and demote may be
 * NULL. */
#define SB_FENCING_OPS_SIZE_1_0                                                \
	SB_OPS_SIZE_THROUGH(struct sb_fencing_ops, demote)

/* ------------------------------------------------------------------ */
/* Helpers for plugins: static inline, so there is nothing to link     */
/* against and no symbol to version. They use only ABI 1.0 members.   */
/* ------------------------------------------------------------------ */

/* Formats into err->msg (vsnprintf: truncates to SB_ERROR_MAX - 1 bytes)
 * and returns status, so a plugin writes
 * `return sb_error_set(err, SB_EINVAL, "...", ...)`. err may be NULL:
 * the message is then dropped and status still returned. */
static inline int sb_error_vset(struct sb_error *err, int status,
				const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static inline int sb_error_vset(struct sb_error *err, int status,
				const char *fmt, va_list ap)
{
	if (err != NULL)
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return status;
}

static inline int sb_error_set(struct sb_error *err, int status,
			       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int sb_error_set(struct sb_error *err, int status,
			       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	status = sb_error_vset(err, status, fmt, ap);
	va_end(ap);
	return status;
}

/* Reads the integer key of the plugin's section through
 * host->config_get_int, def when the key is absent, and checks it is in
 * min..max (a default too, so a default computed from another setting is
 * checked like a value the operator wrote). unit follows the range in the
 * message ("" or " ms"). Returns SB_OK with *out, or SB_EINVAL with a
 * message naming section and key (or the host's message for a value that
 * is not an integer). *out is written either way. Plugins call
 * sb_setting_int or sb_setting_ms. */
static inline int sb_setting_range(const struct sb_host *host,
				   const struct sb_config *cfg, const char *key,
				   long long def, long long min, long long max,
				   const char *unit, long long *out,
				   struct sb_error *err)
{
	int rc = host->config_get_int(cfg, key, def, out, err);

	if (rc != SB_OK)
		return rc;
	if (*out < min || *out > max)
		return sb_error_set(err, SB_EINVAL,
				    "[%s] %s: %lld is out of range "
				    "(%lld..%lld%s)",
				    host->config_section(cfg), key, *out, min,
				    max, unit);
	return SB_OK;
}

/* An integer setting: "[storage] pool_size: 0 is out of range (1..64)". */
static inline int sb_setting_int(const struct sb_host *host,
				 const struct sb_config *cfg, const char *key,
				 long long def, long long min, long long max,
				 long long *out, struct sb_error *err)
{
	return sb_setting_range(host, cfg, key, def, min, max, "", out, err);
}

/* A duration in milliseconds: the same, with "ms" after the range
 * ("[fencing] ttl_ms: 100 is out of range (200..600000 ms)"). */
static inline int sb_setting_ms(const struct sb_host *host,
				const struct sb_config *cfg, const char *key,
				long long def, long long min, long long max,
				long long *out, struct sb_error *err)
{
	return sb_setting_range(host, cfg, key, def, min, max, " ms", out, err);
}

/* Reads a boolean key (true/false/yes/no/on/off/1/0) through
 * host->config_get_bool: def when absent. Returns SB_OK with *out, or
 * SB_EINVAL with the host's message naming section and key. */
static inline int sb_setting_bool(const struct sb_host *host,
				  const struct sb_config *cfg, const char *key,
				  int def, int *out, struct sb_error *err)
{
	return host->config_get_bool(cfg, key, def, out, err);
}

#ifdef __cplusplus
}
#endif

#endif /* SECRETBROKER_PLUGIN_H */
