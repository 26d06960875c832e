import { script } from "./scripts.js";

/**
 * The Lua scripts of API keys (KEYS: the two `{k}` hashes, keys.ts API_KEYS_KEY and API_KEYS_BY_HASH_KEY, used by
 * redis-cluster.ts) and of wills (KEYS: one node's two `{w:<node>}` keys, keys.ts willKeys, used by wills.ts). Both
 * transports run them; replies as in scripts.ts.
 */

/** KEYS: byid, byhash. ARGV: id, hash, value. Replaces the key's old hash; a key holding the same hash goes. */
export const API_KEY_PUT = script("apiKeyPut", String.raw`
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local h = string.match(old, '^(%x+) ')
  if h and redis.call('HGET', KEYS[2], h) == ARGV[1] then redis.call('HDEL', KEYS[2], h) end
end
local holder = redis.call('HGET', KEYS[2], ARGV[2])
if holder and holder ~= ARGV[1] then redis.call('HDEL', KEYS[1], holder) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
return 1
`);

/** Read only. KEYS: byid, byhash. ARGV: hash. Reply: the stored value or nil. */
export const API_KEY_GET = script("apiKeyGet", String.raw`
local id = redis.call('HGET', KEYS[2], ARGV[1])
if not id then return false end
return redis.call('HGET', KEYS[1], id)
`);

/** KEYS: byid, byhash. ARGV: id. Reply 1 when it existed. */
export const API_KEY_DELETE = script("apiKeyDelete", String.raw`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local h = string.match(v, '^(%x+) ')
if h and redis.call('HGET', KEYS[2], h) == ARGV[1] then redis.call('HDEL', KEYS[2], h) end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
`);

/**
 * Wills (will-types.ts, decision 019). KEYS: the node's will hash (member -> value) and its index (member ->
 * incarnation), both `{w:<node>}`; a member is `<epoch>:<clientId>`. ARGV: member, incarnation, value.
 */
export const WILL_PUT = script("willPut", String.raw`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
`);

/** KEYS: as WILL_PUT. ARGV: member, value. Replaces the will only while it is there (its index entry stays). Reply: 1, or 0 when gone. */
export const WILL_REPLACE = script("willReplace", String.raw`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
`);

/** KEYS: as WILL_PUT. ARGV: member. Deletes and returns the will (false when gone). */
export const WILL_TAKE = script("willTake", String.raw`
local v = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return v
`);

/** KEYS: as WILL_PUT. ARGV: highest incarnation, limit. Deletes and returns member, value pairs, oldest first. */
export const WILLS_TAKE_OF = script("willsTakeOf", String.raw`
local members = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local r = {}
for _, m in ipairs(members) do
  local v = redis.call('HGET', KEYS[1], m)
  redis.call('HDEL', KEYS[1], m)
  redis.call('ZREM', KEYS[2], m)
  if v then r[#r + 1] = m; r[#r + 1] = v end
end
return r
`);
