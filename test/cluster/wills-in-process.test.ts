import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryCommunicator, MemoryRegistry } from "../../core/communicator/index.js";
import type { Auth, ClientInfo, ClientPolicy } from "../../core/auth/types.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { WillRecord } from "../../core/store/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { scrape, value } from "../ops/support.js";
import { until } from "../helpers/wait.js";

/**
 * Wills kept in the store by cluster nodes (decision 019), with several nodes in this process (one shared store,
 * in-process node queues): each will is published once, by whoever takes it from the store; a DISCONNECT leaves
 * nothing behind; a node that lost its lease leaves its wills to be published once. test/cluster/processes-wills
 * does the same with real processes, SIGKILL and SIGSTOP.
 */

const started: TestBroker[] = [];
const clients: mqtt.MqttClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  await Promise.all(started.splice(0).map((b) => b.close()));
});

async function cluster(n: number, withMetrics = false): Promise<{ nodes: TestBroker[]; store: MemoryStore }> {
  const store = new MemoryStore();
  const registry = new MemoryRegistry();
  const nodes: TestBroker[] = [];
  for (let i = 0; i < n; i++) {
    const metrics = withMetrics ? { host: "127.0.0.1", port: 0 } : { port: null };
    const broker = await startTestBroker({ nodeId: `node-${i + 1}`, cluster: { heartbeatMs: 200, nodeTtlMs: 1000 }, metrics }, undefined, store, {
      communicator: new MemoryCommunicator({ registry }),
    });
    started.push(broker);
    nodes.push(broker);
  }
  return { nodes, store };
}

async function connect(node: TestBroker, clientId: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync({ host: "127.0.0.1", port: node.mqttPort, clientId, reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

function will(clientId: string): mqtt.IClientOptions {
  return { will: { topic: `status/${clientId}`, payload: Buffer.from(`gone ${clientId}`), qos: 1, retain: false } };
}

async function watcher(node: TestBroker, other: TestBroker): Promise<string[]> {
  const w = await connect(node, `watcher-${node.broker.config.nodeId}`);
  const got: string[] = [];
  w.on("message", (_topic, payload) => got.push(payload.toString()));
  await w.subscribeAsync("status/#", { qos: 1 });
  // Until the subscription is routed from the other node.
  const probe = await connect(other, "probe");
  await until(async () => {
    await probe.publishAsync("status/probe", "probe", { qos: 0 });
    return got.includes("probe");
  }, "the watcher's subscription to reach the other node");
  await probe.endAsync();
  return got;
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("wills in a cluster (in one process)", () => {
  it("a lost connection's will is published once and taken from the store; a DISCONNECT's is discarded and gone from the store", async () => {
    const { nodes, store } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const got = await watcher(n2, n1);
    const polite = await connect(n1, "polite", will("polite"));
    const lost = await connect(n1, "lost", will("lost"));
    await polite.endAsync(); // DISCONNECT
    lost.stream.destroy(); // no DISCONNECT
    await until(() => got.includes("gone lost"), "the will of the lost connection");
    await sleep(300);
    expect(got.filter((g) => g.startsWith("gone"))).toEqual(["gone lost"]);
    expect(await store.takeWillsOf("node-1", 100)).toEqual([]);
  });

  it("a will is in the store before CONNACK: a node that dies right after CONNACK leaves it to a survivor", async () => {
    // A store that is slow to keep wills: CONNACK must wait for it, or a crash in between loses the will.
    class SlowWills extends MemoryStore {
      readonly kept: string[] = [];
      override async putWill(clientId: string, epoch: number, node: string, record: WillRecord): Promise<void> {
        await sleep(300);
        await super.putWill(clientId, epoch, node, record);
        this.kept.push(clientId);
      }
    }
    const store = new SlowWills();
    const node = await startTestBroker({ nodeId: "node-1", cluster: { heartbeatMs: 200, nodeTtlMs: 1000 }, metrics: { port: null } }, undefined, store, {
      communicator: new MemoryCommunicator({ registry: new MemoryRegistry() }),
    });
    started.push(node);
    await connect(node, "dev", will("dev"));
    expect(store.kept).toEqual(["dev"]);
    // Without a will, CONNACK does not wait for anything of the kind.
    await connect(node, "plain");
    expect(store.kept).toEqual(["dev"]);
  });

  it("a take-over by another node publishes the old connection's will once (decision 003); the new one's is kept", async () => {
    const { nodes, store } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const got = await watcher(n2, n1);
    await connect(n1, "dev", { ...will("dev"), clean: false });
    await connect(n2, "dev", { ...will("dev"), clean: false });
    await until(() => got.includes("gone dev"), "the old connection's will");
    await sleep(300);
    expect(got.filter((g) => g === "gone dev")).toHaveLength(1);
    expect(await store.takeWillsOf("node-1", 100)).toEqual([]);
    expect((await store.takeWillsOf("node-2", 100)).map((t) => t.clientId)).toEqual(["dev"]);
  });

  it("a node whose lease is lost closes its connections, leaves their wills to be published once, and serves again", async () => {
    const { nodes, store } = await cluster(2, true);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const got = await watcher(n2, n1);
    const dev = await connect(n1, "dev", will("dev"));
    const port = n1.metrics?.port ?? 0;
    expect(value(await scrape(port), "mqgate_wills_stored")).toBe(1);
    expect(value(await scrape(port), "mqgate_lease_valid")).toBe(1);
    const closed = new Promise<void>((resolve) => dev.once("close", () => resolve()));
    // The store forgets node-1 (as if its record had expired): its next renewal is refused, its lease lost.
    await store.removeNode("node-1");
    await closed;
    await until(() => got.includes("gone dev"), "the will of node-1's client");
    await until(async () => (await store.listNodes(Date.now())).some((n) => n.nodeId === "node-1"), "node-1 to register again");
    const again = await connect(n1, "dev-2");
    expect(again.connected).toBe(true);
    await sleep(500);
    expect(got.filter((g) => g === "gone dev")).toHaveLength(1);
    const samples = await scrape(port);
    expect(value(samples, "mqgate_lease_losses_total")).toBe(1);
    expect(value(samples, "mqgate_lease_valid")).toBe(1);
    // Published by node-1's next incarnation (node-2 never saw node-1 expire: its record was simply gone).
    expect(value(samples, "mqgate_wills_reaped_total")).toBe(1);
    expect(value(samples, "mqgate_wills_stored")).toBe(0);
  });

  it("a survivor publishes a dead node's wills once its lease expired, authorized against each client's current rules", async () => {
    // Clients may publish only to status/<their client id>; the rules of user `opaque` cannot be read later (like a
    // JWT identity): its wills go by the decision made at CONNECT.
    const policy = (clientId: string): ClientPolicy => ({
      canPublish: (topic) => topic === `status/${clientId}`,
      canSubscribe: (_filter, qos) => qos,
    });
    const auth: Auth = {
      name: "test",
      connect: async (client: ClientInfo) => ({ ok: true, policy: client.clientId.startsWith("watcher") ? { canPublish: () => true, canSubscribe: (_f, q) => q } : policy(client.clientId) }),
      policyFor: (client: ClientInfo) => (client.username === "opaque" ? null : policy(client.clientId)),
    } as Auth;
    const store = new MemoryStore();
    // No grace period for node-0's queue (decision 020, test/cluster/durability.test.ts): its record is removed as
    // soon as its cleanup allows, so the wait below shows the wills were taken before node-0 was forgotten.
    const node = await startTestBroker({ nodeId: "node-1", cluster: { heartbeatMs: 100, nodeTtlMs: 500, deadQueueGraceMs: 0 } }, auth, store, {
      communicator: new MemoryCommunicator({ registry: new MemoryRegistry() }),
    });
    started.push(node);
    const w = await connect(node, "watcher");
    const got: string[] = [];
    w.on("message", (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    await w.subscribeAsync({ "status/#": { qos: 1 }, "other/#": { qos: 1 } });

    // node-0 died: its record expired; its clients' wills are in the store.
    const startedAt = Date.now() - 60_000;
    await store.registerNode({ nodeId: "node-0", address: "gone:1883", queueUrl: null, startedAt, heartbeatAt: Date.now() - 10_000 }, 500);
    const put = (clientId: string, topic: string, username: string | null, allowed: boolean, incarnation = startedAt) => {
      const record: WillRecord = { topic, payload: Buffer.from(clientId), qos: 1, retain: false, incarnation, username, allowed };
      return store.putWill(clientId, 1, "node-0", record);
    };
    await put("a", "status/a", "user-a", false); // current rules allow it (whatever CONNECT said)
    await put("b", "other/b", "user-b", true); // current rules refuse it
    await put("c", "status/c", "opaque", true); // rules unknown: allowed at CONNECT
    await put("d", "status/d", "opaque", false); // rules unknown: refused at CONNECT
    await put("e", "$SYS/e", "user-e", true); // never
    await put("f", "status/f", "user-f", true, startedAt + 1); // a newer incarnation of node-0: not its to take

    await until(async () => (await store.listNodes(0)).every((n) => n.nodeId !== "node-0") && (await store.expiredNodes(Date.now())).length === 0, "node-0 to be cleaned up");
    await until(() => got.length >= 2, "the wills");
    await sleep(300);
    expect(got.sort()).toEqual(["status/a=a", "status/c=c"]);
    expect(node.broker.stats.dropped["not-authorized"]).toBe(3);
    expect((await store.takeWillsOf("node-0", 100)).map((t) => t.clientId)).toEqual(["f"]);
  });
});
