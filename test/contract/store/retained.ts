import { describe, expect, it } from "vitest";
import type { StoredMessage } from "../../../core/store/types.js";
import { allPages, applyOne, byteOrder, type Ctx, msg } from "./fixtures.js";
import { retainedExpiryTests } from "./retained-expiry.js";
import { retainedIndexTests } from "./retained-index.js";

const TOPICS = [
  "sport", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player2",
  "sport/", "sports/x", "/finance", "/", "$SYS/broker/uptime", "$SYS", "a/$SYS", "ünï/🚀",
];

function topics(ms: StoredMessage[]): string[] {
  return ms.map((m) => m.topic);
}

export function retainedTests(ctx: Ctx): void {
  async function retain(topic: string, payload = topic, maxRetained = 1000): Promise<void> {
    const r = await applyOne(ctx.store, { op: "retained.set", msg: msg(topic, payload, 1, true), maxRetained });
    if (!r.ok) throw new Error(`retain ${topic}: ${r.reason}`);
  }

  describe("retained", () => {
    it("set, get, replace and delete; an unknown topic is null", async () => {
      expect(await ctx.store.getRetained("a/b")).toBeNull();
      await retain("a/b", "one");
      expect(await ctx.store.getRetained("a/b")).toMatchObject(msg("a/b", "one", 1, true));
      await retain("a/b", "two");
      expect((await ctx.store.getRetained("a/b"))?.payload.toString()).toBe("two");
      expect(await applyOne(ctx.store, { op: "retained.delete", topic: "a/b" })).toEqual({ ok: true });
      expect(await ctx.store.getRetained("a/b")).toBeNull();
      expect(await applyOne(ctx.store, { op: "retained.delete", topic: "a/b" })).toEqual({ ok: true });
    });

    it("keeps payload bytes, QoS and the retain flag", async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i));
      await applyOne(ctx.store, { op: "retained.set", msg: msg("q2", bytes, 2, true), maxRetained: 10 });
      await applyOne(ctx.store, { op: "retained.set", msg: msg("q0", Buffer.alloc(0), 0, false), maxRetained: 10 });
      const q2 = await ctx.store.getRetained("q2");
      expect(q2?.payload.equals(bytes)).toBe(true);
      expect(q2).toMatchObject({ qos: 2, retain: true });
      expect(await ctx.store.getRetained("q0")).toMatchObject(msg("q0", Buffer.alloc(0), 0, false));
    });

    it("maxRetained: a new topic is refused with full, a replace is accepted, a delete makes room", async () => {
      await retain("t/1", "a", 2);
      await retain("t/2", "b", 2);
      expect(await applyOne(ctx.store, { op: "retained.set", msg: msg("t/3"), maxRetained: 2 })).toEqual({ ok: false, reason: "full" });
      expect(await applyOne(ctx.store, { op: "retained.set", msg: msg("t/1", "new"), maxRetained: 2 })).toEqual({ ok: true });
      expect(await ctx.store.getRetained("t/3")).toBeNull();
      expect((await ctx.store.getRetained("t/1"))?.payload.toString()).toBe("new");
      await applyOne(ctx.store, { op: "retained.delete", topic: "t/2" });
      expect(await applyOne(ctx.store, { op: "retained.set", msg: msg("t/3"), maxRetained: 2 })).toEqual({ ok: true });
      expect(await applyOne(ctx.store, { op: "retained.set", msg: msg("t/4"), maxRetained: 0 })).toEqual({ ok: false, reason: "full" });
    });

    it("matchRetained with exact topics and wildcards, ordered by topic", async () => {
      for (const t of TOPICS) await retain(t);
      const m = async (f: string): Promise<string[]> => topics(await ctx.store.matchRetained(f));
      expect(await m("sport/tennis")).toEqual(["sport/tennis"]);
      expect(await m("sport/tennis/nobody")).toEqual([]);
      expect(await m("sport/#")).toEqual(["sport", "sport/", "sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player2"]);
      expect(await m("sport/tennis/+")).toEqual(["sport/tennis/player1", "sport/tennis/player2"]);
      expect(await m("sport/+")).toEqual(["sport/", "sport/tennis"]);
      expect(await m("+/+")).toEqual(["/", "/finance", "a/$SYS", "sport/", "sport/tennis", "sports/x", "ünï/🚀"]);
      expect(await m("+")).toEqual(["sport"]);
      expect(await m("/+")).toEqual(["/", "/finance"]);
      expect(await m("+/tennis/#")).toEqual(["sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking", "sport/tennis/player2"]);
      expect(await m("ünï/+")).toEqual(["ünï/🚀"]);
    });

    it("matchRetained: wildcards at the start do not match $ topics [MQTT-4.7.2-1]", async () => {
      for (const t of TOPICS) await retain(t);
      const all = topics(await ctx.store.matchRetained("#"));
      expect(all).toEqual(TOPICS.filter((t) => !t.startsWith("$")).sort(byteOrder));
      expect(topics(await ctx.store.matchRetained("$SYS/#"))).toEqual(["$SYS", "$SYS/broker/uptime"]);
      expect(topics(await ctx.store.matchRetained("+/broker/+"))).toEqual([]);
      expect(topics(await ctx.store.matchRetained("$SYS/+/uptime"))).toEqual(["$SYS/broker/uptime"]);
    });

    it("matchRetained returns the stored payloads", async () => {
      await retain("x/1", "p1");
      await retain("x/2", "p2");
      expect((await ctx.store.matchRetained("x/+")).map((m) => m.payload.toString())).toEqual(["p1", "p2"]);
    });

    it("listRetained pages cover every message exactly once, in byte order", async () => {
      const all = Array.from({ length: 25 }, (_, i) => `r/${(i * 11) % 25}/${i % 2 === 0 ? "é" : "z"}`);
      for (const t of all) await retain(t, `payload ${t}`);
      const { items, pages } = await allPages((cursor) => ctx.store.listRetained({ cursor, limit: 7 }));
      expect(topics(items)).toEqual([...all].sort(byteOrder));
      expect(items.every((m) => m.payload.toString() === `payload ${m.topic}`)).toBe(true);
      expect(pages).toBe(4);
    });

    it("listRetained: an empty store, and a page ending exactly at the end, have a null cursor", async () => {
      expect(await ctx.store.listRetained({ limit: 5 })).toEqual({ items: [], cursor: null });
      for (let i = 0; i < 4; i++) await retain(`t/${i}`);
      const p1 = await ctx.store.listRetained({ limit: 2 });
      const p2 = await ctx.store.listRetained({ cursor: p1.cursor, limit: 2 });
      expect(topics(p1.items)).toEqual(["t/0", "t/1"]);
      expect(topics(p2.items)).toEqual(["t/2", "t/3"]);
      expect(p2.cursor).toBeNull();
    });

    it("listRetained resumes after a cursor whose topic was deleted in between", async () => {
      for (let i = 0; i < 6; i++) await retain(`t/${i}`);
      const p1 = await ctx.store.listRetained({ limit: 3 });
      await applyOne(ctx.store, { op: "retained.delete", topic: "t/2" });
      await retain("t/25");
      const p2 = await ctx.store.listRetained({ cursor: p1.cursor, limit: 10 });
      expect(topics(p2.items)).toEqual(["t/25", "t/3", "t/4", "t/5"]);
    });
  });
  retainedIndexTests(ctx);
  retainedExpiryTests(ctx);
}
