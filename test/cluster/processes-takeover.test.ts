import type { Socket } from "node:net";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalCluster, type LocalNode, startLocalCluster } from "../../scripts/lib/local-cluster.js";
import { brokerLogs, probeUntil, runId, until } from "./support.js";

/**
 * Take-over under QoS 1 load, with real processes (three `dist/broker.mjs`, redis-server, fauxqs): a persistent
 * subscriber S moves between nodes by reconnecting with its client id while publishers on the other nodes keep
 * publishing sequence-numbered QoS 1 messages. Every message a publisher got a PUBACK for must reach S at least
 * once, and each move must close the previous connection (take-over, docs/cluster.md "Take-over across nodes").
 * Order across a move is not promised (docs/cluster.md, "Limits and known gaps"): it is counted and printed,
 * overall and for the messages published once the last move settled (S received SETTLED more first).
 */

const RATE_TICK_MS = 20; // each publisher sends PER_TICK messages every tick: 150 msg/s each
const PER_TICK = 3;
const SEGMENT = 250; // new messages S receives on a connection before it moves on
const SETTLED = 150; // messages after a move before order is counted apart
const run = runId();

let cluster: LocalCluster;
let nodes: [LocalNode, LocalNode, LocalNode];

beforeAll(async () => {
  cluster = await startLocalCluster({ nodes: 3 });
  nodes = cluster.nodes as [LocalNode, LocalNode, LocalNode];
}, 90_000);

afterAll(async () => {
  for (const c of opened) c.end(true);
  await cluster?.stop();
}, 60_000);

const opened: mqtt.MqttClient[] = [];

/** Connects with `opts`, `setNoDelay(true)`, and resolves with the client and its CONNACK. */
function open(node: LocalNode, clientId: string, opts: mqtt.IClientOptions, onClient: (c: mqtt.MqttClient) => void = () => undefined) {
  const c = mqtt.connect({ host: "127.0.0.1", port: node.mqttPort, clientId, reconnectPeriod: 0, connectTimeout: 20_000, ...opts });
  opened.push(c);
  onClient(c);
  return new Promise<{ c: mqtt.MqttClient; sessionPresent: boolean; at: number }>((resolve, reject) => {
    c.once("connect", (connack) => {
      (c.stream as Socket).setNoDelay(true);
      resolve({ c, sessionPresent: connack.sessionPresent, at: Date.now() });
    });
    c.once("error", reject);
  });
}

/** A QoS 1 publisher sending `name:seq` at a steady rate; only PUBACKed seqs count. */
class Publisher {
  readonly acked = new Set<number>();
  next = 0;
  failed = 0;
  private timer?: NodeJS.Timeout;
  private readonly pending = new Set<Promise<void>>();

  constructor(readonly name: string, private readonly c: mqtt.MqttClient, private readonly topic: string) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.pending.size > 500) return; // the broker is slow: do not pile up without bound
      for (let i = 0; i < PER_TICK; i++) {
        const s = this.next++;
        const p = this.c.publishAsync(this.topic, `${this.name}:${s}`, { qos: 1 }).then(
          () => void this.acked.add(s),
          () => void this.failed++,
        );
        this.pending.add(p);
        void p.finally(() => this.pending.delete(p));
      }
    }, RATE_TICK_MS);
  }

  async stop(detail: () => string): Promise<void> {
    clearInterval(this.timer);
    const left = () => `${this.pending.size} of ${this.next} unanswered\n${detail()}`;
    await until(`${this.name}: every publish answered (PUBACK)`, () => this.pending.size === 0, 30_000, left);
  }
}

interface Arrival {
  pub: string;
  seq: number;
  conn: number;
  dup: boolean;
  at: number;
}

/** S's side: every connection it opened, and everything they received in arrival order. */
class Subscriber {
  readonly log: Arrival[] = [];
  readonly conns: { node: string; c: mqtt.MqttClient; connackAt: number; closedAt?: number; ended: boolean }[] = [];
  private readonly seen = new Set<string>();
  firsts = 0;

  constructor(readonly clientId: string, private readonly prefix: string) {}

  async connect(node: LocalNode): Promise<{ sessionPresent: boolean }> {
    const conn = this.conns.length;
    const entry = { node: node.nodeId, c: undefined as unknown as mqtt.MqttClient, connackAt: 0, closedAt: undefined as number | undefined, ended: false };
    const r = await open(node, this.clientId, { clean: false }, (c) => {
      c.on("message", (topic, payload, packet) => {
        if (!topic.startsWith(`${this.prefix}/data/`)) return;
        const [pub = "", s = ""] = payload.toString().split(":");
        const key = `${pub}:${s}`;
        if (!this.seen.has(key)) this.firsts++;
        this.seen.add(key);
        this.log.push({ pub, seq: Number(s), conn, dup: packet.dup, at: Date.now() });
      });
      c.on("close", () => (entry.closedAt ??= Date.now()));
    });
    Object.assign(entry, { c: r.c, connackAt: r.at });
    this.conns.push(entry);
    return { sessionPresent: r.sessionPresent };
  }

  has(pub: string, seq: number): boolean {
    return this.seen.has(`${pub}:${seq}`);
  }

  get current() {
    return this.conns[this.conns.length - 1]!;
  }
}

/**
 * Per publisher: lost (PUBACKed, never received), duplicated (received more than once), reordered (a first arrival
 * below an earlier one) overall and among the seqs from `orderFrom[name]` on (published once the last move settled).
 */
function tally(sub: Subscriber, pubs: Publisher[], orderFrom: Record<string, number> = {}) {
  const out: Record<string, { acked: number; lost: number; duplicates: number; reordered: number; reorderedSettled: number }> = {};
  for (const p of pubs) {
    const arrivals = sub.log.filter((a) => a.pub === p.name);
    const from = orderFrom[p.name] ?? Number.MAX_SAFE_INTEGER;
    const count = new Map<number, number>();
    let max = -1;
    let maxSettled = -1;
    let reordered = 0;
    let reorderedSettled = 0;
    for (const a of arrivals) {
      const n = (count.get(a.seq) ?? 0) + 1;
      count.set(a.seq, n);
      if (n > 1) continue;
      if (a.seq < max) reordered++;
      max = Math.max(max, a.seq);
      if (a.seq < from) continue;
      if (a.seq < maxSettled) reorderedSettled++;
      maxSettled = Math.max(maxSettled, a.seq);
    }
    const lost = [...p.acked].filter((s) => !count.has(s)).length;
    const duplicates = [...count.values()].reduce((sum, n) => sum + n - 1, 0);
    out[p.name] = { acked: p.acked.size, lost, duplicates, reordered, reorderedSettled };
  }
  return out;
}

describe("cluster of three broker processes: take-over under QoS 1 load", () => {
  it(
    "S moves A → B → C → A (take-overs) → B (after its socket was destroyed): every PUBACKed message arrives, old connections are closed",
    async () => {
      const [a, b, c] = nodes;
      const prefix = `tk-${run}`;
      const sub = new Subscriber(`tk-sub-${run}`, prefix);
      await sub.connect(a);
      expect((await sub.current.c.subscribeAsync(`${prefix}/#`, { qos: 1 }))[0]?.qos).toBe(1);
      const probes = new Set<string>();
      sub.current.c.on("message", (topic) => probes.add(topic));

      const pubs: Publisher[] = [];
      for (const [name, node] of [["B", b], ["C", c]] as const) {
        const { c: pc } = await open(node, `tk-pub${name}-${run}`, { clean: true });
        await probeUntil(`S's route on ${node.nodeId}`, () => pc.publishAsync(`${prefix}/probe/${name}`, "p", { qos: 0 }).then(() => undefined), () => probes.has(`${prefix}/probe/${name}`));
        pubs.push(new Publisher(name, pc, `${prefix}/data/${name}`));
      }
      const detail = () => `${JSON.stringify(tally(sub, pubs))}\n${brokerLogs(cluster)}`;
      const receive = async (n: number) => {
        const target = sub.firsts + n;
        await until(`S to receive ${n} more messages (on ${sub.current.node})`, () => sub.firsts >= target, 30_000, detail);
      };

      for (const p of pubs) p.start();
      await receive(SEGMENT);
      const overlaps: number[] = [];
      for (const [node, abrupt] of [[b, false], [c, false], [a, false], [b, true]] as const) {
        const old = sub.current;
        if (abrupt) {
          (old.c.stream as Socket).destroy();
          await until("the destroyed connection to close", () => old.closedAt !== undefined);
        }
        const { sessionPresent } = await sub.connect(node);
        expect(sessionPresent, `session present on ${node.nodeId}`).toBe(true);
        await until(`${old.node} to close S's old connection (take-over to ${node.nodeId})`, () => old.closedAt !== undefined, 10_000, detail);
        if (!abrupt) overlaps.push(old.closedAt! - sub.current.connackAt);
        await receive(SEGMENT);
      }
      // The last move settled: what is published from here on is counted apart (reorderedSettled).
      await receive(SETTLED);
      const orderFrom = Object.fromEntries(pubs.map((p) => [p.name, p.next]));
      await receive(SETTLED);
      await Promise.all(pubs.map((p) => p.stop(detail)));

      const allArrived = () => pubs.every((p) => [...p.acked].every((s) => sub.has(p.name, s)));
      await until("S to receive every PUBACKed message", allArrived, 30_000).catch(() => undefined);
      const t = tally(sub, pubs, orderFrom);
      // Deliveries to a connection after its successor's CONNACK (allowed until the kick arrives; reported only).
      const late = sub.log.filter((x) => x.conn + 1 < sub.conns.length && x.at > sub.conns[x.conn + 1]!.connackAt).length;
      const summary = `${JSON.stringify(t)}; ${sub.log.length} deliveries, ${late} to an old connection after the next CONNACK; connections ${sub.conns.map((x) => x.node).join(" → ")}; old connection closed ${JSON.stringify(overlaps)} ms after the new CONNACK; publish failures ${pubs.map((p) => p.failed)}`;
      console.log(`processes-takeover: ${summary}`);
      expect(
        Object.values(t).map((x) => x.lost),
        `lost messages: ${summary}\n${brokerLogs(cluster)}`,
      ).toEqual([0, 0]);
      expect(pubs.map((p) => p.failed), summary).toEqual([0, 0]);
      // Order across a move is not promised yet (docs/cluster.md, "Limits and known gaps"): a copy that takes the path
      // through the old holder can arrive after a newer one that went directly, and on this 2-core machine under
      // load that window was seen to last past SETTLED messages (15 and 99 late of about 1,000, 2 runs in 10).
      // Counted and printed above (reordered, reorderedSettled), not asserted.
      // One connection at a time: every earlier one is closed, the last one is open and was never closed.
      expect(sub.conns.slice(0, -1).every((x) => x.closedAt !== undefined)).toBe(true);
      expect(sub.current.closedAt, "the current connection").toBeUndefined();
    },
    120_000,
  );
});
