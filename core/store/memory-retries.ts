import { APPLIED_RECORD_MS, APPLIED_WRITERS_TRIM, appliedField } from "./apply-key.js";
import type { MemSession, MemVersion } from "./memory-state.js";
import type { ApplyKey, StoreOp, StoreOpResult } from "./types.js";

type SessionOp = Exclude<StoreOp, { op: "retained.set" } | { op: "retained.delete" }>;

/** One session's part of a keyed call: answered from its record (`replay`), or applied and recorded. */
interface Part {
  replay: StoreOpResult[] | null;
  results: StoreOpResult[];
  /** Whether the session existed when the call reached it (only then is the call recorded, as on Redis). */
  record: boolean;
}

/**
 * `apply` with a key on the memory store (types.ts ApplyKey, decision 030): each session's ops are answered from
 * the record of the writer's last call when it has this batch number, else applied and recorded. `applyOne` applies
 * any op (retained ops are not recorded: a retained set or delete repeated does what it did).
 */
export function applyKeyed(
  ops: StoreOp[],
  key: ApplyKey,
  lookup: (clientId: string) => { s: MemSession | undefined; v: MemVersion | undefined },
  applyOne: (op: StoreOp) => StoreOpResult,
  now: number,
): StoreOpResult[] {
  const field = appliedField(key, 0);
  const parts = new Map<string, Part>();
  const results = ops.map((op) => {
    if (op.op === "retained.set" || op.op === "retained.delete") return applyOne(op);
    let part = parts.get(op.clientId);
    if (part === undefined) {
      const { s, v } = lookup(op.clientId);
      // As on Redis, only a session that exists has a record (a missing one refuses every op anyway).
      const exists = s !== undefined && v !== undefined;
      const rec = exists ? v.applied?.get(field) : undefined;
      part = { replay: rec !== undefined && rec.batch === key.batch ? rec.results : null, results: [], record: exists };
      parts.set(op.clientId, part);
    }
    const r = part.replay !== null ? { ...(part.replay[part.results.length] as StoreOpResult) } : applyOne(op as SessionOp);
    part.results.push(r);
    return r;
  });
  for (const [clientId, part] of parts) {
    if (part.replay !== null || !part.record) continue;
    const v = lookup(clientId).v;
    if (v !== undefined) remember(v, field, { batch: key.batch, at: now, results: part.results.map((r) => ({ ...r })) });
  }
  return results;
}

/** Keeps `rec` as the writer's last call; a new writer's record makes stale ones of gone writers go. */
function remember(v: MemVersion, field: string, rec: { batch: number; at: number; results: StoreOpResult[] }): void {
  const applied = (v.applied ??= new Map());
  const isNew = !applied.has(field);
  applied.set(field, rec);
  if (!isNew || applied.size <= APPLIED_WRITERS_TRIM) return;
  for (const [f, r] of applied) if (r.at < rec.at - APPLIED_RECORD_MS) applied.delete(f);
}
