import { describe, expect, it } from "vitest";
import { InflightTable } from "../../broker/inflight-table.js";

// A session's in-flight messages by packet id (broker/inflight-table.ts): it must behave as the Map it replaced,
// insertion order included (messages are re-sent in their original order [MQTT-4.4.0-1]), in its array form (up to
// 16 entries) and in its Map form (more), and across the switch between them. Checked against a Map, op by op.

/** A deterministic pseudo-random sequence (xorshift), so a failing case is the same on every run. */
function rng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

function expectSame(t: InflightTable<string>, m: Map<number, string>): void {
  expect(t.size).toBe(m.size);
  expect(t.entries()).toEqual([...m.entries()]);
  expect([...t]).toEqual([...m]);
  expect(t.values()).toEqual([...m.values()]);
}

describe("InflightTable", () => {
  for (const n of [1, 2, 3, 16, 17, 40]) {
    it(`keeps ${n} entries in insertion order, replaces a value in place, and deletes from anywhere`, () => {
      const t = new InflightTable<string>();
      const m = new Map<number, string>();
      for (let id = 1; id <= n; id++) {
        t.set(id * 7, `v${id}`);
        m.set(id * 7, `v${id}`);
      }
      expectSame(t, m);
      t.set(7, "again");
      m.set(7, "again");
      expectSame(t, m);
      for (const id of [n * 7, 7, Math.ceil(n / 2) * 7, 999]) {
        expect(t.delete(id)).toBe(m.delete(id));
        expectSame(t, m);
        expect(t.has(id)).toBe(false);
        expect(t.get(id)).toBeUndefined();
      }
    });
  }

  it("matches a Map over random sets, replacements and deletes across the 16-entry switch", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const next = rng(seed * 7919);
      const t = new InflightTable<string>();
      const m = new Map<number, string>();
      for (let op = 0; op < 3000; op++) {
        const id = 1 + Math.floor(next() * 40);
        if (next() < 0.55) {
          t.set(id, `s${op}`);
          m.set(id, `s${op}`);
        } else {
          expect(t.delete(id)).toBe(m.delete(id));
        }
        expect(t.size).toBe(m.size);
        expect(t.get(id)).toBe(m.get(id));
        expect(t.has(id)).toBe(m.has(id));
        if (op % 50 === 0) expectSame(t, m);
      }
      expectSame(t, m);
    }
  });

  it("lets the entry being visited be deleted while iterating (the iteration is over a copy)", () => {
    const t = new InflightTable<string>();
    for (let id = 1; id <= 20; id++) t.set(id, `v${id}`);
    const seen: number[] = [];
    for (const [id] of t) {
      seen.push(id);
      if (id % 2 === 0) t.delete(id);
    }
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(t.entries().map(([id]) => id)).toEqual([1, 3, 5, 7, 9, 11, 13, 15, 17, 19]);
    for (const v of t.values()) t.delete(Number(v.slice(1)));
    expect(t.size).toBe(0);
  });
});
