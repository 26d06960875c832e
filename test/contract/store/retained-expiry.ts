import { describe, expect, it } from "vitest";
import { InvalidStoreInput } from "../../../core/store/errors.js";
import type { StoredMessage, StoreOpResult } from "../../../core/store/types.js";
import { applyOne, type Ctx, msg, T0 } from "./fixtures.js";

/** A retained MQTT 5 message published at `publishedAt` with a Message Expiry Interval of `seconds`. */
function expiring(topic: string, seconds: number, publishedAt = T0, payload = "v"): StoredMessage {
  return { ...msg(topic, payload, 1, true), props: { messageExpiryInterval: seconds }, publishedAt };
}

/**
 * Retained messages whose Message Expiry Interval passed are discarded from the store (MQTT 5.0 3.3.2.3.3): the
 * expiry index and `sweepRetained`, on every store. Times are injected (`now`), nothing sleeps.
 */
export function retainedExpiryTests(ctx: Ctx): void {
  async function set(m: StoredMessage, opts: { maxRetained?: number; maxBytes?: number; now?: number } = {}): Promise<StoreOpResult> {
    const op = { op: "retained.set" as const, msg: m, maxRetained: opts.maxRetained ?? 1000, now: opts.now ?? T0 };
    return applyOne(ctx.store, opts.maxBytes === undefined ? op : { ...op, maxBytes: opts.maxBytes });
  }

  async function topics(): Promise<string[]> {
    return (await ctx.store.listRetained({ limit: 100 })).items.map((m) => m.topic);
  }

  describe("retained expiry", () => {
    it("sweepRetained removes a message once publishedAt + its interval is reached, not before; stats follow", async () => {
      await set(expiring("exp/a", 10));
      await set(msg("keep/b", "kept", 1, true));
      const before = await ctx.store.retainedStats();
      expect(before.count).toBe(2);
      expect(await ctx.store.sweepRetained(T0 + 9_999, 100)).toBe(0);
      expect(await ctx.store.getRetained("exp/a")).not.toBeNull();
      expect(await ctx.store.sweepRetained(T0 + 10_000, 100)).toBe(1);
      expect(await ctx.store.getRetained("exp/a")).toBeNull();
      expect(await topics()).toEqual(["keep/b"]);
      expect((await ctx.store.scanRetained("exp/+", { limit: 10 })).items).toEqual([]);
      expect(await ctx.store.matchRetained("#")).toEqual([msg("keep/b", "kept", 1, true)]);
      expect(await ctx.store.retainedStats()).toEqual({ count: 1, bytes: before.bytes - Buffer.byteLength("exp/a") - 1 });
      // Idempotent: a second sweep (another node) finds nothing.
      expect(await ctx.store.sweepRetained(T0 + 60_000, 100)).toBe(0);
    });

    it("messages without an expiry (3.1.1, or MQTT 5 without the property) are never swept", async () => {
      await set(msg("plain", "p", 0, true));
      await set({ ...msg("v5/no-expiry", "p", 1, true), props: { contentType: "text/plain" } });
      expect(await ctx.store.sweepRetained(T0 + 10 * 365 * 86_400_000, 100)).toBe(0);
      expect(await topics()).toEqual(["plain", "v5/no-expiry"]);
    });

    it("a newer message on the same topic survives the sweep of the older one", async () => {
      await set(expiring("t/1", 5));
      await set(msg("t/1", "forever", 1, true), { now: T0 + 1000 });
      await set(expiring("t/2", 5));
      await set(expiring("t/2", 60, T0 + 2000, "longer"), { now: T0 + 2000 });
      await set(expiring("t/3", 60));
      await set(expiring("t/3", 5, T0 + 1000, "shorter"), { now: T0 + 1000 });
      expect(await ctx.store.sweepRetained(T0 + 5_999, 100)).toBe(0);
      expect(await ctx.store.sweepRetained(T0 + 6_000, 100)).toBe(1);
      expect(await topics()).toEqual(["t/1", "t/2"]);
      expect((await ctx.store.getRetained("t/1"))?.payload.toString()).toBe("forever");
      expect(await ctx.store.sweepRetained(T0 + 61_999, 100)).toBe(0);
      expect((await ctx.store.getRetained("t/2"))?.payload.toString()).toBe("longer");
      expect(await ctx.store.sweepRetained(T0 + 62_000, 100)).toBe(1);
      expect(await topics()).toEqual(["t/1"]);
    });

    it("a delete removes the entry: the topic set again without an expiry is not swept", async () => {
      await set(expiring("d/1", 1));
      expect(await applyOne(ctx.store, { op: "retained.delete", topic: "d/1" })).toEqual({ ok: true });
      expect(await ctx.store.sweepRetained(T0 + 1000, 100)).toBe(0);
      await set(msg("d/1", "again", 1, true), { now: T0 + 500 });
      expect(await ctx.store.sweepRetained(T0 + 5000, 100)).toBe(0);
      expect((await ctx.store.getRetained("d/1"))?.payload.toString()).toBe("again");
    });

    it("the retained limit frees up after the sweep (maxRetained and maxBytes)", async () => {
      await set(expiring("full/1", 1), { maxRetained: 2 });
      await set(expiring("full/2", 1), { maxRetained: 2 });
      expect(await set(msg("full/3", "x", 1, true), { maxRetained: 2, now: T0 + 500 })).toEqual({ ok: false, reason: "full" });
      expect(await ctx.store.sweepRetained(T0 + 1000, 100)).toBe(2);
      expect(await ctx.store.retainedStats()).toEqual({ count: 0, bytes: 0 });
      expect(await set(msg("full/3", "x", 1, true), { maxRetained: 2, now: T0 + 1000 })).toEqual({ ok: true });

      const bytes = Buffer.byteLength("b/1") + 10;
      await set(expiring("b/1", 1, T0 + 1000, "0123456789"), { maxBytes: 100, now: T0 + 1000 });
      const used = (await ctx.store.retainedStats()).bytes;
      expect(await set(msg("b/2", "z".repeat(100 - used + 1), 1, true), { maxBytes: 100, now: T0 + 1500 })).toEqual({ ok: false, reason: "full" });
      expect(await ctx.store.sweepRetained(T0 + 2000, 100)).toBe(1);
      expect((await ctx.store.retainedStats()).bytes).toBe(used - bytes);
      expect(await set(msg("b/2", "z".repeat(100 - used + 1), 1, true), { maxBytes: 100, now: T0 + 2000 })).toEqual({ ok: true });
    });

    it("a set refused for the limit first sweeps what expired by its `now`, so expired messages never hold the limit", async () => {
      await set(expiring("f/1", 1), { maxRetained: 2 });
      await set(expiring("f/2", 1), { maxRetained: 2 });
      expect(await set(msg("f/3", "x", 1, true), { maxRetained: 2, now: T0 + 999 })).toEqual({ ok: false, reason: "full" });
      expect(await set(msg("f/3", "x", 1, true), { maxRetained: 2, now: T0 + 1000 })).toEqual({ ok: true });
      expect(await topics()).toEqual(["f/3"]);
      expect((await ctx.store.retainedStats()).count).toBe(1);
      // The same for maxBytes: f/5 fits only without f/4.
      await set(expiring("f/4", 1, T0 + 1000, "x".repeat(50)), { maxBytes: 100, now: T0 + 1000 });
      expect(await set(msg("f/5", "y".repeat(60), 1, true), { maxBytes: 100, now: T0 + 1999 })).toEqual({ ok: false, reason: "full" });
      expect(await set(msg("f/5", "y".repeat(60), 1, true), { maxBytes: 100, now: T0 + 2000 })).toEqual({ ok: true });
      expect(await topics()).toEqual(["f/3", "f/5"]);
    });

    it("looks at no more than `limit` due entries per call, earliest first; a backlog goes in several calls", async () => {
      for (let i = 0; i < 7; i++) await set(expiring(`many/${i}`, 1, T0 + (6 - i) * 100));
      expect(await ctx.store.sweepRetained(T0 + 1_000, 100)).toBe(1);
      expect(await topics()).toEqual(["many/0", "many/1", "many/2", "many/3", "many/4", "many/5"]);
      expect(await ctx.store.sweepRetained(T0 + 10_000, 2)).toBe(2);
      expect(await topics()).toEqual(["many/0", "many/1", "many/2", "many/3"]);
      expect(await ctx.store.sweepRetained(T0 + 10_000, 3)).toBe(3);
      expect(await ctx.store.sweepRetained(T0 + 10_000, 3)).toBe(1);
      expect(await ctx.store.sweepRetained(T0 + 10_000, 3)).toBe(0);
      expect(await ctx.store.retainedStats()).toEqual({ count: 0, bytes: 0 });
    });

    it("a swept topic can be retained again, and wildcard lookups see it again", async () => {
      await set(expiring("back/a/b", 1));
      expect(await ctx.store.sweepRetained(T0 + 1000, 10)).toBe(1);
      expect((await ctx.store.scanRetained("+/a/+", { limit: 10 })).items).toEqual([]);
      await set(expiring("back/a/b", 1, T0 + 2000, "again"), { now: T0 + 2000 });
      expect((await ctx.store.scanRetained("+/a/+", { limit: 10 })).items.map((m) => m.payload.toString())).toEqual(["again"]);
      expect(await ctx.store.sweepRetained(T0 + 2999, 10)).toBe(0);
      expect(await ctx.store.sweepRetained(T0 + 3000, 10)).toBe(1);
    });

    it("refuses a bad now or limit", async () => {
      await expect(ctx.store.sweepRetained(-1, 10)).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.sweepRetained(T0, 0)).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.sweepRetained(T0, 1.5)).rejects.toBeInstanceOf(InvalidStoreInput);
    });
  });
}
