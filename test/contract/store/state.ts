import { describe, expect, it } from "vitest";
import type { StoreOp, StoreOpResult } from "../../../core/store/types.js";
import { applyOne, claim, type Ctx, enqueue, enqueueOp, msg, seqs, T0 } from "./fixtures.js";

function seqOf(r: StoreOpResult): number {
  if (!r.ok || r.seq === undefined) throw new Error(`no seq in ${JSON.stringify(r)}`);
  return r.seq;
}

export function stateTests(ctx: Ctx): void {
  describe("outgoing and inbound QoS 2 state", () => {
    it("outgoing.update sets packet id and state; outgoing.delete removes the message", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const a = seqOf(await enqueue(ctx.store, "c1", msg("a"), { qos: 2 }));
      const b = seqOf(await enqueue(ctx.store, "c1", msg("b")));
      expect(await applyOne(ctx.store, { op: "outgoing.update", clientId: "c1", epoch, seq: a, packetId: 10, state: 0 })).toEqual({ ok: true });
      expect(await applyOne(ctx.store, { op: "outgoing.update", clientId: "c1", epoch, seq: a, packetId: 10, state: 1 })).toEqual({ ok: true });
      const out = (await ctx.store.getSession("c1"))?.outgoing ?? [];
      expect(out.map((o) => [o.seq, o.packetId, o.state, o.msg.topic])).toEqual([[a, 10, 1, "a"], [b, 0, 0, "b"]]);
      expect(await applyOne(ctx.store, { op: "outgoing.delete", clientId: "c1", epoch, seq: a })).toEqual({ ok: true });
      expect(await seqs(ctx.store, "c1")).toEqual([b]);
    });

    it("ops on the same entries in one batch apply in order: update then delete, delete then update, and the queue bound sees both", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const [a, b, c] = (await ctx.store.apply([0, 1, 2].map((i) => enqueueOp("c1", msg(`t/${i}`), { epoch })))).map(seqOf) as [number, number, number];
      const r = await ctx.store.apply([
        { op: "outgoing.update", clientId: "c1", epoch, seq: a, packetId: 5, state: 0 },
        { op: "outgoing.delete", clientId: "c1", epoch, seq: a },
        { op: "outgoing.delete", clientId: "c1", epoch, seq: b },
        { op: "outgoing.update", clientId: "c1", epoch, seq: b, packetId: 6, state: 0 },
        { op: "outgoing.update", clientId: "c1", epoch, seq: c, packetId: 7, state: 1 },
        { op: "outgoing.update", clientId: "c1", epoch, seq: c, packetId: 0, state: 0 },
        // Queue bound 2: c is queued again, so one more fits and the next drops c (the oldest queued).
        enqueueOp("c1", msg("t/3"), { maxQueued: 2 }),
        enqueueOp("c1", msg("t/4"), { maxQueued: 2 }),
      ]);
      expect(r.slice(0, 6).every((x) => x.ok)).toBe(true);
      expect(r[6]).toEqual({ ok: true, seq: c + 1 });
      expect(r[7]).toEqual({ ok: true, seq: c + 2, dropped: c });
      const s = await ctx.store.getSession("c1");
      expect(s?.outgoing.map((o) => [o.seq, o.msg.topic, o.packetId, o.state])).toEqual([[c + 1, "t/3", 0, 0], [c + 2, "t/4", 0, 0]]);
    });

    it("outgoing.update and outgoing.delete with a stale epoch are fenced", async () => {
      const old = await claim(ctx.store, "c1");
      const seq = seqOf(await enqueue(ctx.store, "c1", msg("a")));
      await claim(ctx.store, "c1", { node: "node-b" });
      const fenced = { ok: false, reason: "fenced" };
      expect(await applyOne(ctx.store, { op: "outgoing.update", clientId: "c1", epoch: old.epoch, seq, packetId: 3, state: 0 })).toEqual(fenced);
      expect(await applyOne(ctx.store, { op: "outgoing.delete", clientId: "c1", epoch: old.epoch, seq })).toEqual(fenced);
      expect((await ctx.store.getSession("c1"))?.outgoing.map((o) => [o.seq, o.packetId])).toEqual([[seq, 0]]);
    });

    it("outgoing.update and outgoing.delete of an unknown seq succeed and change nothing", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const seq = seqOf(await enqueue(ctx.store, "c1", msg("a")));
      expect(await applyOne(ctx.store, { op: "outgoing.update", clientId: "c1", epoch, seq: seq + 100, packetId: 1, state: 0 })).toEqual({ ok: true });
      expect(await applyOne(ctx.store, { op: "outgoing.delete", clientId: "c1", epoch, seq: seq + 100 })).toEqual({ ok: true });
      expect(await seqs(ctx.store, "c1")).toEqual([seq]);
    });

    it("inbound2 add and delete; duplicates are harmless; ids come back sorted", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      for (const packetId of [300, 7, 65535, 7]) {
        expect(await applyOne(ctx.store, { op: "inbound2.add", clientId: "c1", epoch, packetId })).toEqual({ ok: true });
      }
      expect((await ctx.store.getSession("c1"))?.inboundQos2).toEqual([7, 300, 65535]);
      expect(await applyOne(ctx.store, { op: "inbound2.delete", clientId: "c1", epoch, packetId: 300 })).toEqual({ ok: true });
      expect(await applyOne(ctx.store, { op: "inbound2.delete", clientId: "c1", epoch, packetId: 12 })).toEqual({ ok: true });
      expect((await ctx.store.getSession("c1"))?.inboundQos2).toEqual([7, 65535]);
    });

    it("inbound2 writes with a stale epoch are fenced", async () => {
      const old = await claim(ctx.store, "c1");
      const cur = await claim(ctx.store, "c1");
      await applyOne(ctx.store, { op: "inbound2.add", clientId: "c1", epoch: cur.epoch, packetId: 1 });
      expect(await applyOne(ctx.store, { op: "inbound2.add", clientId: "c1", epoch: old.epoch, packetId: 2 })).toEqual({ ok: false, reason: "fenced" });
      expect(await applyOne(ctx.store, { op: "inbound2.delete", clientId: "c1", epoch: old.epoch, packetId: 1 })).toEqual({ ok: false, reason: "fenced" });
      expect((await ctx.store.getSession("c1"))?.inboundQos2).toEqual([1]);
    });

    it("owner writes on a session that does not exist are refused with no-session", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      await ctx.store.deleteSession("c1");
      const ops: StoreOp[] = [
        { op: "outgoing.update", clientId: "c1", epoch, seq: 1, packetId: 1, state: 0 },
        { op: "outgoing.delete", clientId: "c1", epoch, seq: 1 },
        { op: "inbound2.add", clientId: "c1", epoch, packetId: 1 },
        { op: "inbound2.delete", clientId: "c1", epoch, packetId: 1 },
      ];
      expect(await ctx.store.apply(ops)).toEqual(ops.map(() => ({ ok: false, reason: "no-session" })));
      expect(await ctx.store.getSession("c1")).toBeNull();
    });

    it("the snapshot reflects a sequence of operations exactly", async () => {
      const { epoch } = await claim(ctx.store, "c1", { node: "n1", username: "u", now: T0 });
      await ctx.store.updateSubscriptions("c1", epoch, { "a/#": 2, "b/+": 1 }, []);
      const s1 = seqOf(await enqueue(ctx.store, "c1", msg("a/1", "one", 2), { qos: 2 }));
      const s2 = seqOf(await enqueue(ctx.store, "c1", msg("b/2", "two", 1), { qos: 1, retain: true }));
      const s3 = seqOf(await enqueue(ctx.store, "c1", msg("a/3", "three", 1)));
      await ctx.store.apply([
        { op: "outgoing.update", clientId: "c1", epoch, seq: s1, packetId: 1, state: 1 },
        { op: "outgoing.update", clientId: "c1", epoch, seq: s2, packetId: 2, state: 0 },
        { op: "outgoing.delete", clientId: "c1", epoch, seq: s2 },
        { op: "inbound2.add", clientId: "c1", epoch, packetId: 42 },
      ]);
      await ctx.store.updateSubscriptions("c1", epoch, {}, ["b/+"]);
      await ctx.store.releaseSession("c1", epoch, T0 + 10);
      expect(await ctx.store.getSession("c1")).toEqual({
        clientId: "c1", clean: false, node: null, epoch, username: "u", identity: null, connectedAt: T0, disconnectedAt: T0 + 10,
        subscriptions: { "a/#": 2 },
        outgoing: [
          { seq: s1, msg: msg("a/1", "one", 2), qos: 2, retain: false, packetId: 1, state: 1 },
          { seq: s3, msg: msg("a/3", "three", 1), qos: 1, retain: false, packetId: 0, state: 0 },
        ],
        inboundQos2: [42],
      });
    });
  });

  describe("apply", () => {
    it("a mixed batch returns one result per op, in order", async () => {
      const old = await claim(ctx.store, "c1");
      const { epoch } = await claim(ctx.store, "c1");
      await applyOne(ctx.store, { op: "retained.set", msg: msg("r/full", "x", 1, true), maxRetained: 1 });
      const results = await ctx.store.apply([
        enqueueOp("c1", msg("t/1")),
        enqueueOp("ghost", msg("t/1")),
        { op: "inbound2.add", clientId: "c1", epoch, packetId: 5 },
        { op: "inbound2.add", clientId: "c1", epoch: old.epoch, packetId: 6 },
        { op: "retained.set", msg: msg("r/other", "y", 1, true), maxRetained: 1 },
        { op: "retained.set", msg: msg("r/full", "z", 1, true), maxRetained: 1 },
        enqueueOp("c1", msg("t/2")),
        { op: "retained.delete", topic: "r/none" },
      ]);
      const first = seqOf(results[0] as StoreOpResult);
      expect(results).toEqual([
        { ok: true, seq: first },
        { ok: false, reason: "no-session" },
        { ok: true },
        { ok: false, reason: "fenced" },
        { ok: false, reason: "full" },
        { ok: true },
        { ok: true, seq: first + 1 },
        { ok: true },
      ]);
      expect((await ctx.store.getRetained("r/full"))?.payload.toString()).toBe("z");
    });

    it("an empty batch returns no results", async () => {
      expect(await ctx.store.apply([])).toEqual([]);
    });

    it("ops of one batch apply in order: 200 enqueues get consecutive seqs", async () => {
      await claim(ctx.store, "c1");
      const results = await ctx.store.apply(Array.from({ length: 200 }, (_, i) => enqueueOp("c1", msg(`t/${i}`))));
      const s = results.map(seqOf);
      expect(s).toEqual(Array.from({ length: 200 }, (_, i) => (s[0] as number) + i));
      const out = (await ctx.store.getSession("c1"))?.outgoing ?? [];
      expect(out.map((o) => o.msg.topic)).toEqual(Array.from({ length: 200 }, (_, i) => `t/${i}`));
    });

    it("a set then a delete of the same retained topic in one batch leaves it deleted", async () => {
      await ctx.store.apply([
        { op: "retained.set", msg: msg("r/t", "1", 1, true), maxRetained: 10 },
        { op: "retained.delete", topic: "r/t" },
        { op: "retained.set", msg: msg("r/u", "2", 1, true), maxRetained: 10 },
      ]);
      expect(await ctx.store.getRetained("r/t")).toBeNull();
      expect((await ctx.store.getRetained("r/u"))?.payload.toString()).toBe("2");
    });
  });
}
