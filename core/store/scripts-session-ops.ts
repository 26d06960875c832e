/**
 * The Lua of SESSION_APPLY (scripts-session.ts) that runs the ops, as fragments that scripts-session.ts joins in order
 * with those of scripts-session-state.ts: an enqueue that may proceed (APPLY_ENQUEUE: bound, drop policy, seq) and
 * the loop over the op codes (APPLY_OPS). Cut from one script at line ends: each begins with a line break and ends
 * without one, and uses the locals of scripts-session-state.ts (`A`, `call`, `cur`, `fresh`, `flush`, `why`, ...).
 */

/** The reply's parts, the enqueue parameters and fences in force, and `add`: one enqueue that may proceed. */
export const APPLY_ENQUEUE = String.raw`
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
end`;

/** One pass over the ops ('E', 'e', 'p', 'k', 's', 'x', 'u', 'a', 'r'; scripts-session.ts), each adding its code. */
export const APPLY_OPS = String.raw`
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
end`;
