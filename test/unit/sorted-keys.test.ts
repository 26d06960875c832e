import { describe, expect, it } from "vitest";
import { compareUtf8 } from "../../core/store/codec.js";
import { SortedKeys } from "../../core/store/sorted.js";
import { mulberry32 as rng } from "../helpers/prng.js";

/** The reference: one sorted array, as SortedKeys was before decision 062. */
class Reference {
  keys: string[] = [];
  add(k: string): void {
    if (!this.keys.includes(k)) this.keys = [...this.keys, k].sort(compareUtf8);
  }
  delete(k: string): void {
    this.keys = this.keys.filter((x) => x !== k);
  }
  after(after: string | null, count: number): string[] {
    return this.keys.filter((k) => after === null || compareUtf8(k, after) > 0).slice(0, count);
  }
  /** From the first key at or after `after ?? prefix` (skipping `after` itself), while the keys start with `prefix`. */
  range(prefix: string, after: string | null, count: number): string[] {
    const from = after ?? prefix;
    const rest = this.keys.filter((k) => compareUtf8(k, from) >= 0 && k !== after);
    const end = rest.findIndex((k) => !k.startsWith(prefix));
    return (end < 0 ? rest : rest.slice(0, end)).slice(0, count);
  }
  withPrefix(prefix: string): string[] {
    return this.keys.filter((k) => k.startsWith(prefix));
  }
}


// Keys that share prefixes, sort differently in UTF-16 and UTF-8 (U+FFFD against an astral character), and are empty.
const ALPHABET = ["a", "b", "/", "ü", "\ufffd", "😀", "z"];
function key(r: () => number): string {
  const n = Math.floor(r() * 4);
  let k = "";
  for (let i = 0; i < n; i++) k += ALPHABET[Math.floor(r() * ALPHABET.length)];
  return k;
}

describe("SortedKeys (chunked, decision 062)", () => {
  it("pages after a cursor and finds prefixes", () => {
    const s = new SortedKeys();
    for (const k of ["b", "a/1", "a", "a/2", "ab", "a/1"]) s.add(k);
    expect(s.size).toBe(5);
    expect(s.after(null, 10)).toEqual(["a", "a/1", "a/2", "ab", "b"]);
    expect(s.after("a/1", 2)).toEqual(["a/2", "ab"]);
    expect(s.after("a/15", 10)).toEqual(["a/2", "ab", "b"]);
    expect(s.withPrefix("a/")).toEqual(["a/1", "a/2"]);
    expect(s.countPrefix("a")).toBe(4);
    s.delete("a/2");
    s.delete("zz");
    expect(s.withPrefix("a")).toEqual(["a", "a/1", "ab"]);
    expect(s.range("a", "a", 10)).toEqual(["a/1", "ab"]);
  });

  for (const chunkSize of [2, 3, 5, 512]) {
    it(`answers every query as one sorted array would, through splits, merges and empty chunks (chunk size ${chunkSize})`, () => {
      for (let seed = 1; seed <= 12; seed++) {
        const r = rng(seed * 1000 + chunkSize);
        const s = new SortedKeys(chunkSize);
        const ref = new Reference();
        for (let step = 0; step < 400; step++) {
          // Grow first, then shrink by deleting keys that are there, so chunks split, merge and empty.
          if (step < 250 ? r() < 0.8 : r() < 0.15) {
            const k = key(r);
            s.add(k);
            ref.add(k);
          } else {
            const k = ref.keys.length > 0 && r() < 0.9 ? (ref.keys[Math.floor(r() * ref.keys.length)] as string) : key(r);
            s.delete(k);
            ref.delete(k);
          }
          if (step % 20 !== 0) continue;
          const q = key(r);
          const prefix = key(r).slice(0, 2);
          const ctx = `seed ${seed}, step ${step}, q ${JSON.stringify(q)}, prefix ${JSON.stringify(prefix)}`;
          expect(s.size, ctx).toBe(ref.keys.length);
          expect(s.after(null, 1000), ctx).toEqual(ref.keys);
          expect(s.after(q, 3), ctx).toEqual(ref.after(q, 3));
          expect(s.withPrefix(prefix), ctx).toEqual(ref.withPrefix(prefix));
          expect(s.countPrefix(prefix), ctx).toBe(ref.withPrefix(prefix).length);
          expect(s.range(prefix, null, 2), ctx).toEqual(ref.range(prefix, null, 2));
          expect(s.range(prefix, q, 4), ctx).toEqual(ref.range(prefix, q, 4));
        }
        // Emptied from the front, chunk by chunk, with the queries checked on the way.
        for (const [n, k] of [...ref.keys].entries()) {
          s.delete(k);
          ref.delete(k);
          if (n % 7 !== 0) continue;
          const q = key(r);
          expect(s.after(q, 3)).toEqual(ref.after(q, 3));
          expect(s.countPrefix(q.slice(0, 1))).toBe(ref.withPrefix(q.slice(0, 1)).length);
          expect(s.after(null, 1000)).toEqual(ref.keys);
        }
        expect([s.size, s.after(null, 10)]).toEqual([0, []]);
      }
    });
  }

  it("200,000 keys inserted in scattered order and deleted again: size, prefix counts and paging stay right", () => {
    // What each change costs at this size is measured by bench/sorted-keys.mjs, not here.
    const n = 200_000;
    const s = new SortedKeys();
    const keys = Array.from({ length: n }, (_, i) => `fleet-${(i * 7919) % n}`);
    for (const k of keys) s.add(k);
    expect(s.size).toBe(n);
    expect(s.countPrefix("fleet-1")).toBe(keys.filter((k) => k.startsWith("fleet-1")).length);
    expect(s.after("fleet-99998", 2)).toEqual(["fleet-99999"]);
    expect(s.after("fleet-0", 2)).toEqual(["fleet-1", "fleet-10"]);
    for (const k of keys) s.delete(k);
    expect(s.size).toBe(0);
  });

  it("refuses a chunk size below 2", () => {
    expect(() => new SortedKeys(1)).toThrow(RangeError);
  });
});
