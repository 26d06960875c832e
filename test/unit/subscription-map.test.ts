import { describe, expect, it } from "vitest";
import { SubscriptionMap } from "../../core/subscription-map.js";

/** core/subscription-map.ts behaves as a Map (order, replace, delete, clear), whether it holds one entry or many. */
describe("SubscriptionMap", () => {
  it("agrees with a Map over a random sequence of set, delete and clear", () => {
    const filters = ["a", "b/+", "c/#", "d"];
    let seed = 17;
    const rnd = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed % n;
    };
    const subs = new SubscriptionMap();
    const model = new Map<string, number>();
    for (let step = 0; step < 2000; step++) {
      const filter = filters[rnd(filters.length)] as string;
      const action = rnd(10);
      if (action < 5) {
        expect(subs.set(filter, step)).toBe(subs);
        model.set(filter, step);
      } else if (action < 9) {
        expect(subs.delete(filter)).toBe(model.delete(filter));
      } else {
        subs.clear();
        model.clear();
      }
      expect(subs.size).toBe(model.size);
      expect([...subs]).toEqual([...model]);
      expect([...subs.keys()]).toEqual([...model.keys()]);
      expect([...subs.values()]).toEqual([...model.values()]);
      for (const f of filters) {
        expect(subs.get(f)).toBe(model.get(f));
        expect(subs.has(f)).toBe(model.has(f));
      }
      const visited: [string, number][] = [];
      subs.forEach((word, f) => visited.push([f, word]));
      expect(visited).toEqual([...model]);
    }
  });

  it("deleting while iterating visits the rest, as a Map does; clearing while iterating ends the iteration", () => {
    for (const n of [1, 3]) {
      const subs = new SubscriptionMap();
      for (let i = 0; i < n; i++) subs.set(`f${i}`, i);
      const seen: string[] = [];
      for (const filter of subs.keys()) {
        seen.push(filter);
        subs.delete(filter);
      }
      expect(seen).toEqual(Array.from({ length: n }, (_, i) => `f${i}`));
      expect(subs.size).toBe(0);
      for (let i = 0; i < n; i++) subs.set(`g${i}`, i);
      const before: string[] = [];
      for (const filter of subs.keys()) {
        before.push(filter);
        subs.clear();
      }
      expect(before).toEqual(["g0"]);
    }
  });

  it("a replaced only entry keeps its value current and its place when a second one comes", () => {
    const subs = new SubscriptionMap();
    subs.set("fleet/1/down", 1);
    subs.set("fleet/1/down", 2);
    expect(subs.size).toBe(1);
    subs.set("fleet/all", 0);
    expect([...subs]).toEqual([
      ["fleet/1/down", 2],
      ["fleet/all", 0],
    ]);
  });
});
