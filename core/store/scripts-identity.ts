/**
 * Lua scripts of users and roles (issue 15), shared by both Redis transports. KEYS are always IDENTITY_KEYS
 * (keys.ts): users, usernames, roles, ver, log. Every write bumps ver and pushes its entry on the log, capped at
 * IDENTITY_LOG_MAX, in the same script, so a reader of (ver, log) sees exactly the writes up to ver.
 */
import { createHash } from "node:crypto";
import { IDENTITY_LOG_MAX } from "./identity-types.js";
import type { LuaScript } from "./scripts.js";

function script(name: string, source: string): LuaScript {
  return { name, source, sha: createHash("sha1").update(source).digest("hex") };
}

const HEAD = String.raw`
local users, names, roles, ver, log = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local function changed(entry)
  redis.call('INCR', ver)
  redis.call('LPUSH', log, entry)
  redis.call('LTRIM', log, 0, ${IDENTITY_LOG_MAX - 1})
end
`;

/** ARGV: username, "<role,role,...> <JSON>" (role names never contain ',' or ' '). */
export const USER_PUT = script("userPut", HEAD + String.raw`
redis.call('HSET', users, ARGV[1], ARGV[2])
redis.call('ZADD', names, 0, ARGV[1])
changed('u:' .. ARGV[1])
return 1
`);

/** ARGV: username. Reply 1 when it existed. */
export const USER_DELETE = script("userDelete", HEAD + String.raw`
if redis.call('HDEL', users, ARGV[1]) == 0 then return 0 end
redis.call('ZREM', names, ARGV[1])
changed('u:' .. ARGV[1])
return 1
`);

/** ARGV: name, JSON. */
export const ROLE_PUT = script("rolePut", HEAD + String.raw`
redis.call('HSET', roles, ARGV[1], ARGV[2])
changed('r:' .. ARGV[1])
return 1
`);

/** ARGV: name. Reply 1 when it existed. */
export const ROLE_DELETE = script("roleDelete", HEAD + String.raw`
if redis.call('HDEL', roles, ARGV[1]) == 0 then return 0 end
changed('r:' .. ARGV[1])
return 1
`);

/** ARGV: username. Reply: false, or { user value, then each of its roles' JSON ('' for a missing role) }. */
export const IDENTITY_GET = script("identityGet", HEAD + String.raw`
local u = redis.call('HGET', users, ARGV[1])
if not u then return false end
local out = { u }
local list = string.match(u, '^([^ ]*) ')
for name in string.gmatch(list or '', '[^,]+') do out[#out + 1] = redis.call('HGET', roles, name) or '' end
return out
`);

/** ARGV: since. Reply: { version, entries newest first (empty when unchanged or too old) }. */
export const IDENTITY_CHANGES = script("identityChanges", HEAD + String.raw`
local v = tonumber(redis.call('GET', ver) or '0')
local since = tonumber(ARGV[1])
if since >= v or v - since > ${IDENTITY_LOG_MAX} then return { v } end
local out = { v }
for _, e in ipairs(redis.call('LRANGE', log, 0, v - since - 1)) do out[#out + 1] = e end
return out
`);
