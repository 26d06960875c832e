import { describe, expect, it } from "vitest";
import { APPLIED_RECORD_MS, APPLIED_WRITERS_TRIM } from "../../core/store/apply-key.js";
import { applyKeyed } from "../../core/store/memory-retries.js";
import { newSession, type MemVersion } from "../../core/store/memory-state.js";
import type { StoreOp, StoreOpResult } from "../../core/store/types.js";

/** The memory store's records of keyed apply calls (decision 030): how records of gone writers go. */
describe("memory store: records of keyed apply calls", () => {
  const s = newSession(0);
  const op: StoreOp = { op: "outgoing.delete", clientId: "c1", epoch: 1, seq: 1 };
  const ok = (): StoreOpResult => ({ ok: true });

  it("a writer's first record removes the records older than APPLIED_RECORD_MS once there are many", () => {
    const v: MemVersion = { epoch: 1, seq: 0, applied: undefined, claim: undefined };
    const lookup = () => ({ s, v });
    const t0 = 1_000_000_000;
    for (let i = 0; i < APPLIED_WRITERS_TRIM; i++) applyKeyed([op], { writer: `old${i}`, batch: 1 }, lookup, ok, t0);
    applyKeyed([op], { writer: "recent", batch: 1 }, lookup, ok, t0 + APPLIED_RECORD_MS);
    // An existing writer's next call trims nothing.
    applyKeyed([op], { writer: "old0", batch: 2 }, lookup, ok, t0 + APPLIED_RECORD_MS + 1);
    expect(v.applied?.size).toBe(APPLIED_WRITERS_TRIM + 1);
    applyKeyed([op], { writer: "new", batch: 1 }, lookup, ok, t0 + APPLIED_RECORD_MS + 2);
    expect([...(v.applied?.keys() ?? [])].sort()).toEqual(["w:new", "w:old0", "w:recent"]);
  });
});
