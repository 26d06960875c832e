import mqtt from "mqtt";
import type { IPublishPacket } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { encodeNodeMessage, type MemoryCommunicator, type NodeMessage, NodeUnreachable } from "../../core/communicator/index.js";
import { gate, ghostNode, holdRoutes, useInProcessCluster } from "../cluster/in-process-support.js";
import type { TestBroker } from "../helpers/broker.js";
import { until } from "../helpers/wait.js";

/**
 * Deliveries forwarded to another node for one named session ("targeted": a session that moved in a take-over, an
 * offline enqueue the store answered `owned`, a dead node's queue drained) keep what the sending node matched:
 * the Subscription Identifiers and the RETAIN flag a Retain As Published subscription keeps. A forward the
 * receiving node matches itself (`match`) finds them in its own trie; these forwards name the session and do not.
 */
const ipc = useInProcessCluster();
const V5 = { protocolVersion: 5 as const, clean: false, properties: { sessionExpiryInterval: 600 } };

function collect(c: mqtt.MqttClient): IPublishPacket[] {
  const got: IPublishPacket[] = [];
  c.on("message", (_t, _p, pkt) => got.push(pkt));
  return got;
}

/** A client of `node` whose listener is in place before CONNACK (a resumed session's queue follows it at once). */
async function resume(node: TestBroker, clientId: string): Promise<{ c: mqtt.MqttClient; got: IPublishPacket[] }> {
  const c = mqtt.connect({ host: "127.0.0.1", port: node.mqttPort, clientId, reconnectPeriod: 0, ...V5 });
  ipc.clients.push(c);
  const got = collect(c);
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", reject);
  });
  return { c, got };
}

/** Subscription Identifiers and RETAIN of each message, by payload. */
const seen = (got: IPublishPacket[]): [string, unknown, boolean][] => got.map((p) => [p.payload.toString(), p.properties?.subscriptionIdentifier, p.retain]);

describe("targeted forwards between two nodes keep Subscription Identifiers and Retain As Published", () => {
  it("[MQTT-3.3.4-3] [MQTT-3.3.1-13] a session taken over from node A to node B while A's clients publish: every message on B carries the identifier and the RETAIN flag as published", async () => {
    // Two lease periods of forwarding copy on A (decision 017) outlast the test.
    const { nodes } = await ipc.cluster(2, { cluster: { nodeTtlMs: 5000 } });
    const [a, b] = nodes as [TestBroker, TestBroker];
    const old = await ipc.connect(a, "tk5", V5);
    const before = collect(old);
    await old.subscribeAsync("tk/#", { qos: 1, rap: true, properties: { subscriptionIdentifier: 7 } });
    // A never learns B's routes: what reaches the session on A after the move goes to B for it alone, whichever
    // way (the old connection's write fenced and routed again, an offline enqueue answered `owned`, the copy
    // forwarding to its new holder).
    holdRoutes(a);
    const pub = await ipc.connect(a, "tk-pub", { protocolVersion: 5 });
    let published = 0;
    let stop = false;
    const publishing = (async () => {
      for (; !stop; published++) await pub.publishAsync(`tk/${published % 5}`, String(published), { qos: 1, retain: published % 2 === 0 });
    })();
    await until(() => before.length >= 20, "20 messages on A");
    const { got } = await resume(b, "tk5");
    await until(() => a.broker.sessions.get("tk5")?.owner === "node-2", "A to forward to B");
    const moved = published;
    await until(() => got.some((p) => Number(p.payload.toString()) > moved + 20), "20 more messages after the move, on B");
    stop = true;
    await publishing;
    // None lost across the move, and every one B sent is as matched on A.
    const numbers = (): Set<number> => new Set([...before, ...got].map((p) => Number(p.payload.toString())));
    await until(() => numbers().size === published, `all ${published} messages on A or B`);
    expect(seen(got).filter(([, id, retain], i) => id !== 7 || retain !== (Number(got[i]?.payload.toString()) % 2 === 0))).toEqual([]);
  });

  it("[MQTT-3.3.4-3] [MQTT-3.3.1-13] an offline session's enqueue on A, answered `owned` because B claimed it, reaches the client on B with its identifier and RETAIN flag", async () => {
    const { nodes } = await ipc.cluster(2);
    const [a, b] = nodes as [TestBroker, TestBroker];
    const dev = await ipc.connect(a, "own5", V5);
    await dev.subscribeAsync("own/#", { qos: 1, rap: true, properties: { subscriptionIdentifier: 11 } });
    await dev.endAsync();
    // A hears neither of the claim (no take-over kick) nor of B's routes: its offline copy of the session queues in
    // the store, which names B.
    holdRoutes(a);
    (b.broker.cluster as NonNullable<typeof b.broker.cluster>).takeover = () => undefined;
    const { got } = await resume(b, "own5");
    const pub = await ipc.connect(a, "own-pub", { protocolVersion: 5 });
    await pub.publishAsync("own/1", "retained", { qos: 1, retain: true });
    await pub.publishAsync("own/2", "live", { qos: 1 });
    await until(() => got.length === 2, "both messages on B");
    expect(seen(got)).toEqual([
      ["retained", 11, true],
      ["live", 11, false],
    ]);
  });

  it("[MQTT-3.3.4-3] [MQTT-3.3.1-13] a forward that finds the session gone offline on B is stored there with its identifier and RETAIN flag", async () => {
    const { nodes, members } = await ipc.cluster(2);
    const [a, b] = nodes as [TestBroker, TestBroker];
    const dev = await ipc.connect(a, "off5", V5);
    await dev.subscribeAsync("off/#", { qos: 1, rap: true, properties: { subscriptionIdentifier: 13 } });
    await dev.endAsync();
    holdRoutes(a);
    (b.broker.cluster as NonNullable<typeof b.broker.cluster>).takeover = () => undefined;
    const first = await resume(b, "off5");
    // The forward from A waits until the client left B again: B queues it for the offline session in the store.
    const sends = gate(members[0]?.comm as MemoryCommunicator);
    const pub = await ipc.connect(a, "off-pub", { protocolVersion: 5 });
    const acked = pub.publishAsync("off/1", "queued on B", { qos: 1, retain: true });
    try {
      await until(() => sends.held() > 0, "A's forward to B");
      await first.c.endAsync();
      await until(() => b.broker.sessions.get("off5")?.link === null, "the session offline on B");
    } finally {
      sends.open();
    }
    await acked;
    const { got } = await resume(b, "off5");
    await until(() => got.length === 1, "the queued message");
    expect(seen(got)).toEqual([["queued on B", 13, true]]);
  });

  it("[MQTT-3.3.4-3] [MQTT-3.3.1-13] a forward that cannot be sent (B's queue gone) is stored in the session's queue with its identifier and RETAIN flag", async () => {
    const { nodes, members, store } = await ipc.cluster(2);
    const [a, b] = nodes as [TestBroker, TestBroker];
    const dev = await ipc.connect(a, "nq5", V5);
    await dev.subscribeAsync("nq/#", { qos: 1, rap: true, properties: { subscriptionIdentifier: 17 } });
    await dev.endAsync();
    holdRoutes(a);
    (b.broker.cluster as NonNullable<typeof b.broker.cluster>).takeover = () => undefined;
    await resume(b, "nq5");
    // A's forwards to B find no queue: A stores them for the session instead (its next claim sends them).
    const comm = members[0]?.comm as MemoryCommunicator;
    const send = comm.send.bind(comm);
    comm.send = async (node, messages) => {
      if (messages.some((m) => m.type === "deliver")) throw new NodeUnreachable(node);
      return send(node, messages);
    };
    const pub = await ipc.connect(a, "nq-pub", { protocolVersion: 5 });
    await pub.publishAsync("nq/1", "stored by A", { qos: 1, retain: true });
    const [out] = (await store.getSession("nq5"))?.outgoing ?? [];
    expect([out?.msg.payload.toString(), out?.subIds, out?.retain]).toEqual(["stored by A", [17], true]);
  });

  it("[MQTT-3.3.4-3] a targeted delivery left in a dead node's queue reaches the session's stored queue with its identifiers and RETAIN flag", async () => {
    const { store, registry } = await ipc.cluster(2);
    await ghostNode(store, registry, "gone5", "g/#");
    const left: NodeMessage = {
      type: "deliver",
      id: "ghost-5",
      origin: "node-9",
      seq: 1,
      msg: { topic: "g/1", payload: Buffer.from("left").toString("base64"), qos: 1, retain: true },
      targets: [{ clientId: "gone5", qos: 1, retain: true, subIds: [5, 6] }],
    };
    registry.injectRaw("ghost", [encodeNodeMessage(left)]);
    await until(async () => ((await store.getSession("gone5"))?.outgoing.length ?? 0) === 1, "the drained message in the stored queue");
    const [out] = (await store.getSession("gone5"))?.outgoing ?? [];
    expect([out?.msg.payload.toString(), out?.subIds, out?.retain]).toEqual(["left", [5, 6], true]);
  });
});
