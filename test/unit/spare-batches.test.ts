import { describe, expect, it } from "vitest";
import { giveSpare, takeSpare } from "../../broker/spare-batches.js";

// Written batches kept for later ones (broker/spare-batches.ts): a batch gets a spare of at least the room it asks
// for, among the few given back last; each spare is handed out once; the oldest go once 256 are kept.
// The module's stack is shared by the whole process: each test empties what it takes.

function drain(): Buffer[] {
  const out: Buffer[] = [];
  for (let b = takeSpare(0); b !== null; b = takeSpare(0)) out.push(b);
  return out;
}

describe("spare batches", () => {
  it("hands a spare out once, the most recent large enough first, among the last four", () => {
    drain();
    const [a, b, c, d, e] = [10, 100, 20, 30, 40].map((n) => Buffer.alloc(n));
    for (const x of [a, b, c, d, e] as Buffer[]) giveSpare(x);
    // The top four are e, d, c, b: room 50 finds b (100 bytes) below them.
    expect(takeSpare(50)).toBe(b);
    expect(takeSpare(50)).toBeNull();
    expect(takeSpare(35)).toBe(e);
    const rest = drain();
    expect(new Set(rest)).toEqual(new Set([a, c, d]));
    expect(takeSpare(0)).toBeNull();
  });

  it("keeps no batch over 4 KiB, and at most 256, dropping the oldest", () => {
    drain();
    giveSpare(Buffer.alloc(5000));
    expect(takeSpare(0)).toBeNull();
    const given = Array.from({ length: 300 }, (_, i) => Buffer.alloc(1 + (i % 7)));
    for (const x of given) giveSpare(x);
    const kept = drain();
    expect(kept.length).toBe(256);
    expect(new Set(kept)).toEqual(new Set(given.slice(300 - 256)));
  });
});
