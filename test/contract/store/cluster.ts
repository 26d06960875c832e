import { describe, expect, it } from "vitest";
import { type ApiKeyRecord, MAX_NODE_TOP_TOPICS, type NodeRecord, type NodeStats } from "../../../core/store/types.js";
import { type Ctx, T0 } from "./fixtures.js";

function node(nodeId: string, heartbeatAt = T0, queueUrl: string | null = null): NodeRecord {
  return { nodeId, address: `10.0.0.1:${nodeId.length}`, queueUrl, startedAt: T0 - 1000, heartbeatAt };
}

function stats(connections: number, topic = "plant/1/temp"): NodeStats {
  return {
    sampledAt: T0 + connections,
    version: "1.2.3",
    connections,
    sessions: connections + 2,
    messages: { received: 100, sent: 90, dropped: 1 },
    rates: { received: 1.5, sent: 1.25, dropped: 0 },
    queued: 3,
    inflight: 2,
    topTopics: [{ topic, messages: 60, rate: 1 }],
  };
}

function apiKey(id: string, hashChar: string): ApiKeyRecord {
  return { id, hash: hashChar.repeat(64), name: `key ${id}`, scopes: ["publish", "read"], topics: ["devices/#", "ünï/+"], createdAt: T0 };
}

export function clusterTests(ctx: Ctx): void {
  describe("nodes", () => {
    it("registers and lists nodes with every field, in id order", async () => {
      await ctx.store.registerNode(node("node-b", T0, "https://sqs.example/q/node-b"), 15_000);
      await ctx.store.registerNode(node("node-a"), 15_000);
      expect(await ctx.store.listNodes(T0 + 1)).toEqual([node("node-a"), node("node-b", T0, "https://sqs.example/q/node-b")]);
    });

    it("a node's link address is kept through heartbeats and listed; a node without one lists none", async () => {
      await ctx.store.registerNode({ ...node("n1"), linkAddress: "10.0.1.7:7946" }, 15_000);
      await ctx.store.registerNode(node("n2"), 15_000);
      expect(await ctx.store.heartbeat("n1", T0 + 1000, 15_000, stats(1))).toBe(true);
      const [n1, n2] = await ctx.store.listNodes(T0 + 1001);
      expect(n1).toEqual({ ...node("n1", T0 + 1000), linkAddress: "10.0.1.7:7946", stats: stats(1) });
      expect(n2?.linkAddress ?? null).toBeNull();
      await expect(ctx.store.registerNode({ ...node("n3"), linkAddress: "" }, 15_000)).rejects.toThrow();
    });

    it("a node expires when its last heartbeat is older than its TTL; heartbeat pushes expiry out", async () => {
      await ctx.store.registerNode(node("n1"), 15_000);
      expect((await ctx.store.listNodes(T0 + 14_999)).map((n) => n.nodeId)).toEqual(["n1"]);
      expect(await ctx.store.listNodes(T0 + 15_000)).toEqual([]);
      expect(await ctx.store.heartbeat("n1", T0 + 10_000, 15_000)).toBe(true);
      expect(await ctx.store.listNodes(T0 + 20_000)).toEqual([node("n1", T0 + 10_000)]);
      expect(await ctx.store.heartbeat("n1", T0 + 20_000, 1_000)).toBe(true); // the new TTL applies from now on
      expect(await ctx.store.listNodes(T0 + 21_000)).toEqual([]);
    });

    it("heartbeat of an unknown or expired node is refused; registering again revives it", async () => {
      expect(await ctx.store.heartbeat("ghost", T0, 15_000)).toBe(false);
      await ctx.store.registerNode(node("n1"), 5_000);
      expect(await ctx.store.heartbeat("n1", T0 + 5_000, 5_000)).toBe(false);
      expect(await ctx.store.listNodes(T0 + 5_000)).toEqual([]);
      await ctx.store.registerNode(node("n1", T0 + 6_000), 5_000);
      expect(await ctx.store.heartbeat("n1", T0 + 7_000, 5_000)).toBe(true);
      expect((await ctx.store.listNodes(T0 + 7_000)).map((n) => n.heartbeatAt)).toEqual([T0 + 7_000]);
    });

    it("expiredNodes lists registered nodes whose heartbeat expired, until they are removed or registered again", async () => {
      await ctx.store.registerNode(node("n1"), 5_000);
      await ctx.store.registerNode(node("n2", T0, "https://sqs.example/q/n2"), 15_000);
      expect(await ctx.store.expiredNodes(T0 + 1)).toEqual([]);
      expect(await ctx.store.expiredNodes(T0 + 15_000)).toEqual([node("n1"), node("n2", T0, "https://sqs.example/q/n2")]);
      expect((await ctx.store.expiredNodes(T0 + 5_000)).map((n) => n.nodeId)).toEqual(["n1"]);
      await ctx.store.removeNode("n1");
      await ctx.store.registerNode(node("n2", T0 + 10_000), 15_000);
      expect(await ctx.store.expiredNodes(T0 + 15_000)).toEqual([]);
    });

    it("removeNode forgets a node; removing an unknown node is harmless", async () => {
      await ctx.store.registerNode(node("n1"), 15_000);
      await ctx.store.registerNode(node("n2"), 15_000);
      await ctx.store.removeNode("n1");
      await ctx.store.removeNode("never");
      expect((await ctx.store.listNodes(T0)).map((n) => n.nodeId)).toEqual(["n2"]);
      expect(await ctx.store.heartbeat("n1", T0, 15_000)).toBe(false);
    });

    it("a heartbeat carries the node's stats: listed with it, replaced by the next, kept by one without", async () => {
      await ctx.store.registerNode(node("n1"), 15_000);
      await ctx.store.registerNode(node("n2"), 15_000);
      expect((await ctx.store.listNodes(T0 + 1))[0]?.stats).toBeUndefined();
      expect(await ctx.store.heartbeat("n1", T0 + 1000, 15_000, stats(5, "ünï/töpic"))).toBe(true);
      expect(await ctx.store.listNodes(T0 + 1001)).toEqual([{ ...node("n1", T0 + 1000), stats: stats(5, "ünï/töpic") }, node("n2")]);
      expect(await ctx.store.heartbeat("n1", T0 + 2000, 15_000, stats(7))).toBe(true);
      expect(await ctx.store.heartbeat("n1", T0 + 3000, 15_000)).toBe(true);
      const [n1] = await ctx.store.listNodes(T0 + 3001);
      expect(n1).toEqual({ ...node("n1", T0 + 3000), stats: stats(7) });
      // Expired nodes keep their last figures (the doctor shows them); registering again starts without.
      expect((await ctx.store.expiredNodes(T0 + 18_000)).find((n) => n.nodeId === "n1")?.stats).toEqual(stats(7));
      await ctx.store.registerNode(node("n1", T0 + 20_000), 15_000);
      expect((await ctx.store.listNodes(T0 + 20_001)).find((n) => n.nodeId === "n1")?.stats).toBeUndefined();
      // A refused heartbeat writes no stats.
      expect(await ctx.store.heartbeat("gone", T0 + 20_000, 15_000, stats(1))).toBe(false);
      expect((await ctx.store.listNodes(T0 + 20_001)).map((n) => n.nodeId)).toEqual(["n1"]);
    });

    it("refuses stats that are not bounded figures", async () => {
      await ctx.store.registerNode(node("n1"), 15_000);
      const tooMany = { ...stats(1), topTopics: Array.from({ length: MAX_NODE_TOP_TOPICS + 1 }, (_, i) => ({ topic: `t/${i}`, messages: 1, rate: 1 })) };
      await expect(ctx.store.heartbeat("n1", T0 + 1, 15_000, tooMany)).rejects.toThrow(/at most/);
      await expect(ctx.store.heartbeat("n1", T0 + 1, 15_000, { ...stats(1), connections: -1 })).rejects.toThrow(/connections/);
      await expect(ctx.store.heartbeat("n1", T0 + 1, 15_000, { ...stats(1), rates: { received: Number.NaN, sent: 0, dropped: 0 } })).rejects.toThrow(/received/);
      const huge = { ...stats(1), topTopics: Array.from({ length: MAX_NODE_TOP_TOPICS }, (_, i) => ({ topic: `${"x".repeat(4000)}/${i}`, messages: 1, rate: 1 })) };
      await expect(ctx.store.heartbeat("n1", T0 + 1, 15_000, huge)).rejects.toThrow(/bytes/);
      expect((await ctx.store.listNodes(T0 + 2))[0]?.stats).toBeUndefined();
    });
  });

  describe("API keys", () => {
    it("put, get by hash, list and delete", async () => {
      await ctx.store.putApiKey(apiKey("k2", "b"));
      await ctx.store.putApiKey(apiKey("k1", "a"));
      expect(await ctx.store.getApiKeyByHash("a".repeat(64))).toEqual(apiKey("k1", "a"));
      expect(await ctx.store.listApiKeys()).toEqual([apiKey("k1", "a"), apiKey("k2", "b")]);
      expect(await ctx.store.deleteApiKey("k1")).toBe(true);
      expect(await ctx.store.deleteApiKey("k1")).toBe(false);
      expect(await ctx.store.getApiKeyByHash("a".repeat(64))).toBeNull();
      expect(await ctx.store.listApiKeys()).toEqual([apiKey("k2", "b")]);
    });

    it("putting a key again with a new hash retires the old hash", async () => {
      await ctx.store.putApiKey(apiKey("k1", "a"));
      await ctx.store.putApiKey({ ...apiKey("k1", "c"), name: "rotated" });
      expect(await ctx.store.getApiKeyByHash("a".repeat(64))).toBeNull();
      expect((await ctx.store.getApiKeyByHash("c".repeat(64)))?.name).toBe("rotated");
      expect(await ctx.store.listApiKeys()).toHaveLength(1);
    });

    it("an unknown hash is null; a malformed hash is refused", async () => {
      expect(await ctx.store.getApiKeyByHash("f".repeat(64))).toBeNull();
      await expect(ctx.store.putApiKey(apiKey("k1", "Z"))).rejects.toThrow(/hash/);
      expect(await ctx.store.listApiKeys()).toEqual([]);
    });
  });

  describe("counters and health", () => {
    it("counters start empty, add up and may go negative", async () => {
      expect(await ctx.store.getCounters()).toEqual({});
      await ctx.store.incrCounters({ published: 3, dropped: 1 });
      await ctx.store.incrCounters({ published: 2, "queue-full": -4 });
      await ctx.store.incrCounters({});
      expect(await ctx.store.getCounters()).toEqual({ published: 5, dropped: 1, "queue-full": -4 });
    });

    it("a non-integer delta is refused and nothing is counted", async () => {
      await expect(ctx.store.incrCounters({ a: 1, b: 0.5 })).rejects.toThrow(/integer/);
      expect(await ctx.store.getCounters()).toEqual({});
    });

    it("ping answers true", async () => {
      expect(await ctx.store.ping()).toBe(true);
    });
  });
}
