import { script } from "./scripts.js";

/**
 * The Lua scripts of the route table (decision 017; routes-types.ts, used by routes-redis.ts): the `ROUTES` prelude
 * the writing scripts start with, updates and clears of one node's routes, the change log and the digests. All keys
 * are under the `{rt}` tag (keys.ts routeKeys); replies as in scripts.ts. Session custody (ADOPT) is in scripts.ts.
 */

/** Route scripts take KEYS = the node's route set, the route log, the version counter, the digests (keys.ts routeKeys). */
const ROUTES = String.raw`
local set, log, ver, dig = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local M = 281474976710656
local v = tonumber(redis.call('GET', ver) or '0')
local function append(entry, max)
  v = v + 1
  redis.call('RPUSH', log, entry)
  local n = redis.call('LLEN', log)
  if n > max then redis.call('LTRIM', log, n - max, -1) end
end
`;

/**
 * ARGV: node, log max, number of removals, then (filter, 48-bit hash) pairs to remove, then pairs to add. Each
 * actual change is appended to the log (`<a|r><node length>:<node><filter>`, trimmed to `log max`) and folded into
 * the node's digest (`<count>:<sum mod 2^48>`). Reply: the version after.
 */
export const ROUTES_UPDATE = script("routesUpdate", ROUTES + String.raw`
local node = ARGV[1]
local max = tonumber(ARGV[2])
local prefix = string.len(node) .. ':' .. node
local count, sum = 0, 0
local d = redis.call('HGET', dig, node)
if d then
  local c = string.find(d, ':', 1, true)
  count = tonumber(string.sub(d, 1, c - 1))
  sum = tonumber(string.sub(d, c + 1))
end
local i = 4
local last = 3 + 2 * tonumber(ARGV[3])
while i <= last do
  if redis.call('SREM', set, ARGV[i]) == 1 then
    count = count - 1
    sum = (sum - tonumber(ARGV[i + 1])) % M
    append('r' .. prefix .. ARGV[i], max)
  end
  i = i + 2
end
while i <= #ARGV do
  if redis.call('SADD', set, ARGV[i]) == 1 then
    count = count + 1
    sum = (sum + tonumber(ARGV[i + 1])) % M
    append('a' .. prefix .. ARGV[i], max)
  end
  i = i + 2
end
redis.call('SET', ver, string.format('%.0f', v))
if count == 0 then redis.call('HDEL', dig, node) else redis.call('HSET', dig, node, string.format('%.0f:%.0f', count, sum)) end
return v
`);

/** ARGV: node, log max. Drops the node's set and digest, logs one "clear". Reply: the version after. */
export const ROUTES_CLEAR = script("routesClear", ROUTES + String.raw`
local node = ARGV[1]
redis.call('DEL', set)
redis.call('HDEL', dig, node)
append('c' .. string.len(node) .. ':' .. node, tonumber(ARGV[2]))
redis.call('SET', ver, string.format('%.0f', v))
return v
`);

/**
 * Read only. KEYS: log, version. ARGV: after, limit. Reply: {version, 1, entries} (the entries after `after`), or
 * {version, 0} when they are no longer in the log (or `after` is ahead: the store was reset).
 */
export const ROUTES_CHANGES = script("routesChanges", String.raw`
local v = tonumber(redis.call('GET', KEYS[2]) or '0')
local after = tonumber(ARGV[1])
if after == v then return { v, 1, {} } end
local n = redis.call('LLEN', KEYS[1])
local first = v - n + 1
if after > v or after + 1 < first then return { v, 0 } end
local s = after + 1 - first
return { v, 1, redis.call('LRANGE', KEYS[1], s, s + tonumber(ARGV[2]) - 1) }
`);

/** Read only. KEYS: version, digests. Reply: {version, flat hash node -> `<count>:<sum>`}. */
export const ROUTES_DIGESTS = script("routesDigests", String.raw`
return { tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('HGETALL', KEYS[2]) }
`);

