import { describe, expect, it } from "vitest";
import { claim, type Ctx, T0 } from "./fixtures.js";

export function subscriptionTests(ctx: Ctx): void {
  describe("subscriptions", () => {
    it("adds, replaces and removes subscriptions", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      expect(await ctx.store.updateSubscriptions("c1", epoch, { "a/+": 0, "b/#": 1, c: 2 }, [])).toBe(true);
      expect(await ctx.store.updateSubscriptions("c1", epoch, { "a/+": 2 }, ["c", "never-there"])).toBe(true);
      expect((await ctx.store.getSession("c1"))?.subscriptions).toEqual({ "a/+": 2, "b/#": 1 });
      expect(await ctx.store.updateSubscriptions("c1", epoch, {}, ["a/+", "b/#"])).toBe(true);
      expect((await ctx.store.getSession("c1"))?.subscriptions).toEqual({});
    });

    it("a filter both removed and added in one call ends up subscribed", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      await ctx.store.updateSubscriptions("c1", epoch, { x: 0 }, []);
      expect(await ctx.store.updateSubscriptions("c1", epoch, { x: 1 }, ["x"])).toBe(true);
      expect((await ctx.store.getSession("c1"))?.subscriptions).toEqual({ x: 1 });
    });

    it("a stale epoch is fenced; a null epoch is not fenced", async () => {
      const old = await claim(ctx.store, "c1");
      const cur = await claim(ctx.store, "c1", { node: "node-b" });
      expect(await ctx.store.updateSubscriptions("c1", old.epoch, { x: 1 }, [])).toBe(false);
      expect(await ctx.store.updateSubscriptions("c1", cur.epoch + 1, { x: 1 }, [])).toBe(false);
      expect((await ctx.store.getSession("c1"))?.subscriptions).toEqual({});
      await ctx.store.releaseSession("c1", cur.epoch, T0);
      expect(await ctx.store.updateSubscriptions("c1", null, { "rest/added": 1 }, [])).toBe(true);
      expect((await ctx.store.getSession("c1"))?.subscriptions).toEqual({ "rest/added": 1 });
    });

    it("is refused for an unknown session, fenced or not", async () => {
      expect(await ctx.store.updateSubscriptions("ghost", null, { x: 1 }, [])).toBe(false);
      expect(await ctx.store.updateSubscriptions("ghost", 1, { x: 1 }, [])).toBe(false);
      expect(await ctx.store.getSession("ghost")).toBeNull();
    });

    it("refuses an invalid QoS and writes nothing", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      await expect(ctx.store.updateSubscriptions("c1", epoch, { ok: 1, bad: 3 as 1 }, [])).rejects.toThrow(/QoS/);
      expect((await ctx.store.getSession("c1"))?.subscriptions).toEqual({});
    });

    it("allSubscriptions lists every subscription of every session, ordered by client id then filter", async () => {
      for (const id of ["c2", "c1", "c3"]) await claim(ctx.store, id);
      await ctx.store.updateSubscriptions("c2", 1, { "z/#": 2, "a/+": 1 }, []);
      await ctx.store.updateSubscriptions("c1", 1, { "$SYS/#": 0 }, []);
      expect(await ctx.store.allSubscriptions()).toEqual([
        { clientId: "c1", filter: "$SYS/#", word: 0 },
        { clientId: "c2", filter: "a/+", word: 1 },
        { clientId: "c2", filter: "z/#", word: 2 },
      ]);
      await claim(ctx.store, "c2", { clean: true });
      expect(await ctx.store.allSubscriptions()).toEqual([{ clientId: "c1", filter: "$SYS/#", word: 0 }]);
    });

    it("allSubscriptions covers more sessions than one scan chunk", async () => {
      const n = 1205;
      for (let start = 0; start < n; start += 50) {
        const ids = Array.from({ length: Math.min(50, n - start) }, (_, j) => `c${String(start + j).padStart(5, "0")}`);
        await Promise.all(ids.map(async (id) => ctx.store.updateSubscriptions(id, (await claim(ctx.store, id)).epoch, { [`t/${id}`]: 1 }, [])));
      }
      const all = await ctx.store.allSubscriptions();
      expect(all).toHaveLength(n);
      expect(new Set(all.map((s) => s.clientId)).size).toBe(n);
    });

    it("filters with wildcards, $ and non-ASCII text round trip", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const subs = { "+/+/#": 0, "$SYS/broker/#": 1, "ünï/cødé/🚀": 2, "a b/ c": 1, "/": 0 } as const;
      await ctx.store.updateSubscriptions("c1", epoch, subs, []);
      expect((await ctx.store.getSession("c1"))?.subscriptions).toEqual(subs);
    });
  });
}
