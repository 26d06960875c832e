import { describe, expect, it } from "vitest";
import type { Store, StoreOp, StoreOpResult } from "../../../core/store/types.js";
import { applyOne, claim, type Ctx, enqueueOp, msg } from "./fixtures.js";

/**
 * The contract's packet id of an entry the sent boundary covers (docs/store.md, "The sent boundary"): written out
 * here, not imported, because the broker and every store must agree on exactly this function.
 */
function derived(seq: number): number {
  return ((seq - 1) % 65_535) + 1;
}

function sent(clientId: string, epoch: number, seq: number): StoreOp {
  return { op: "outgoing.sent", clientId, epoch, seq } as StoreOp;
}

function del(clientId: string, epoch: number, seq: number): StoreOp {
  return { op: "outgoing.delete", clientId, epoch, seq };
}

function seqOf(r: StoreOpResult | undefined): number {
  if (r === undefined || !r.ok || r.seq === undefined) throw new Error(`no seq in ${JSON.stringify(r)}`);
  return r.seq;
}

/** Enqueues `n` queued messages `<prefix>/<i>` in one batch; returns their seqs. */
async function queued(store: Store, clientId: string, n: number, prefix = "t"): Promise<number[]> {
  return (await store.apply(Array.from({ length: n }, (_, i) => enqueueOp(clientId, msg(`${prefix}/${i}`))))).map(seqOf);
}

/** [seq, packet id, state] of every outgoing entry, in seq order. */
async function outgoing(store: Store, clientId: string): Promise<[number, number, number][]> {
  return ((await store.getSession(clientId))?.outgoing ?? []).map((o) => [o.seq, o.packetId, o.state]);
}

export function sentTests(ctx: Ctx): void {
  describe("the sent boundary (outgoing.sent)", () => {
    it("puts every entry up to its seq in flight, with the packet id derived from the seq and state 0; later entries stay queued", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const [a, b, c] = (await queued(ctx.store, "c1", 3)) as [number, number, number];
      expect(await applyOne(ctx.store, sent("c1", epoch, b))).toEqual({ ok: true });
      expect(await outgoing(ctx.store, "c1")).toEqual([[a, derived(a), 0], [b, derived(b), 0], [c, 0, 0]]);
    });

    it("only moves forward, and never past the last seq assigned: later enqueues are queued and counted", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const [a, b] = (await queued(ctx.store, "c1", 2)) as [number, number];
      expect(await ctx.store.apply([sent("c1", epoch, b), sent("c1", epoch, a)])).toEqual([{ ok: true }, { ok: true }]);
      expect(await outgoing(ctx.store, "c1")).toEqual([[a, derived(a), 0], [b, derived(b), 0]]);
      expect(await applyOne(ctx.store, sent("c1", epoch, b + 1000))).toEqual({ ok: true });
      const c = seqOf(await applyOne(ctx.store, enqueueOp("c1", msg("c"))));
      expect(await outgoing(ctx.store, "c1")).toEqual([[a, derived(a), 0], [b, derived(b), 0], [c, 0, 0]]);
      expect(await applyOne(ctx.store, enqueueOp("c1", msg("d"), { maxQueued: 1, dropPolicy: "newest" }))).toEqual({ ok: false, reason: "full" });
    });

    it("keeps an explicit packet id (enqueued in flight, or set by outgoing.update) and state under the boundary", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const a = seqOf(await applyOne(ctx.store, enqueueOp("c1", msg("a"), { packetId: 7 })));
      const [b, c] = (await queued(ctx.store, "c1", 2)) as [number, number];
      await applyOne(ctx.store, { op: "outgoing.update", clientId: "c1", epoch, seq: b, packetId: 9, state: 1 });
      expect(await applyOne(ctx.store, sent("c1", epoch, c))).toEqual({ ok: true });
      expect(await outgoing(ctx.store, "c1")).toEqual([[a, 7, 0], [b, 9, 1], [c, derived(c), 0]]);
    });

    it("an update to packet id 0 does not take an entry at or below the boundary back to the queue", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const [a] = (await queued(ctx.store, "c1", 1)) as [number];
      await ctx.store.apply([sent("c1", epoch, a), { op: "outgoing.update", clientId: "c1", epoch, seq: a, packetId: 0, state: 0 }]);
      expect(await outgoing(ctx.store, "c1")).toEqual([[a, derived(a), 0]]);
      expect((await applyOne(ctx.store, enqueueOp("c1", msg("b"), { maxQueued: 1, dropPolicy: "newest" }))).ok).toBe(true);
    });

    it("maxQueued counts the entries above the boundary only; 'oldest' drops the oldest of those, never one below it", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const [a, b] = (await queued(ctx.store, "c1", 2)) as [number, number];
      await applyOne(ctx.store, sent("c1", epoch, a));
      const c = await applyOne(ctx.store, enqueueOp("c1", msg("c"), { maxQueued: 2 }));
      expect(c).toEqual({ ok: true, seq: b + 1 });
      const d = await applyOne(ctx.store, enqueueOp("c1", msg("d"), { maxQueued: 2 }));
      expect(d).toEqual({ ok: true, seq: b + 2, dropped: b });
      expect(await outgoing(ctx.store, "c1")).toEqual([[a, derived(a), 0], [b + 1, 0, 0], [b + 2, 0, 0]]);
      expect(await applyOne(ctx.store, enqueueOp("c1", msg("e"), { maxQueued: 2, dropPolicy: "newest" }))).toEqual({ ok: false, reason: "full" });
    });

    it("in one batch, boundary moves, updates and deletes apply in op order: each enqueue's bound sees exactly the ops before it", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const [q1, q2] = (await queued(ctx.store, "c1", 2, "q")) as [number, number];
      const n = q2 + 1;
      const r = await ctx.store.apply([
        enqueueOp("c1", msg("n/1"), { maxQueued: 2 }), // queued: q1 q2 → drops q1
        sent("c1", epoch, q2), // queued: n1
        enqueueOp("c1", msg("n/2"), { maxQueued: 2 }), // queued: n1 n2, nothing dropped
        del("c1", epoch, q2),
        sent("c1", epoch, n), // queued: n2
        enqueueOp("c1", msg("n/3"), { maxQueued: 2 }), // queued: n2 n3
        enqueueOp("c1", msg("n/4"), { maxQueued: 2 }), // drops n2
      ]);
      expect(r).toEqual([
        { ok: true, seq: n, dropped: q1 },
        { ok: true },
        { ok: true, seq: n + 1 },
        { ok: true },
        { ok: true },
        { ok: true, seq: n + 2 },
        { ok: true, seq: n + 3, dropped: n + 1 },
      ]);
      expect(await outgoing(ctx.store, "c1")).toEqual([[n, derived(n), 0], [n + 2, 0, 0], [n + 3, 0, 0]]);
    });

    it("entries enqueued earlier in the same batch can be updated, deleted, dropped and sent, around bound checks", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const [x] = (await queued(ctx.store, "c1", 1, "x")) as [number];
      await applyOne(ctx.store, del("c1", epoch, x));
      const n = x + 1; // a
      const upd = (seq: number, packetId: number, state: 0 | 1): StoreOp => ({ op: "outgoing.update", clientId: "c1", epoch, seq, packetId, state });
      const r = await ctx.store.apply([
        enqueueOp("c1", msg("a"), { maxQueued: 3 }),
        enqueueOp("c1", msg("b"), { maxQueued: 3 }),
        enqueueOp("c1", msg("c"), { maxQueued: 3 }),
        upd(n + 1, 7, 0), // b in flight
        del("c1", epoch, n), // a gone: c is the only one queued
        enqueueOp("c1", msg("d"), { maxQueued: 3 }),
        enqueueOp("c1", msg("e"), { maxQueued: 3 }), // queued: c d e
        upd(n + 3, 8, 1), // d in flight: queued c e
        enqueueOp("c1", msg("f"), { maxQueued: 2 }), // drops c
        del("c1", epoch, n + 1),
        sent("c1", epoch, n + 4), // e in flight: queued f
        enqueueOp("c1", msg("g"), { maxQueued: 2 }),
      ]);
      expect(r).toEqual([
        { ok: true, seq: n },
        { ok: true, seq: n + 1 },
        { ok: true, seq: n + 2 },
        { ok: true },
        { ok: true },
        { ok: true, seq: n + 3 },
        { ok: true, seq: n + 4 },
        { ok: true },
        { ok: true, seq: n + 5, dropped: n + 2 },
        { ok: true },
        { ok: true },
        { ok: true, seq: n + 6 },
      ]);
      expect(await outgoing(ctx.store, "c1")).toEqual([[n + 3, 8, 1], [n + 4, derived(n + 4), 0], [n + 5, 0, 0], [n + 6, 0, 0]]);
      expect(await applyOne(ctx.store, enqueueOp("c1", msg("h"), { maxQueued: 2, dropPolicy: "newest" }))).toEqual({ ok: false, reason: "full" });
    });

    it("sends and acknowledgements interleaved in one batch (with stale writes among them) answer each op and leave exactly the right entries", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const s = await queued(ctx.store, "c1", 10);
      const at = (i: number): number => s[i] as number;
      expect(await ctx.store.apply([0, 1, 2, 3, 4].map((i) => sent("c1", epoch, at(i))))).toEqual(Array(5).fill({ ok: true }));
      const r = await ctx.store.apply([
        del("c1", epoch, at(0)),
        sent("c1", epoch, at(5)),
        del("c1", epoch, at(1)),
        sent("c1", epoch, at(6)),
        sent("c1", epoch - 1, at(9)),
        del("c1", epoch - 1, at(8)),
        del("c1", epoch, at(3)),
        sent("c1", epoch, at(7)),
        del("c1", epoch, at(4)),
        { op: "inbound2.add", clientId: "c1", epoch, packetId: 3 },
        del("c1", epoch, at(5)),
        { op: "outgoing.update", clientId: "c1", epoch, seq: at(2), packetId: derived(at(2)), state: 1 },
      ]);
      const fenced = { ok: false, reason: "fenced" };
      expect(r).toEqual([...Array(4).fill({ ok: true }), fenced, fenced, ...Array(6).fill({ ok: true })]);
      expect(await outgoing(ctx.store, "c1")).toEqual([
        [at(2), derived(at(2)), 1],
        [at(6), derived(at(6)), 0],
        [at(7), derived(at(7)), 0],
        [at(8), 0, 0],
        [at(9), 0, 0],
      ]);
      // Two entries are queued: a bound of 3 takes one more, and the next drops the oldest queued one.
      expect(await applyOne(ctx.store, enqueueOp("c1", msg("x"), { maxQueued: 3 }))).toEqual({ ok: true, seq: at(9) + 1 });
      expect(await applyOne(ctx.store, enqueueOp("c1", msg("y"), { maxQueued: 3 }))).toEqual({ ok: true, seq: at(9) + 2, dropped: at(8) });
    });

    it("survives release and a claim on another node: entries up to it come back in flight with their packet ids, the rest queued", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const a = seqOf(await applyOne(ctx.store, enqueueOp("c1", msg("a"))));
      const b = seqOf(await applyOne(ctx.store, enqueueOp("c1", msg("b", "x", 2), { qos: 2 })));
      const [c, d] = (await queued(ctx.store, "c1", 2)) as [number, number];
      await ctx.store.apply([
        { op: "outgoing.update", clientId: "c1", epoch, seq: b, packetId: derived(b), state: 0 },
        sent("c1", epoch, c),
        { op: "outgoing.update", clientId: "c1", epoch, seq: b, packetId: derived(b), state: 1 },
      ]);
      expect(await ctx.store.releaseSession("c1", epoch, 1)).toBe(true);
      const again = await claim(ctx.store, "c1", { node: "node-b" });
      expect(again.present).toBe(true);
      expect(again.snapshot.outgoing.map((o) => [o.seq, o.msg.topic, o.qos, o.packetId, o.state])).toEqual([
        [a, "a", 1, derived(a), 0],
        [b, "b", 2, derived(b), 1],
        [c, "t/0", 1, derived(c), 0],
        [d, "t/1", 1, 0, 0],
      ]);
      // The new owner moves it on from there.
      expect(await applyOne(ctx.store, sent("c1", again.epoch, d))).toEqual({ ok: true });
      expect((await outgoing(ctx.store, "c1")).at(-1)).toEqual([d, derived(d), 0]);
    });

    it("a session started over (clean claim, Clean Start, delete) has no boundary: its new entries are queued", async () => {
      let { epoch } = await claim(ctx.store, "c1");
      for (const restart of [
        () => claim(ctx.store, "c1", { clean: true }),
        () => claim(ctx.store, "c1", { clean: false, discard: true }),
        async () => {
          await ctx.store.deleteSession("c1");
          return claim(ctx.store, "c1");
        },
      ]) {
        const [a] = (await queued(ctx.store, "c1", 1)) as [number];
        await applyOne(ctx.store, sent("c1", epoch, a));
        expect(await outgoing(ctx.store, "c1")).toEqual([[a, derived(a), 0]]);
        ({ epoch } = await restart());
        const [b] = (await queued(ctx.store, "c1", 1)) as [number];
        expect(b).toBeGreaterThan(a);
        expect(await outgoing(ctx.store, "c1")).toEqual([[b, 0, 0]]);
        await applyOne(ctx.store, del("c1", epoch, b));
      }
    });

    it("is fenced with a stale epoch and refused without a session, changing nothing", async () => {
      const old = await claim(ctx.store, "c1");
      await claim(ctx.store, "c1", { node: "node-b" });
      const [a] = (await queued(ctx.store, "c1", 1)) as [number];
      expect(await applyOne(ctx.store, sent("c1", old.epoch, a))).toEqual({ ok: false, reason: "fenced" });
      expect(await outgoing(ctx.store, "c1")).toEqual([[a, 0, 0]]);
      await ctx.store.deleteSession("c1");
      expect(await applyOne(ctx.store, sent("c1", old.epoch + 1, a))).toEqual({ ok: false, reason: "no-session" });
      expect(await ctx.store.getSession("c1")).toBeNull();
    });

    it("refuses a seq that is not a positive integer, writing nothing of the batch", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      await expect(ctx.store.apply([enqueueOp("c1", msg("t")), sent("c1", epoch, 0)])).rejects.toThrow(/seq/);
      await expect(ctx.store.apply([sent("c1", epoch, 1.5)])).rejects.toThrow(/seq/);
      expect(await outgoing(ctx.store, "c1")).toEqual([]);
    });
  });
}
