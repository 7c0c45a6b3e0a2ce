/*
 * The Lua scripts: one per storage operation, each run with EVALSHA so the
 * whole operation is atomic on the server. Every key a script touches is
 * passed in KEYS (never built inside the script), as Redis requires.
 *
 * Key layout (P is key_prefix; see docs/storage-redis.md):
 *   P.."data"   hash   store key -> value bytes
 *   P.."ver"    hash   store key -> version (decimal)
 *   P.."idx"    zset   every store key, score 0, so ZRANGEBYLEX gives
 *                      byte-wise (memcmp) ordered prefix scans
 *   P.."epoch"  string the fencing epoch counter (INCR), never decremented
 *   P.."lease"  hash   holder, expires (ms on the server's clock, "0" = no
 *                      expiry); deleted when the lease is released
 *   P.."meta"   hash   layout = RS_LAYOUT_VERSION
 *
 * Numbers that leave a script as epochs or expiry times travel as decimal
 * strings and are compared as strings, because Lua numbers are doubles and
 * epochs are uint64. Versions are small (one per put) and use Lua numbers.
 *
 * Write scripts reply with an array whose first element is an integer
 * status: 0 means "wrote" (the caller then WAITs for replicas when asked
 * to); any other value means nothing was written.
 *
 * Time: redis.call('TIME') is the server's clock. Redis 7 replicates script
 * effects, not the script, so reading TIME before a write is allowed.
 *
 * Every script starts with a Redis 7 shebang line (so Redis 7.0 or later is
 * required). Without flags a script may write, and Redis refuses it with
 * OOM *before it starts* when the server is over maxmemory instead of
 * failing a write half-way (a script is not rolled back). "no-writes"
 * marks the read-only scripts, which still run when memory is full.
 */
#include "redis_internal.h"

/* First lines: a script that may write, or one that only reads. */
#define LUA_RW "#!lua\n"
#define LUA_RO "#!lua flags=no-writes\n"

/* "now" in milliseconds from the server's TIME. */
#define LUA_NOW                                                                \
	"local t = redis.call('TIME')\n"                                       \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / "     \
	"1000)\n"

/* KEYS: data, ver. ARGV: key, want_value ("1"/"0").
 * Reply: nil when absent, else {version, value} or {version}. */
static const char get_lua[] =
	LUA_RO "local n = redis.call('HGET', KEYS[2], ARGV[1])\n"
	       "if not n then return false end\n"
	       "if ARGV[2] == '1' then\n"
	       "  return {n, redis.call('HGET', KEYS[1], ARGV[1]) or ''}\n"
	       "end\n"
	       "return {n}\n";

/* KEYS: idx, data, ver. ARGV: min, max (ZRANGEBYLEX bounds, built by the
 * caller from prefix and after), limit ("0" = none).
 * Reply: flat array key1, value1, version1, key2, ... in key order, all
 * read in one atomic step (a consistent snapshot). HMGET is called in
 * chunks because unpack() of thousands of values overflows Lua's stack. */
static const char scan_lua[] = LUA_RO
	"local m\n"
	"if ARGV[3] == '0' then\n"
	"  m = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2])\n"
	"else\n"
	"  m = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', "
	"0, ARGV[3])\n"
	"end\n"
	"local out = {}\n"
	"local i = 1\n"
	"while i <= #m do\n"
	"  local j = math.min(i + 499, #m)\n"
	"  local v = redis.call('HMGET', KEYS[2], unpack(m, i, j))\n"
	"  local n = redis.call('HMGET', KEYS[3], unpack(m, i, j))\n"
	"  for k = 1, j - i + 1 do\n"
	"    out[#out + 1] = m[i + k - 1]\n"
	"    out[#out + 1] = v[k] or ''\n"
	"    out[#out + 1] = n[k] or '0'\n"
	"  end\n"
	"  i = j + 1\n"
	"end\n"
	"return out\n";

/* KEYS: data, ver, idx, epoch. ARGV: epoch ("0" = unfenced), n_ops, then
 * five per op: type ("1" put, "2" delete), precondition ("0" none,
 * "1" absent, "2" version), version, key, value ("" for a delete).
 * Reply: {0, version_after_op1, ...} (0 for a delete), {1, current_epoch}
 * when fenced, {2, index_of_failed_op} (0-based) on a precondition failure.
 * All checks run before the first write, against the state the earlier ops
 * of the same batch would leave, so either every op applies or none. */
static const char batch_lua[] = LUA_RW
	"if ARGV[1] ~= '0' then\n"
	"  local cur = redis.call('GET', KEYS[4]) or '0'\n"
	"  if cur ~= ARGV[1] then return {1, cur} end\n"
	"end\n"
	"local n = tonumber(ARGV[2])\n"
	"local st = {}\n"
	"local out = {0}\n"
	"for i = 0, n - 1 do\n"
	"  local b = 3 + i * 5\n"
	"  local typ, pre, want, key = ARGV[b], ARGV[b + 1], ARGV[b + 2], "
	"ARGV[b + 3]\n"
	"  local cur = st[key]\n"
	"  if cur == nil then\n"
	"    cur = redis.call('HGET', KEYS[2], key)\n"
	"    if cur then cur = tonumber(cur) end\n"
	"  end\n"
	"  if pre == '1' and cur then return {2, i} end\n"
	"  if pre == '2' and (not cur or string.format('%d', cur) ~= want) "
	"then\n"
	"    return {2, i}\n"
	"  end\n"
	"  if typ == '1' then cur = (cur or 0) + 1 else cur = false end\n"
	"  st[key] = cur\n"
	"  out[#out + 1] = cur or 0\n"
	"end\n"
	"for i = 0, n - 1 do\n"
	"  local b = 3 + i * 5\n"
	"  local key = ARGV[b + 3]\n"
	"  if ARGV[b] == '1' then\n"
	"    redis.call('HSET', KEYS[1], key, ARGV[b + 4])\n"
	"    redis.call('HSET', KEYS[2], key, string.format('%d', out[i + "
	"2]))\n"
	"    redis.call('ZADD', KEYS[3], 0, key)\n"
	"  else\n"
	"    redis.call('HDEL', KEYS[1], key)\n"
	"    redis.call('HDEL', KEYS[2], key)\n"
	"    redis.call('ZREM', KEYS[3], key)\n"
	"  end\n"
	"end\n"
	"return out\n";

/* KEYS: lease, epoch. ARGV: holder, ttl_ms.
 * Reply: {0, new_epoch} or {1, holder, ms_left ("-1": no expiry)}. */
static const char lease_acquire_lua[] = LUA_RW LUA_NOW
	"local h = redis.call('HMGET', KEYS[1], 'holder', 'expires')\n"
	"if h[1] and h[1] ~= '' then\n"
	"  local exp = tonumber(h[2] or '0')\n"
	"  if exp == 0 then return {1, h[1], '-1'} end\n"
	"  if exp > now then\n"
	"    return {1, h[1], string.format('%d', exp - now)}\n"
	"  end\n"
	"end\n"
	"local e = redis.call('INCR', KEYS[2])\n"
	"redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'expires', "
	"string.format('%d', now + tonumber(ARGV[2])))\n"
	"return {0, e}\n";

/* KEYS: lease, epoch. ARGV: holder, epoch, ttl_ms.
 * Reply: {0} renewed, {1, holder, current_epoch} fenced (holder or epoch
 * differ, or no lease), {2, ms_since_expiry} expired. */
static const char lease_renew_lua[] = LUA_RW LUA_NOW
	"local h = redis.call('HMGET', KEYS[1], 'holder', 'expires')\n"
	"local cur = redis.call('GET', KEYS[2]) or '0'\n"
	"if not h[1] or h[1] ~= ARGV[1] or cur ~= ARGV[2] then\n"
	"  return {1, h[1] or '', cur}\n"
	"end\n"
	"local exp = tonumber(h[2] or '0')\n"
	"if exp ~= 0 and exp <= now then\n"
	"  return {2, string.format('%d', now - exp)}\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'expires', string.format('%d', now + "
	"tonumber(ARGV[3])))\n"
	"return {0}\n";

/* KEYS: lease, epoch. ARGV: holder, epoch.
 * Reply: {0} released (the epoch counter is kept), {1, holder, epoch}
 * fenced. */
static const char lease_release_lua[] =
	LUA_RW "local h = redis.call('HGET', KEYS[1], 'holder')\n"
	       "local cur = redis.call('GET', KEYS[2]) or '0'\n"
	       "if not h or h ~= ARGV[1] or cur ~= ARGV[2] then\n"
	       "  return {1, h or '', cur}\n"
	       "end\n"
	       "redis.call('DEL', KEYS[1])\n"
	       "return {0}\n";

/* KEYS: lease, epoch. Reply: {holder ("" if none), epoch, expires ("0":
 * no expiry, "" if no lease), now} as strings. */
static const char lease_read_lua[] = LUA_RO LUA_NOW
	"local h = redis.call('HMGET', KEYS[1], 'holder', 'expires')\n"
	"local cur = redis.call('GET', KEYS[2]) or '0'\n"
	"return {h[1] or '', cur, h[2] or '', string.format('%d', now)}\n";

/* KEYS: lease, epoch. ARGV: holder, ttl_ms ("0": no expiry).
 * Reply: {0, new_epoch}. */
static const char fence_takeover_lua[] = LUA_RW LUA_NOW
	"local e = redis.call('INCR', KEYS[2])\n"
	"local exp = '0'\n"
	"if ARGV[2] ~= '0' then\n"
	"  exp = string.format('%d', now + tonumber(ARGV[2]))\n"
	"end\n"
	"redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'expires', exp)\n"
	"return {0, e}\n";

const struct rs_script_def rs_scripts[RS_SCRIPT_COUNT] = {
	[RS_SCRIPT_GET] = {"get", get_lua, 2, 0},
	[RS_SCRIPT_SCAN] = {"scan", scan_lua, 3, 0},
	[RS_SCRIPT_BATCH] = {"batch_apply", batch_lua, 4, 1},
	[RS_SCRIPT_LEASE_ACQUIRE] = {"lease_acquire", lease_acquire_lua, 2, 1},
	[RS_SCRIPT_LEASE_RENEW] = {"lease_renew", lease_renew_lua, 2, 1},
	[RS_SCRIPT_LEASE_RELEASE] = {"lease_release", lease_release_lua, 2, 1},
	[RS_SCRIPT_LEASE_READ] = {"lease_read", lease_read_lua, 2, 0},
	[RS_SCRIPT_FENCE_TAKEOVER] = {"fence_takeover", fence_takeover_lua, 2,
				      1},
};
