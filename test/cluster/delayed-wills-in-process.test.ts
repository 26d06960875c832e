import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryCommunicator, MemoryRegistry } from "../../core/communicator/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { WillRecord } from "../../core/store/types.js";
import { owner } from "../../broker/adoption.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { until } from "../helpers/wait.js";

/**
 * MQTT 5 wills with a Will Delay Interval left by a dead cluster node (decision 028), with survivors in this process
 * and the dead node ("node-0") written into the shared memory store as it would have left it: its record expired,
 * its clients' sessions and wills stored. A survivor publishes such a will only once its delay ran out
 * (MQTT 5: 3.1.2-8), once, and not at all when the client came back to its session first, on any node
 * (MQTT 5: 3.1.3-9). test/cluster/processes-delayed-wills.test.ts does it with real processes and SIGKILL.
 */

const started: TestBroker[] = [];
const clients: mqtt.MqttClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  await Promise.all(started.splice(0).map((b) => b.close()));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A memory store that remembers the wills put under each node (what a survivor keeps while it waits). */
class WatchedStore extends MemoryStore {
  readonly puts: { node: string; clientId: string; will: WillRecord }[] = [];
  override async putWill(clientId: string, epoch: number, node: string, will: WillRecord): Promise<void> {
    await super.putWill(clientId, epoch, node, will);
    this.puts.push({ node, clientId, will });
  }
}

async function survivors(store: MemoryStore, n: number): Promise<TestBroker[]> {
  const registry = new MemoryRegistry();
  const nodes: TestBroker[] = [];
  for (let i = 1; i <= n; i++) {
    // No grace period for node-0's queue (it has none): its record goes as soon as its cleanup allows.
    const node = await startTestBroker({ nodeId: `node-${i}`, cluster: { heartbeatMs: 100, nodeTtlMs: 500, deadQueueGraceMs: 0 }, limits: { sessionExpirySeconds: 3600 } }, undefined, store, {
      communicator: new MemoryCommunicator({ registry }),
    });
    started.push(node);
    nodes.push(node);
  }
  return nodes;
}

async function connect(node: TestBroker, clientId: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync({ host: "127.0.0.1", port: node.mqttPort, clientId, reconnectPeriod: 0, protocolVersion: 5, ...opts });
  clients.push(c);
  return c;
}

/**
 * A subscriber to `status/#` on `node`: the payloads it got, and when. With `from`, waits until a probe published
 * there reaches it (the route is in place); probes are not recorded.
 */
async function watch(node: TestBroker, from?: TestBroker): Promise<{ got: string[]; at: Map<string, number> }> {
  const w = await connect(node, `watcher-${node.broker.config.nodeId}`);
  const got: string[] = [];
  const at = new Map<string, number>();
  let probed = false;
  w.on("message", (topic, payload) => {
    if (topic === "status/probe") probed = true;
    else got.push(payload.toString());
    at.set(payload.toString(), Date.now());
  });
  await w.subscribeAsync("status/#", { qos: 1 });
  if (from !== undefined) {
    const probe = await connect(from, `probe-${from.broker.config.nodeId}`);
    await until(async () => {
      await probe.publishAsync("status/probe", "probe", { qos: 0 });
      return probed;
    }, "the watcher's subscription to reach the other node");
  }
  return { got, at };
}

/**
 * node-0 died a minute ago: registered with an expired heartbeat. Each of `wills` is a persistent MQTT 5 session
 * of node-0's (claimed at node-0's time T, expiry 300 s) with a will on `status/<id>` (payload the client id).
 * `before` runs before node-0's record is written (what happened before the survivors noticed).
 */
async function deadNode(store: MemoryStore, wills: Record<string, Partial<WillRecord>>, before?: () => Promise<void>): Promise<number> {
  const T = Date.now() - 60_000;
  for (const [clientId, extra] of Object.entries(wills)) {
    const { epoch } = await store.claimSession(clientId, { node: "node-0", clean: false, username: null, now: T, expiryMs: 300_000 });
    const record: WillRecord = { topic: `status/${clientId}`, payload: Buffer.from(clientId), qos: 1, retain: false, incarnation: T, username: null, allowed: true, claimedAt: T, ...extra };
    await store.putWill(clientId, epoch, "node-0", record);
  }
  await before?.();
  // Its record last: the survivors see it expired, and take its wills, from here on.
  await store.registerNode({ nodeId: "node-0", address: "gone:1883", queueUrl: null, startedAt: T, heartbeatAt: Date.now() - 10_000 }, 500);
  return T;
}

/** A client id that rendezvous hashing over `live` gives to `node` (the survivor that adopts its session). */
function idAdoptedBy(prefix: string, node: string, live: string[]): string {
  for (let i = 0; ; i++) if (owner(`${prefix}-${i}`, live) === node) return `${prefix}-${i}`;
}

describe("MQTT 5 delayed wills of a dead cluster node (in one process)", () => {
  it("MQTT 5 (3.1.2-8): a survivor keeps a delayed will (in the store, under itself, with its due time) and publishes it once when the delay ran out", async () => {
    const store = new WatchedStore();
    const [n1] = (await survivors(store, 1)) as [TestBroker];
    const { got, at } = await watch(n1);
    await deadNode(store, { now: {}, later: { delay: 2 } });
    // The will without a delay goes as soon as node-0's wills are taken; the delayed one is held meanwhile.
    await until(() => got.includes("now"), "the will without a delay");
    expect(got).not.toContain("later");
    await until(() => n1.broker.delayedWills.size === 1, "the delayed will waiting on node-1");
    const kept = store.puts.find((p) => p.node === "node-1" && p.clientId === "later");
    expect(kept?.will).toMatchObject({ delay: 2, incarnation: n1.cluster?.incarnation });
    expect(kept?.will.due).toBeGreaterThanOrEqual((at.get("now") ?? 0) + 1000);
    await until(() => got.includes("later"), "the delayed will", 6000);
    expect((at.get("later") ?? 0) - (at.get("now") ?? 0)).toBeGreaterThanOrEqual(1000);
    await sleep(500);
    expect(got.filter((g) => g === "later")).toHaveLength(1);
    expect(n1.broker.delayedWills.size).toBe(0);
    expect(await store.takeWillsOf("node-1", 100)).toEqual([]);
    expect(await store.takeWillsOf("node-0", 100)).toEqual([]);
  });

  it("MQTT 5 (3.1.3-9): a delayed will is not published when its client reconnects to another node within the delay, nor when it came back before the survivor took it", async () => {
    const store = new MemoryStore();
    // `away` reconnects to node-2 while node-1 holds its will; node-2 adopts its session, so node-1 hears nothing
    // of the reconnection but what the store says. `early` came back (to some node) before node-0's wills were taken.
    const away = idAdoptedBy("away", "node-2", ["node-1", "node-2"]);
    const [n1, n2] = (await survivors(store, 2)) as [TestBroker, TestBroker];
    const { got } = await watch(n2, n1);
    const T = await deadNode(store, { [away]: { delay: 3 }, early: { delay: 3 }, stays: { delay: 3 } }, async () => {
      await store.claimSession("early", { node: "node-9", clean: false, username: null, now: Date.now(), expiryMs: 300_000 });
    });
    expect((await store.getSession("early"))?.connectedAt).toBeGreaterThan(T);
    await until(() => n1.broker.delayedWills.size === 2, "node-1 holding the wills of `away` and `stays`");
    await until(async () => (await store.custodianOf(away)) === "node-2", "node-2 adopting the session of `away`");
    const back = await connect(n2, away, { clean: false, properties: { sessionExpiryInterval: 300 } });
    expect(back.connected).toBe(true);
    await until(() => got.includes("stays"), "the will of the client that did not come back", 6000);
    await until(() => n1.broker.delayedWills.size === 0, "node-1 done with both");
    await sleep(500);
    expect(got.sort()).toEqual(["stays"]);
    expect(await store.takeWillsOf("node-1", 100)).toEqual([]);
  });

  it("a survivor that takes a will another survivor was holding (it died) publishes it when it was due, not a full delay later", async () => {
    const store = new MemoryStore();
    // As node-0 left it had it been the survivor holding `held`: due in 1.5 s of a 60 s delay.
    const [n1] = (await survivors(store, 1)) as [TestBroker];
    const { got } = await watch(n1);
    await deadNode(store, { marker: {}, held: { delay: 60, due: Date.now() + 1500 } });
    await until(() => got.includes("marker"), "node-0's will without a delay");
    expect(got).not.toContain("held");
    await until(() => got.includes("held"), "the will at its due time", 5000);
    await sleep(300);
    expect(got.filter((g) => g === "held")).toHaveLength(1);
  });

  it("MQTT 5 (3.1.2-8): a reconnection with Clean Start on another live node ends the session: the node waiting out the will's delay publishes it at once, once", async () => {
    const store = new MemoryStore();
    const [n1, n2] = (await survivors(store, 2)) as [TestBroker, TestBroker];
    const { got } = await watch(n2, n1);
    const device = await connect(n1, "restart", {
      clean: false,
      properties: { sessionExpiryInterval: 300 },
      will: { topic: "status/restart", payload: Buffer.from("restart"), qos: 1, retain: false, properties: { willDelayInterval: 600 } },
    });
    // The connection breaks: node-1 waits out the delay (600 s).
    device.stream.destroy();
    await until(() => n1.broker.delayedWills.size === 1, "node-1 waiting out the will's delay");
    expect(got).toEqual([]);
    await connect(n2, "restart", { clean: true, properties: { sessionExpiryInterval: 300 } });
    await until(() => got.includes("restart"), "the will of the session the Clean Start ended");
    expect(n1.broker.delayedWills.size).toBe(0);
    await sleep(300);
    expect(got).toEqual(["restart"]);
    expect(await store.takeWillsOf("node-1", 100)).toEqual([]);
  });

  it("a reconnection without Clean Start on another live node keeps the session: the waiting will is dropped", async () => {
    const store = new MemoryStore();
    const [n1, n2] = (await survivors(store, 2)) as [TestBroker, TestBroker];
    const { got } = await watch(n2, n1);
    const device = await connect(n1, "resume", {
      clean: false,
      properties: { sessionExpiryInterval: 300 },
      will: { topic: "status/resume", payload: Buffer.from("resume"), qos: 1, retain: false, properties: { willDelayInterval: 600 } },
    });
    device.stream.destroy();
    await until(() => n1.broker.delayedWills.size === 1, "node-1 waiting out the will's delay");
    const back = await connect(n2, "resume", { clean: false, properties: { sessionExpiryInterval: 300 } });
    expect(back.connected).toBe(true);
    await until(() => n1.broker.delayedWills.size === 0, "node-1 dropping the will");
    await sleep(300);
    expect(got).toEqual([]);
    expect(await store.takeWillsOf("node-1", 100)).toEqual([]);
  });

  it("a reconnection with Clean Start on the survivor holding the will ends the session: the will is published at once", async () => {
    const store = new MemoryStore();
    const [n1] = (await survivors(store, 1)) as [TestBroker];
    const { got } = await watch(n1);
    await deadNode(store, { fresh: { delay: 600 } });
    await until(() => n1.broker.delayedWills.size === 1, "the delayed will waiting on node-1");
    expect(got).toEqual([]);
    await connect(n1, "fresh", { clean: true, properties: { sessionExpiryInterval: 300 } });
    await until(() => got.includes("fresh"), "the will of the ended session");
    expect(n1.broker.delayedWills.size).toBe(0);
    expect(await store.takeWillsOf("node-1", 100)).toEqual([]);
  });
});
