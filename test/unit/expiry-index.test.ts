import { describe, expect, it } from "vitest";
import { ExpiryIndex } from "../../core/store/expiry-index.js";

/** The heap's length (private): what the index costs in memory beyond its live entries. */
function heapLength(idx: ExpiryIndex): number {
  return (idx as unknown as { heap: unknown[] }).heap.length;
}

describe("ExpiryIndex (the memory store's due-time index)", () => {
  it("stays bounded by its live entries when ids are deleted and set again, or moved earlier, over and over", () => {
    const idx = new ExpiryIndex();
    for (let round = 0; round < 10_000; round++) {
      const id = `t/${round % 10}`;
      idx.delete(id);
      idx.set(id, 1_000_000 - round);
    }
    for (let round = 0; round < 10_000; round++) idx.set("moving", 1_000_000 - round);
    expect(idx.size).toBe(11);
    expect(heapLength(idx)).toBeLessThanOrEqual(2 * idx.size + 64 + 1);
    // Still answers exactly the live entries, earliest first.
    expect(idx.takeDue(1_000_000, 100)).toEqual(["moving", "t/9", "t/8", "t/7", "t/6", "t/5", "t/4", "t/3", "t/2", "t/1", "t/0"]);
  });

  it("takeDue leaves the entries in place until they are set or deleted", () => {
    const idx = new ExpiryIndex();
    idx.set("a", 10);
    idx.set("b", 20);
    idx.set("c", 30);
    expect(idx.takeDue(25, 10)).toEqual(["a", "b"]);
    expect(idx.takeDue(25, 1)).toEqual(["a"]);
    idx.delete("a");
    idx.set("b", 40);
    expect(idx.takeDue(35, 10)).toEqual(["c"]);
    expect(idx.takeDue(100, 10)).toEqual(["c", "b"]);
  });
});
