import { randomBytes } from "node:crypto";
import { createServer, connect, type Server, type Socket } from "node:net";
import type { SQSClient } from "@aws-sdk/client-sqs";
import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Communicator, MemoryCommunicator, MemoryRegistry } from "../../core/communicator/index.js";
import { SqsCommunicator } from "../../core/communicator/sqs.js";
import { createStore } from "../../core/store/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { Store } from "../../core/store/types.js";
import { type Fauxqs, startFauxqs } from "../helpers/fauxqs.js";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.js";
import { NodeLinks } from "../../broker/link/links.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

/**
 * The fast lane between nodes (decision 018) with its faults: brokers in this process, one shared store, node
 * queues through the in-process communicator, links through a TCP proxy the test can cut or make deaf. The faults
 * run again on the real fallback: node queues in fauxqs (the SQS emulator) and the Redis store.
 */

const SECRET = "links-test-secret-0123456789abcdef";
const started: TestBroker[] = [];
const clients: mqtt.MqttClient[] = [];
const proxies: LinkProxy[] = [];

const closers: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  await Promise.all(started.splice(0).map((b) => b.close()));
  for (const p of proxies.splice(0)) p.close();
  for (const c of closers.splice(0)) await c();
});

/** What the nodes share: a store for each node and a communicator for each node. */
interface Backend {
  store(): Promise<Store>;
  communicator(): Communicator;
}

function memoryBackend(): Backend {
  const store = new MemoryStore();
  const registry = new MemoryRegistry();
  return { store: async () => store, communicator: () => new MemoryCommunicator({ registry }) };
}

let redis: RedisServer | undefined;
let fauxqs: Fauxqs | undefined;

function sqsBackend(): Backend {
  const prefix = `links-${randomBytes(3).toString("hex")}`;
  return {
    async store() {
      const store = await createStore({ redisUrl: redis!.url });
      closers.push(() => store.close());
      return store;
    },
    communicator() {
      const client: SQSClient = fauxqs!.client();
      closers.push(() => client.destroy());
      return new SqsCommunicator({ client, prefix, waitTimeSeconds: 1 });
    },
  };
}

/**
 * Forwards TCP to a port; `cut()` kills every connection, `deaf` drops what the target answers, `hold()` keeps what
 * goes to the target until `release()`.
 */
class LinkProxy {
  deaf = false;
  private held: Buffer[] | null = null;
  private upstreams = new Set<Socket>();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: () => number) {
    this.server = createServer((client) => {
      const upstream = connect({ host: "127.0.0.1", port: this.target() });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => {
          this.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      this.upstreams.add(upstream);
      upstream.on("close", () => this.upstreams.delete(upstream));
      client.on("data", (d: Buffer) => {
        if (this.held !== null) this.held.push(d);
        else upstream.write(d);
      });
      upstream.on("data", (d: Buffer) => {
        if (!this.deaf) client.write(d);
      });
    });
  }

  hold(): void {
    this.held ??= [];
  }

  /** Chunks held now. */
  get holding(): number {
    return this.held?.length ?? 0;
  }

  /** Sends what was held (one link connection is assumed). */
  release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const u of this.upstreams) for (const d of held) u.write(d);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  close(): void {
    this.cut();
    this.server.close();
  }
}

interface Node {
  broker: TestBroker;
  links: NodeLinks;
}

/** Two nodes; node-2's link is reached through a proxy. */
async function pair(ackTimeoutMs = 1000, backend: Backend = memoryBackend()): Promise<{ nodes: Node[]; proxy: LinkProxy }> {
  let target = 0;
  const proxy = new LinkProxy(() => target);
  proxies.push(proxy);
  const proxyPort = await proxy.listen();
  const nodes: Node[] = [];
  for (let i = 1; i <= 2; i++) {
    const links = new NodeLinks({
      nodeId: `node-${i}`,
      secret: SECRET,
      host: "127.0.0.1",
      port: 0,
      advertiseHost: "127.0.0.1",
      ...(i === 2 ? { advertisePort: proxyPort } : {}),
      ackTimeoutMs,
      handshakeTimeoutMs: 500,
      onError: () => {},
    });
    const broker = await startTestBroker({ nodeId: `node-${i}`, cluster: { heartbeatMs: 200, nodeTtlMs: 1000 } }, undefined, await backend.store(), {
      communicator: backend.communicator(),
      links,
    });
    started.push(broker);
    nodes.push({ broker, links });
  }
  const record = (await nodes[0]!.broker.broker.store.listNodes(Date.now())).find((n) => n.nodeId === "node-2");
  expect(record?.linkAddress).toBe(`127.0.0.1:${proxyPort}`);
  target = nodes[1]!.links.listenPort ?? 0;
  return { nodes, proxy };
}

async function connectTo(node: Node, clientId: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync({ host: "127.0.0.1", port: node.broker.mqttPort, clientId, reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Subscribes on node-2 and probes from node-1 until a probe arrives over the link (routes in place, link open). */
async function ready(nodes: Node[], sub: mqtt.MqttClient, got: string[], pub: mqtt.MqttClient, topic: string): Promise<void> {
  await sub.subscribeAsync(`${topic}/#`, { qos: 2 });
  let n = 0;
  await until(() => {
    if (got.some((p) => p.startsWith("probe")) && nodes[0]!.links.counters.ackedBatches > 0) return true;
    void pub.publishAsync(`${topic}/probe`, `probe-${n++}`, { qos: 1 });
    return false;
  }, "a probe over the link");
  got.length = 0;
}

function inbox(c: mqtt.MqttClient, topic: string): string[] {
  const got: string[] = [];
  c.on("message", (t, payload) => {
    if (t.startsWith(topic)) got.push(payload.toString());
  });
  return got;
}

describe("node links: forwards between nodes", () => {
  it("carry QoS 0, 1 and 2 in order over the link, acknowledged by the receiving node, without the node queue", async () => {
    const { nodes } = await pair();
    const sub = await connectTo(nodes[1]!, "l-sub");
    const got = inbox(sub, "l/");
    // The order PUBLISH packets arrive in: MQTT.js emits a QoS 2 message only at PUBREL, a round trip after the
    // PUBLISH, so its "message" events may put the next QoS 0 and 1 messages first on a busy machine.
    const wire: string[] = [];
    sub.on("packetreceive", (p) => {
      if (p.cmd === "publish" && p.topic === "l/x") wire.push(p.payload.toString());
    });
    const pub = await connectTo(nodes[0]!, "l-pub");
    await ready(nodes, sub, got, pub, "l");
    const fallbacks = Object.values(nodes[0]!.links.counters.fallbackBy).reduce((a, b) => a + b, 0);
    for (let i = 0; i < 30; i++) await pub.publishAsync("l/x", String(i), { qos: (i % 3) as 0 | 1 | 2 });
    await until(() => got.filter((p) => !p.startsWith("probe")).length >= 30, "30 messages");
    await new Promise((r) => setTimeout(r, 100));
    expect(wire).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
    expect(got.filter((p) => !p.startsWith("probe")).sort((a, b) => Number(a) - Number(b))).toEqual(wire);
    expect(Object.values(nodes[0]!.links.counters.fallbackBy).reduce((a, b) => a + b, 0)).toBe(fallbacks);
    expect(nodes[1]!.links.counters.receivedMessages).toBeGreaterThanOrEqual(30);
  });

  it("batches crossing each other do not wait on each other: no link times out on an ack", async () => {
    // A node acks a batch once what it caused landed, not once every earlier batch of its own is durable: those
    // include its own forwards to the sender, whose handler would wait for the same, a cycle that only the ack
    // timeout broke (a second of stalled acknowledgements each time, seen in test/cluster/processes-takeover).
    const { nodes, proxy } = await pair(2000);
    const [n1, n2] = nodes as [Node, Node];
    const sub1 = await connectTo(n1, "x-sub1", { clean: false });
    const sub2 = await connectTo(n2, "x-sub2", { clean: false });
    const got1 = inbox(sub1, "x/");
    const got2 = inbox(sub2, "x/");
    const pub1 = await connectTo(n1, "x-pub1");
    const pub2 = await connectTo(n2, "x-pub2");
    await ready(nodes, sub2, got2, pub1, "x/to2");
    await sub1.subscribeAsync("x/to1/#", { qos: 1 });
    let n = 0;
    await until(() => {
      if (got1.some((p) => p.startsWith("probe")) && n2.links.counters.ackedBatches > 0) return true;
      void pub2.publishAsync("x/to1/probe", `probe-${n++}`, { qos: 1 });
      return false;
    }, "a probe from node-2 to node-1 over the link");
    // node-1's batch to node-2 waits in the proxy while node-2's batch to node-1 arrives and is handled.
    proxy.hold();
    const first = pub1.publishAsync("x/to2/a", "a", { qos: 1 });
    await until(() => n1.links.counters.sentBatches > 0 && proxy.holding > 0, "node-1's batch to be held");
    const second = pub2.publishAsync("x/to1/b", "b", { qos: 1 });
    await until(() => got1.includes("b"), "node-2's message at node-1");
    proxy.release();
    await Promise.all([first, second]);
    await until(() => got2.includes("a"), "node-1's message at node-2");
    expect([n1.links.counters.fallbackBy["ack-timeout"], n2.links.counters.fallbackBy["ack-timeout"]]).toEqual([0, 0]);
  });

  it("a node that lost its lease and registered again sends and takes forwards over its links again", async () => {
    const { nodes } = await pair();
    const [n1, n2] = nodes as [Node, Node];
    const store = n1.broker.broker.store;
    // The store forgets node-1 (as if its record had expired): its next renewal is refused, its lease lost; it
    // closes its connections and its node queue and links, then registers again.
    const before = await connectTo(n1, "lease-old");
    const closed = new Promise<void>((resolve) => before.once("close", () => resolve()));
    await store.removeNode("node-1");
    await closed;
    await until(() => n1.links.listenPort !== null, "node-1's link listener again", 10_000);
    await new Promise<void>((resolve, reject) => {
      const poll = (): void => {
        void store.listNodes(Date.now()).then((list) => (list.some((n) => n.nodeId === "node-1") ? resolve() : setTimeout(poll, 20)), reject);
      };
      poll();
    });
    // node-1 -> node-2: node-1's outgoing links work again.
    const sub2 = await connectTo(n2, "lease-sub2");
    const got2 = inbox(sub2, "la/");
    const pub1 = await connectTo(n1, "lease-pub1");
    const acked = n1.links.counters.ackedBatches;
    let n = 0;
    await sub2.subscribeAsync("la/#", { qos: 1 });
    await until(() => {
      if (got2.length > 0 && n1.links.counters.ackedBatches > acked) return true;
      void pub1.publishAsync("la/x", `p-${n++}`, { qos: 1 });
      return false;
    }, "a forward from node-1 over its link after the new registration");
    // node-2 -> node-1: node-1 listens again on the port in its record.
    const sub1 = await connectTo(n1, "lease-sub1");
    const got1 = inbox(sub1, "lb/");
    const pub2 = await connectTo(n2, "lease-pub2");
    const received = n1.links.counters.receivedMessages;
    await sub1.subscribeAsync("lb/#", { qos: 1 });
    await until(() => {
      if (got1.length > 0 && n1.links.counters.receivedMessages > received) return true;
      void pub2.publishAsync("lb/x", `q-${n++}`, { qos: 1 });
      return false;
    }, "a forward to node-1 over its link after the new registration");
  });
});

describe.each([
  ["in-process node queues", false],
  ["SQS node queues (fauxqs) and the Redis store", true],
])("node links: faults, falling back to %s", (_name, real) => {
  if (real) {
    beforeAll(async () => {
      [redis, fauxqs] = await Promise.all([startRedisServer(), startFauxqs()]);
    }, 30_000);
    afterAll(async () => {
      await Promise.all([fauxqs?.stop(), redis?.stop()]);
    });
  }
  const backend = (): Backend => (real ? sqsBackend() : memoryBackend());

  it("a link killed mid-stream falls back to the node queue: every acknowledged QoS 1 message reaches the persistent subscriber", async () => {
    const { nodes, proxy } = await pair(1000, backend());
    const sub = await connectTo(nodes[1]!, "k-sub", { clean: false });
    const got = inbox(sub, "k/");
    const pub = await connectTo(nodes[0]!, "k-pub");
    await ready(nodes, sub, got, pub, "k");
    const acked: string[] = [];
    const stream = (async () => {
      for (let i = 0; i < 300; i += 10) {
        await Promise.all(Array.from({ length: 10 }, (_, j) => pub.publishAsync("k/x", String(i + j), { qos: 1 }).then(() => acked.push(String(i + j)))));
      }
    })();
    await until(() => acked.length >= 60, "60 acknowledged publishes");
    proxy.cut();
    await until(() => acked.length >= 150, "150 acknowledged publishes");
    proxy.cut();
    await stream;
    expect(acked).toHaveLength(300);
    // Probes sent before the stream may still arrive: they are not part of it.
    const received = () => new Set(got.filter((p) => !p.startsWith("probe")));
    await until(() => received().size >= 300, "every acknowledged message at the subscriber", 15_000);
    expect(received()).toEqual(new Set(acked));
    const f = nodes[0]!.links.counters.fallbackBy;
    expect(f.cut + f.down).toBeGreaterThan(0);
  });

  it("an ack lost on the way back: the batch goes by the node queue too, and the receiver hands it on once", async () => {
    const { nodes, proxy } = await pair(200, backend());
    const sub = await connectTo(nodes[1]!, "d-sub");
    const got = inbox(sub, "d/");
    const pub = await connectTo(nodes[0]!, "d-pub");
    await ready(nodes, sub, got, pub, "d");
    proxy.deaf = true; // node-2 receives and handles batches; its acks never arrive
    for (let i = 0; i < 5; i++) await pub.publishAsync("d/x", String(i), { qos: 1 });
    const stream = () => got.filter((p) => !p.startsWith("probe"));
    await until(() => stream().length >= 5, "5 messages");
    await new Promise((r) => setTimeout(r, 300));
    expect(stream()).toEqual(["0", "1", "2", "3", "4"]);
    expect(nodes[0]!.links.counters.fallbackBy["ack-timeout"]).toBeGreaterThanOrEqual(1);
    expect(nodes[1]!.links.counters.duplicates).toBeGreaterThanOrEqual(1);
  });
});
