import { SCAN_BUDGET, SCAN_BYTES } from "./retained-index.js";
import { script } from "./scripts.js";

/*
 * The Lua scripts of retained messages (core/store/retained-index.ts, docs/store.md "Retained index"), shared by
 * both Redis transports. Their KEYS are keys.ts RETAINED_KEYS, all under the `{r}` tag: msgs, topics, levels, stats.
 */

/**
 * One retained op of a batch (session ops go through SESSION_APPLY, one call per session and batch).
 * KEYS = retained msgs, topics, levels, stats (keys.ts). ARGV[1] is the op name. Reply: {1} or {0, 'full'}.
 *   retained.set: topic, `<size>:<JSON>`, maxRetained, size, maxBytes ('' = none), ...level index entries
 *   retained.delete: topic, ...level index entries
 */
export const APPLY = script("apply", String.raw`
local op = ARGV[1]
if op == 'retained.set' then
  local old = redis.call('HGET', KEYS[1], ARGV[2])
  local old_size = 0
  if old then
    old_size = tonumber(string.match(old, '^(%d+):') or '0')
  elseif redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then
    return { 0, 'full' }
  end
  local size = tonumber(ARGV[5])
  if ARGV[6] ~= '' and size > old_size then
    local bytes = tonumber(redis.call('HGET', KEYS[4], 'bytes') or '0')
    if bytes - old_size + size > tonumber(ARGV[6]) then return { 0, 'full' } end
  end
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('HINCRBY', KEYS[4], 'bytes', size - old_size)
  if not old then
    redis.call('ZADD', KEYS[2], 0, ARGV[2])
    for i = 7, #ARGV do redis.call('ZADD', KEYS[3], 0, ARGV[i]) end
  end
  return { 1 }
elseif op == 'retained.delete' then
  local old = redis.call('HGET', KEYS[1], ARGV[2])
  if old then
    redis.call('HDEL', KEYS[1], ARGV[2])
    redis.call('HINCRBY', KEYS[4], 'bytes', -tonumber(string.match(old, '^(%d+):') or '0'))
    redis.call('ZREM', KEYS[2], ARGV[2])
    for i = 3, #ARGV do redis.call('ZREM', KEYS[3], ARGV[i]) end
  end
  return { 1 }
end
return redis.error_reply('mqgate: unknown op ' .. op)
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
export const RETAINED_SCAN = script("retainedScan", String.raw`
local function split(s)
  local r, start = {}, 1
  while true do
    local j = string.find(s, '/', start, true)
    if not j then r[#r + 1] = string.sub(s, start) return r end
    r[#r + 1] = string.sub(s, start, j - 1)
    start = j + 1
  end
end
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
