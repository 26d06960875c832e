import { describe, expect, it } from "vitest";
import { digestStep, routeHash, type RouteDigest } from "../../../core/store/routes-types.js";
import { allPages, claim, type Ctx, enqueue, msg, T0 } from "./fixtures.js";

function digestOf(filters: string[]): RouteDigest {
  const d = { count: 0, sum: 0 };
  for (const f of filters) digestStep(d, routeHash(f), 1);
  return d;
}

/** The route table and session custody (core/store/routes-types.ts, decision 017). */
export function routeTests(ctx: Ctx): void {
  describe("routes", () => {
    it("logs each actual change once, in order, with consecutive versions; a reader pages through them", async () => {
      const s = ctx.store;
      expect(await s.routeChanges(0, 10)).toEqual({ version: 0, complete: true, changes: [] });
      expect(await s.updateRoutes("n1", ["a/+", "b/#", "ünï/x"], [])).toBe(3);
      expect(await s.updateRoutes("n2", ["a/+"], [])).toBe(4);
      // Adding a filter already there, or removing one that is not, changes nothing and logs nothing.
      expect(await s.updateRoutes("n1", ["a/+"], ["nope"])).toBe(4);
      expect(await s.updateRoutes("n1", [], ["b/#"])).toBe(5);
      const all = await s.routeChanges(0, 100);
      expect(all.version).toBe(5);
      expect(all.changes).toEqual([
        { version: 1, node: "n1", op: "add", filter: "a/+" },
        { version: 2, node: "n1", op: "add", filter: "b/#" },
        { version: 3, node: "n1", op: "add", filter: "ünï/x" },
        { version: 4, node: "n2", op: "add", filter: "a/+" },
        { version: 5, node: "n1", op: "remove", filter: "b/#" },
      ]);
      expect((await s.routeChanges(3, 1)).changes).toEqual([{ version: 4, node: "n2", op: "add", filter: "a/+" }]);
      expect(await s.routeChanges(5, 10)).toEqual({ version: 5, complete: true, changes: [] });
    });

    it("keeps per node a set and a digest (count, sum of filter hashes) that match the set", async () => {
      const s = ctx.store;
      await s.updateRoutes("n1", ["a/+", "b/#", "c"], []);
      await s.updateRoutes("n1", ["d"], ["c"]);
      await s.updateRoutes("n:2|x", ["a/+"], []);
      const { items } = await allPages((cursor) => s.routesOf("n1", { cursor, limit: 2 }));
      expect([...new Set(items)].sort()).toEqual(["a/+", "b/#", "d"]);
      const d = await s.routeDigests();
      expect(d.version).toBe(6);
      expect(d.digests).toEqual({ n1: digestOf(["a/+", "b/#", "d"]), "n:2|x": digestOf(["a/+"]) });
      await s.updateRoutes("n:2|x", [], ["a/+"]);
      expect((await s.routeDigests()).digests["n:2|x"]).toBeUndefined();
      expect((await s.routesOf("n:2|x", { limit: 10 })).items).toEqual([]);
    });

    it("clearRoutes drops a node's set and digest with one 'clear' entry", async () => {
      const s = ctx.store;
      await s.updateRoutes("n1", ["a", "b"], []);
      await s.updateRoutes("n2", ["a"], []);
      expect(await s.clearRoutes("n1")).toBe(4);
      expect((await s.routeChanges(3, 10)).changes).toEqual([{ version: 4, node: "n1", op: "clear", filter: "" }]);
      expect((await s.routesOf("n1", { limit: 10 })).items).toEqual([]);
      expect(Object.keys((await s.routeDigests()).digests)).toEqual(["n2"]);
    });

    it("a reader whose version is no longer in the bounded log, or ahead of the store, is told to reload", async () => {
      const s = ctx.store;
      await s.updateRoutes("n1", ["a"], []);
      expect((await s.routeChanges(7, 10)).complete).toBe(false);
      expect((await s.routeChanges(0, 10)).complete).toBe(true);
    });

    it("refuses an empty node id, an empty filter and a page limit beyond the maximum", async () => {
      await expect(ctx.store.updateRoutes("", ["a"], [])).rejects.toThrow();
      await expect(ctx.store.updateRoutes("n1", [""], [])).rejects.toThrow();
      await expect(ctx.store.routeChanges(0, 1_000_000)).rejects.toThrow();
    });
  });

  describe("custody and adoption", () => {
    it("a claim makes the node the custodian, kept when the session is released; the next claim names it", async () => {
      const s = ctx.store;
      const first = await claim(s, "c1", { node: "n1" });
      expect(first.previousCustodian).toBeUndefined();
      expect(await s.releaseSession("c1", first.epoch, T0 + 1)).toBe(true);
      expect(await s.sessionsInCustodyOf("n1")).toEqual(["c1"]);
      expect(await s.custodianOf("c1")).toBe("n1");
      expect(await s.custodianOf("nobody")).toBeNull();
      const second = await claim(s, "c1", { node: "n2" });
      expect(second.previousNode).toBeNull();
      expect(second.previousCustodian).toBe("n1");
      expect(await s.sessionsInCustodyOf("n1")).toEqual([]);
      expect(await s.sessionsInCustodyOf("n2")).toEqual(["c1"]);
    });

    it("adoptSession moves custody from a dead node, bumps the epoch (fencing the dead node) and marks it offline", async () => {
      const s = ctx.store;
      await claim(s, "c1", { node: "dead" });
      await s.updateSubscriptions("c1", null, { "a/b": 1 }, []);
      await enqueue(s, "c1", msg("a/b"));
      const before = (await s.getSession("c1"))?.epoch as number;
      const a = await s.adoptSession("c1", "dead", "n2", T0 + 5);
      expect(a?.connected).toBe(true);
      expect(a?.epoch).toBe(before + 1);
      expect(a?.snapshot?.node).toBeNull();
      expect(a?.snapshot?.disconnectedAt).toBe(T0 + 5);
      expect(a?.snapshot?.subscriptions).toEqual({ "a/b": 1 });
      expect(a?.snapshot?.outgoing.map((o) => o.msg.topic)).toEqual(["a/b"]);
      expect(await s.sessionsInCustodyOf("n2")).toEqual(["c1"]);
      expect(await s.sessionsInCustodyOf("dead")).toEqual([]);
      expect(await s.sessionsOwnedBy("dead")).toEqual([]);
      // The dead node's late writes are fenced; a second adoption (another survivor) gets nothing.
      expect(await s.releaseSession("c1", before, T0 + 6)).toBe(false);
      expect(await s.adoptSession("c1", "dead", "n3", T0 + 7)).toBeNull();
      expect(await s.sessionsInCustodyOf("n2")).toEqual(["c1"]);
    });

    it("adoptSession with the dead lease's end adopts a claim made under that lease, not one made after it (the node came back)", async () => {
      const s = ctx.store;
      // Claimed under the lease that ran out: adopted.
      await claim(s, "old", { node: "paused", now: T0 + 100 });
      expect(await s.adoptSession("old", "paused", "n2", T0 + 9_000, T0 + 5_000)).toMatchObject({ connected: true });
      // Claimed by the same node after that lease ended (registered again, decision 036 cause 5): left alone.
      await claim(s, "back", { node: "paused", now: T0 + 100 });
      await claim(s, "back", { node: "paused", now: T0 + 6_000 });
      const before = await s.getSession("back");
      expect(await s.adoptSession("back", "paused", "n2", T0 + 9_000, T0 + 5_000)).toBeNull();
      expect(await s.getSession("back")).toEqual(before);
      // Claimed at the lease's end exactly: a new registration's too.
      await claim(s, "edge", { node: "paused", now: T0 + 5_000 });
      expect(await s.adoptSession("edge", "paused", "n2", T0 + 9_000, T0 + 5_000)).toBeNull();
      // Offline in its custody: no connection to take, adopted whatever the claim time (the node reloads custody).
      const c = await claim(s, "offline", { node: "paused", now: T0 + 6_000 });
      expect(await s.releaseSession("offline", c.epoch, T0 + 6_500)).toBe(true);
      expect(await s.adoptSession("offline", "paused", "n2", T0 + 9_000, T0 + 5_000)).toMatchObject({ connected: false });
    });

    it("adopting a clean session deletes it; a session claimed elsewhere meanwhile is not adopted", async () => {
      const s = ctx.store;
      await claim(s, "clean", { node: "dead", clean: true, username: "u" });
      const a = await s.adoptSession("clean", "dead", "n2", T0 + 1);
      expect(a).toMatchObject({ connected: true, username: "u", snapshot: null });
      expect(await s.getSession("clean")).toBeNull();
      await claim(s, "moved", { node: "dead" });
      await claim(s, "moved", { node: "n3" });
      expect(await s.adoptSession("moved", "dead", "n2", T0 + 2)).toBeNull();
      expect(await s.adoptSession("nobody", "dead", "n2", T0 + 2)).toBeNull();
    });
  });
}
