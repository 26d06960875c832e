import { describe, expect, it } from "vitest";
import type { ApiKeyRecord, NodeRecord } from "../../../core/store/types.js";
import { type Ctx, T0 } from "./fixtures.js";

function node(nodeId: string, heartbeatAt = T0, queueUrl: string | null = null): NodeRecord {
  return { nodeId, address: `10.0.0.1:${nodeId.length}`, queueUrl, startedAt: T0 - 1000, heartbeatAt };
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
