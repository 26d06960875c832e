import { describe, expect, it } from "vitest";
import { topicMatches } from "../../../core/topic/index.js";
import type { RetainedRecord, StoreOp } from "../../../core/store/types.js";
import { allPages, applyOne, byteOrder, type Ctx, msg, T0 } from "./fixtures.js";

/** Topics with wildcard-relevant shapes: empty levels, $ topics, deep and shallow, non-ASCII. */
const TOPICS = [
  "a", "a/b", "a/b/c", "a/b/c/d", "a/x/c", "a/x/c/d", "b/b/c", "x", "x/x", "/x", "/", "//", "a//c", "$SYS", "$SYS/x",
  "$SYS/broker/load", "$aws/things/t1/shadow", "sport/tennis/player1", "sport/tennis/player2/ranking", "ünï/🚀/x",
  "d/1/2/3/4/5/6/7/8/9/10", "d/1/2/3/4/5/6/7/8/9/11",
];

const FILTERS = [
  "#", "+", "+/+", "+/#", "+/x", "x/+", "a/+/c", "+/b/c", "+/+/c", "a/+/+/d", "a/#", "a/b/#", "+/x/#", "/+", "+//+", "a/+/c/#",
  "$SYS/#", "$SYS/+", "+/broker/#", "$aws/+/t1/#", "+/tennis/+", "+/+/+/ranking", "ünï/+/x", "+/🚀/#", "d/+/+/+/+/+/+/+/+/+/11",
  "d/1/2/3/4/5/6/7/8/9/+", "+/nomatch", "nomatch/#", "a/b", "$SYS", "a/b/c/d/e/#",
];

const ops = (topics: readonly string[], payload?: (t: string) => string): StoreOp[] =>
  topics.map((t) => ({ op: "retained.set", msg: msg(t, payload?.(t) ?? `p:${t}`, 1, true), maxRetained: 1_000_000, now: T0 }));

export function retainedIndexTests(ctx: Ctx): void {
  async function scanAll(filter: string, limit = 3): Promise<{ items: RetainedRecord[]; pages: number }> {
    return allPages((cursor) => ctx.store.scanRetained(filter, { cursor, limit }));
  }
  const topicsOf = (items: RetainedRecord[]): string[] => items.map((m) => m.topic).sort(byteOrder);

  describe("retained index (scanRetained)", () => {
    it("answers exactly what MQTT matching answers, for wildcards at every position and $ topics [MQTT-4.7.2-1]", async () => {
      expect((await ctx.store.apply(ops(TOPICS))).every((r) => r.ok)).toBe(true);
      for (const filter of FILTERS) {
        const { items } = await scanAll(filter);
        expect(topicsOf(items), filter).toEqual(TOPICS.filter((t) => topicMatches(filter, t)).sort(byteOrder));
        expect(items.every((m) => m.payload.toString() === `p:${m.topic}` && m.updatedAt === T0 && m.retain && m.qos === 1), filter).toBe(true);
      }
      expect(topicsOf((await scanAll("#")).items).some((t) => t.startsWith("$"))).toBe(false);
      expect(topicsOf((await scanAll("+/x/#")).items)).toEqual(["/x", "a/x/c", "a/x/c/d", "x/x"]);
    });

    it("deletes leave the index: no stale match, and a re-set topic is found once", async () => {
      await ctx.store.apply(ops(TOPICS));
      for (const t of ["a/b/c", "a/x/c", "$SYS/x", "/"]) await applyOne(ctx.store, { op: "retained.delete", topic: t });
      await applyOne(ctx.store, { op: "retained.set", msg: msg("a/x/c", "again", 1, true), maxRetained: 100, now: T0 + 5 });
      expect(topicsOf((await scanAll("a/+/c")).items)).toEqual(["a//c", "a/x/c"]);
      expect((await scanAll("+/x/c")).items.map((m) => [m.payload.toString(), m.updatedAt])).toEqual([["again", T0 + 5]]);
      expect(topicsOf((await scanAll("$SYS/#")).items)).toEqual(["$SYS", "$SYS/broker/load"]);
      expect(topicsOf((await scanAll("+/+")).items)).not.toContain("/");
      for (const t of TOPICS) await applyOne(ctx.store, { op: "retained.delete", topic: t });
      for (const f of FILTERS) expect((await scanAll(f)).items, f).toEqual([]);
      expect(await ctx.store.retainedStats()).toEqual({ count: 0, bytes: 0 });
    });

    it("pages: every match exactly once across pages of any size, each page at most `limit`", async () => {
      const many = Array.from({ length: 700 }, (_, i) => `m/${i % 7}/n${i}`);
      await ctx.store.apply(ops(many));
      for (const [filter, limit] of [["m/+/+", 50], ["+/3/#", 9], ["#", 1000], ["m/#", 1]] as const) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const page: { items: RetainedRecord[]; cursor: string | null } = await ctx.store.scanRetained(filter, { cursor, limit });
          expect(page.items.length).toBeLessThanOrEqual(limit);
          seen.push(...page.items.map((m) => m.topic)); // in topic order, across pages too
          cursor = page.cursor;
        } while (cursor !== null);
        expect(seen, filter).toEqual(many.filter((t) => topicMatches(filter, t)).sort(byteOrder));
      }
    });

    it("a lookup walks the smallest index range: a selective filter ends in one page among thousands of topics", async () => {
      const fleet = Array.from({ length: 5000 }, (_, i) => `fleet/d${i % 500}/m${Math.floor(i / 500)}`);
      await ctx.store.apply(ops(fleet, () => "s"));
      // A full walk of 5,000 entries needs more calls than one page may make: a null cursor at once proves the index.
      expect(await ctx.store.scanRetained("+/nomatch", { limit: 100 })).toEqual({ items: [], cursor: null });
      expect(await ctx.store.scanRetained("+/+/nomatch", { limit: 100 })).toEqual({ items: [], cursor: null });
      const ten = await ctx.store.scanRetained("+/d42/+", { limit: 100 });
      expect(ten.cursor).toBeNull();
      expect(topicsOf(ten.items)).toEqual(fleet.filter((t) => t.startsWith("fleet/d42/")).sort(byteOrder));
      const m3 = await allPages((cursor) => ctx.store.scanRetained("+/+/m3", { cursor, limit: 1000 }));
      expect(m3.items).toHaveLength(500);
      // A filter without a literal level walks everything, in bounded steps: several pages, nothing lost.
      const all = await allPages((cursor) => ctx.store.scanRetained("+/+/+", { cursor, limit: 5000 }));
      expect(all.items).toHaveLength(5000);
      expect(all.pages).toBeGreaterThan(1);
    });

    it("cursors are sealed: they reveal no topic, are bound to their filter, and altered ones are refused", async () => {
      const secret = Array.from({ length: 600 }, (_, i) => `secret/area-${i}/x`);
      await ctx.store.apply(ops(secret));
      const p1 = await ctx.store.scanRetained("+/+/x", { limit: 2 });
      expect(p1.cursor).not.toBeNull();
      const cursor = p1.cursor as string;
      const decoded = Buffer.from(cursor.replace(/^[^.]*\./, ""), "base64url").toString("latin1");
      expect(decoded).not.toMatch(/secret|area/);
      expect(cursor).not.toMatch(/secret|area/);
      await expect(ctx.store.scanRetained("+/+/y", { cursor, limit: 2 })).rejects.toThrow(/cursor/);
      // The second-to-last character changed (always: it was tested against the last one before, so a cursor whose
      // second-to-last character was already "A" came back unchanged, about one run in 64).
      const flipped = cursor.slice(0, -2) + (cursor.at(-2) === "A" ? "B" : "A") + cursor.slice(-1);
      await expect(ctx.store.scanRetained("+/+/x", { cursor: flipped, limit: 2 })).rejects.toThrow(/cursor/);
      await expect(ctx.store.scanRetained("+/+/x", { cursor: "c1.c2VjcmV0", limit: 2 })).rejects.toThrow(/cursor/);
      const list = await ctx.store.listRetained({ limit: 3 });
      expect(list.cursor).not.toMatch(/secret|area/);
      expect(Buffer.from((list.cursor as string).replace(/^[^.]*\./, ""), "base64url").toString("latin1")).not.toMatch(/secret|area/);
      expect((await ctx.store.listRetained({ cursor: list.cursor, limit: 3 })).items.map((m) => m.topic)).toEqual(secret.sort(byteOrder).slice(3, 6));
    });

    it("large payloads make short pages, not large replies: about 1 MiB per page, every message once", async () => {
      const big = Array.from({ length: 5 }, (_, i) => `big/${i}`);
      await ctx.store.apply(big.map((t, i) => ({ op: "retained.set", msg: msg(t, Buffer.alloc(600 * 1024, i), 1, true), maxRetained: 100 })));
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: RetainedRecord[]; cursor: string | null } = await ctx.store.scanRetained("big/+", { cursor, limit: 10 });
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((m) => m.topic));
        cursor = page.cursor;
      } while (cursor !== null);
      expect(seen).toEqual(big);
    });

    it("listRetained answers at most 256 messages per page, whatever the limit", async () => {
      await ctx.store.apply(ops(Array.from({ length: 300 }, (_, i) => `l/${i}`)));
      const p1 = await ctx.store.listRetained({ limit: 1000 });
      expect(p1.items).toHaveLength(256);
      const p2 = await ctx.store.listRetained({ cursor: p1.cursor, limit: 1000 });
      expect(p2).toMatchObject({ cursor: null });
      expect(p2.items).toHaveLength(44);
    });

    it("an exact filter is one lookup; a deleted exact topic is gone", async () => {
      await ctx.store.apply(ops(["e/1", "e/2"]));
      expect(await ctx.store.scanRetained("e/1", { limit: 5 })).toMatchObject({ items: [{ topic: "e/1", updatedAt: T0 }], cursor: null });
      await applyOne(ctx.store, { op: "retained.delete", topic: "e/1" });
      expect(await ctx.store.scanRetained("e/1", { limit: 5 })).toEqual({ items: [], cursor: null });
    });

    it("maxBytes: counts topic + payload bytes; growth beyond it is refused, a shrinking replace and a delete make room", async () => {
      const set = (topic: string, payload: string, maxBytes = 30): Promise<unknown> =>
        applyOne(ctx.store, { op: "retained.set", msg: msg(topic, payload, 0, true), maxRetained: 100, maxBytes });
      expect(await set("t/1", "0123456789")).toEqual({ ok: true }); // 3 + 10 = 13
      expect(await set("t/2", "0123456789")).toEqual({ ok: true }); // 26
      expect(await ctx.store.retainedStats()).toEqual({ count: 2, bytes: 26 });
      expect(await set("t/3", "01234")).toEqual({ ok: false, reason: "full" }); // 34
      expect(await set("t/1", "0123456789abcdef")).toEqual({ ok: false, reason: "full" }); // 32
      expect(await ctx.store.retainedStats()).toEqual({ count: 2, bytes: 26 });
      expect(await set("t/1", "01")).toEqual({ ok: true }); // shrinks: 18
      expect(await set("t/3", "0123456789ab")).toEqual({ ok: false, reason: "full" }); // 33
      await applyOne(ctx.store, { op: "retained.delete", topic: "t/2" });
      expect(await set("t/3", "0123456789ab")).toEqual({ ok: true }); // 20
      expect(await ctx.store.retainedStats()).toEqual({ count: 2, bytes: 20 });
      expect((await ctx.store.getRetained("t/3"))?.payload.toString()).toBe("0123456789ab");
    });

    it("an invalid cursor or limit is refused", async () => {
      await expect(ctx.store.scanRetained("a/+", { cursor: "%%%", limit: 5 })).rejects.toThrow(/cursor/);
      await expect(ctx.store.scanRetained("a/+", { limit: 0 })).rejects.toThrow(/limit/);
    });
  });
}
