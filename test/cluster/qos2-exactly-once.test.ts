import { describe, expect, it } from "vitest";
import type { MemoryCommunicator, NodeMessage } from "../../core/communicator/index.js";
import type { TestBroker } from "../helpers/broker.js";
import { routesTo, until } from "../helpers/wait.js";
import { payloads, useInProcessCluster } from "./in-process-support.js";
import { RawClient } from "../helpers/raw-client.js";
import { orderKeyOfRoot } from "../../core/order-key.js";

/**
 * QoS 2 exactly once in a cluster (decisions 025 and 023's S13): a persistent session's QoS 2 publish is routed
 * only once its root record was applied, so every copy exists under a root that a later claim's snapshot shows.
 * Nodes in this process: one shared memory store, node queues through the in-process communicator.
 */

const { cluster, connect } = useInProcessCluster();

describe("QoS 2 exactly once: a PUBLISH read after its session was claimed elsewhere", () => {
  it("is routed only once its root record was applied: no copy is written or sent before", async () => {
    const { nodes, store, members } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const remote = await connect(n2, "remote", { clean: false });
    const got = payloads(remote);
    await remote.subscribeAsync("q/#", { qos: 2 });
    const local = await connect(n1, "local", { clean: false });
    const gotLocal = payloads(local);
    await local.subscribeAsync("q/#", { qos: 2 });
    await until(() => routesTo(n1, "q/1", "node-2"), "node-1 to route to node-2");
    // The batch with the root record waits in the store until `release`; what it carries besides is noted.
    let release: (() => void) | null = null;
    let withRoot: string[] | null = null;
    const apply = store.apply.bind(store);
    store.apply = async (ops, key) => {
      if (withRoot === null && ops.some((op) => op.op === "inbound2.add" && op.clientId === "pub" && op.root !== undefined)) {
        withRoot = ops.filter((op) => op.op === "enqueue").map((op) => op.clientId);
        await new Promise<void>((resolve) => (release = resolve));
      }
      return apply(ops, key);
    };
    let forwarded = false;
    const comm = (members[0] as { comm: MemoryCommunicator }).comm;
    const send = comm.send.bind(comm);
    comm.send = async (node, messages) => {
      forwarded ||= messages.some((m: NodeMessage) => m.type === "deliver");
      return send(node, messages);
    };
    const pub = await connect(n1, "pub", { clean: false });
    const acked = pub.publishAsync("q/1", "once", { qos: 2 });
    try {
      await until(() => release !== null, "the root record to reach the store");
      await new Promise((r) => setTimeout(r, 100));
      expect(withRoot).toEqual([]);
      expect(forwarded).toBe(false);
    } finally {
      (release as (() => void) | null)?.();
    }
    await acked;
    await until(() => got.length === 1 && gotLocal.length === 1, "both copies");
  });

  it("keeps an MQTT 5 client's QoS 2 publishes in order through the wait, a topic alias included", async () => {
    const { nodes } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const sub = await connect(n2, "sub5", { clean: false });
    // PUBLISH packets as they arrive (mqtt.js emits a QoS 2 message only at PUBREL, after a later QoS 1 one).
    const got: string[] = [];
    sub.on("packetreceive", (p) => p.cmd === "publish" && got.push(p.payload.toString()));
    await sub.subscribeAsync("q/#", { qos: 2 });
    await until(() => routesTo(n1, "q/1", "node-2"), "node-1 to route to node-2");
    const pub = await connect(n1, "pub5", { protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 600 } });
    // Sent back to back: the second and third wait while the first one's root record is applied.
    const sent = [
      pub.publishAsync("q/1", "a", { qos: 2, properties: { topicAlias: 1 } }),
      pub.publishAsync("", "b", { qos: 2, properties: { topicAlias: 1 } }),
      pub.publishAsync("q/1", "c", { qos: 1 }),
    ];
    await Promise.all(sent);
    await until(() => got.length === 3, "the three messages");
    expect(got).toEqual(["a", "b", "c"]);
  });

  it("is not routed by the old holder (its root record is fenced): no PUBREC there, one copy from the new holder", async () => {
    // Decision 023, S13: a paused node read a client's QoS 2 PUBLISH after the client had taken its session to another
    // node and re-sent it there; both nodes routed it, under different roots, and the subscriber got it twice.
    const { nodes } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const sub = await connect(n2, "sub", { clean: false });
    const got = payloads(sub);
    await sub.subscribeAsync("q/#", { qos: 2 });
    await until(() => routesTo(n1, "q/1", "node-2"), "node-1 to route to node-2");
    const old = await connect(n1, "pub", { clean: false });
    // Node-2's kick is late: node-1 keeps the old connection, and its stale epoch, for the test.
    const cluster2 = n2.broker.cluster as NonNullable<typeof n2.broker.cluster>;
    cluster2.takeover = () => undefined;
    const fresh = await connect(n2, "pub", { clean: false });
    let pubrec = false;
    let closed = false;
    old.on("packetreceive", (p) => (pubrec ||= p.cmd === "pubrec"));
    old.once("close", () => (closed = true));
    old.publish("q/1", "late", { qos: 2 }, () => undefined);
    await until(() => closed || pubrec, "node-1 to answer the PUBLISH or close the connection");
    expect(pubrec).toBe(false);
    await n1.broker.journal.barrier();
    // The client sends it again on its new connection (here: the same payload as a new publish).
    await fresh.publishAsync("q/1", "late", { qos: 2 });
    await until(() => got.length > 0, "the message at the subscriber");
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual(["late"]);
  });

  it("sends no PUBREL over a 'PUBREL sent' record a newer claim fenced: the connection closes as taken over (decision 037, cause 2)", async () => {
    // A PUBREL here would let the client finish the exchange and forget the packet id, while the new owner's snapshot
    // still has the message unreceived and sends the PUBLISH again: a second message to the client.
    const { nodes, store } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const old = await connect(n1, "sub", { clean: false });
    await old.subscribeAsync("q/#", { qos: 2 });
    let pubrel = false;
    let closed = false;
    old.on("packetreceive", (p) => (pubrel ||= p.cmd === "pubrel"));
    old.once("close", () => (closed = true));
    // The "PUBREL sent" record waits in the store until node-2 claimed the session.
    let held: (() => void) | null = null;
    const apply = store.apply.bind(store);
    store.apply = async (ops, key) => {
      if (held === null && ops.some((op) => op.op === "outgoing.update" && op.clientId === "sub" && op.state === 1)) {
        await new Promise<void>((resolve) => (held = resolve));
      }
      return apply(ops, key);
    };
    const pub = await connect(n1, "pub", { clean: true });
    pub.publish("q/1", "once", { qos: 2 }, () => undefined);
    await until(() => held !== null, "the client's PUBREC and its record at the store");
    // Node-2's kick is late: node-1 keeps the old connection, under the stale epoch.
    const cluster2 = n2.broker.cluster as NonNullable<typeof n2.broker.cluster>;
    cluster2.takeover = () => undefined;
    await connect(n2, "sub", { clean: false });
    (held as unknown as () => void)();
    await until(() => closed || pubrel, "node-1 to answer the PUBREC or close the connection");
    await n1.broker.journal.barrier();
    expect(pubrel).toBe(false);
    expect(closed).toBe(true);
  });
});

describe("QoS 2 re-sent to another node keeps its order key (decision 038's key in decision 025's root)", () => {
  it("a PUBLISH routed again under its recorded root carries the key its first node gave it, not the new claim's", async () => {
    const { nodes, store } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    // An offline persistent subscriber in node-2's custody: what is routed for it is stored, with its order key.
    const sub = await connect(n2, "sub", { clean: false });
    await sub.subscribeAsync("q/#", { qos: 2 });
    await sub.endAsync();
    await until(() => routesTo(n1, "q/1", "node-2"), "node-1 to route to node-2");
    // Node-1 records the root and then never answers (it stops there, as if it died): nothing is routed by it.
    let recorded: string | null = null;
    let unblock: (() => void) | null = null;
    const apply = store.apply.bind(store);
    store.apply = async (ops, key) => {
      const op = ops.find((o) => o.op === "inbound2.add" && o.clientId === "pub" && o.root !== undefined);
      const results = await apply(ops, key);
      if (op !== undefined && op.op === "inbound2.add" && recorded === null) {
        recorded = op.root ?? null;
        await new Promise<void>((resolve) => (unblock = resolve));
      }
      return results;
    };
    const first = await RawClient.connected(n1.mqttPort, { clientId: "pub", clean: false });
    first.send({ cmd: "publish", topic: "q/1", payload: Buffer.from("once"), qos: 2, messageId: 7, retain: false, dup: false });
    await until(() => recorded !== null, "node-1's root record");
    // The client gives up on node-1 and re-sends the PUBLISH to node-2, whose claim shows the root not routed yet.
    const second = await RawClient.connected(n2.mqttPort, { clientId: "pub", clean: false });
    second.send({ cmd: "publish", topic: "q/1", payload: Buffer.from("once"), qos: 2, messageId: 7, retain: false, dup: true });
    await second.expect("pubrec");
    const stored = (await store.getSession("sub"))?.outgoing ?? [];
    expect(stored.map((o) => o.msg.payload.toString())).toEqual(["once"]);
    expect(stored[0]?.msg.order).toBe(orderKeyOfRoot(recorded as unknown as string));
    (unblock as (() => void) | null)?.();
    first.destroy();
    second.destroy();
  });
});
