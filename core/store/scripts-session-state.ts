import { APPLIED_RECORD_MS, APPLIED_WRITERS_TRIM } from "./apply-key.js";

/**
 * The Lua of SESSION_APPLY (scripts-session.ts) that reads and writes the session's state, as fragments that
 * scripts-session.ts joins in order with those of scripts-session-ops.ts: the state read once and the record replayed
 * (APPLY_STATE), the local view of the entries and its write-back (APPLY_WRITE_BACK), and the reply's return with the
 * record written (APPLY_FINISH). They are one script's text cut at line ends, not scripts of their own: each begins
 * with a line break and ends without one (APPLY_FINISH ends with one, as the script does), and they share the script's
 * locals (`A`, `call`, `meta`, `ver`, ...).
 */

/**
 * The state read once: existence, owner and sent boundary (`meta`), epoch and seq counter (`ver`) with the record
 * (`replay` answers a retry), the lists flush writes, and the entries that updates name read with one HMGET.
 */
export const APPLY_STATE = String.raw`
local A, tonumber, sbyte, sfind, ssub, call, mmin = ARGV, tonumber, string.byte, string.find, string.sub, redis.call, math.min
local window = tonumber(A[1])
local field, batch, clock = A[2], A[3], A[4]
local rec = false
local m = call('HMGET', meta, 'clean', 'node', 'sent')
local exists = m[1] ~= false or call('EXISTS', meta) == 1
local node = m[2]
local bound = tonumber(m[3] or '0')
local bound0 = bound
local cur_epoch, seq = 0, 0
-- a recorded reply: '<batch>\n<time>\n<codes>\n<seq0>' and per 'D' / 'o' its seq / node; codes that are all '1'
-- are recorded as '#<count>'
local function replay()
  local p = {}
  for part in string.gmatch(rec .. '\n', '([^\n]*)\n') do p[#p + 1] = part end
  local codes = p[3]
  if sbyte(codes, 1) == 35 then codes = string.rep('1', tonumber(ssub(codes, 2))) end
  local r, x = { codes, tonumber(p[4]) }, 5
  for k = 1, #codes do
    local c = sbyte(codes, k)
    if c == 68 or c == 85 then
      r[#r + 1] = tonumber(p[x])
      x = x + 1
    elseif c == 111 then
      r[#r + 1] = p[x]
      x = x + 1
    end
  end
  return r
end
if exists then
  local v
  if field ~= '' then v = call('HMGET', ver, 'epoch', 'seq', field) else v = call('HMGET', ver, 'epoch', 'seq') end
  cur_epoch, seq = tonumber(v[1] or '0'), tonumber(v[2] or '0')
  if field ~= '' then rec = v[3] end
  if rec and ssub(rec, 1, sfind(rec, '\n', 1, true) - 1) == batch then return replay() end
end
local seq0 = seq
local qn, exact, trim_due, trimmed, dedup_added, placed_added = nil, true, false, false, false, false
local fresh, nk, written = {}, 0, 0
-- what flush writes of them: field/value pairs and queue members, built as they come (rebuilt from fresh when a rare
-- change made them stale)
local hs, nh, za, na, lists_ok = {}, 0, {}, 0, true
local init, cur = {}, {}
local dels, nd, zrem, nz = {}, 0, {}, 0
local function chunked(cmd, key, list, n)
  for c = 1, n, 1000 do call(cmd, key, unpack(list, c, mmin(c + 999, n))) end
end
-- queued: no packet id of its own, above the boundary
local function qd(s, v) return type(v) == 'string' and sbyte(v, 1) == 48 and sbyte(v, 2) == 58 and s > bound end
local nnames = tonumber(A[5])
if exists then
  for c = 6, 5 + nnames, 1000 do
    local last = mmin(c + 999, 5 + nnames)
    local vals = call('HMGET', out, unpack(A, c, last))
    for k = c, last do
      local s = tonumber(A[k])
      if init[s] == nil then
        init[s] = vals[k - c + 1] or false
        cur[s] = init[s]
      end
    end
  end
end`;

/** `set_entry` changes the local view; `flush` writes everything back, `trim` the boundary's passing entries; `why` fences. */
export const APPLY_WRITE_BACK = String.raw`
local function set_entry(s, v)
  if qn then
    local a, b = qd(s, cur[s]), qd(s, v)
    if a and not b then qn = qn - 1 elseif b and not a then qn = qn + 1 end
  end
  cur[s] = v
end
-- writes everything back; queue gets what is queued now (entries the boundary passed wait for trim)
local function flush()
  if nk > written then
    if not lists_ok then
      hs, nh, za, na = {}, 0, {}, 0
      for k = written + 1, nk do
        local v = fresh[k]
        if v then
          local s = seq0 + k
          hs[nh + 1] = s
          hs[nh + 2] = v
          nh = nh + 2
          if qd(s, v) then
            za[na + 1] = s
            za[na + 2] = s
            na = na + 2
          end
        end
      end
      lists_ok = true
    end
    chunked('HSET', out, hs, nh)
    chunked('ZADD', queue, za, na)
    hs, nh, za, na = {}, 0, {}, 0
    written = nk
  end
  if nd > 0 then
    chunked('HDEL', out, dels, nd)
    dels, nd = {}, 0
  end
  if nz > 0 then
    chunked('ZREM', queue, zrem, nz)
    zrem, nz = {}, 0
  end
  local hset, hdel, zadd, zr = {}, {}, {}, {}
  for s, v in pairs(cur) do
    local v0 = init[s]
    if v ~= v0 then
      if v then
        hset[#hset + 1] = s
        hset[#hset + 1] = v
      else
        hdel[#hdel + 1] = s
      end
      local q0, q1 = qd(s, v0), qd(s, v)
      if q1 and not q0 then
        zadd[#zadd + 1] = s
        zadd[#zadd + 1] = s
      elseif q0 and not q1 then
        zr[#zr + 1] = s
      end
      init[s] = v
    end
  end
  chunked('HDEL', out, hdel, #hdel)
  chunked('HSET', out, hset, #hset)
  chunked('ZREM', queue, zr, #zr)
  chunked('ZADD', queue, zadd, #zadd)
end
local function trim()
  if trim_due then
    call('ZREMRANGEBYSCORE', queue, '-inf', bound)
    trim_due = false
  end
end
-- nil when a write carrying 'epoch' ('' = unfenced) may proceed, else the refusal code
local function why(epoch)
  if not exists then return 'n' end
  if epoch ~= '' and cur_epoch ~= tonumber(epoch) then return 'f' end
  return nil
end`;

/** After the ops: write back, move the boundary, expire `seen`/`placed`, write the record, return the reply. */
export const APPLY_FINISH = String.raw`
flush()
trim()
if bound ~= bound0 then call('HSET', meta, 'sent', bound) end
if dedup_added then call('PEXPIRE', seen, window) end
if placed_added then
  -- what is below the oldest queued entry is sent or dropped: never named again
  local oldest = call('ZRANGE', queue, 0, 0)[1]
  if oldest then call('ZREMRANGEBYSCORE', placed, '-inf', '(' .. oldest) end
  call('PEXPIRE', placed, window)
end
res[1] = table.concat(codes)
res[2] = seq0
if exists and field ~= '' then
  -- all done (the common case) is recorded short, so the ver hash stays a small listpack
  local all = res[1]
  if not sfind(all, '[^1]') then res[1] = '#' .. nc end
  local r = batch .. '\n' .. clock .. '\n' .. table.concat(res, '\n')
  res[1] = all
  if seq ~= seq0 then call('HSET', ver, 'seq', seq, field, r) else call('HSET', ver, field, r) end
  if not rec and call('HLEN', ver) > ${APPLIED_WRITERS_TRIM} + 2 then
    -- a new writer's record: the records of writers gone for long go
    local all, old = call('HGETALL', ver), tonumber(clock) - ${APPLIED_RECORD_MS}
    for k = 1, #all, 2 do
      local f, val = all[k], all[k + 1]
      if ssub(f, 1, 2) == 'w:' then
        local a = sfind(val, '\n', 1, true)
        local at = a and tonumber(ssub(val, a + 1, (sfind(val, '\n', a + 1, true) or 0) - 1))
        if at and at < old then call('HDEL', ver, f) end
      end
    end
  end
elseif seq ~= seq0 then
  call('HSET', ver, 'seq', seq)
end
return res
`;
