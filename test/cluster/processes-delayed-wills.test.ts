import type mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { owner } from "../../broker/adoption.js";
import { type LocalCluster, type LocalNode, startLocalCluster } from "../../scripts/lib/local-cluster.js";
import { brokerLogs, Clients, probeUntil, runId, sleep, until } from "./support.js";

/**
 * MQTT 5 wills with a Will Delay Interval in a cluster of real processes (redis-server, fauxqs, brokers; heartbeat
 * 1 s, lease 3 s; decision 028). A SIGKILLed node's clients' delayed wills are taken by a survivor once the node's
 * lease expired and published only when their delay ran out (MQTT 5: 3.1.2-8), once, also when that survivor is
 * SIGKILLed while it waits; a client that reconnects to another node within the delay has no will published
 * (MQTT 5: 3.1.3-9).
 */

const TTL_MS = 3000;
const run = runId();
const clients = new Clients();

let cluster: LocalCluster;
let node1: LocalNode;
let node2: LocalNode;
let node3: LocalNode;

beforeAll(async () => {
  cluster = await startLocalCluster({ nodes: 3, heartbeatMs: 1000, nodeTtlMs: TTL_MS });
  [node1, node2, node3] = cluster.nodes as [LocalNode, LocalNode, LocalNode];
}, 90_000);

afterAll(async () => {
  await clients.endAll();
  await cluster?.stop();
}, 60_000);

/** MQTT 5, a session of 300 s that survives the connection. */
const PERSISTENT: mqtt.IClientOptions = { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 } };

/** A device on `node` with a QoS 1 will on `topic` (payload `gone <clientId>`), delayed by `delay` seconds (0: none). */
async function device(node: LocalNode, clientId: string, topic: string, delay: number): Promise<mqtt.MqttClient> {
  const properties = delay > 0 ? { willDelayInterval: delay } : undefined;
  const c = await clients.connect(node, clientId, { ...PERSISTENT, will: { topic, payload: Buffer.from(`gone ${clientId}`), qos: 1, retain: false, properties } });
  c.on("error", () => undefined); // its node is SIGKILLed
  return c;
}

/** A subscriber to `<prefix>/#` on `node`: when each message arrived, by topic. Waits for probes from `from`. */
async function watch(node: LocalNode, prefix: string, from: LocalNode[]): Promise<Map<string, number[]>> {
  const w = await clients.connect(node, `watch-${prefix}`, { protocolVersion: 5 });
  const got = new Map<string, number[]>();
  w.on("message", (topic) => got.set(topic, [...(got.get(topic) ?? []), Date.now()]));
  await w.subscribeAsync(`${prefix}/#`, { qos: 1 });
  for (const n of from) {
    const p = await clients.connect(n, `probe-${prefix}-${n.nodeId}`, { protocolVersion: 5 });
    await probeUntil(`a probe from ${n.nodeId}`, async () => void (await p.publishAsync(`${prefix}/probe/${n.nodeId}`, "p", { qos: 0 })), () => got.has(`${prefix}/probe/${n.nodeId}`), 30_000, () => brokerLogs(cluster));
    await p.endAsync();
  }
  return got;
}

/** A client id that rendezvous hashing over `live` gives to `node` (the survivor that adopts its session). */
function idAdoptedBy(prefix: string, node: string, live: string[]): string {
  for (let i = 0; ; i++) if (owner(`${prefix}-${i}`, live) === node) return `${prefix}-${i}`;
}

const first = (got: Map<string, number[]>, topic: string): number => got.get(topic)?.[0] ?? Number.NaN;
const count = (got: Map<string, number[]>, topic: string): number => got.get(topic)?.length ?? 0;

describe("cluster of broker processes: MQTT 5 delayed wills of a SIGKILLed node", () => {
  it(
    "MQTT 5 (3.1.3-9): a client that reconnects to another node within the delay has no will published; (3.1.2-8) the others' go once their delay ran out",
    async () => {
      const DELAY_S = 8;
      const prefix = `dw-${run}`;
      const got = await watch(node2, prefix, [node1, node3]);
      const detail = () => `got ${JSON.stringify([...got])}\n${brokerLogs(cluster)}`;
      // node-1 (the survivor with the smallest id) takes node-3's wills; node-2 adopts the session of `back`, so
      // node-1 learns of its reconnection only from the store.
      const back = idAdoptedBy(`back-${run}`, "node-2", ["node-1", "node-2"]);
      const ids = { now: `now-${run}`, stays: `stays-${run}`, back, early: `early-${run}` };
      await device(node3, ids.now, `${prefix}/now`, 0);
      await device(node3, ids.stays, `${prefix}/stays`, DELAY_S);
      await device(node3, ids.back, `${prefix}/back`, DELAY_S);
      await device(node3, ids.early, `${prefix}/early`, DELAY_S);
      await sleep(300);

      await node3.crash();
      // `early` is back at once, before node-3's lease expired (its will is still in node-3's part of the store).
      expect((await clients.connect(node2, ids.early, PERSISTENT)).connected).toBe(true);
      await until("the will without a delay, taken from node-3's store once its lease expired", () => got.has(`${prefix}/now`), TTL_MS + 10_000, detail);
      expect(count(got, `${prefix}/stays`), "a delayed will is not published with the others").toBe(0);
      expect(count(got, `${prefix}/back`)).toBe(0);
      // node-1 holds the delayed wills now; `back` reconnects to node-2 within the delay.
      await sleep(1000);
      expect((await clients.connect(node2, ids.back, PERSISTENT)).connected).toBe(true);
      await until("the delayed will of the client that stayed away", () => got.has(`${prefix}/stays`), DELAY_S * 1000 + 10_000, detail);
      const waited = first(got, `${prefix}/stays`) - first(got, `${prefix}/now`);
      expect(waited, "published about the delay after the will without one").toBeGreaterThanOrEqual(DELAY_S * 1000 - 2000);
      await sleep(3000);
      expect(count(got, `${prefix}/now`)).toBe(1);
      expect(count(got, `${prefix}/stays`)).toBe(1);
      expect(count(got, `${prefix}/back`), "the will of the client that reconnected to node-2 in time").toBe(0);
      expect(count(got, `${prefix}/early`), "the will of the client that reconnected before the lease expired").toBe(0);
      console.log(`processes-delayed-wills: the delayed will ${waited} ms after the one without a delay`);
    },
    120_000,
  );

  it(
    "MQTT 5 (3.1.2-8): a delayed will survives the survivor that held it: SIGKILLed while it waits, the next one publishes it once, when it was due",
    async () => {
      const DELAY_S = 10;
      const prefix = `dh-${run}`;
      const node4 = await cluster.addNode();
      const got = await watch(node2, prefix, [node1, node4]);
      const detail = () => `got ${JSON.stringify([...got])}\n${brokerLogs(cluster)}`;
      await device(node4, `marker-${run}`, `${prefix}/marker`, 0);
      await device(node4, `held-${run}`, `${prefix}/held`, DELAY_S);
      await sleep(300);

      await node4.crash();
      await until("node-4's will without a delay (node-1 took node-4's wills)", () => got.has(`${prefix}/marker`), TTL_MS + 10_000, detail);
      expect(count(got, `${prefix}/held`)).toBe(0);
      // node-1 holds the delayed will (stored again under node-1) and dies too: node-2 takes it from node-1's part.
      await sleep(1000);
      await node1.crash();
      await until("the delayed will, from node-2", () => got.has(`${prefix}/held`), DELAY_S * 1000 + TTL_MS + 15_000, detail);
      const waited = first(got, `${prefix}/held`) - first(got, `${prefix}/marker`);
      expect(waited, "published about the delay after the will without one").toBeGreaterThanOrEqual(DELAY_S * 1000 - 2000);
      await sleep(3000);
      expect(count(got, `${prefix}/held`)).toBe(1);
      expect(count(got, `${prefix}/marker`)).toBe(1);
      console.log(`processes-delayed-wills: the held will ${waited} ms after the one without a delay`);
    },
    120_000,
  );
});
