import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEDUP_WINDOW_MS } from "../../../core/store/keys.js";
import type { StoreOp } from "../../../core/store/types.js";
import { applyOne, claim, type Ctx, enqueue, enqueueOp, msg, seqs, T0 } from "./fixtures.js";

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

export function messageTests(ctx: Ctx): void {
  describe("enqueue", () => {
    it("is refused with no-session for an unknown client", async () => {
      expect(await enqueue(ctx.store, "ghost", msg("t"))).toEqual({ ok: false, reason: "no-session" });
    });

    it("assigns increasing seqs and keeps messages queued in order", async () => {
      await claim(ctx.store, "c1");
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await enqueue(ctx.store, "c1", msg(`t/${i}`, `p${i}`)));
      const got = results.map((r) => (r.ok ? (r.seq as number) : -1));
      expect(got).toEqual([...got].sort((a, b) => a - b));
      expect(new Set(got).size).toBe(5);
      const out = (await ctx.store.getSession("c1"))?.outgoing ?? [];
      expect(out.map((o) => [o.seq, o.msg.topic, o.msg.payload.toString(), o.packetId, o.state])).toEqual(
        got.map((seq, i) => [seq, `t/${i}`, `p${i}`, 0, 0]),
      );
    });

    it("unowned: refused with the owner's node while a node owns the session, stored once it is offline", async () => {
      const { epoch } = await claim(ctx.store, "c1", { node: "node-b" });
      expect(await enqueue(ctx.store, "c1", msg("t/1"), { unowned: true })).toEqual({ ok: false, reason: "owned", node: "node-b" });
      expect(await seqs(ctx.store, "c1")).toEqual([]);
      expect(await ctx.store.releaseSession("c1", epoch, T0 + 1)).toBe(true);
      const r = await enqueue(ctx.store, "c1", msg("t/2"), { unowned: true });
      expect(r.ok).toBe(true);
      expect((await ctx.store.getSession("c1"))?.outgoing.map((o) => o.msg.topic)).toEqual(["t/2"]);
      expect(await enqueue(ctx.store, "ghost", msg("t"), { unowned: true })).toEqual({ ok: false, reason: "no-session" });
    });

    it("unowned with exceptOwner: stored while that node owns the session, refused with the owner once another claimed it (decision 041)", async () => {
      const a = await claim(ctx.store, "c1", { node: "node-a" });
      const own = { unowned: true, exceptOwner: "node-a" };
      expect((await enqueue(ctx.store, "c1", msg("t/1"), own)).ok).toBe(true);
      expect(await ctx.store.releaseSession("c1", a.epoch, T0 + 1)).toBe(true);
      expect((await enqueue(ctx.store, "c1", msg("t/2"), own)).ok).toBe(true);
      // node-b's claim read the queue; what node-a would store now would never reach node-b's session.
      await claim(ctx.store, "c1", { node: "node-b", now: T0 + 2 });
      expect(await enqueue(ctx.store, "c1", msg("t/3"), own)).toEqual({ ok: false, reason: "owned", node: "node-b" });
      expect(await enqueue(ctx.store, "c1", msg("t/4"), { unowned: true, exceptOwner: "node-b" })).toMatchObject({ ok: true });
      expect((await ctx.store.getSession("c1"))?.outgoing.map((o) => o.msg.topic)).toEqual(["t/1", "t/2", "t/4"]);
    });

    it("dedupId: a second enqueue under the same id is refused as duplicate, per session, for DEDUP_WINDOW_MS", async () => {
      await claim(ctx.store, "c1");
      await claim(ctx.store, "c2");
      const at = (now: number) => ({ dedupId: "node-a:1", now });
      expect((await enqueue(ctx.store, "c1", msg("t/1"), at(T0))).ok).toBe(true);
      expect(await enqueue(ctx.store, "c1", msg("t/1"), at(T0))).toEqual({ ok: false, reason: "duplicate" });
      expect(await enqueue(ctx.store, "c1", msg("t/1"), { ...at(T0 + 5), packetId: 3 })).toEqual({ ok: false, reason: "duplicate" });
      expect((await enqueue(ctx.store, "c2", msg("t/1"), at(T0))).ok).toBe(true);
      expect((await ctx.store.getSession("c1"))?.outgoing.length).toBe(1);
      // No count bound: many later ids do not push the first one out of the window.
      const ops = Array.from({ length: 1500 }, (_, i) => enqueueOp("c1", msg("t/x"), { dedupId: `later:${i}`, now: T0 + 1, packetId: 1 + (i % 60_000) }));
      expect((await ctx.store.apply(ops)).every((r) => r.ok)).toBe(true);
      expect(await enqueue(ctx.store, "c1", msg("t/1"), at(T0 + DEDUP_WINDOW_MS - 1))).toEqual({ ok: false, reason: "duplicate" });
      // The window ended: accepted again, and remembered again from then on.
      expect((await enqueue(ctx.store, "c1", msg("t/1"), at(T0 + DEDUP_WINDOW_MS))).ok).toBe(true);
      expect(await enqueue(ctx.store, "c1", msg("t/1"), at(T0 + DEDUP_WINDOW_MS))).toEqual({ ok: false, reason: "duplicate" });
      expect(await enqueue(ctx.store, "c1", msg("t/x"), { dedupId: "later:1499", now: T0 + DEDUP_WINDOW_MS })).toEqual({ ok: false, reason: "duplicate" });
      expect((await enqueue(ctx.store, "c1", msg("t/x"), { dedupId: "later:1499", now: T0 + 1 + DEDUP_WINDOW_MS })).ok).toBe(true);
    });

    it("dedupId: the same id twice in one batch enqueues once (a redelivered node message handled in the same tick)", async () => {
      await claim(ctx.store, "c1");
      const op = enqueueOp("c1", msg("t/1"), { dedupId: "node-b:7", now: T0 });
      const r = await ctx.store.apply([op, enqueueOp("c1", msg("t/2")), op]);
      expect(r[0]?.ok).toBe(true);
      expect(r[1]?.ok).toBe(true);
      expect(r[2]).toEqual({ ok: false, reason: "duplicate" });
      expect((await ctx.store.getSession("c1"))?.outgoing.map((o) => o.msg.topic)).toEqual(["t/1", "t/2"]);
    });

    it("dedupId: an owner write refused as duplicate is told the entry a write that bypassed ownership stored under the id, while it is queued", async () => {
      const { epoch } = await claim(ctx.store, "c1", { node: "node-a" });
      // The owner's own entry: its memory has it, so its duplicate names nothing.
      expect((await enqueue(ctx.store, "c1", msg("t/0"), { epoch, dedupId: "n2:x:1", now: T0 })).ok).toBe(true);
      expect(await enqueue(ctx.store, "c1", msg("t/0"), { epoch, dedupId: "n2:x:1", now: T0 })).toEqual({ ok: false, reason: "duplicate" });
      // Stored regardless of the owner (a forward after maxHops) after the claim read the queue: the owner's
      // snapshot does not have it, so its enqueue of the same message is told which entry it is.
      const stored = await enqueue(ctx.store, "c1", msg("t/1"), { dedupId: "n2:x:2", now: T0 });
      const seq = stored.ok ? (stored.seq as number) : -1;
      expect(await enqueue(ctx.store, "c1", msg("t/1"), { epoch, dedupId: "n2:x:2", now: T0 + 1, packetId: 7 })).toEqual({ ok: false, reason: "duplicate", seq });
      // Named in a batch too, in its place, and again while queued; never to a write that is not an owner's.
      const r = await ctx.store.apply([
        enqueueOp("c1", msg("t/2"), { epoch, dedupId: "n2:x:3", now: T0 + 1 }),
        enqueueOp("c1", msg("t/1"), { epoch, dedupId: "n2:x:2", now: T0 + 1 }),
        enqueueOp("c1", msg("t/1"), { dedupId: "n2:x:2", now: T0 + 1 }),
      ]);
      expect(r).toEqual([{ ok: true, seq: seq + 1 }, { ok: false, reason: "duplicate", seq }, { ok: false, reason: "duplicate" }]);
      // Sent (the boundary passed it): no longer queued, named no more.
      expect((await applyOne(ctx.store, { op: "outgoing.sent", clientId: "c1", epoch, seq })).ok).toBe(true);
      expect(await enqueue(ctx.store, "c1", msg("t/1"), { epoch, dedupId: "n2:x:2", now: T0 + 2 })).toEqual({ ok: false, reason: "duplicate" });
      // Deleted while queued: named no more either.
      const later = await enqueue(ctx.store, "c1", msg("t/3"), { unowned: true, exceptOwner: "node-a", dedupId: "n2:x:4", now: T0 + 2 });
      expect(await enqueue(ctx.store, "c1", msg("t/3"), { epoch, dedupId: "n2:x:4", now: T0 + 2 })).toEqual({ ok: false, reason: "duplicate", seq: later.ok ? later.seq : -1 });
      expect((await applyOne(ctx.store, { op: "outgoing.delete", clientId: "c1", epoch, seq: later.ok ? (later.seq as number) : -1 })).ok).toBe(true);
      expect(await enqueue(ctx.store, "c1", msg("t/3"), { epoch, dedupId: "n2:x:4", now: T0 + 3 })).toEqual({ ok: false, reason: "duplicate" });
    });

    it("dedupId: an entry stored only while no node owned the session is never named: the next claim read it", async () => {
      const first = await claim(ctx.store, "c1", { node: "node-a" });
      expect(await ctx.store.releaseSession("c1", first.epoch, T0 + 1)).toBe(true);
      expect((await enqueue(ctx.store, "c1", msg("t/1"), { unowned: true, dedupId: "n2:y:1", now: T0 + 1 })).ok).toBe(true);
      const { epoch } = await claim(ctx.store, "c1", { node: "node-b" });
      expect(await enqueue(ctx.store, "c1", msg("t/1"), { epoch, dedupId: "n2:y:1", now: T0 + 2 })).toEqual({ ok: false, reason: "duplicate" });
    });

    it("a batch mixing sessions and op kinds answers each op in its own position, in each session's order", async () => {
      const a = await claim(ctx.store, "a");
      await claim(ctx.store, "b");
      const r = await ctx.store.apply([
        enqueueOp("a", msg("a/1"), { packetId: 1 }),
        enqueueOp("b", msg("b/1")),
        { op: "retained.set", msg: msg("r/1", "x", 1, true), maxRetained: 10 },
        { op: "inbound2.add", clientId: "a", epoch: a.epoch, packetId: 9 },
        enqueueOp("ghost", msg("g")),
        { op: "outgoing.delete", clientId: "a", epoch: a.epoch - 1, seq: 1 },
        enqueueOp("a", msg("a/2")),
      ]);
      expect(r.map((x) => x.ok)).toEqual([true, true, true, true, false, false, true]);
      expect(r[4]).toEqual({ ok: false, reason: "no-session" });
      expect(r[5]).toEqual({ ok: false, reason: "fenced" });
      const s = await ctx.store.getSession("a");
      expect(s?.outgoing.map((o) => [o.msg.topic, o.packetId])).toEqual([["a/1", 1], ["a/2", 0]]);
      expect(r[6]).toEqual({ ok: true, seq: (r[0] as { seq: number }).seq + 1 });
      expect(s?.inboundQos2).toEqual([9]);
    });

    it("an inbound QoS 2 id being routed keeps its root until its routing is recorded; a claim sees both (decision 025)", async () => {
      const a = await claim(ctx.store, "a");
      const add = (packetId: number, root?: string): StoreOp =>
        root === undefined ? { op: "inbound2.add", clientId: "a", epoch: a.epoch, packetId } : { op: "inbound2.add", clientId: "a", epoch: a.epoch, packetId, root };
      await ctx.store.apply([add(3, "n1:x:7"), add(4, "n1:x:9"), add(3, "n2:y:1"), add(5)]);
      let s = await ctx.store.getSession("a");
      expect(s?.inboundQos2).toEqual([3, 4, 5]);
      // The first root stays (a re-sent PUBLISH is routed under it again); an id already routed gets none.
      expect(s?.inboundRoots).toEqual({ 3: "n1:x:7", 4: "n1:x:9" });
      await ctx.store.apply([add(3), add(5, "n2:y:2"), { op: "inbound2.delete", clientId: "a", epoch: a.epoch, packetId: 4 }]);
      s = (await claim(ctx.store, "a", { node: "node-b" })).snapshot;
      expect(s.inboundQos2).toEqual([3, 5]);
      expect(s.inboundRoots).toBeUndefined();
    });

    it("an enqueue carrying an epoch is an owner write: refused as fenced once the session was claimed again", async () => {
      const first = await claim(ctx.store, "c1");
      expect((await enqueue(ctx.store, "c1", msg("t/1"), { epoch: first.epoch, packetId: 7 })).ok).toBe(true);
      await claim(ctx.store, "c1", { node: "node-b" });
      expect(await enqueue(ctx.store, "c1", msg("t/2"), { epoch: first.epoch, packetId: 8 })).toEqual({ ok: false, reason: "fenced" });
      expect((await ctx.store.getSession("c1"))?.outgoing.map((o) => [o.msg.topic, o.packetId])).toEqual([["t/1", 7]]);
    });

    it("seqs keep increasing across claims, clean ones included, and are never reused", async () => {
      await claim(ctx.store, "c1");
      const a = await enqueue(ctx.store, "c1", msg("t"));
      const { epoch } = await claim(ctx.store, "c1", { node: "node-b" });
      const b = await enqueue(ctx.store, "c1", msg("t"));
      await ctx.store.apply([{ op: "outgoing.delete", clientId: "c1", epoch, seq: b.ok ? (b.seq as number) : 0 }]);
      await claim(ctx.store, "c1", { clean: true });
      const c = await enqueue(ctx.store, "c1", msg("t"));
      const s = [a, b, c].map((r) => (r.ok ? (r.seq as number) : -1));
      expect(s[1]).toBeGreaterThan(s[0] as number);
      expect(s[2]).toBeGreaterThan(s[1] as number);
    });

    it("'oldest' policy drops the oldest queued message and reports its seq", async () => {
      await claim(ctx.store, "c1");
      const r = [];
      for (let i = 0; i < 5; i++) r.push(await enqueue(ctx.store, "c1", msg(`t/${i}`), { maxQueued: 3, dropPolicy: "oldest" }));
      const s = r.map((x) => (x.ok ? x.seq : -1));
      expect(r.slice(0, 3).every((x) => x.ok && x.dropped === undefined)).toBe(true);
      expect(r[3]).toEqual({ ok: true, seq: s[3], dropped: s[0] });
      expect(r[4]).toEqual({ ok: true, seq: s[4], dropped: s[1] });
      expect(await seqs(ctx.store, "c1")).toEqual(s.slice(2));
    });

    it("'newest' policy refuses the new message with reason full", async () => {
      await claim(ctx.store, "c1");
      for (let i = 0; i < 3; i++) expect((await enqueue(ctx.store, "c1", msg(`t/${i}`), { maxQueued: 3, dropPolicy: "newest" })).ok).toBe(true);
      expect(await enqueue(ctx.store, "c1", msg("t/3"), { maxQueued: 3, dropPolicy: "newest" })).toEqual({ ok: false, reason: "full" });
      const out = (await ctx.store.getSession("c1"))?.outgoing ?? [];
      expect(out.map((o) => o.msg.topic)).toEqual(["t/0", "t/1", "t/2"]);
    });

    it("maxQueued 0 refuses every message under both policies", async () => {
      await claim(ctx.store, "c1");
      for (const dropPolicy of ["oldest", "newest"] as const) {
        expect(await enqueue(ctx.store, "c1", msg("t"), { maxQueued: 0, dropPolicy })).toEqual({ ok: false, reason: "full" });
      }
      expect(await seqs(ctx.store, "c1")).toEqual([]);
    });

    it("a lowered bound drops as many of the oldest as needed and reports the last one dropped", async () => {
      await claim(ctx.store, "c1");
      for (let i = 0; i < 4; i++) await enqueue(ctx.store, "c1", msg("t"));
      const all = await seqs(ctx.store, "c1");
      const r = await enqueue(ctx.store, "c1", msg("t"), { maxQueued: 2 });
      expect(r).toMatchObject({ ok: true, dropped: all[2] });
      expect(await seqs(ctx.store, "c1")).toEqual([all[3], r.ok ? r.seq : -1]);
    });

    it("in-flight messages do not count against maxQueued and are never dropped", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const first = await enqueue(ctx.store, "c1", msg("inflight"));
      const seq = first.ok ? (first.seq as number) : 0;
      await applyOne(ctx.store, { op: "outgoing.update", clientId: "c1", epoch, seq, packetId: 1, state: 0 });
      const a = await enqueue(ctx.store, "c1", msg("q1"), { maxQueued: 1 });
      const b = await enqueue(ctx.store, "c1", msg("q2"), { maxQueued: 1 });
      expect(a).toEqual({ ok: true, seq: a.ok ? a.seq : -1 });
      expect(b).toMatchObject({ ok: true, dropped: a.ok ? a.seq : -1 });
      const out = (await ctx.store.getSession("c1"))?.outgoing ?? [];
      expect(out.map((o) => o.msg.topic)).toEqual(["inflight", "q2"]);
    });

    it("an enqueue with a packet id is stored in flight: never refused, dropped or counted by the bound", async () => {
      await claim(ctx.store, "c1");
      const q1 = await enqueue(ctx.store, "c1", msg("q1"), { maxQueued: 1 });
      const f1 = await enqueue(ctx.store, "c1", msg("f1"), { maxQueued: 1, dropPolicy: "newest", packetId: 5 });
      const f2 = await enqueue(ctx.store, "c1", msg("f2", "x", 2), { maxQueued: 0, qos: 2, packetId: 65535 });
      expect([f1.ok, f2.ok]).toEqual([true, true]);
      expect(f1).toEqual({ ok: true, seq: (q1.ok ? (q1.seq as number) : 0) + 1 });
      const q2 = await enqueue(ctx.store, "c1", msg("q2"), { maxQueued: 1 });
      expect(q2).toMatchObject({ ok: true, dropped: q1.ok ? q1.seq : -1 });
      const out = (await ctx.store.getSession("c1"))?.outgoing ?? [];
      expect(out.map((o) => [o.msg.topic, o.qos, o.packetId, o.state])).toEqual([["f1", 1, 5, 0], ["f2", 2, 65535, 0], ["q2", 1, 0, 0]]);
    });

    it("a message moved back to packet id 0 counts as queued again", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const r = await enqueue(ctx.store, "c1", msg("a"));
      const seq = r.ok ? (r.seq as number) : 0;
      await applyOne(ctx.store, { op: "outgoing.update", clientId: "c1", epoch, seq, packetId: 9, state: 0 });
      await enqueue(ctx.store, "c1", msg("b"));
      await applyOne(ctx.store, { op: "outgoing.update", clientId: "c1", epoch, seq, packetId: 0, state: 0 });
      expect(await enqueue(ctx.store, "c1", msg("c"), { maxQueued: 2, dropPolicy: "newest" })).toEqual({ ok: false, reason: "full" });
    });

    it("keeps delivery QoS, message QoS and both retain flags apart (QoS 1 and 2)", async () => {
      await claim(ctx.store, "c1");
      await enqueue(ctx.store, "c1", msg("a", "1", 2, true), { qos: 1, retain: false });
      await enqueue(ctx.store, "c1", msg("b", "2", 1, false), { qos: 2, retain: true });
      const out = (await ctx.store.getSession("c1"))?.outgoing ?? [];
      expect(out.map((o) => ({ topic: o.msg.topic, mq: o.msg.qos, mr: o.msg.retain, q: o.qos, r: o.retain }))).toEqual([
        { topic: "a", mq: 2, mr: true, q: 1, r: false },
        { topic: "b", mq: 1, mr: false, q: 2, r: true },
      ]);
    });

    it("refuses QoS 0 (never stored) and other invalid ops, writing nothing of the batch", async () => {
      await claim(ctx.store, "c1");
      const bad = { ...enqueueOp("c1", msg("t")), entry: { msg: msg("t"), qos: 0, retain: false, packetId: 0 } } as StoreOp;
      await expect(ctx.store.apply([enqueueOp("c1", msg("ok")), bad])).rejects.toThrow(/QoS/);
      await expect(ctx.store.apply([enqueueOp("c1", msg("t"), { maxQueued: -1 })])).rejects.toThrow(/maxQueued/);
      await expect(ctx.store.apply([{ op: "outgoing.update", clientId: "c1", epoch: 1, seq: 1, packetId: 70_000, state: 0 }])).rejects.toThrow(/packetId/);
      expect(await seqs(ctx.store, "c1")).toEqual([]);
    });
  });

  describe("payloads", () => {
    it("all 256 byte values round trip", async () => {
      await claim(ctx.store, "c1");
      await enqueue(ctx.store, "c1", msg("bin", ALL_BYTES));
      const out = (await ctx.store.getSession("c1"))?.outgoing[0];
      expect(out?.msg.payload.equals(ALL_BYTES)).toBe(true);
      const again = (await claim(ctx.store, "c1")).snapshot.outgoing[0];
      expect(again?.msg.payload.equals(ALL_BYTES)).toBe(true);
    });

    it("an empty payload round trips", async () => {
      await claim(ctx.store, "c1");
      await enqueue(ctx.store, "c1", msg("empty", Buffer.alloc(0)));
      const p = (await ctx.store.getSession("c1"))?.outgoing[0]?.msg.payload;
      expect(Buffer.isBuffer(p)).toBe(true);
      expect(p?.length).toBe(0);
    });

    it("a 256 KB random payload round trips exactly", async () => {
      const big = randomBytes(256 * 1024);
      await claim(ctx.store, "c1");
      await enqueue(ctx.store, "c1", msg("big", big));
      expect((await ctx.store.getSession("c1"))?.outgoing[0]?.msg.payload.equals(big)).toBe(true);
    });

    it("UTF-8 payloads and non-ASCII topics round trip", async () => {
      const text = "héllo wörld ✓ 🚀 \u0000 end";
      await claim(ctx.store, "c1");
      await enqueue(ctx.store, "c1", msg("ünï/🚀/t", text));
      const o = (await ctx.store.getSession("c1"))?.outgoing[0];
      expect(o?.msg.topic).toBe("ünï/🚀/t");
      expect(o?.msg.payload.toString("utf8")).toBe(text);
    });

    it("the store keeps its own copy of payloads", async () => {
      await claim(ctx.store, "c1");
      const p = Buffer.from("original");
      await enqueue(ctx.store, "c1", msg("t", p));
      p.write("XXXXXXXX");
      const read = (await ctx.store.getSession("c1"))?.outgoing[0]?.msg.payload as Buffer;
      expect(read.toString()).toBe("original");
      read.write("YYYYYYYY");
      expect((await ctx.store.getSession("c1"))?.outgoing[0]?.msg.payload.toString()).toBe("original");
    });
  });
}
