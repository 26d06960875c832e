/**
 * Lua scripts of the idempotency records (idempotency-types.ts), shared by both Redis transports. KEYS[1] is the
 * record (keys.ts idempotencyKey): `p:<fingerprint>:<token>` while pending, `d:<fingerprint>:<answer>` once done;
 * fingerprints are 64 hex digits, so the fields sit at fixed offsets.
 */
import { createHash } from "node:crypto";
import type { LuaScript } from "./scripts.js";

function script(name: string, source: string): LuaScript {
  return { name, source, sha: createHash("sha1").update(source).digest("hex") };
}

/** ARGV: fingerprint, token, pendingMs. Reply: {'new'}, {'pending'}, {'mismatch'} or {'done', answer}. */
export const IDEMPOTENT_BEGIN = script("idempotentBegin", String.raw`
local v = redis.call('GET', KEYS[1])
if not v then
  redis.call('SET', KEYS[1], 'p:' .. ARGV[1] .. ':' .. ARGV[2], 'PX', ARGV[3])
  return { 'new' }
end
if string.sub(v, 3, 66) ~= ARGV[1] then return { 'mismatch' } end
if string.sub(v, 1, 1) == 'p' then return { 'pending' } end
return { 'done', string.sub(v, 68) }
`);

/** ARGV: fingerprint, token, answer, ttlMs. Reply 1 when this request's pending record became done, else 0. */
export const IDEMPOTENT_FINISH = script("idempotentFinish", String.raw`
if redis.call('GET', KEYS[1]) ~= 'p:' .. ARGV[1] .. ':' .. ARGV[2] then return 0 end
redis.call('SET', KEYS[1], 'd:' .. ARGV[1] .. ':' .. ARGV[3], 'PX', ARGV[4])
return 1
`);

/** ARGV: fingerprint, token. Deletes this request's pending record. Reply 1 when it did. */
export const IDEMPOTENT_ABANDON = script("idempotentAbandon", String.raw`
if redis.call('GET', KEYS[1]) ~= 'p:' .. ARGV[1] .. ':' .. ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
return 1
`);
