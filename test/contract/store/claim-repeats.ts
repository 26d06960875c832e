import { describe, expect, it } from "vitest";
import { claim, type Ctx, enqueue, msg, T0 } from "./fixtures.js";

/**
 * A claim repeated after its reply was lost (ClaimOptions.claimId, decision 034): answered as the first time while
 * nothing claimed the session since, so the claiming node still learns the node it took the client from.
 */
export function claimRepeatTests(ctx: Ctx): void {
  describe("claim repeats (claimId)", () => {
    it("a repeat changes nothing and answers as the first claim: same epoch, previous node and custodian, present", async () => {
      const first = await claim(ctx.store, "c1", { node: "node-a" });
      const taken = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1", now: T0 + 1 });
      expect(taken).toMatchObject({ epoch: first.epoch + 1, present: true, previousNode: "node-a", previousCustodian: "node-a" });
      // The new owner's writes go on under that epoch; the repeat sees them.
      expect(await enqueue(ctx.store, "c1", msg("t", "m1"), { epoch: taken.epoch })).toMatchObject({ ok: true });
      const again = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1", now: T0 + 2 });
      expect(again).toMatchObject({ epoch: taken.epoch, present: true, previousNode: "node-a", previousCustodian: "node-a" });
      expect(again.snapshot.outgoing.map((o) => o.msg.payload.toString())).toEqual(["m1"]);
      expect(await enqueue(ctx.store, "c1", msg("t", "m2"), { epoch: taken.epoch })).toMatchObject({ ok: true });
      expect(await ctx.store.getSession("c1")).toMatchObject({ epoch: taken.epoch, node: "node-b" });
    });

    it("a repeat of a claim that created the session answers not present, no previous node", async () => {
      const first = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1" });
      const again = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1" });
      expect(again).toMatchObject({ epoch: first.epoch, present: false, previousNode: null });
      expect(again.previousCustodian).toBeUndefined();
    });

    it("a repeat of a discarding claim does not wipe again", async () => {
      await claim(ctx.store, "c1", { node: "node-a" });
      const taken = await claim(ctx.store, "c1", { node: "node-b", discard: true, claimId: "k1" });
      expect(taken.present).toBe(false);
      await ctx.store.updateSubscriptions("c1", taken.epoch, { a: 1 }, []);
      await enqueue(ctx.store, "c1", msg("a", "kept"), { epoch: taken.epoch });
      const again = await claim(ctx.store, "c1", { node: "node-b", discard: true, claimId: "k1" });
      expect(again).toMatchObject({ epoch: taken.epoch, present: false, previousNode: "node-a" });
      expect(again.snapshot.subscriptions).toEqual({ a: 1 });
      expect(again.snapshot.outgoing.map((o) => o.msg.payload.toString())).toEqual(["kept"]);
    });

    it("after another claim, the repeat is a new claim that takes the session from that claimer", async () => {
      await claim(ctx.store, "c1", { node: "node-a" });
      const taken = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1" });
      await claim(ctx.store, "c1", { node: "node-c", claimId: "k2" });
      const again = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1" });
      expect(again).toMatchObject({ epoch: taken.epoch + 2, present: true, previousNode: "node-c" });
    });

    it("another id, no id, or a repeat after a release is a new claim", async () => {
      await claim(ctx.store, "c1", { node: "node-a" });
      const taken = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1" });
      const other = await claim(ctx.store, "c1", { node: "node-b", claimId: "k2" });
      expect(other).toMatchObject({ epoch: taken.epoch + 1, previousNode: "node-b" });
      const plain = await claim(ctx.store, "c1", { node: "node-b" });
      expect(plain.epoch).toBe(other.epoch + 1);
      const named = await claim(ctx.store, "c1", { node: "node-b", claimId: "k3" });
      expect(await ctx.store.releaseSession("c1", named.epoch, T0 + 5)).toBe(true);
      const afterRelease = await claim(ctx.store, "c1", { node: "node-b", claimId: "k3" });
      expect(afterRelease).toMatchObject({ epoch: named.epoch + 1, previousNode: null });
    });

    it("names the holders the superseded claim took the session from (earlierHolders), also in its repeat, then the ones the claim before took it from", async () => {
      await claim(ctx.store, "c1", { node: "node-a", claimId: "k0" });
      const byB = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1" });
      // node-b took it from node-a; node-b may have died before kicking node-a, so node-c learns about node-a.
      const byC = await claim(ctx.store, "c1", { node: "node-c", claimId: "k2" });
      expect(byC).toMatchObject({ epoch: byB.epoch + 1, previousNode: "node-b", earlierHolders: ["node-a"] });
      const again = await claim(ctx.store, "c1", { node: "node-c", claimId: "k2" });
      expect(again).toMatchObject({ epoch: byC.epoch, previousNode: "node-b", earlierHolders: ["node-a"] });
      // Two steps back (node-b and node-c may both have died before their kicks): node-d hears of node-b (what
      // node-c took it from), then of node-a (what node-b took it from); node-e no longer of node-a.
      const byD = await claim(ctx.store, "c1", { node: "node-d", claimId: "k3" });
      expect(byD.earlierHolders).toEqual(["node-b", "node-a"]);
      expect((await claim(ctx.store, "c1", { node: "node-d", claimId: "k3" })).earlierHolders).toEqual(["node-b", "node-a"]);
      const byE = await claim(ctx.store, "c1", { node: "node-e", claimId: "k4" });
      expect(byE.earlierHolders).toEqual(["node-c", "node-b"]);
      // A claim without an id records nothing: the next one names no earlier holder, the one after only one step.
      await claim(ctx.store, "c1", { node: "node-f" });
      expect((await claim(ctx.store, "c1", { node: "node-g", claimId: "k5" })).earlierHolders).toBeUndefined();
      expect((await claim(ctx.store, "c1", { node: "node-h", claimId: "k6" })).earlierHolders).toEqual(["node-f"]);
    });

    it("names the custodian an offline session was claimed from as an earlier holder, once", async () => {
      const byA = await claim(ctx.store, "c1", { node: "node-a", claimId: "k0" });
      expect(await ctx.store.releaseSession("c1", byA.epoch, T0 + 1)).toBe(true);
      const byB = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1" });
      expect(byB).toMatchObject({ previousNode: null, previousCustodian: "node-a" });
      expect(byB.earlierHolders).toBeUndefined();
      const byC = await claim(ctx.store, "c1", { node: "node-c", claimId: "k2" });
      expect(byC.earlierHolders).toEqual(["node-a"]);
    });

    it("an adoption names what a claim in its place would have named as earlier holders, once (decision 040)", async () => {
      await claim(ctx.store, "c1", { node: "node-a", claimId: "k0" });
      await claim(ctx.store, "c1", { node: "node-b", claimId: "k1" });
      // `dead` took it from node-b (which took it from node-a) and died, perhaps before its kicks.
      await claim(ctx.store, "c1", { node: "dead", claimId: "k2" });
      const a = await ctx.store.adoptSession("c1", "dead", "n2", T0 + 5);
      expect(a).toMatchObject({ connected: true, earlierHolders: ["node-b", "node-a"] });
      // The adopter kicks them; a claim after the adoption supersedes no claim and names none.
      expect((await claim(ctx.store, "c1", { node: "node-c", claimId: "k3" })).earlierHolders).toBeUndefined();
      // Released by the dead node after a claim with an id (the release keeps the epoch): still named.
      const byDead = await claim(ctx.store, "c2", { node: "dead", claimId: "k4" });
      expect(await ctx.store.releaseSession("c2", byDead.epoch, T0 + 6)).toBe(true);
      await claim(ctx.store, "c3", { node: "node-a", claimId: "k5" });
      await claim(ctx.store, "c3", { node: "dead", claimId: "k6" });
      expect(await ctx.store.releaseSession("c3", (await ctx.store.getSession("c3"))?.epoch as number, T0 + 6)).toBe(true);
      expect((await ctx.store.adoptSession("c2", "dead", "n2", T0 + 7))?.earlierHolders).toBeUndefined();
      expect((await ctx.store.adoptSession("c3", "dead", "n2", T0 + 7))?.earlierHolders).toEqual(["node-a"]);
    });

    it("an adoption of a clean session names them too; one whose last claim had no id names none", async () => {
      await claim(ctx.store, "clean", { node: "node-a", clean: true, claimId: "k0" });
      await claim(ctx.store, "clean", { node: "dead", clean: true, claimId: "k1" });
      expect(await ctx.store.adoptSession("clean", "dead", "n2", T0 + 1)).toMatchObject({ snapshot: null, earlierHolders: ["node-a"] });
      await claim(ctx.store, "plain", { node: "node-a", claimId: "k2" });
      await claim(ctx.store, "plain", { node: "dead" });
      expect((await ctx.store.adoptSession("plain", "dead", "n2", T0 + 1))?.earlierHolders).toBeUndefined();
    });

    it("a repeat from another node is a new claim", async () => {
      await claim(ctx.store, "c1", { node: "node-a" });
      const taken = await claim(ctx.store, "c1", { node: "node-b", claimId: "k1" });
      const elsewhere = await claim(ctx.store, "c1", { node: "node-c", claimId: "k1" });
      expect(elsewhere).toMatchObject({ epoch: taken.epoch + 1, previousNode: "node-b" });
    });
  });
}
