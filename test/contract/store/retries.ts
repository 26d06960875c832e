import { describe, expect, it } from "vitest";
import { InvalidStoreInput } from "../../../core/store/errors.js";
import type { ApplyKey, StoreOp } from "../../../core/store/types.js";
import { claim, type Ctx, enqueue, enqueueOp, msg, T0 } from "./fixtures.js";

const key = (batch: number, writer = "node-a.j1"): ApplyKey => ({ writer, batch });

/** Topics of a session's stored messages, in seq order. */
async function topics(ctx: Ctx, clientId: string): Promise<string[]> {
  return ((await ctx.store.getSession(clientId))?.outgoing ?? []).map((o) => o.msg.topic);
}

/**
 * `apply` with an ApplyKey (decision 030): the journal retries a batch whose reply was lost, and the store answers
 * the retry with the first results instead of applying it again (finding S4 of decision 023: a message stored
 * twice, or answered "duplicate" and dropped by the connected session).
 */
export function retryTests(ctx: Ctx): void {
  describe("apply retried under the same key", () => {
    it("is answered with the first results and applied once: enqueues with and without a dedup id, sends, deletes", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const first: StoreOp[] = [
        enqueueOp("c1", msg("t/1"), { epoch, packetId: 1 }),
        enqueueOp("c1", msg("t/2"), { epoch }),
        enqueueOp("c1", msg("t/3"), { epoch, dedupId: "node-b:1", now: T0 }),
      ];
      const r1 = await ctx.store.apply(first, key(1));
      expect(r1.map((r) => r.ok)).toEqual([true, true, true]);
      // The reply was lost: the same call again.
      expect(await ctx.store.apply(first, key(1))).toEqual(r1);
      expect(await topics(ctx, "c1")).toEqual(["t/1", "t/2", "t/3"]);
      const [s1, s2] = r1.map((r) => (r.ok ? (r.seq as number) : 0));
      const second: StoreOp[] = [
        { op: "outgoing.delete", clientId: "c1", epoch, seq: s1 as number },
        { op: "outgoing.sent", clientId: "c1", epoch, seq: s2 as number },
        enqueueOp("c1", msg("t/4"), { epoch }),
      ];
      const r2 = await ctx.store.apply(second, key(2));
      expect(await ctx.store.apply(second, key(2))).toEqual(r2);
      expect(await topics(ctx, "c1")).toEqual(["t/2", "t/3", "t/4"]);
      // The next enqueue takes the seq after t/4's: the retry assigned none.
      const t4 = r2[2]?.ok === true ? (r2[2].seq as number) : 0;
      expect(await enqueue(ctx.store, "c1", msg("t/5"), { epoch })).toEqual({ ok: true, seq: t4 + 1 });
    });

    it("refusals and drops are answered as they were, not decided again", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      await claim(ctx.store, "c2", { node: "node-b" });
      await enqueue(ctx.store, "c1", msg("t/0"), { epoch, maxQueued: 1 });
      const ops: StoreOp[] = [
        enqueueOp("c1", msg("t/1"), { epoch, maxQueued: 1 }),
        enqueueOp("c1", msg("t/2"), { epoch: epoch + 1 }),
        enqueueOp("c2", msg("t/3"), { unowned: true }),
        enqueueOp("ghost", msg("t/4")),
      ];
      const r1 = await ctx.store.apply(ops, key(1));
      expect(r1[0]).toMatchObject({ ok: true, dropped: expect.any(Number) as number });
      expect(r1.slice(1)).toEqual([
        { ok: false, reason: "fenced" },
        { ok: false, reason: "owned", node: "node-b" },
        { ok: false, reason: "no-session" },
      ]);
      expect(await ctx.store.apply(ops, key(1))).toEqual(r1);
      expect(await topics(ctx, "c1")).toEqual(["t/1"]);
    });

    it("is remembered per session: a retry whose first attempt reached only some sessions applies the others", async () => {
      const a = await claim(ctx.store, "a");
      const b = await claim(ctx.store, "b");
      const opA = enqueueOp("a", msg("t/a"), { epoch: a.epoch });
      const opB = enqueueOp("b", msg("t/b"), { epoch: b.epoch });
      const [ra] = await ctx.store.apply([opA], key(7));
      const r = await ctx.store.apply([opA, opB], key(7));
      expect(r[0]).toEqual(ra);
      expect(r[1]?.ok).toBe(true);
      expect(await topics(ctx, "a")).toEqual(["t/a"]);
      expect(await topics(ctx, "b")).toEqual(["t/b"]);
    });

    it("is remembered per writer, for its last call only; without a key a repeat is applied again", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const op = enqueueOp("c1", msg("t/1"), { epoch });
      await ctx.store.apply([op], key(1, "w1"));
      // Another writer's call with the same number is another call.
      expect((await ctx.store.apply([op], key(1, "w2"))).every((r) => r.ok)).toBe(true);
      // The writer's next call, and then no key at all.
      expect((await ctx.store.apply([op], key(2, "w1"))).every((r) => r.ok)).toBe(true);
      expect((await ctx.store.apply([op])).every((r) => r.ok)).toBe(true);
      expect(await topics(ctx, "c1")).toEqual(["t/1", "t/1", "t/1", "t/1"]);
    });

    it("a long call (more ops of one session than one script call takes) is recognised as a whole", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const ops = Array.from({ length: 2500 }, (_, i) => enqueueOp("c1", msg(`t/${i}`), { epoch, packetId: 1 + (i % 60_000) }));
      const r1 = await ctx.store.apply(ops, key(1));
      expect(await ctx.store.apply(ops, key(1))).toEqual(r1);
      expect((await ctx.store.getSession("c1"))?.outgoing.length).toBe(2500);
    });

    it("refuses a malformed key before anything is written", async () => {
      await claim(ctx.store, "c1");
      const op = enqueueOp("c1", msg("t/1"));
      await expect(ctx.store.apply([op], { writer: "", batch: 1 })).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.apply([op], { writer: "a b", batch: 1 })).rejects.toBeInstanceOf(InvalidStoreInput);
      await expect(ctx.store.apply([op], { writer: "w", batch: 0 })).rejects.toBeInstanceOf(InvalidStoreInput);
      expect(await topics(ctx, "c1")).toEqual([]);
    });
  });
}
