import { describe, expect, it } from "vitest";
import {
  DeliveryAccounting,
  hasAnomalies,
  median,
  PairTracker,
  percentileSorted,
  ratio,
  summarizeLatencies,
} from "../../bench/accounting.js";

describe("PairTracker", () => {
  it("counts an in-order stream as clean", () => {
    const t = new PairTracker(5);
    for (let i = 0; i < 5; i++) expect(t.record(i)).toBe("ok");
    expect(t.distinct).toBe(5);
    expect(t.arrivals).toBe(5);
    expect(t.duplicates + t.reordered + t.unexpected).toBe(0);
    expect(t.lost(5)).toBe(0);
    expect(t.highest).toBe(4);
  });

  it("counts a second arrival of a seq as a duplicate, not as received twice", () => {
    const t = new PairTracker(4);
    t.record(0);
    t.record(1);
    expect(t.record(1)).toBe("duplicate");
    expect(t.record(0)).toBe("duplicate");
    t.record(2);
    t.record(3);
    expect(t.duplicates).toBe(2);
    expect(t.distinct).toBe(4);
    expect(t.arrivals).toBe(6);
    expect(t.reordered).toBe(0);
    expect(t.lost(4)).toBe(0);
  });

  it("counts a first arrival below the highest seen as reordered", () => {
    const t = new PairTracker(6);
    expect(t.record(0)).toBe("ok");
    expect(t.record(2)).toBe("ok");
    expect(t.record(1)).toBe("reordered");
    expect(t.record(5)).toBe("ok");
    expect(t.record(3)).toBe("reordered");
    expect(t.record(4)).toBe("reordered");
    expect(t.reordered).toBe(3);
    expect(t.duplicates).toBe(0);
    expect(t.lost(6)).toBe(0);
  });

  it("a late duplicate of an old seq is a duplicate, not a reordering", () => {
    const t = new PairTracker(3);
    t.record(0);
    t.record(1);
    t.record(2);
    expect(t.record(0)).toBe("duplicate");
    expect(t.reordered).toBe(0);
  });

  it("reports lost seqs, the first ones by number", () => {
    const t = new PairTracker(10);
    for (const s of [0, 1, 3, 4, 8]) t.record(s);
    expect(t.lost(10)).toBe(5);
    expect(t.missing(10)).toEqual([2, 5, 6, 7, 9]);
    expect(t.missing(10, 2)).toEqual([2, 5]);
    // Only what was sent counts: seqs 0..4 sent, 2 missing.
    expect(t.lost(5)).toBe(1);
    expect(t.lost(0)).toBe(0);
  });

  it("counts seqs outside the expected range as unexpected", () => {
    const t = new PairTracker(3);
    expect(t.record(3)).toBe("unexpected");
    expect(t.record(-1)).toBe("unexpected");
    expect(t.record(1.5)).toBe("unexpected");
    expect(t.unexpected).toBe(3);
    expect(t.distinct).toBe(0);
    expect(t.lost(3)).toBe(3);
  });

  it("refuses a bad capacity", () => {
    expect(() => new PairTracker(-1)).toThrow(RangeError);
    expect(() => new PairTracker(2.5)).toThrow(RangeError);
  });
});

describe("DeliveryAccounting", () => {
  it("tracks every publisher → subscriber pair on its own", () => {
    const acc = new DeliveryAccounting(2, 3, 4);
    // Publisher 0 reaches every subscriber in order; publisher 1 reaches subscriber 2 out of order.
    for (let s = 0; s < 3; s++) for (let q = 0; q < 4; q++) acc.record(0, s, q);
    for (const s of [0, 1]) for (let q = 0; q < 4; q++) acc.record(1, s, q);
    for (const q of [0, 2, 1, 3]) acc.record(1, 2, q);
    const sum = acc.summarize([4, 4]);
    expect(sum.expected).toBe(24);
    expect(sum.received).toBe(24);
    expect(sum.lost).toBe(0);
    expect(sum.duplicates).toBe(0);
    expect(sum.reordered).toBe(1);
    expect(sum.badPairs).toHaveLength(1);
    expect(sum.badPairs[0]).toMatchObject({ publisher: 1, subscriber: 2, reordered: 1, lost: 0 });
    expect(hasAnomalies(sum)).toBe(true);
  });

  it("the same seq from two publishers is two messages, not a duplicate", () => {
    const acc = new DeliveryAccounting(2, 1, 1);
    expect(acc.record(0, 0, 0)).toBe("ok");
    expect(acc.record(1, 0, 0)).toBe("ok");
    const sum = acc.summarize([1, 1]);
    expect(sum).toMatchObject({ expected: 2, received: 2, duplicates: 0, lost: 0 });
    expect(hasAnomalies(sum)).toBe(false);
  });

  it("counts loss per pair against what each publisher sent", () => {
    const acc = new DeliveryAccounting(2, 2, 10);
    for (let q = 0; q < 10; q++) {
      acc.record(0, 0, q);
      if (q !== 7) acc.record(0, 1, q);
    }
    for (let q = 0; q < 3; q++) {
      acc.record(1, 0, q);
      acc.record(1, 1, q);
    }
    acc.record(1, 1, 2); // a duplicate
    const sum = acc.summarize([10, 4]);
    expect(sum.expected).toBe(28);
    expect(sum.received).toBe(25);
    expect(sum.lost).toBe(3);
    expect(sum.duplicates).toBe(1);
    const bad = sum.badPairs.map((p) => [p.publisher, p.subscriber, p.lost, p.duplicates, p.firstMissing]);
    expect(bad).toEqual([
      [0, 1, 1, 0, [7]],
      [1, 0, 1, 0, [3]],
      [1, 1, 1, 1, [3]],
    ]);
  });

  it("counts messages from an unknown publisher or for an unknown subscriber as unexpected", () => {
    const acc = new DeliveryAccounting(1, 1, 2);
    expect(acc.record(5, 0, 0)).toBe("unexpected");
    expect(acc.record(0, 3, 0)).toBe("unexpected");
    acc.record(0, 0, 0);
    acc.record(0, 0, 1);
    const sum = acc.summarize([2]);
    expect(sum.unexpected).toBe(2);
    expect(sum.lost).toBe(0);
    expect(hasAnomalies(sum)).toBe(true);
  });

  it("arrivals count duplicates (they are what the publisher window sees)", () => {
    const acc = new DeliveryAccounting(1, 2, 3);
    acc.record(0, 1, 0);
    acc.record(0, 1, 0);
    expect(acc.arrivals(0, 1)).toBe(2);
    expect(acc.arrivals(0, 0)).toBe(0);
    expect(acc.arrivals(9, 0)).toBe(0);
  });

  it("a run with nothing wrong has no anomalies", () => {
    expect(hasAnomalies({ lost: 0, duplicates: 0, reordered: 0, unexpected: 0 })).toBe(false);
    expect(hasAnomalies({ lost: 0, duplicates: 0, reordered: 0, unexpected: 1 })).toBe(true);
  });
});

describe("percentileSorted (nearest rank)", () => {
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

  it("picks the smallest value with at least p % at or below it", () => {
    expect(percentileSorted(ten, 50)).toBe(5);
    expect(percentileSorted(ten, 51)).toBe(6);
    expect(percentileSorted(ten, 90)).toBe(9);
    expect(percentileSorted(ten, 99)).toBe(10);
    expect(percentileSorted(ten, 10)).toBe(1);
    expect(percentileSorted(ten, 11)).toBe(2);
  });

  it("p0 is the minimum and p100 the maximum", () => {
    expect(percentileSorted(ten, 0)).toBe(1);
    expect(percentileSorted(ten, 100)).toBe(10);
  });

  it("p99 of 1000 values is the 990th", () => {
    const a = Float64Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentileSorted(a, 99)).toBe(990);
    expect(percentileSorted(a, 99.9)).toBe(999);
  });

  it("works on one value and is NaN on none", () => {
    expect(percentileSorted([42], 50)).toBe(42);
    expect(percentileSorted([42], 99)).toBe(42);
    expect(percentileSorted([], 50)).toBeNaN();
  });

  it("refuses p outside 0..100", () => {
    expect(() => percentileSorted(ten, -1)).toThrow(RangeError);
    expect(() => percentileSorted(ten, 100.5)).toThrow(RangeError);
    expect(() => percentileSorted(ten, Number.NaN)).toThrow(RangeError);
  });
});

describe("summarizeLatencies", () => {
  it("sorts a copy, numerically", () => {
    const samples = [100, 9, 1000, 20, 3];
    const s = summarizeLatencies(samples);
    expect(samples).toEqual([100, 9, 1000, 20, 3]);
    expect(s.count).toBe(5);
    expect(s.p50).toBe(20);
    expect(s.p99).toBe(1000);
    expect(s.max).toBe(1000);
    expect(s.mean).toBeCloseTo(226.4, 10);
  });

  it("is NaN throughout for no samples", () => {
    const s = summarizeLatencies([]);
    expect(s.count).toBe(0);
    expect(s.p50).toBeNaN();
    expect(s.max).toBeNaN();
    expect(s.mean).toBeNaN();
  });
});

describe("median and ratio", () => {
  it("median of odd and even counts", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it("median ignores NaN and is NaN for nothing", () => {
    expect(median([Number.NaN, 5, 1])).toBe(3);
    expect(median([])).toBeNaN();
    expect(median([Number.NaN])).toBeNaN();
  });

  it("median does not reorder its input", () => {
    const v = [3, 1, 2];
    median(v);
    expect(v).toEqual([3, 1, 2]);
  });

  it("ratio is NaN when it cannot be computed", () => {
    expect(ratio(3, 4)).toBe(0.75);
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(Number.NaN, 1)).toBeNaN();
    expect(ratio(1, Number.POSITIVE_INFINITY)).toBeNaN();
  });
});
