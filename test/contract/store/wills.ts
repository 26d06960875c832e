import { describe, expect, it } from "vitest";
import { InvalidStoreInput } from "../../../core/store/errors.js";
import type { WillRecord } from "../../../core/store/types.js";
import { MAX_WILL_DELAY } from "../../../core/store/will-types.js";
import { type Ctx, T0 } from "./fixtures.js";

function will(topic: string, incarnation = T0, payload: Buffer | string = "gone"): WillRecord {
  return { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: false, incarnation, username: "ünï", allowed: true };
}

/** Wills (decision 019): stored at CONNECT, taken atomically by whoever publishes them. */
export function willTests(ctx: Ctx): void {
  describe("wills", () => {
    it("takeWill returns the stored will once, with every field and a binary payload; then null", async () => {
      const w = { ...will("dev/1/status", T0, Buffer.from([0, 255, 10, 13])), retain: true, qos: 2 as const, username: null, allowed: false };
      await ctx.store.putWill("c/1:x", 3, "node-a", w);
      expect(await ctx.store.takeWill("c/1:x", 3, "node-a")).toEqual(w);
      expect(await ctx.store.takeWill("c/1:x", 3, "node-a")).toBeNull();
    });

    it("is keyed by client, epoch and node: another epoch or node takes nothing", async () => {
      await ctx.store.putWill("c1", 3, "node-a", will("t/3"));
      expect(await ctx.store.takeWill("c1", 2, "node-a")).toBeNull();
      expect(await ctx.store.takeWill("c1", 4, "node-a")).toBeNull();
      expect(await ctx.store.takeWill("c1", 3, "node-b")).toBeNull();
      // The client's next connection (newer epoch) is another entry: the older will stays takeable (decision 003).
      await ctx.store.putWill("c1", 4, "node-b", will("t/4"));
      expect((await ctx.store.takeWill("c1", 3, "node-a"))?.topic).toBe("t/3");
      expect((await ctx.store.takeWill("c1", 4, "node-b"))?.topic).toBe("t/4");
    });

    it("clearWill removes it without publishing (normal DISCONNECT): true once, then false; nothing left to take", async () => {
      await ctx.store.putWill("c1", 1, "node-a", will("t"));
      expect(await ctx.store.clearWill("c1", 1, "node-a")).toBe(true);
      expect(await ctx.store.clearWill("c1", 1, "node-a")).toBe(false);
      expect(await ctx.store.takeWill("c1", 1, "node-a")).toBeNull();
      expect(await ctx.store.takeWillsOf("node-a", 10)).toEqual([]);
    });

    it("takeWillsOf takes a node's wills in batches of `limit`, oldest incarnation first, each once", async () => {
      for (let i = 0; i < 5; i++) await ctx.store.putWill(`c${i}`, i + 1, "node-a", will(`t/${i}`, T0 + (i % 2)));
      await ctx.store.putWill("other", 1, "node-b", will("t/b"));
      const first = await ctx.store.takeWillsOf("node-a", 3);
      expect(first).toHaveLength(3);
      expect(first.map((t) => t.will.incarnation)).toEqual([T0, T0, T0]);
      const rest = await ctx.store.takeWillsOf("node-a", 3);
      expect(rest).toHaveLength(2);
      const all = [...first, ...rest].map((t) => `${t.clientId}@${t.epoch}=${t.will.topic}`).sort();
      expect(all).toEqual(["c0@1=t/0", "c1@2=t/1", "c2@3=t/2", "c3@4=t/3", "c4@5=t/4"]);
      expect(await ctx.store.takeWillsOf("node-a", 3)).toEqual([]);
      // Taken in a batch: no longer takeable one by one either.
      expect(await ctx.store.takeWill("c0", 1, "node-a")).toBeNull();
      expect((await ctx.store.takeWillsOf("node-b", 10)).map((t) => t.clientId)).toEqual(["other"]);
    });

    it("takeWillsOf with `upTo` leaves the wills of a newer incarnation of the node (it came back)", async () => {
      await ctx.store.putWill("old", 1, "node-a", will("t/old", T0));
      await ctx.store.putWill("new", 1, "node-a", will("t/new", T0 + 5000));
      expect((await ctx.store.takeWillsOf("node-a", 10, T0)).map((t) => t.clientId)).toEqual(["old"]);
      expect((await ctx.store.takeWill("new", 1, "node-a"))?.topic).toBe("t/new");
    });

    it("a will taken by takeWill is not taken again by takeWillsOf, and the other way round (exactly once)", async () => {
      await ctx.store.putWill("c1", 1, "node-a", will("t"));
      await ctx.store.putWill("c2", 1, "node-a", will("t"));
      const [one, many] = await Promise.all([ctx.store.takeWill("c1", 1, "node-a"), ctx.store.takeWillsOf("node-a", 10)]);
      const taken = [...(one === null ? [] : ["c1"]), ...many.map((t) => t.clientId)].sort();
      expect(taken).toEqual(["c1", "c2"]);
    });

    it("a delayed will (decision 028) keeps its delay, claim time and due time; a will without a delay has none of them", async () => {
      const delayed: WillRecord = { ...will("dev/1"), delay: MAX_WILL_DELAY, claimedAt: T0 - 5 };
      await ctx.store.putWill("c1", 1, "node-a", delayed);
      await ctx.store.putWill("c2", 1, "node-a", { ...will("dev/2"), delay: 0, claimedAt: T0, due: T0 });
      expect(await ctx.store.takeWill("c1", 1, "node-a")).toEqual(delayed);
      // Delay 0 is a will without a delay: nothing of it is stored.
      const plain = await ctx.store.takeWill("c2", 1, "node-a");
      expect(plain).toEqual(will("dev/2"));
      expect(plain).not.toHaveProperty("delay");
      expect(plain).not.toHaveProperty("due");
      await ctx.store.putWill("c3", 1, "node-a", { ...delayed, due: T0 + 60_000 });
      expect((await ctx.store.takeWillsOf("node-a", 10)).map((t) => t.will)).toEqual([{ ...delayed, due: T0 + 60_000 }]);
    });

    it("replaceWill replaces a will only while it is there (the node records when a delayed will is due)", async () => {
      const delayed: WillRecord = { ...will("dev/1"), delay: 30, claimedAt: T0 };
      await ctx.store.putWill("c1", 2, "node-a", delayed);
      expect(await ctx.store.replaceWill("c1", 2, "node-a", { ...delayed, due: T0 + 30_000 })).toBe(true);
      // Still indexed under its incarnation: taken by takeWillsOf up to it, with the due time.
      expect(await ctx.store.takeWillsOf("node-a", 10, T0)).toEqual([{ clientId: "c1", epoch: 2, will: { ...delayed, due: T0 + 30_000 } }]);
      // Gone (taken, cleared, or never there): nothing is written back.
      expect(await ctx.store.replaceWill("c1", 2, "node-a", { ...delayed, due: T0 })).toBe(false);
      expect(await ctx.store.replaceWill("c1", 3, "node-a", { ...delayed, due: T0 })).toBe(false);
      expect(await ctx.store.takeWill("c1", 2, "node-a")).toBeNull();
      expect(await ctx.store.takeWillsOf("node-a", 10)).toEqual([]);
    });

    it("refuses a will delay beyond a Four Byte Integer, or a negative one, and bad claim or due times", async () => {
      for (const bad of [{ delay: MAX_WILL_DELAY + 1 }, { delay: -1 }, { delay: 1.5 }, { delay: 5, claimedAt: -1 }, { delay: 5, due: Number.NaN }]) {
        await expect(ctx.store.putWill("c1", 1, "node-a", { ...will("t"), ...bad }), JSON.stringify(bad)).rejects.toThrow(InvalidStoreInput);
      }
      await ctx.store.putWill("c1", 1, "node-a", will("t"));
      await expect(ctx.store.replaceWill("c1", 1, "node-a", { ...will("t"), delay: -1 })).rejects.toThrow(InvalidStoreInput);
      expect(await ctx.store.takeWill("c1", 1, "node-a")).toEqual(will("t"));
    });

    it("refuses bad input before writing anything", async () => {
      await expect(ctx.store.putWill("c1", -1, "node-a", will("t"))).rejects.toThrow(InvalidStoreInput);
      await expect(ctx.store.putWill("c1", 1, "node-a", { ...will("t"), qos: 3 as 1 })).rejects.toThrow(InvalidStoreInput);
      await expect(ctx.store.takeWillsOf("node-a", 0)).rejects.toThrow(InvalidStoreInput);
      expect(await ctx.store.takeWillsOf("node-a", 10)).toEqual([]);
    });
  });
}
