import { APPLIED_RECORD_MS, APPLIED_WRITERS_TRIM } from "./apply-key.js";
import { script, SESSION } from "./scripts.js";

/**
 * Every session op of one batch for one session, in order, in one call (decision 021; the caller is
 * session-apply.ts). KEYS: the session's keys (keys.ts `sessionKeys().list`).
 *
 * Redis runs Lua slowly compared with its own commands (about 0.1-0.2 µs per Lua step on the benchmark machine), so
 * the per-message path is as few Lua steps as it can be: an enqueue appends its value to a list, a delete its seq to
 * another, a send moves one number; the lists are written back with one HSET, HDEL, ZADD and ZREM each (in chunks of
 * 1,000 arguments), and the boundary's passing entries leave `queue` with one ZREMRANGEBYSCORE.
 *
 * State read once: existence, owner and sent boundary (`meta` `clean`, `node`, `sent`), epoch and seq counter
 * (`ver`). The entries of this call's enqueues are `fresh` (the k-th has seq seq0 + k), and their HSET and ZADD
 * arguments are collected as they come; those up to `written` are in Redis already (a bound check writes everything
 * back first). Entries that updates name are read with one HMGET into a local view (`init` as stored, `cur` as
 * changed). A delete of an entry nobody read is blind (HDEL; ZREM only when it may be queued). The rare update or
 * delete of an entry enqueued by this very call writes at once when it is written already, else makes flush rebuild
 * the collected arguments.
 *
 * An entry is queued when its header's packet id is 0 and its seq is above the boundary; `queue` indexes exactly those
 * once the script ends. `qn` is the number of queued entries once counted: exact after a count, an upper bound after a
 * boundary move (which can only lower the true number), nil (count again) after a rarer change. An enqueue that finds
 * the bound reached without an exact count counts again (ZCARD after writing everything back), so the bound and the
 * drop order are exact.
 *
 * ARGV[1]: dedup window (ms); ARGV[2]: the record field of this call ('' = none) and ARGV[3] its batch number, ARGV[4]
 * the time (ms) (decision 030, apply-key.ts); ARGV[5]: n, the number of seqs that updates name; ARGV[6..5+n]: those
 * seqs; then the ops, each a code and its fields (the fields shared by consecutive ops are sent once):
 *   'p' enqueue parameters of the enqueues that follow: maxQueued, dropPolicy, epoch ('' = not an owner write),
 *       unowned ('1': refuse while a node owns the session; '=<node>': while a node other than <node> owns it),
 *       now (ms, for the dedup window)
 *   'E' count, then that many enqueues without a dedup id, each its value (`<packetId>:0:<body>`; packet id 0 =
 *       queued and bounded, else in flight, never bounded)
 *   'e' enqueue: value, dedupId (refused as duplicate when enqueued under it within the window; an enqueue that is
 *       neither an owner write nor refused while any node owns the session (unowned '1'), so it may land after a
 *       claim read the queue, records its entry's seq under the id in `placed`, trimmed below the oldest queued entry)
 *   'k' the epoch of the owner writes that follow
 *   'u' outgoing.update: new header (`<packetId>:<state>`); its seq is the next of ARGV[3..2+n]
 *   's' outgoing.sent: seq (the boundary moves to it, never beyond the seq counter, never back)
 *   'x' outgoing.delete of every seq from..to (one op or a run of them: session-apply.ts folds consecutive seqs)
 *   'a' / 'r' inbound2.add / inbound2.delete: packetId, or for 'a' '<packetId>|<root>' (decision 025)
 * Reply: a string with one character per enqueue and per other op ('1' done, 'D' done and an entry dropped, 'f'
 * fenced, 'n' no-session, 'F' full, 'u' duplicate, 'U' duplicate of a queued entry that `placed` names to an owner
 * write, 'o' owned), the seq counter before the call (the enqueues done get the next seqs, in order), then per 'D' the
 * seq dropped last, per 'U' the queued entry's seq and per 'o' the owner node, in op order.
 *
 * The record (decision 030): with a record field, the session's `ver` hash keeps under it
 * `<batch>\n<time>\n<reply joined by \n>` once the call is done (codes all '1' as `#<count>`). A call whose record field already holds its batch
 * number is a retry of a call whose reply was lost: it writes nothing and answers the recorded reply. Read with the
 * HMGET of `ver` the script does anyway and written with its HSET, so a call costs no extra Redis command; only a
 * writer's first record in a session looks at the hash's length, and past APPLIED_WRITERS_TRIM writers removes the
 * records older than APPLIED_RECORD_MS. A session that does not exist has no record (its ops are all refused).
 */
export const SESSION_APPLY = script("sessionApply", SESSION + String.raw`
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
end
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
end
local codes, nc, res = {}, 0, { '', 0 }
local max, policy, now, eblock, ow, owner, regardless = 0, 'oldest', 0, 'n', 'n', false, false
-- one enqueue that may proceed: bound, drop policy, seq; returns its code
local function add(v)
  local code = '1'
  local queued = sbyte(v, 1) == 48 and sbyte(v, 2) == 58
  if queued then
    if qn == nil or (qn >= max and not exact) then
      flush()
      trim()
      qn = call('ZCARD', queue)
      exact = true
    end
    if qn >= max then
      if policy == 'newest' or max == 0 then return 'F' end
      flush()
      local dropped = false
      while qn >= max do
        local oldest = call('ZRANGE', queue, 0, 0)[1]
        if not oldest then
          qn = 0
          break
        end
        call('ZREM', queue, oldest)
        call('HDEL', out, oldest)
        local s = tonumber(oldest)
        if s > seq0 and s - seq0 <= nk then
          fresh[s - seq0] = false
        elseif cur[s] ~= nil then
          init[s] = false
          cur[s] = false
        end
        dropped = s
        qn = qn - 1
      end
      if dropped then
        res[#res + 1] = dropped
        code = 'D'
      end
    end
    qn = qn + 1
  end
  seq = seq + 1
  nk = nk + 1
  fresh[nk] = v
  hs[nh + 1] = seq
  hs[nh + 2] = v
  nh = nh + 2
  -- a member the boundary passes before flush leaves again with trim (a move sets trim_due)
  if queued then
    za[na + 1] = seq
    za[na + 2] = seq
    na = na + 2
  end
  return code
end
local i = 6 + nnames
local n = #A
-- updates take their seqs from ARGV[6..5+n], in order
local name = 6
while i <= n do
  local op = A[i]
  if op == 'E' then
    local last = i + 1 + tonumber(A[i + 1])
    if eblock == nil then
      for j = i + 2, last do
        nc = nc + 1
        codes[nc] = add(A[j])
      end
    else
      for j = i + 2, last do
        nc = nc + 1
        codes[nc] = eblock
        if eblock == 'o' then res[#res + 1] = node end
      end
    end
    i = last + 1
  elseif op == 'e' then
    local code = eblock
    if code == nil then
      local dedup = A[i + 2]
      if not trimmed then
        call('ZREMRANGEBYSCORE', seen, '-inf', now)
        trimmed = true
      end
      local until_ = call('ZSCORE', seen, dedup)
      if until_ and tonumber(until_) > now then
        code = 'u'
        -- an owner write is told the entry a write that may land after a claim stored under the id, while it is queued
        local at = owner and call('ZSCORE', placed, dedup)
        if at then
          flush()
          trim()
          if call('ZSCORE', queue, at) then
            code = 'U'
            res[#res + 1] = tonumber(at)
          end
        end
      else
        code = add(A[i + 1])
        if code ~= 'F' then
          call('ZADD', seen, now + window, dedup)
          dedup_added = true
          if regardless then
            call('ZADD', placed, seq, dedup)
            placed_added = true
          end
        end
      end
    elseif code == 'o' then
      res[#res + 1] = node
    end
    nc = nc + 1
    codes[nc] = code
    i = i + 3
  elseif op == 'p' then
    max, policy, now = tonumber(A[i + 1]), A[i + 2], tonumber(A[i + 5])
    owner = A[i + 3] ~= ''
    eblock = why(A[i + 3])
    local u = A[i + 4]
    -- not an owner write, nor one refused while any node owns the session: it may land after a claim read the queue
    regardless = not owner and u ~= '1'
    if eblock == nil and node and (u == '1' or (sbyte(u, 1) == 61 and ssub(u, 2) ~= node)) then eblock = 'o' end
    i = i + 6
  elseif op == 'k' then
    ow = why(A[i + 1])
    i = i + 2
  else
    local code = ow or '1'
    if op == 's' then
      if ow == nil then
        local to = mmin(tonumber(A[i + 1]), seq)
        if to > bound then
          -- the entries it passes stop being queued: qn stays an upper bound until the next count
          bound = to
          trim_due = true
          exact = false
        end
      end
      i = i + 2
    elseif op == 'x' then
      local from, to = tonumber(A[i + 1]), tonumber(A[i + 2])
      if ow == nil and to <= seq0 and to <= bound and nnames == 0 then
        -- the common case (acknowledgements): entries in flight, none read; blind deletes
        for s = from, to do
          nd = nd + 1
          dels[nd] = s
        end
      elseif ow == nil then
        for s = from, to do
          if s > seq0 and s - seq0 <= nk then
            local k = s - seq0
            local v = fresh[k]
            if v then
              fresh[k] = false
              if k <= written then
                call('HDEL', out, s)
                if qd(s, v) then call('ZREM', queue, s) end
              else
                lists_ok = false
              end
              qn = nil
            end
          else
            local v = cur[s]
            if v ~= nil then
              if v then set_entry(s, false) end
            else
              nd = nd + 1
              dels[nd] = s
              if s > bound then
                nz = nz + 1
                zrem[nz] = s
                qn = nil
              end
            end
          end
        end
      end
      i = i + 3
    elseif op == 'u' then
      local s = tonumber(A[name])
      name = name + 1
      if ow == nil then
        -- '0:<state>' at or below the boundary: still in flight, with the packet id derived from the seq
        local isfresh = s > seq0 and s - seq0 <= nk
        local v
        if isfresh then v = fresh[s - seq0] else v = cur[s] end
        if v then
          local b = sfind(v, ':', sfind(v, ':', 1, true) + 1, true)
          local nv = A[i + 1] .. ssub(v, b)
          if not isfresh then
            set_entry(s, nv)
          else
            fresh[s - seq0] = nv
            if s - seq0 <= written then
              call('HSET', out, s, nv)
              local q0, q1 = qd(s, v), qd(s, nv)
              if q1 and not q0 then call('ZADD', queue, s, s) elseif q0 and not q1 then call('ZREM', queue, s) end
            else
              lists_ok = false
            end
            qn = nil
          end
        end
      end
      i = i + 2
    else
      if ow == nil and (op == 'a' or op == 'r') then
        -- Members: '<id>' (routed) or '<id>|<root>' (being routed under root; decision 025).
        local v = A[i + 1]
        local bar = sfind(v, '|', 1, true)
        local id = bar and ssub(v, 1, bar - 1) or v
        local pending = {}
        for _, mem in ipairs(call('SMEMBERS', in2)) do
          if ssub(mem, 1, #id + 1) == id .. '|' then pending[#pending + 1] = mem end
        end
        if op == 'a' and bar then
          if #pending == 0 and call('SISMEMBER', in2, id) == 0 then call('SADD', in2, v) end
        else
          for _, mem in ipairs(pending) do call('SREM', in2, mem) end
          if op == 'a' then call('SADD', in2, id) else call('SREM', in2, id) end
        end
      elseif ow == nil then
        code = '?'
      end
      i = i + 2
    end
    nc = nc + 1
    codes[nc] = code
  end
end
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
`);
