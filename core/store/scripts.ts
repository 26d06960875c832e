import { createHash } from "node:crypto";
import { VERSION_TOMBSTONE_MS } from "./keys.js";

/**
 * The Lua scripts of the Redis store's sessions and nodes, shared by both transports (ioredis over TCP,
 * @upstash/redis over REST), with the `script()` helper and the `SESSION` prelude every session script starts with.
 * The others: one `apply` batch of a session in scripts-session.ts, the route table in scripts-routes.ts, API keys
 * and wills in scripts-keys-wills.ts, retained messages in scripts-retained.ts, users and roles in
 * scripts-identity.ts, idempotency records in scripts-idempotency.ts.
 * Scripts touch only the keys they are given, and every multi-key script gets keys of one hash slot: the eight
 * keys of one session (`{c:<id>}`), the five retained keys (`{r}`), the two API key keys (`{k}`), the route keys
 * (`{rt}`) or the two will keys of one node (`{w:<node>}`).
 * Replies are flat arrays of strings and integers (no cjson), which survive both RESP and Upstash's JSON.
 */
export interface LuaScript {
  readonly name: string;
  readonly source: string;
  /** SHA1 of `source`, for EVALSHA. */
  readonly sha: string;
}

export function script(name: string, source: string): LuaScript {
  return { name, source, sha: createHash("sha1").update(source).digest("hex") };
}

/** Session scripts take KEYS = meta, subs, out, queue, in2, ver, seen, placed (keys.ts `sessionKeys().list`). */
export const SESSION = String.raw`
local meta, subs, out, queue, in2, ver, seen, placed = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local function epoch_of() return tonumber(redis.call('HGET', ver, 'epoch') or '0') end
local function wipe() redis.call('DEL', meta, subs, out, queue, in2, seen, placed) end
local function bury() redis.call('PEXPIRE', ver, ${VERSION_TOMBSTONE_MS}) end
local function snapshot(epoch)
  return { epoch, redis.call('HGETALL', meta), redis.call('HGETALL', subs), redis.call('HGETALL', out), redis.call('SMEMBERS', in2) }
end
-- nil when an owner write carrying 'epoch' ('' = unfenced) may proceed, else the refusal reason
local function refuse(epoch)
  if redis.call('EXISTS', meta) == 0 then return 'no-session' end
  if epoch ~= '' and epoch_of() ~= tonumber(epoch) then return 'fenced' end
  return nil
end
`;

/**
 * ARGV: node, clean (1/0), hasUsername (1/0), username, now, identity ('' = none), expiryMs, refuseNew (1/0: the
 * caller found `maxSessions` reached), then optionally discard (1/0: start from an empty session, MQTT 5 Clean
 * Start; absent or '' = the same as clean), then optionally claimId ('' = none). `clean` alone decides the `clean`
 * flag (deleted at release) and the expiry, and whether the claim may be refused at the session cap. A claim with
 * an id records its answer in `ver` (fields `c:*`); its repeat (same id, epoch unchanged, the node still the
 * owner) changes nothing and gets that answer again with the session as it is now (decision 034).
 * Reply: present, previousNode|nil, ...snapshot, previousCustodian|nil (the claim makes the claiming node the
 * custodian too, decision 017), then the previous claim's previousNode|nil and previousCustodian|nil when that
 * claim carried an id and set the current epoch, then the two it was answered with that way itself (two claims
 * back) (ClaimResult.earlierHolders, decision 040, kept as `c:en`/`c:ec` and `c:fn`/`c:fc` for a repeat and for
 * the claim after); or {-1, reason} when refused
 * ('identity': another identity's session; 'session-limit': it would be new), with nothing changed.
 */
export const CLAIM = script("claim", SESSION + String.raw`
local existed = redis.call('EXISTS', meta) == 1
local owner = false
if existed then owner = redis.call('HGET', meta, 'identity') end
if ARGV[6] ~= '' and owner and owner ~= ARGV[6] then return { -1, 'identity' } end
if not existed and ARGV[2] == '0' and ARGV[8] == '1' then return { -1, 'session-limit' } end
local cid = ARGV[10] or ''
local previous = false
local custodian = false
if existed then previous = redis.call('HGET', meta, 'node'); custodian = redis.call('HGET', meta, 'custodian') end
local r = redis.call('HMGET', ver, 'epoch', 'c:id', 'c:epoch', 'c:present', 'c:node', 'c:custodian', 'c:en', 'c:ec', 'c:fn', 'c:fc')
local function named(v) if v and v ~= '' then return v end return false end
if cid ~= '' and existed and previous == ARGV[1] and r[2] == cid and r[3] == r[1] then
  local s = snapshot(tonumber(r[1]))
  return { tonumber(r[4]), named(r[5]), s[1], s[2], s[3], s[4], s[5], named(r[6]), named(r[7]), named(r[8]), named(r[9]), named(r[10]) }
end
local earlierNode, earlierCustodian, furtherNode, furtherCustodian = false, false, false, false
if existed and r[3] and r[3] == r[1] then
  earlierNode = named(r[5]); earlierCustodian = named(r[6]); furtherNode = named(r[7]); furtherCustodian = named(r[8])
end
local epoch = redis.call('HINCRBY', ver, 'epoch', 1)
redis.call('PERSIST', ver)
local present = 0
local discard = ARGV[2]
if ARGV[9] and ARGV[9] ~= '' then discard = ARGV[9] end
if discard == '1' then wipe() elseif existed then present = 1 end
redis.call('HSET', meta, 'clean', ARGV[2], 'node', ARGV[1], 'custodian', ARGV[1], 'connectedAt', ARGV[5])
redis.call('HDEL', meta, 'disconnectedAt')
if ARGV[3] == '1' then redis.call('HSET', meta, 'username', ARGV[4]) else redis.call('HDEL', meta, 'username') end
local identity = owner
if ARGV[6] ~= '' then identity = ARGV[6] end
if identity then redis.call('HSET', meta, 'identity', identity) end
if ARGV[2] == '0' and tonumber(ARGV[7]) > 0 then redis.call('HSET', meta, 'expiry', ARGV[7]) else redis.call('HDEL', meta, 'expiry') end
if cid ~= '' then
  redis.call('HSET', ver, 'c:id', cid, 'c:epoch', epoch, 'c:present', present, 'c:node', previous or '', 'c:custodian', custodian or '',
    'c:en', earlierNode or '', 'c:ec', earlierCustodian or '', 'c:fn', furtherNode or '', 'c:fc', furtherCustodian or '')
end
local s = snapshot(epoch)
return { present, previous, s[1], s[2], s[3], s[4], s[5], custodian, earlierNode, earlierCustodian, furtherNode, furtherCustodian }
`);

/**
 * The expiry check of one session due in `mqg:expiry`. ARGV: now. Reply: {0} not expiring (gone, or no expiry:
 * drop the index entry), {1, next} check again at `next` (online: now + expiry; offline: disconnectedAt + expiry),
 * {2, epoch, username|nil, identity|nil} expired and deleted (wiped, `ver` tombstoned).
 */
export const EXPIRE = script("expire", SESSION + String.raw`
if redis.call('EXISTS', meta) == 0 then return { 0 } end
local exp = tonumber(redis.call('HGET', meta, 'expiry') or '0')
if exp <= 0 then return { 0 } end
local now = tonumber(ARGV[1])
if redis.call('HGET', meta, 'node') then return { 1, now + exp } end
local due = tonumber(redis.call('HGET', meta, 'disconnectedAt') or '0') + exp
if due > now then return { 1, due } end
local epoch = epoch_of()
local user = redis.call('HGET', meta, 'username')
local identity = redis.call('HGET', meta, 'identity')
wipe()
bury()
return { 2, epoch, user, identity }
`);

/**
 * KEYS: `mqg:expiry`. ARGV: triples (client id, score read, new score or '' = remove). Each entry changes only if
 * its score is still the one read: a claim that lowered it meanwhile wins.
 */
export const EXPIRY_REINDEX = script("expiryReindex", String.raw`
for i = 1, #ARGV, 3 do
  local cur = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if cur and tonumber(cur) == tonumber(ARGV[i + 1]) then
    if ARGV[i + 2] == '' then redis.call('ZREM', KEYS[1], ARGV[i]) else redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i]) end
  end
end
return 1
`);

/**
 * ARGV: epoch, now, expiryMs ('' = keep the recorded one; '0' = delete now; else the new offline lifetime, an MQTT 5
 * DISCONNECT's). Reply: {0} refused, {1, node} now offline, {2, node} deleted (clean, or expiry 0).
 */
export const RELEASE = script("release", SESSION + String.raw`
if refuse(ARGV[1]) then return { 0, false } end
local node = redis.call('HGET', meta, 'node')
if redis.call('HGET', meta, 'clean') == '1' or ARGV[3] == '0' then
  wipe()
  bury()
  return { 2, node }
end
redis.call('HDEL', meta, 'node')
redis.call('HSET', meta, 'disconnectedAt', ARGV[2])
if ARGV[3] ~= nil and ARGV[3] ~= '' then redis.call('HSET', meta, 'expiry', ARGV[3]) end
return { 1, node }
`);

/** Reply: {0} no session, {1, node} deleted. */
export const DELETE = script("delete", SESSION + String.raw`
if redis.call('EXISTS', meta) == 0 then return { 0, false } end
local node = redis.call('HGET', meta, 'node')
wipe()
bury()
return { 1, node }
`);

/** Read only. Reply: nil, or epoch, meta, subs, out (flat hashes), in2. */
export const SNAPSHOT = script("snapshot", SESSION + String.raw`
if redis.call('EXISTS', meta) == 0 then return false end
return snapshot(epoch_of())
`);

/** Read only. Reply: nil, or epoch, meta (flat hash). */
export const RECORD = script("record", SESSION + String.raw`
if redis.call('EXISTS', meta) == 0 then return false end
return { epoch_of(), redis.call('HGETALL', meta) }
`);

/** ARGV: epoch ('' = unfenced), number of removals, ...filters to remove, ...filter/qos pairs to add. Reply 1/0. */
export const SUBSCRIPTIONS = script("subscriptions", SESSION + String.raw`
if refuse(ARGV[1]) then return 0 end
local n = tonumber(ARGV[2])
for i = 3, 2 + n do redis.call('HDEL', subs, ARGV[i]) end
for i = 3 + n, #ARGV, 2 do redis.call('HSET', subs, ARGV[i], ARGV[i + 1]) end
return 1
`);

/**
 * KEYS: nodes. ARGV: nodeId, now, ttlMs[, stats JSON]. Refreshes a live node (and replaces its stats when given:
 * codec.ts encodeNode); 0 when unknown or already expired at `now`.
 */
export const HEARTBEAT = script("heartbeat", String.raw`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local hb, ttl, rest = string.match(v, '^(%d+):(%d+):(.*)$')
if not hb or tonumber(hb) + tonumber(ttl) <= tonumber(ARGV[2]) then return 0 end
if ARGV[4] then
  local nl = string.find(rest, '\n', 1, true)
  if nl then rest = string.sub(rest, 1, nl - 1) end
  rest = rest .. '\n' .. ARGV[4]
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. ARGV[3] .. ':' .. rest)
return 1
`);

/**
 * Adoption of a dead node's session (decision 017). ARGV: from, to, now, leaseEnd|''. Only while `from` is the
 * custodian (or, for a session recorded before custody, its connected owner), and not connected to `from` by a
 * claim at or after `leaseEnd` (a new registration's): bumps the epoch, marks it offline, makes `to` the
 * custodian; a clean session is deleted. Each reply then ends with four nodes|nil: when the last claim carried an
 * id and set the epoch this adoption supersedes, its previousNode and previousCustodian and the earlier holders it
 * was answered with one step back (`c:node`, `c:custodian`, `c:en`, `c:ec`: Adoption.earlierHolders, decision 040).
 * Reply: {0} not adopted, {2, epoch, connected, username|nil, ...nodes} deleted, {1, connected, ...snapshot, ...nodes}.
 */
export const ADOPT = script("adopt", SESSION + String.raw`
if redis.call('EXISTS', meta) == 0 then return { 0 } end
local node = redis.call('HGET', meta, 'node')
local custodian = redis.call('HGET', meta, 'custodian')
if custodian ~= ARGV[1] and not (custodian == false and node == ARGV[1]) then return { 0 } end
local leaseEnd = tonumber(ARGV[4] or '')
if leaseEnd and node == ARGV[1] and tonumber(redis.call('HGET', meta, 'connectedAt') or '0') >= leaseEnd then return { 0 } end
local r = redis.call('HMGET', ver, 'epoch', 'c:epoch', 'c:node', 'c:custodian', 'c:en', 'c:ec')
local owed = { false, false, false, false }
if r[2] and r[2] == r[1] then
  for i = 1, 4 do if r[i + 2] and r[i + 2] ~= '' then owed[i] = r[i + 2] end end
end
local epoch = redis.call('HINCRBY', ver, 'epoch', 1)
local connected = 0
if node then connected = 1 end
if redis.call('HGET', meta, 'clean') == '1' then
  local user = redis.call('HGET', meta, 'username')
  wipe()
  bury()
  return { 2, epoch, connected, user, owed[1], owed[2], owed[3], owed[4] }
end
if node then
  redis.call('HDEL', meta, 'node')
  redis.call('HSET', meta, 'disconnectedAt', ARGV[3])
end
redis.call('HSET', meta, 'custodian', ARGV[2])
local s = snapshot(epoch)
return { 1, connected, s[1], s[2], s[3], s[4], s[5], owed[1], owed[2], owed[3], owed[4] }
`);
