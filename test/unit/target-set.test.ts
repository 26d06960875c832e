import { describe, expect, it } from "vitest";
import { TargetSet } from "../../broker/target-set.js";

// The routing pass's set of matched sessions (broker/target-set.ts): one entry per key, kept in the order first
// set, a linear scan for a few entries and a Map index past eight, and a clear that keeps nothing referenced.

const keys = (n: number): { id: number }[] => Array.from({ length: n }, (_, id) => ({ id }));

function entries<K extends object>(s: TargetSet<K>): [K, number][] {
  return Array.from({ length: s.size }, (_, i) => [s.keyAt(i), s.wordAt(i)]);
}

describe("TargetSet", () => {
  for (const n of [1, 8, 9, 40, 2000]) {
    it(`holds ${n} keys once each, in the order first set, with the last word set for each`, () => {
      const s = new TargetSet<{ id: number }>();
      const ks = keys(n);
      for (const k of ks) s.set(k, k.id);
      // Setting again updates in place: no second entry, order unchanged.
      for (const k of ks) if (k.id % 3 === 0) s.set(k, k.id + 1_000_000);
      expect(s.size).toBe(n);
      expect(entries(s)).toEqual(ks.map((k) => [k, k.id % 3 === 0 ? k.id + 1_000_000 : k.id]));
      for (const k of ks) expect(s.get(k)).toBe(k.id % 3 === 0 ? k.id + 1_000_000 : k.id);
      expect(s.get({ id: -1 })).toBeUndefined();
    });
  }

  it("is empty after clear, refers to none of its keys, and is used again from the start", () => {
    for (const n of [5, 20, 3000]) {
      const s = new TargetSet<{ id: number }>();
      const ks = keys(n);
      for (const k of ks) s.set(k, 1);
      s.clear();
      expect(s.size).toBe(0);
      for (const k of ks) expect(s.get(k)).toBeUndefined();
      // Nothing cleared is still held: the key arrays keep no reference (inspected, as a leak would not show).
      const held = (s as unknown as { keys: unknown[] }).keys;
      expect(held.filter((x) => x !== null)).toEqual([]);
      const again = keys(3);
      for (const k of again) s.set(k, 2);
      expect(entries(s)).toEqual(again.map((k) => [k, 2]));
    }
  });
});
