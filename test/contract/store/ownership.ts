import { describe, expect, it } from "vitest";
import { ClaimRefused } from "../../../core/store/errors.js";
import { claim, type Ctx, enqueue, msg, T0 } from "./fixtures.js";

const ALICE = "user:alice";
const EVE = "user:eve";
const HOUR = 3_600_000;

/** Sessions bound to an identity, the cap on stored sessions, and expiry (docs/store.md, "Session ownership"). */
export function ownershipTests(ctx: Ctx): void {
  async function refusal(p: Promise<unknown>): Promise<ClaimRefused> {
    const err = await p.then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(ClaimRefused);
    return err as ClaimRefused;
  }

  describe("identity", () => {
    it("records the identity that created the session", async () => {
      const r = await claim(ctx.store, "c1", { identity: ALICE, username: "alice" });
      expect(r.snapshot.identity).toBe(ALICE);
      expect((await ctx.store.getSession("c1"))?.identity).toBe(ALICE);
      const page = await ctx.store.listSessions({ limit: 10 });
      expect(page.items[0]?.identity).toBe(ALICE);
    });

    it("refuses a persistent claim under another identity and changes nothing (epoch, owner, queue)", async () => {
      const { epoch } = await claim(ctx.store, "c1", { identity: ALICE, node: "node-a" });
      await ctx.store.updateSubscriptions("c1", epoch, { "secrets/#": 1 }, []);
      await ctx.store.releaseSession("c1", epoch, T0 + 1);
      await enqueue(ctx.store, "c1", msg("secrets/a", "for alice"));
      const before = await ctx.store.getSession("c1");
      const err = await refusal(claim(ctx.store, "c1", { identity: EVE, node: "node-b", now: T0 + 2 }));
      expect([err.reason, err.returnCode, err.clientId]).toEqual(["identity", 5, "c1"]);
      expect(await ctx.store.getSession("c1")).toEqual(before);
      expect(await ctx.store.sessionsOwnedBy("node-b")).toEqual([]);
      const again = await claim(ctx.store, "c1", { identity: ALICE, now: T0 + 3 });
      expect(again).toMatchObject({ epoch: epoch + 1, present: true });
      expect(again.snapshot.outgoing.map((o) => o.msg.payload.toString())).toEqual(["for alice"]);
    });

    it("refuses a clean claim under another identity: the session is not wiped, its live owner keeps it", async () => {
      const { epoch } = await claim(ctx.store, "c1", { identity: ALICE, node: "node-a" });
      await ctx.store.updateSubscriptions("c1", epoch, { a: 1 }, []);
      await refusal(claim(ctx.store, "c1", { identity: EVE, clean: true, node: "node-b" }));
      const s = await ctx.store.getSession("c1");
      expect(s).toMatchObject({ epoch, node: "node-a", clean: false, identity: ALICE, subscriptions: { a: 1 } });
      // The owner's writes are still accepted (its epoch is current).
      expect(await ctx.store.updateSubscriptions("c1", epoch, { b: 0 }, [])).toBe(true);
    });

    it("the owner may claim clean and persistent again; a claim without an identity neither checks nor changes it", async () => {
      await claim(ctx.store, "c1", { identity: ALICE });
      expect((await claim(ctx.store, "c1", { identity: ALICE, clean: true })).snapshot.identity).toBe(ALICE);
      expect((await claim(ctx.store, "c1", {})).snapshot.identity).toBe(ALICE);
      await refusal(claim(ctx.store, "c1", { identity: EVE }));
    });

    it("a session without an identity adopts the first one that claims it", async () => {
      await claim(ctx.store, "c1", {});
      expect((await ctx.store.getSession("c1"))?.identity).toBeNull();
      await claim(ctx.store, "c1", { identity: EVE });
      await refusal(claim(ctx.store, "c1", { identity: ALICE }));
    });

    it("after the session is deleted, the client id is free for anyone", async () => {
      await claim(ctx.store, "c1", { identity: ALICE });
      await ctx.store.deleteSession("c1");
      expect((await claim(ctx.store, "c1", { identity: EVE })).snapshot.identity).toBe(EVE);
    });

    it("of concurrent claims under two identities for a new id, exactly one wins", async () => {
      const results = await Promise.allSettled([claim(ctx.store, "c1", { identity: ALICE }), claim(ctx.store, "c1", { identity: EVE })]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const rejected = results.find((r) => r.status === "rejected");
      expect((rejected as PromiseRejectedResult).reason).toBeInstanceOf(ClaimRefused);
    });
  });

  describe("maxSessions", () => {
    it("refuses a new persistent session at the cap (0x03) without creating it; existing and clean ones still claim", async () => {
      await claim(ctx.store, "a", { maxSessions: 2 });
      await claim(ctx.store, "b", { maxSessions: 2 });
      const err = await refusal(claim(ctx.store, "c", { maxSessions: 2 }));
      expect([err.reason, err.returnCode]).toEqual(["session-limit", 3]);
      expect(await ctx.store.getSession("c")).toBeNull();
      expect((await ctx.store.listSessions({ limit: 10 })).items.map((r) => r.clientId)).toEqual(["a", "b"]);
      expect((await claim(ctx.store, "a", { maxSessions: 2 })).present).toBe(true);
      expect((await claim(ctx.store, "d", { maxSessions: 2, clean: true })).present).toBe(false);
      await ctx.store.deleteSession("d");
      await ctx.store.deleteSession("b");
      expect((await claim(ctx.store, "c", { maxSessions: 2 })).epoch).toBe(1);
    });
  });

  describe("expiry", () => {
    it("deletes a session offline for longer than its expiry, once, and reports it", async () => {
      const { epoch } = await claim(ctx.store, "c1", { identity: ALICE, username: "alice", expiryMs: HOUR });
      await ctx.store.updateSubscriptions("c1", epoch, { a: 1 }, []);
      await ctx.store.releaseSession("c1", epoch, T0 + 10);
      await enqueue(ctx.store, "c1", msg("a"));
      expect(await ctx.store.expireSessions(T0 + 10 + HOUR - 1, 100)).toEqual([]);
      expect(await ctx.store.getSession("c1")).not.toBeNull();
      expect(await ctx.store.expireSessions(T0 + 10 + HOUR, 100)).toEqual([{ clientId: "c1", epoch, username: "alice", identity: ALICE }]);
      expect(await ctx.store.getSession("c1")).toBeNull();
      expect((await ctx.store.listSessions({ limit: 10 })).items).toEqual([]);
      expect(await ctx.store.allSubscriptions()).toEqual([]);
      expect(await ctx.store.expireSessions(T0 + 10 * HOUR, 100)).toEqual([]);
      // Epochs never go back: a later claim continues after the expired one.
      expect((await claim(ctx.store, "c1", { identity: EVE })).epoch).toBe(epoch + 1);
    });

    it("never expires an online session, however long it stays connected; counts from the disconnect", async () => {
      const { epoch } = await claim(ctx.store, "c1", { expiryMs: HOUR });
      expect(await ctx.store.expireSessions(T0 + 5 * HOUR, 100)).toEqual([]);
      await ctx.store.releaseSession("c1", epoch, T0 + 5 * HOUR + 7);
      expect(await ctx.store.expireSessions(T0 + 6 * HOUR, 100)).toEqual([]);
      expect(await ctx.store.expireSessions(T0 + 6 * HOUR + 7, 100)).toHaveLength(1);
    });

    it("a resume resets the clock; clean sessions and sessions without expiry never expire", async () => {
      const a = await claim(ctx.store, "a", { expiryMs: HOUR });
      await ctx.store.releaseSession("a", a.epoch, T0);
      const a2 = await claim(ctx.store, "a", { expiryMs: HOUR, now: T0 + HOUR - 1 });
      await ctx.store.releaseSession("a", a2.epoch, T0 + HOUR);
      const n = await claim(ctx.store, "never", { expiryMs: 0 });
      await ctx.store.releaseSession("never", n.epoch, T0);
      const c = await claim(ctx.store, "clean", { clean: true, expiryMs: HOUR });
      expect(await ctx.store.expireSessions(T0 + 2 * HOUR - 1, 100)).toEqual([]);
      expect((await ctx.store.expireSessions(T0 + 2 * HOUR, 100)).map((e) => e.clientId)).toEqual(["a"]);
      expect(await ctx.store.expireSessions(T0 + 1000 * HOUR, 100)).toEqual([]);
      expect(await ctx.store.getSession("never")).not.toBeNull();
      expect((await ctx.store.getSession("clean"))?.epoch).toBe(c.epoch);
    });

    it("a refused claim under another identity does not postpone the owner's expiry", async () => {
      const { epoch } = await claim(ctx.store, "c1", { identity: ALICE, expiryMs: HOUR });
      await ctx.store.releaseSession("c1", epoch, T0);
      await refusal(claim(ctx.store, "c1", { identity: EVE, expiryMs: HOUR, now: T0 + HOUR - 1 }));
      expect(await ctx.store.expireSessions(T0 + HOUR, 100)).toHaveLength(1);
    });

    it("looks at no more than `limit` due sessions per call, earliest first", async () => {
      for (let i = 0; i < 5; i++) {
        const { epoch } = await claim(ctx.store, `s${i}`, { expiryMs: HOUR, now: T0 + i });
        await ctx.store.releaseSession(`s${i}`, epoch, T0 + i);
      }
      const later = T0 + 2 * HOUR;
      expect((await ctx.store.expireSessions(later, 2)).map((e) => e.clientId)).toEqual(["s0", "s1"]);
      expect((await ctx.store.expireSessions(later, 2)).map((e) => e.clientId)).toEqual(["s2", "s3"]);
      expect((await ctx.store.expireSessions(later, 2)).map((e) => e.clientId)).toEqual(["s4"]);
    });

    it("of concurrent sweeps, exactly one deletes each session", async () => {
      for (let i = 0; i < 6; i++) {
        const { epoch } = await claim(ctx.store, `s${i}`, { expiryMs: HOUR });
        await ctx.store.releaseSession(`s${i}`, epoch, T0);
      }
      const sweeps = await Promise.all([0, 1, 2].map(() => ctx.store.expireSessions(T0 + HOUR, 100)));
      const ids = sweeps.flat().map((e) => e.clientId).sort();
      expect(ids).toEqual(["s0", "s1", "s2", "s3", "s4", "s5"]);
    });
  });
}
