import { describe, expect, it } from "vitest";
import { InvalidStoreInput } from "../../../core/store/errors.js";
import type { StoredMessage } from "../../../core/store/types.js";
import { claim, type Ctx, enqueueOp, msg, T0 } from "./fixtures.js";

/** The publisher's order key of a stored message (core/order-key.ts, decision 038) in every store. */
export function orderKeyTests(ctx: Ctx): void {
  describe("order keys (decision 038)", () => {
    it("outgoing: an order key round trips alone and with props and subIds, through updates, a delete and a resume", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const keyed: StoredMessage = { ...msg("o/a"), order: "AbC-_9.z.1a" };
      const v5: StoredMessage = { ...msg("o/b"), order: "AbC-_9.10.2", props: { contentType: "x" }, publishedAt: T0 };
      const r = await ctx.store.apply([enqueueOp("c1", keyed), enqueueOp("c1", v5, { subIds: [7] }), enqueueOp("c1", msg("o/c")), enqueueOp("c1", keyed, { packetId: 3, qos: 2 })]);
      expect(r.map((x) => x.ok)).toEqual([true, true, true, true]);
      const expected = [
        { seq: 1, msg: keyed, qos: 1, retain: false, packetId: 0, state: 0 },
        { seq: 2, msg: v5, qos: 1, retain: false, packetId: 0, state: 0, subIds: [7] },
        { seq: 3, msg: msg("o/c"), qos: 1, retain: false, packetId: 0, state: 0 },
        { seq: 4, msg: keyed, qos: 2, retain: false, packetId: 3, state: 0 },
      ];
      expect((await ctx.store.getSession("c1"))?.outgoing).toEqual(expected);
      expect((await ctx.store.getSession("c1"))?.outgoing[2]?.msg).not.toHaveProperty("order");
      await ctx.store.apply([
        { op: "outgoing.update", clientId: "c1", epoch, seq: 4, packetId: 3, state: 1 },
        { op: "outgoing.delete", clientId: "c1", epoch, seq: 1 },
      ]);
      await ctx.store.releaseSession("c1", epoch, T0 + 1);
      const resumed = await claim(ctx.store, "c1", { node: "node-b" });
      expect(resumed.snapshot.outgoing).toEqual([expected[1], expected[2], { ...expected[3], state: 1 }]);
    });

    it("refuses a malformed order key before writing anything", async () => {
      await claim(ctx.store, "c1");
      for (const order of ["", "a.b", "a.1.2.3", "a|b.1.2", 'a".1.2', "a.1.Z", `${"a".repeat(17)}.1.2`]) {
        await expect(ctx.store.apply([enqueueOp("c1", msg("ok")), enqueueOp("c1", { ...msg("t"), order })]), order).rejects.toThrow(InvalidStoreInput);
      }
      expect((await ctx.store.getSession("c1"))?.outgoing).toEqual([]);
    });
  });
}
