import { describe, expect, it } from "vitest";
import { Deque } from "../../broker/queue.js";

/** broker/queue.ts: the FIFO behind a session's queue, which starts without a ring (decision 029). */
describe("Deque", () => {
  for (const capacity of [0, 8]) {
    it(`keeps FIFO order through growth, wrap-around, filter and clear (initial capacity ${capacity})`, () => {
      const q = new Deque<number>(capacity);
      const model: number[] = [];
      expect(q.length).toBe(0);
      expect(q.peek()).toBeUndefined();
      expect(q.shift()).toBeUndefined();
      let next = 0;
      // Pushes and shifts interleaved so the head moves around the ring while it grows.
      for (let round = 0; round < 40; round++) {
        for (let i = 0; i < (round % 5) + 1; i++) {
          q.push(next);
          model.push(next++);
        }
        if (round % 3 === 0) expect(q.shift()).toBe(model.shift());
        expect(q.length).toBe(model.length);
        expect(q.peek()).toBe(model[0]);
      }
      expect([...q]).toEqual(model);
      q.filter((n) => n % 2 === 0);
      expect([...q]).toEqual(model.filter((n) => n % 2 === 0));
      q.clear();
      expect(q.length).toBe(0);
      expect([...q]).toEqual([]);
      q.push(7);
      expect(q.shift()).toBe(7);
      expect(q.shift()).toBeUndefined();
    });
  }

  it("deques that start without a ring share nothing: pushing into one leaves the others empty", () => {
    const a = new Deque<string>(0);
    const b = new Deque<string>(0);
    a.push("x");
    a.clear();
    const c = new Deque<string>(0);
    expect(b.length).toBe(0);
    expect([...b]).toEqual([]);
    expect(c.peek()).toBeUndefined();
    b.push("y");
    expect([...b]).toEqual(["y"]);
    expect([...c]).toEqual([]);
  });
});
