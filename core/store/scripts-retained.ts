import { INDEXED_LEVELS, SCAN_BUDGET, SCAN_BYTES, SWEEP_ON_FULL } from "./retained-index.js";
import { script } from "./scripts.js";

/*
 * The Lua scripts of retained messages (core/store/retained-index.ts, docs/store.md "Retained index" and "Retained
 * expiry"), shared by both Redis transports. Their KEYS are keys.ts RETAINED_KEYS, all under the `{r}` tag:
 * msgs, topics, levels, stats, expiry.
 */

/** `split(s)`: the levels of a topic or filter (split at '/', empty levels kept). */
const SPLIT = String.raw`
local function split(s)
  local r, start = {}, 1
  while true do
    local j = string.find(s, '/', start, true)
    if not j then r[#r + 1] = string.sub(s, start) return r end
    r[#r + 1] = string.sub(s, start, j - 1)
    start = j + 1
  end
end
`;

/**
 * Deleting and sweeping, on all five retained keys. `drop(topic, value)` deletes a stored message with its index
 * entries (the level entries as retained-index.ts `levelEntries` makes them) and its bytes. `sweep(now, limit)`
 * looks at up to `limit` entries of the expiry index due at `now`, earliest first, and for each reads the stored
 * message's own due time (`,"d":<ms>}` at the end of its value, codec.ts encodeRetained): due → drop; later →
 * the entry moves there; none (gone, or replaced by a message without expiry, also by a writer that predates the
 * index) → the entry goes. Returns removed, examined.
 */
const RETAINED = SPLIT + String.raw`
local function size_of(v) return tonumber(string.match(v, '^(%d+):') or '0') end
local function drop(topic, v)
  redis.call('HDEL', KEYS[1], topic)
  redis.call('HINCRBY', KEYS[4], 'bytes', -size_of(v))
  redis.call('ZREM', KEYS[2], topic)
  local t = split(topic)
  for i = 2, math.min(#t, ${INDEXED_LEVELS + 1}) do redis.call('ZREM', KEYS[3], (i - 1) .. ':' .. t[i] .. '/' .. topic) end
  redis.call('ZREM', KEYS[5], topic)
end
local function sweep(now, limit)
  local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, limit)
  local removed = 0
  for _, topic in ipairs(due) do
    local v = redis.call('HGET', KEYS[1], topic)
    local d = v and string.match(v, ',"d":(%d+)}$')
    if not d then
      redis.call('ZREM', KEYS[5], topic)
    elseif tonumber(d) > tonumber(now) then
      redis.call('ZADD', KEYS[5], d, topic)
    else
      drop(topic, v)
      removed = removed + 1
    end
  end
  return removed, #due
end
`;

/**
 * One retained op of a batch (session ops go through SESSION_APPLY, one call per session and batch).
 * ARGV[1] is the op name. Reply: {1} or {0, 'full'}.
 *   retained.set: topic, `<size>:<JSON>`, maxRetained, size, maxBytes ('' = none), due ('' = it never expires),
 *     now ('' = do not sweep), ...level index entries. Refused for a limit, it sweeps up to ${SWEEP_ON_FULL} entries due at
 *     `now` and checks again. The expiry entry is set to `due`, or removed.
 *   retained.delete: topic
 */
export const APPLY = script("apply", RETAINED + String.raw`
local op = ARGV[1]
local topic = ARGV[2]
if op == 'retained.set' then
  local size = tonumber(ARGV[5])
  local function fits()
    local old = redis.call('HGET', KEYS[1], topic)
    local old_size = 0
    if old then
      old_size = size_of(old)
    elseif redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
      return false
    end
    if ARGV[6] ~= '' and size > old_size then
      local bytes = tonumber(redis.call('HGET', KEYS[4], 'bytes') or '0')
      if bytes - old_size + size > tonumber(ARGV[6]) then return false end
    end
    return true
  end
  if not fits() and (ARGV[8] == '' or sweep(ARGV[8], ${SWEEP_ON_FULL}) == 0 or not fits()) then return { 0, 'full' } end
  local old = redis.call('HGET', KEYS[1], topic)
  local old_size = 0
  if old then old_size = size_of(old) end
  redis.call('HSET', KEYS[1], topic, ARGV[3])
  redis.call('HINCRBY', KEYS[4], 'bytes', size - old_size)
  if not old then
    redis.call('ZADD', KEYS[2], 0, topic)
    for i = 9, #ARGV do redis.call('ZADD', KEYS[3], 0, ARGV[i]) end
  end
  if ARGV[7] ~= '' then redis.call('ZADD', KEYS[5], ARGV[7], topic) else redis.call('ZREM', KEYS[5], topic) end
  return { 1 }
elseif op == 'retained.delete' then
  local old = redis.call('HGET', KEYS[1], topic)
  if old then drop(topic, old) else redis.call('ZREM', KEYS[5], topic) end
  return { 1 }
end
return redis.error_reply('mqgate: unknown op ' .. op)
`);

/** ARGV: now, limit (at most SWEEP_BUDGET, retained-index.ts). Reply: {removed, examined} (examined < limit: nothing more is due). */
export const RETAINED_SWEEP = script("retainedSweep", RETAINED + String.raw`
local removed, examined = sweep(ARGV[1], tonumber(ARGV[2]))
return { removed, examined }
`);

/** KEYS: retained msgs, topics. */
const RETAINED_PAIRS = String.raw`
local function pairs_of(topics)
  local res = {}
  for _, t in ipairs(topics) do
    local v = redis.call('HGET', KEYS[1], t)
    if v then
      res[#res + 1] = t
      res[#res + 1] = v
    end
  end
  return res
end
`;

/** Read only. ARGV: hasCursor (1/0), cursor topic, count. Reply: topic, message... after the cursor. */
export const RETAINED_PAGE = script("retainedPage", RETAINED_PAIRS + String.raw`
local min = '-'
if ARGV[1] == '1' then min = '(' .. ARGV[2] end
return pairs_of(redis.call('ZRANGEBYLEX', KEYS[2], min, '+', 'LIMIT', 0, tonumber(ARGV[3])))
`);

/**
 * Read only: one bounded step of a retained lookup (core/store/retained-index.ts). KEYS: retained msgs, topics,
 * levels. ARGV: filter, source ('' = choose the smallest), after ('' = from the start), limit, then kind and prefix
 * of each candidate source ('t' = topics, 'i' = levels). Reads at most ${SCAN_BUDGET} index entries and returns
 * messages up to ${SCAN_BYTES} bytes (plus the one that crosses it).
 * Reply: source (0-based), next entry (false = range exhausted), then topic, value pairs of the matches.
 */
export const RETAINED_SCAN = script("retainedScan", SPLIT + String.raw`
local f = split(ARGV[1])
local wild_first = f[1] == '+' or f[1] == '#'
local function matches(topic)
  if wild_first and string.byte(topic, 1) == 36 then return false end
  local t = split(topic)
  for i = 1, #f do
    local w = f[i]
    if w == '#' then return true end
    local l = t[i]
    if l == nil or (w ~= '+' and w ~= l) then return false end
  end
  return #t == #f
end
local function key_of(kind) if kind == 't' then return KEYS[2] end return KEYS[3] end
local function range_max(prefix) if prefix == '' then return '+' end return '(' .. prefix .. '\255' end
local src = tonumber(ARGV[2])
if ARGV[2] == '' then
  local best = nil
  for i = 5, #ARGV, 2 do
    local p = ARGV[i + 1]
    local n
    if p == '' then n = redis.call('ZCARD', key_of(ARGV[i])) else n = redis.call('ZLEXCOUNT', key_of(ARGV[i]), '[' .. p, range_max(p)) end
    if best == nil or n < best then best, src = n, (i - 5) / 2 end
  end
end
local kind, prefix = ARGV[5 + 2 * src], ARGV[6 + 2 * src]
local min = '-'
if ARGV[3] ~= '' then min = '(' .. ARGV[3] elseif prefix ~= '' then min = '[' .. prefix end
local entries = redis.call('ZRANGEBYLEX', key_of(kind), min, range_max(prefix), 'LIMIT', 0, ${SCAN_BUDGET})
local limit = tonumber(ARGV[4])
local res = { src, false }
local found, bytes = 0, 0
for _, e in ipairs(entries) do
  local topic = e
  if kind == 'i' then topic = string.sub(e, #prefix + 1) end
  if matches(topic) then
    local v = redis.call('HGET', KEYS[1], topic)
    if v then
      res[#res + 1] = topic
      res[#res + 1] = v
      found = found + 1
      bytes = bytes + #v
      if found == limit or bytes >= ${SCAN_BYTES} then
        res[2] = e
        return res
      end
    end
  end
end
if #entries == ${SCAN_BUDGET} then res[2] = entries[#entries] end
return res
`);
