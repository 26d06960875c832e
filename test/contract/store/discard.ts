import { describe, expect, it } from "vitest";
import { ClaimRefused } from "../../../core/store/errors.js";
import type { Store } from "../../../core/store/types.js";
import { claim, type Ctx, enqueueOp, msg, T0 } from "./fixtures.js";

/** A persistent session with a subscription, a queued message and an inbound QoS 2 id, now offline. */
async function offlineWithState(store: Store, clientId: string): Promise<void> {
  const { epoch } = await claim(store, clientId, { identity: "user:alice" });
  await store.updateSubscriptions(clientId, epoch, { "a/#": 1 }, []);
  await store.apply([enqueueOp(clientId, msg("a/b", "kept")), { op: "inbound2.add", clientId, epoch, packetId: 4 }]);
  await store.releaseSession(clientId, epoch, T0 + 1);
}

const CASES = [
  // [clean, discard, present and state kept, deleted at release]
  { clean: false, discard: undefined, kept: true, deleted: false },
  { clean: false, discard: false, kept: true, deleted: false },
  { clean: false, discard: true, kept: false, deleted: false },
  { clean: true, discard: undefined, kept: false, deleted: true },
  { clean: true, discard: true, kept: false, deleted: true },
  { clean: true, discard: false, kept: true, deleted: true },
] as const;

/**
 * ClaimOptions.discard (MQTT 5 Clean Start) apart from `clean` (the session ends with its connection): discard
 * decides whether the old state is kept, clean whether the session is deleted at release and may expire.
 */
export function discardTests(ctx: Ctx): void {
  describe("claim: discard apart from clean", () => {
    for (const c of CASES) {
      it(`clean ${c.clean}, discard ${String(c.discard)}: ${c.kept ? "resumes" : "discards"} the state, ${c.deleted ? "deleted" : "kept"} at release`, async () => {
        await offlineWithState(ctx.store, "c1");
        const r = await claim(ctx.store, "c1", { clean: c.clean, discard: c.discard, identity: "user:alice", now: T0 + 2, node: "node-b" });
        expect(r.present).toBe(c.kept);
        expect(r.epoch).toBe(2);
        expect(r.snapshot).toMatchObject({ clean: c.clean, node: "node-b", identity: "user:alice", connectedAt: T0 + 2, disconnectedAt: null });
        const state = { subscriptions: r.snapshot.subscriptions, outgoing: r.snapshot.outgoing.map((o) => o.msg.payload.toString()), inboundQos2: r.snapshot.inboundQos2 };
        expect(state).toEqual(c.kept ? { subscriptions: { "a/#": 1 }, outgoing: ["kept"], inboundQos2: [4] } : { subscriptions: {}, outgoing: [], inboundQos2: [] });
        expect(await ctx.store.getSession("c1")).toEqual(r.snapshot);
        expect(await ctx.store.releaseSession("c1", r.epoch, T0 + 3)).toBe(true);
        const after = await ctx.store.getSession("c1");
        if (c.deleted) expect(after).toBeNull();
        else expect(after).toMatchObject({ node: null, disconnectedAt: T0 + 3, subscriptions: state.subscriptions });
      });
    }

    it("a new session is never present, whatever discard says", async () => {
      for (const [i, c] of CASES.entries()) {
        expect((await claim(ctx.store, `new-${i}`, { clean: c.clean, discard: c.discard })).present).toBe(false);
      }
    });

    it("clean false with discard: a fresh session that records its expiry and expires; clean with resume records none", async () => {
      await offlineWithState(ctx.store, "fresh");
      const fresh = await claim(ctx.store, "fresh", { clean: false, discard: true, identity: "user:alice", expiryMs: 1000, now: T0 + 2 });
      await ctx.store.releaseSession("fresh", fresh.epoch, T0 + 10);
      await offlineWithState(ctx.store, "ends");
      const ends = await claim(ctx.store, "ends", { clean: true, discard: false, identity: "user:alice", expiryMs: 1000, now: T0 + 2 });
      expect(await ctx.store.expireSessions(T0 + 1009, 10)).toEqual([]);
      expect(await ctx.store.expireSessions(T0 + 1010, 10)).toEqual([{ clientId: "fresh", epoch: fresh.epoch, username: null, identity: "user:alice" }]);
      // Still online, and clean: nothing to expire; it ends at release.
      expect(await ctx.store.getSession("ends")).toMatchObject({ clean: true, node: "node-a" });
      expect(await ctx.store.expireSessions(T0 + 10_000_000, 10)).toEqual([]);
      expect(await ctx.store.releaseSession("ends", ends.epoch, T0 + 3)).toBe(true);
      expect(await ctx.store.getSession("ends")).toBeNull();
    });

    it("the session cap follows clean: a persistent claim that creates a session counts, discard or not", async () => {
      await claim(ctx.store, "a", { maxSessions: 1 });
      const refused = await claim(ctx.store, "b", { clean: false, discard: true, maxSessions: 1 }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ClaimRefused);
      expect((refused as ClaimRefused).reason).toBe("session-limit");
      expect(await ctx.store.getSession("b")).toBeNull();
      expect((await claim(ctx.store, "c", { clean: true, discard: false, maxSessions: 1 })).present).toBe(false);
      expect((await claim(ctx.store, "a", { clean: false, discard: true, maxSessions: 1 })).present).toBe(false);
    });

    it("a claim under another identity is refused with discard too, and wipes nothing", async () => {
      await offlineWithState(ctx.store, "c1");
      await expect(claim(ctx.store, "c1", { clean: false, discard: true, identity: "user:eve" })).rejects.toBeInstanceOf(ClaimRefused);
      expect(await ctx.store.getSession("c1")).toMatchObject({ epoch: 1, subscriptions: { "a/#": 1 }, inboundQos2: [4] });
    });
  });

  describe("release with a new expiry (an MQTT 5 DISCONNECT's Session Expiry Interval)", () => {
    it("expiry 0 deletes a persistent session at release", async () => {
      const { epoch } = await claim(ctx.store, "c1", { expiryMs: 60_000 });
      await ctx.store.updateSubscriptions("c1", epoch, { "a/#": 1 }, []);
      expect(await ctx.store.releaseSession("c1", epoch, T0 + 1, 0)).toBe(true);
      expect(await ctx.store.getSession("c1")).toBeNull();
      expect(await ctx.store.allSubscriptions()).toEqual([]);
    });

    it("a shorter expiry replaces the claim's: the session expires by the new one", async () => {
      const { epoch } = await claim(ctx.store, "c1", { expiryMs: 60_000 });
      expect(await ctx.store.releaseSession("c1", epoch, T0 + 10, 1000)).toBe(true);
      expect(await ctx.store.expireSessions(T0 + 1009, 10)).toEqual([]);
      expect((await ctx.store.expireSessions(T0 + 1010, 10)).map((e) => e.clientId)).toEqual(["c1"]);
    });

    it("a longer expiry replaces the claim's, and a stale epoch changes nothing", async () => {
      const { epoch } = await claim(ctx.store, "c1", { expiryMs: 1000 });
      expect(await ctx.store.releaseSession("c1", epoch + 1, T0 + 10, 0)).toBe(false);
      expect(await ctx.store.getSession("c1")).not.toBeNull();
      expect(await ctx.store.releaseSession("c1", epoch, T0 + 10, 5000)).toBe(true);
      expect(await ctx.store.expireSessions(T0 + 2000, 10)).toEqual([]);
      expect((await ctx.store.expireSessions(T0 + 5010, 10)).map((e) => e.clientId)).toEqual(["c1"]);
    });

    it("subscriptions keep their MQTT 5 options and identifier (one number per filter)", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      const word = 300 * 16 + 8 + 4 + 1;
      await ctx.store.updateSubscriptions("c1", epoch, { "a/#": word, "b": 2 }, []);
      expect((await ctx.store.getSession("c1"))?.subscriptions).toEqual({ "a/#": word, b: 2 });
      await expect(ctx.store.updateSubscriptions("c1", epoch, { c: 3 }, [])).rejects.toThrow(/QoS 0-2/);
      await expect(ctx.store.updateSubscriptions("c1", epoch, { c: 1.5 }, [])).rejects.toThrow(/QoS 0-2/);
    });
  });
}
