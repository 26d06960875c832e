import type { IPublishPacket, Packet } from "mqtt-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCluster, type LocalNode, startLocalCluster } from "../../scripts/lib/local-cluster.js";
import { RawClient } from "../helpers/raw-client.js";
import { connectRaw, publishPacket, pump, subscribe } from "../integration/support.js";
import { brokerLogs, probeUntil, runId, sleep, until } from "./support.js";

/**
 * Leases and wills (decision 019) with real processes (redis-server, fauxqs, three brokers; heartbeat 1 s, lease
 * 3 s). A SIGKILLed node's clients' wills are published by a survivor once its lease expired, each exactly once; a
 * node paused for twice its lease closes its connections as soon as it runs again (no will published twice), its
 * clients get every acknowledged message on another node, and it serves new clients again.
 */

const TTL_MS = 3000;
const run = runId();

let cluster: LocalCluster;
let node1: LocalNode;
let node2: LocalNode;
let node3: LocalNode;
const raw: RawClient[] = [];

beforeAll(async () => {
  cluster = await startLocalCluster({ nodes: 3, heartbeatMs: 1000, nodeTtlMs: TTL_MS });
  [node1, node2, node3] = cluster.nodes as [LocalNode, LocalNode, LocalNode];
}, 90_000);

afterAll(async () => {
  for (const c of raw) c.destroy();
  await cluster?.stop();
}, 60_000);

/** A client with a QoS 1 will on `topic` (payload `payload`); keepalive 0, so only the broker closes it. */
async function connectWithWill(node: LocalNode, clientId: string, topic: string, payload: string, clean = true): Promise<RawClient> {
  const c = await RawClient.open(node.mqttPort);
  raw.push(c);
  const connack = await c.connect({ clientId, clean, keepalive: 0, will: { topic, payload: Buffer.from(payload), qos: 1, retain: false } });
  expect(connack.returnCode, `CONNACK of ${clientId} on ${node.nodeId}`).toBe(0);
  return c;
}

/** A persistent subscriber that acknowledges everything and records each PUBLISH (topic, payload). */
class Watcher {
  readonly got: { topic: string; payload: string; at: number }[] = [];
  done: Promise<void> = Promise.resolve();
  attach(c: RawClient): void {
    this.done = pump(c, (p: Packet) => {
      if (p.cmd !== "publish") return;
      const pub = p as IPublishPacket;
      this.got.push({ topic: pub.topic, payload: pub.payload.toString(), at: Date.now() });
      if (pub.qos === 1) c.send({ cmd: "puback", messageId: pub.messageId ?? 0 });
      if (pub.qos === 2) c.send({ cmd: "pubrec", messageId: pub.messageId ?? 0 });
    }).done;
  }
  count(topic: string, payload?: string): number {
    return this.got.filter((g) => g.topic === topic && (payload === undefined || g.payload === payload)).length;
  }
}

async function watch(node: LocalNode, clientId: string, filter: string): Promise<Watcher> {
  const { c, connack } = await connectRaw(node.mqttPort, clientId, false);
  raw.push(c);
  expect(connack.returnCode).toBe(0);
  await subscribe(c, filter, 1);
  const w = new Watcher();
  w.attach(c);
  return w;
}

/** Publishes QoS 0 probes on `topic` from a client on `from` until `w` saw one (routes across nodes are in place). */
async function probe(from: LocalNode, w: Watcher, topic: string): Promise<void> {
  const { c } = await connectRaw(from.mqttPort, `probe-${run}-${from.nodeId}-${topic.length}`, true);
  raw.push(c);
  pump(c, () => {});
  await probeUntil(`a probe on ${topic} from ${from.nodeId}`, async () => c.send(publishPacket(topic, "probe", 0)), () => w.count(topic, "probe") > 0, 30_000, () => brokerLogs(cluster));
  c.destroy();
}

describe("cluster of three broker processes: leases and wills", () => {
  it(
    "SIGKILL: every will of the dead node's clients is published by a survivor within lease + 5 s, exactly once",
    async () => {
      const prefix = `wills-${run}`;
      const w = await watch(node1, `watch-kill-${run}`, `${prefix}/#`);
      await probe(node3, w, `${prefix}/probe`);
      const ids = Array.from({ length: 5 }, (_, i) => `kill-${run}-${i}`);
      for (const id of ids) await connectWithWill(node3, id, `${prefix}/${id}`, `gone ${id}`, id.endsWith("0"));
      // A client that leaves with DISCONNECT: its will is discarded [MQTT-3.14.4-3], never published by anyone.
      const polite = await connectWithWill(node3, `polite-${run}`, `${prefix}/polite`, "gone polite");
      polite.send({ cmd: "disconnect" });
      await until("the polite client to be closed", () => polite.closed, 10_000);
      // The wills are stored while the client is connected: give the put a moment to land (it is asynchronous).
      await sleep(300);

      const crashedAt = Date.now();
      await node3.crash();
      const detail = () => `got ${JSON.stringify(w.got)}\n${brokerLogs(cluster)}`;
      await until("every will of node-3's clients", () => ids.every((id) => w.count(`${prefix}/${id}`) > 0), TTL_MS + 5000 + 2000, detail);
      const lastAt = Math.max(...ids.map((id) => w.got.find((g) => g.topic === `${prefix}/${id}`)?.at ?? Infinity));
      expect(lastAt - crashedAt, "wills published within lease + 5 s of the crash").toBeLessThanOrEqual(TTL_MS + 5000);
      // Nothing more comes: each will exactly once, the polite client's never.
      await sleep(3000);
      for (const id of ids) expect(w.count(`${prefix}/${id}`, `gone ${id}`), `will of ${id}`).toBe(1);
      expect(w.count(`${prefix}/polite`), "will of the client that sent DISCONNECT").toBe(0);
      console.log(`processes-wills: every will ${lastAt - crashedAt} ms after the SIGKILL`);
    },
    120_000,
  );

  it(
    "SIGSTOP for twice the lease, then SIGCONT: connections closed, clients resume elsewhere with every acknowledged message, no will twice, node serves again",
    async () => {
      const prefix = `pause-${run}`;
      const w = await watch(node1, `watch-pause-${run}`, `${prefix}/will/#`);
      // A persistent QoS 1 subscriber on node-2 (with a will), fed by a publisher on node-1.
      const subId = `pause-sub-${run}`;
      const sub = await connectWithWill(node2, subId, `${prefix}/will/${subId}`, `gone ${subId}`, false);
      await subscribe(sub, `${prefix}/data`, 1);
      const received = new Set<string>();
      const subDone = pump(sub, (p) => {
        if (p.cmd !== "publish") return;
        received.add(p.payload.toString());
        if (p.qos === 1) sub.send({ cmd: "puback", messageId: p.messageId ?? 0 });
      }).done;
      const other = await connectWithWill(node2, `pause-other-${run}`, `${prefix}/will/other`, "gone other");
      await probe(node2, w, `${prefix}/will/probe`);

      const { c: pub } = await connectRaw(node1.mqttPort, `pause-pub-${run}`, true);
      raw.push(pub);
      const acked = new Set<number>();
      pump(pub, (p) => {
        if (p.cmd === "puback") acked.add(p.messageId ?? 0);
      });
      const publish = (from: number, to: number) => {
        for (let s = from; s <= to; s++) pub.send(publishPacket(`${prefix}/data`, String(s), 1, s));
      };
      await probeUntil("the subscription on node-2 to reach node-1", async () => pub.send(publishPacket(`${prefix}/data`, "0", 0)), () => received.has("0"), 30_000, () => brokerLogs(cluster));
      publish(1, 20);
      await until("PUBACK for 1..20", () => acked.size >= 20, 30_000, () => brokerLogs(cluster));
      await sleep(300);

      const pausedAt = Date.now();
      node2.child.kill("SIGSTOP");
      publish(21, 30); // while node-2 is paused
      // A client that connects while node-2 is paused (the kernel completes the handshake): node-2's lease has run
      // out by the time it reads it, so it is not served.
      const early = await RawClient.open(node2.mqttPort);
      raw.push(early);
      early.send({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: `pause-early-${run}` });
      const earlyPackets: string[] = [];
      pump(early, (p) => earlyPackets.push(p.cmd));
      await sleep(2 * TTL_MS - (Date.now() - pausedAt));
      node2.child.kill("SIGCONT");

      const detail = () => `received ${JSON.stringify([...received])}\nwills ${JSON.stringify(w.got)}\n${brokerLogs(cluster)}`;
      // Its clients are disconnected first thing (their lease ran out while paused).
      await until("node-2 to close its clients' connections", () => sub.closed && other.closed, 10_000, detail);
      await subDone;
      await until("node-2 to close the connection made while it was paused", () => early.closed, 10_000, detail);
      expect(earlyPackets, "no CONNACK for a connection made while the lease had run out").toEqual([]);
      await until("PUBACK for 21..30", () => acked.size >= 30, 30_000, detail);

      // The subscriber resumes on node-1 and gets every acknowledged message.
      const { c: again, connack } = await connectRaw(node1.mqttPort, subId, false);
      raw.push(again);
      expect(connack.returnCode).toBe(0);
      expect(connack.sessionPresent).toBe(true);
      pump(again, (p) => {
        if (p.cmd !== "publish") return;
        received.add(p.payload.toString());
        if (p.qos === 1) again.send({ cmd: "puback", messageId: p.messageId ?? 0 });
      });
      publish(31, 35);
      const missing = () => [...acked].filter((s) => !received.has(String(s))).sort((a, b) => a - b);
      await until("every acknowledged message at the resumed subscriber", () => acked.size >= 35 && missing().length === 0, 75_000, () => `missing ${JSON.stringify(missing())}\n${detail()}`);

      // Both wills published (the clients' connections ended without DISCONNECT), each exactly once.
      await until("the wills of node-2's clients", () => w.count(`${prefix}/will/${subId}`) > 0 && w.count(`${prefix}/will/other`) > 0, 15_000, detail);
      await sleep(3000);
      expect(w.count(`${prefix}/will/${subId}`), "will of the subscriber").toBe(1);
      expect(w.count(`${prefix}/will/other`), "will of the other client").toBe(1);

      // node-2 serves new clients again, across the cluster.
      expect(node2.child.exitCode).toBeNull();
      const { c: fresh, connack: freshAck } = await connectRaw(node2.mqttPort, `pause-fresh-${run}`, true);
      raw.push(fresh);
      expect(freshAck.returnCode).toBe(0);
      await subscribe(fresh, `${prefix}/fresh`, 1);
      let freshGot = false;
      pump(fresh, (p) => {
        if (p.cmd === "publish" && p.topic === `${prefix}/fresh`) freshGot = true;
      });
      await probeUntil("a message from node-1 to a new client on node-2", async () => pub.send(publishPacket(`${prefix}/fresh`, "x", 0)), () => freshGot, 30_000, detail);
    },
    180_000,
  );
});
