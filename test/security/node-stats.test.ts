import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeStatsSampler } from "../../broker/node-stats.js";
import { MemoryStore } from "../../core/store/memory.js";
import { MAX_NODE_STATS_BYTES, MAX_NODE_TOP_TOPICS } from "../../core/store/types.js";
import { checkNodeStats } from "../../core/store/validate.js";
import { mqttClient, type TestClient } from "../functions/support.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

// Clients choose the topics that end up in a node's stats snapshot (its busiest topics, written to the store with
// every heartbeat and shown by GET /v1/stats): however many and however long, the snapshot stays within its bounds.

describe("the stats snapshot under hostile topics", () => {
  let b: TestBroker;
  let pub: TestClient;
  beforeAll(async () => {
    b = await startTestBroker({ limits: { maxTopicLength: 8192 } });
    pub = await mqttClient(b.mqttPort, "topic-flooder");
  });
  afterAll(async () => {
    pub?.client.end(true);
    await b?.close();
  });

  it("many distinct topics and very long ones: at most 10 topics, none over 1 KiB, the snapshot fits its limit and the store takes it", async () => {
    const sampler = new NodeStatsSampler(b.broker, "test");
    try {
      for (let i = 0; i < 5; i++) await pub.client.publishAsync("flood/hot", "x", { qos: 1 });
      const long = `${"l".repeat(8000)}/x`;
      for (let i = 0; i < 30; i++) await pub.client.publishAsync(long, "x", { qos: 0 });
      // More distinct topics than a bucket counts (1000): the rest are not counted, memory stays bounded.
      for (let i = 0; i < 1500; i++) pub.client.publish(`flood/${i}/${"y".repeat(900)}`, "x", { qos: 0 });
      await pub.client.publishAsync("flood/sync", "x", { qos: 1 });
      const stats = sampler.sample();
      expect(stats.topTopics.length).toBeLessThanOrEqual(MAX_NODE_TOP_TOPICS);
      expect(stats.topTopics.map((t) => t.topic)).not.toContain(long); // the busiest, but too long to report
      expect(stats.topTopics[0]).toMatchObject({ topic: "flood/hot", messages: 5 });
      for (const t of stats.topTopics) expect(Buffer.byteLength(t.topic)).toBeLessThanOrEqual(1024);
      expect(Buffer.byteLength(JSON.stringify(stats))).toBeLessThan(MAX_NODE_STATS_BYTES);
      expect(() => checkNodeStats(stats)).not.toThrow();
      const store = new MemoryStore();
      const now = Date.now();
      await store.registerNode({ nodeId: "n", address: "a:1", queueUrl: null, startedAt: now, heartbeatAt: now }, 15_000);
      expect(await store.heartbeat("n", now + 1, 15_000, stats)).toBe(true);
    } finally {
      sampler.stop();
    }
  });
});
