import { describe, expect, it } from "vitest";
import { allPages, byteOrder, claim, type Ctx, enqueue, enqueueOp, msg, T0 } from "./fixtures.js";

export function sessionTests(ctx: Ctx): void {
  describe("claim", () => {
    it("claims a new session: epoch 1, not present, no previous node, empty snapshot", async () => {
      const r = await claim(ctx.store, "c1", { node: "n1", username: "alice" });
      expect(r).toEqual({
        epoch: 1,
        present: false,
        previousNode: null,
        snapshot: {
          clientId: "c1", clean: false, node: "n1", epoch: 1, username: "alice", identity: null, connectedAt: T0, disconnectedAt: null,
          subscriptions: {}, outgoing: [], inboundQos2: [],
        },
      });
    });

    it("getSession is null for an unknown client and equals the claim snapshot right after a claim", async () => {
      expect(await ctx.store.getSession("nobody")).toBeNull();
      const r = await claim(ctx.store, "c1");
      expect(await ctx.store.getSession("c1")).toEqual(r.snapshot);
    });

    it("every claim increments the epoch", async () => {
      const epochs = [];
      for (let i = 0; i < 4; i++) epochs.push((await claim(ctx.store, "c1", { clean: i === 2 })).epoch);
      expect(epochs).toEqual([1, 2, 3, 4]);
      expect((await ctx.store.getSession("c1"))?.epoch).toBe(4);
    });

    it("resumes a persistent session with its subscriptions, messages and inbound QoS 2 ids [MQTT-3.2.2-2]", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      await ctx.store.updateSubscriptions("c1", epoch, { "a/#": 1 }, []);
      await ctx.store.apply([enqueueOp("c1", msg("a/b", "hello")), { op: "inbound2.add", clientId: "c1", epoch, packetId: 7 }]);
      expect(await ctx.store.releaseSession("c1", epoch, T0 + 1)).toBe(true);
      const r = await claim(ctx.store, "c1", { node: "node-b", now: T0 + 2 });
      expect(r.present).toBe(true);
      expect(r.epoch).toBe(2);
      expect(r.snapshot.subscriptions).toEqual({ "a/#": 1 });
      expect(r.snapshot.outgoing.map((o) => o.msg.payload.toString())).toEqual(["hello"]);
      expect(r.snapshot.inboundQos2).toEqual([7]);
      expect(r.snapshot).toMatchObject({ node: "node-b", connectedAt: T0 + 2, disconnectedAt: null });
    });

    it("a clean claim discards the previous state and is not present", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      await ctx.store.updateSubscriptions("c1", epoch, { x: 2 }, []);
      await ctx.store.apply([enqueueOp("c1", msg("x")), { op: "inbound2.add", clientId: "c1", epoch, packetId: 1 }]);
      await ctx.store.releaseSession("c1", epoch, T0);
      const r = await claim(ctx.store, "c1", { clean: true });
      expect(r.present).toBe(false);
      expect(r.snapshot).toMatchObject({ clean: true, subscriptions: {}, outgoing: [], inboundQos2: [] });
    });

    it("previousNode names the node holding the connection, null when the session was offline", async () => {
      const a = await claim(ctx.store, "c1", { node: "node-a" });
      const b = await claim(ctx.store, "c1", { node: "node-b" });
      expect(b.previousNode).toBe("node-a");
      expect(await ctx.store.releaseSession("c1", a.epoch, T0)).toBe(false);
      expect(await ctx.store.releaseSession("c1", b.epoch, T0)).toBe(true);
      expect((await claim(ctx.store, "c1", { node: "node-c" })).previousNode).toBeNull();
    });

    it("username null, empty and non-ASCII round trip", async () => {
      await claim(ctx.store, "u1", { username: null });
      await claim(ctx.store, "u2", { username: "" });
      await claim(ctx.store, "u3", { username: "Zoë 🚀" });
      expect((await ctx.store.getSession("u1"))?.username).toBeNull();
      expect((await ctx.store.getSession("u2"))?.username).toBe("");
      expect((await ctx.store.getSession("u3"))?.username).toBe("Zoë 🚀");
      const r = await claim(ctx.store, "u3", { username: null });
      expect(r.snapshot.username).toBeNull();
    });

    it("concurrent claims get distinct epochs and the highest one owns the session", async () => {
      const nodes = ["n1", "n2", "n3", "n4", "n5", "n6"];
      const results = await Promise.all(nodes.map((node) => claim(ctx.store, "c1", { node })));
      expect(results.map((r) => r.epoch).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
      const last = results.find((r) => r.epoch === 6);
      const s = await ctx.store.getSession("c1");
      expect(s?.node).toBe(last?.snapshot.node);
      expect(await ctx.store.sessionsOwnedBy(s?.node as string)).toEqual(["c1"]);
    });

    it("epochs keep increasing after a delete or a clean release, so a stale owner stays fenced", async () => {
      const first = await claim(ctx.store, "c1");
      await ctx.store.deleteSession("c1");
      const second = await claim(ctx.store, "c1", { clean: true });
      expect(second.epoch).toBeGreaterThan(first.epoch);
      expect(await ctx.store.updateSubscriptions("c1", first.epoch, { x: 1 }, [])).toBe(false);
      expect(await ctx.store.releaseSession("c1", second.epoch, T0)).toBe(true); // clean: deleted
      const third = await claim(ctx.store, "c1");
      expect(third.epoch).toBeGreaterThan(second.epoch);
      expect(await ctx.store.releaseSession("c1", second.epoch, T0)).toBe(false);
    });

    it("client ids that look like key syntax stay separate sessions", async () => {
      const ids = ["a}b", "a%7Db", "{c:a}", "a", "", "ü/#+ x", "mqg:{c:a}:meta"];
      for (const [i, id] of ids.entries()) await claim(ctx.store, id, { node: `n${i}` });
      for (const [i, id] of ids.entries()) expect((await ctx.store.getSession(id))?.node).toBe(`n${i}`);
      const listed = (await ctx.store.listSessions({ limit: 100 })).items.map((r) => r.clientId);
      expect(listed).toEqual([...ids].sort(byteOrder));
    });
  });

  describe("release and delete", () => {
    it("release of a persistent session marks it offline and keeps its state", async () => {
      const { epoch } = await claim(ctx.store, "c1", { now: T0 });
      await enqueue(ctx.store, "c1", msg("t"));
      expect(await ctx.store.releaseSession("c1", epoch, T0 + 5)).toBe(true);
      const s = await ctx.store.getSession("c1");
      expect(s).toMatchObject({ node: null, connectedAt: T0, disconnectedAt: T0 + 5, epoch });
      expect(s?.outgoing).toHaveLength(1);
      expect(await ctx.store.releaseSession("c1", epoch, T0 + 6)).toBe(true); // again: harmless
      expect((await ctx.store.getSession("c1"))?.node).toBeNull();
    });

    it("release of a clean session deletes it", async () => {
      const { epoch } = await claim(ctx.store, "c1", { clean: true });
      expect(await ctx.store.releaseSession("c1", epoch, T0)).toBe(true);
      expect(await ctx.store.getSession("c1")).toBeNull();
      expect((await ctx.store.listSessions({ limit: 10 })).items).toEqual([]);
      expect(await ctx.store.sessionsOwnedBy("node-a")).toEqual([]);
    });

    it("release with a stale epoch or for an unknown client is refused and changes nothing", async () => {
      const a = await claim(ctx.store, "c1", { node: "node-a" });
      await claim(ctx.store, "c1", { node: "node-b" });
      expect(await ctx.store.releaseSession("c1", a.epoch, T0 + 1)).toBe(false);
      expect(await ctx.store.getSession("c1")).toMatchObject({ node: "node-b", disconnectedAt: null });
      expect(await ctx.store.releaseSession("ghost", 1, T0)).toBe(false);
    });

    it("deleteSession removes every trace of a session, whoever owns it", async () => {
      const { epoch } = await claim(ctx.store, "c1");
      await claim(ctx.store, "c2");
      await ctx.store.updateSubscriptions("c1", epoch, { "a/b": 1 }, []);
      await enqueue(ctx.store, "c1", msg("a/b"));
      expect(await ctx.store.deleteSession("c1")).toBe(true);
      expect(await ctx.store.deleteSession("c1")).toBe(false);
      expect(await ctx.store.getSession("c1")).toBeNull();
      expect((await ctx.store.listSessions({ limit: 10 })).items.map((r) => r.clientId)).toEqual(["c2"]);
      expect(await ctx.store.allSubscriptions()).toEqual([]);
      expect(await ctx.store.sessionsOwnedBy("node-a")).toEqual(["c2"]);
      expect(await enqueue(ctx.store, "c1", msg("a/b"))).toEqual({ ok: false, reason: "no-session" });
      expect(await ctx.store.updateSubscriptions("c1", null, { x: 0 }, [])).toBe(false);
      expect(await ctx.store.releaseSession("c1", epoch, T0)).toBe(false);
      expect((await claim(ctx.store, "c1")).present).toBe(false);
    });

    it("sessionsOwnedBy follows claims, take-overs, releases and deletes", async () => {
      const e = new Map<string, number>();
      for (const id of ["c3", "c1", "c2", "c4"]) e.set(id, (await claim(ctx.store, id, { node: "node-a" })).epoch);
      e.set("c2", (await claim(ctx.store, "c2", { node: "node-b" })).epoch);
      await ctx.store.releaseSession("c3", e.get("c3") as number, T0);
      await ctx.store.deleteSession("c4");
      expect(await ctx.store.sessionsOwnedBy("node-a")).toEqual(["c1"]);
      expect(await ctx.store.sessionsOwnedBy("node-b")).toEqual(["c2"]);
      expect(await ctx.store.sessionsOwnedBy("node-z")).toEqual([]);
      await claim(ctx.store, "c2", { node: "node-a" });
      expect(await ctx.store.sessionsOwnedBy("node-a")).toEqual(["c1", "c2"]);
      expect(await ctx.store.sessionsOwnedBy("node-b")).toEqual([]);
    });
  });

  describe("listSessions", () => {
    it("an empty store lists nothing", async () => {
      expect(await ctx.store.listSessions({ limit: 10 })).toEqual({ items: [], cursor: null });
    });

    it("pages cover every session exactly once, in byte order", async () => {
      const ids = Array.from({ length: 23 }, (_, i) => `client-${String.fromCharCode(97 + ((i * 7) % 23))}${i}`);
      for (const id of ids) await claim(ctx.store, id);
      const { items, pages } = await allPages((cursor) => ctx.store.listSessions({ cursor, limit: 5 }));
      expect(items.map((r) => r.clientId)).toEqual([...ids].sort(byteOrder));
      expect(pages).toBe(5);
    });

    it("a page that ends exactly at the last session has a null cursor", async () => {
      for (let i = 0; i < 10; i++) await claim(ctx.store, `c${i}`);
      const first = await ctx.store.listSessions({ limit: 5 });
      expect(first.items).toHaveLength(5);
      expect(first.cursor).not.toBeNull();
      const second = await ctx.store.listSessions({ cursor: first.cursor, limit: 5 });
      expect(second.items).toHaveLength(5);
      expect(second.cursor).toBeNull();
      expect((await ctx.store.listSessions({ limit: 10 })).cursor).toBeNull();
    });

    it("the connected filter selects online or offline sessions across pages", async () => {
      for (let i = 0; i < 9; i++) {
        const { epoch } = await claim(ctx.store, `c${i}`);
        if (i % 3 === 0) await ctx.store.releaseSession(`c${i}`, epoch, T0 + i);
      }
      const online = await allPages((cursor) => ctx.store.listSessions({ cursor, limit: 2, connected: true }));
      const offline = await allPages((cursor) => ctx.store.listSessions({ cursor, limit: 2, connected: false }));
      expect(online.items.map((r) => r.clientId)).toEqual(["c1", "c2", "c4", "c5", "c7", "c8"]);
      expect(offline.items.map((r) => r.clientId)).toEqual(["c0", "c3", "c6"]);
      expect(offline.items.every((r) => r.node === null && r.disconnectedAt !== null)).toBe(true);
    });

    it("records carry the session fields", async () => {
      await claim(ctx.store, "c1", { node: "n9", username: "bob", clean: true, now: T0 + 3 });
      expect((await ctx.store.listSessions({ limit: 1 })).items).toEqual([
        { clientId: "c1", clean: true, node: "n9", epoch: 1, username: "bob", identity: null, connectedAt: T0 + 3, disconnectedAt: null },
      ]);
    });

    it("an invalid cursor or limit is refused", async () => {
      await expect(ctx.store.listSessions({ cursor: "not a cursor", limit: 5 })).rejects.toThrow(/cursor/);
      await expect(ctx.store.listSessions({ limit: 0 })).rejects.toThrow(/limit/);
      await expect(ctx.store.listRetained({ cursor: "%%%", limit: 5 })).rejects.toThrow(/cursor/);
    });
  });
}
