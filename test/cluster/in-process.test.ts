import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { encodeNodeMessage, type NodeMessage } from "../../core/communicator/index.js";
import { routesTo, until } from "../helpers/wait.js";
import { delta, scrape, value } from "../ops/support.js";
import { ghostNode, type Member, useInProcessCluster } from "./in-process-support.js";

/**
 * Cluster behaviour with several broker nodes in this process: one shared store, node queues through the
 * in-process communicator. Fast, and the same code paths as SQS; test/cluster/processes.test.ts runs real
 * processes with Redis and the SQS emulator.
 */

type Node = Member;

const inProcess = useInProcessCluster();
const clients = inProcess.clients;

/** Nodes with a dead node's queue deleted as soon as it is drained (no grace period). */
async function cluster(n: number, withMetrics = false) {
  const c = await inProcess.cluster(n, { cluster: { deadQueueGraceMs: 0 }, metrics: withMetrics });
  return { ...c, nodes: c.members };
}

function connect(node: Node, clientId: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return inProcess.connect(node.broker, clientId, opts);
}

function collect(c: mqtt.MqttClient): { topic: string; payload: string; qos: number }[] {
  const got: { topic: string; payload: string; qos: number }[] = [];
  c.on("message", (topic, payload, packet) => got.push({ topic, payload: payload.toString(), qos: packet.qos }));
  return got;
}

/** Whether `node`'s route table sends a message on `topic` to node `to`. */
function routes(node: Node, topic: string, to: string): boolean {
  return routesTo(node.broker, topic, to);
}

describe("cluster in one process", () => {
  it("delivers QoS 0/1/2 from a publisher on one node to a subscriber on another, in order", async () => {
    const { nodes } = await cluster(2);
    const sub = await connect(nodes[1]!, "sub");
    const got = collect(sub);
    await sub.subscribeAsync("a/#", { qos: 2 });
    const pub = await connect(nodes[0]!, "pub");
    await until(() => routes(nodes[0]!, "a/b", "node-2"), "the route to reach node-1");
    for (let i = 0; i < 30; i++) await pub.publishAsync("a/b", String(i), { qos: (i % 3) as 0 | 1 | 2 });
    await until(() => got.length === 30, "30 messages");
    expect(got.map((m) => m.payload)).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
    expect(got.map((m) => m.qos)).toEqual(Array.from({ length: 30 }, (_, i) => i % 3));
  });
});

describe("cluster in one process: metrics", () => {
  it("times sends to other nodes and to the events queue in mqgate_sqs_call_duration_seconds", async () => {
    const { nodes } = await cluster(2, true);
    const port = nodes[0]!.broker.metrics!.port;
    const before = await scrape(port);
    const sub = await connect(nodes[1]!, "m-sub");
    const got = collect(sub);
    await sub.subscribeAsync("m/#", { qos: 1 });
    await until(() => routes(nodes[0]!, "m/x", "node-2"), "the route on node-1");
    const pub = await connect(nodes[0]!, "m-pub");
    for (let i = 0; i < 5; i++) await pub.publishAsync("m/x", String(i), { qos: 1 });
    await until(() => got.length === 5, "5 messages on node-2");
    const after = await scrape(port);
    // Each acknowledged QoS 1 publish was forwarded (one send each: they were published one after the other) and
    // its event emitted; the connects add sends of their own.
    expect(delta(before, after, "mqgate_sqs_call_duration_seconds_count", { operation: "node-send" })).toBeGreaterThanOrEqual(5);
    expect(delta(before, after, "mqgate_sqs_call_duration_seconds_count", { operation: "events-send" })).toBeGreaterThanOrEqual(6);
    expect(value(after, "mqgate_sqs_call_errors_total", { operation: "node-send" })).toBe(0);
  });
});

describe("cluster in one process: routing", () => {
  it("overlapping and wildcard subscriptions on different nodes get exactly one copy each, at the highest granted QoS", async () => {
    const { nodes } = await cluster(3);
    const a = await connect(nodes[1]!, "a");
    const b = await connect(nodes[2]!, "b");
    const gotA = collect(a);
    const gotB = collect(b);
    await a.subscribeAsync({ "x/+/z": { qos: 0 }, "x/#": { qos: 2 }, "x/y/z": { qos: 1 } });
    await b.subscribeAsync({ "+/y/#": { qos: 1 }, "#": { qos: 0 } });
    await until(() => nodes[0]!.broker.cluster?.routes.table.size === 5, "routes replicated");
    const pub = await connect(nodes[0]!, "pub");
    await pub.publishAsync("x/y/z", "m", { qos: 2 });
    await until(() => gotA.length >= 1 && gotB.length >= 1, "both copies");
    await new Promise((r) => setTimeout(r, 200));
    expect(gotA).toEqual([{ topic: "x/y/z", payload: "m", qos: 2 }]);
    expect(gotB).toEqual([{ topic: "x/y/z", payload: "m", qos: 1 }]);
  });

  it("a QoS 1 message for an offline persistent session on another node is queued and delivered when it reconnects anywhere", async () => {
    const { nodes } = await cluster(3);
    const s1 = await connect(nodes[1]!, "dev", { clean: false });
    await s1.subscribeAsync("cmd/#", { qos: 1 });
    await s1.endAsync();
    await until(() => routes(nodes[0]!, "cmd/x", "node-2"), "the route of the offline session (kept by its custodian, node-2)");
    const pub = await connect(nodes[0]!, "pub");
    for (let i = 0; i < 5; i++) await pub.publishAsync("cmd/x", `c${i}`, { qos: 1 });
    const s2 = mqtt.connect({ host: "127.0.0.1", port: nodes[2]!.broker.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(s2);
    const got = collect(s2);
    await until(() => got.length === 5, "5 queued messages");
    expect(got.map((m) => m.payload)).toEqual(["c0", "c1", "c2", "c3", "c4"]);
  });

  it("take-over from node A to node B closes the old connection and resumes the session with its subscriptions", async () => {
    const { nodes } = await cluster(2);
    const old = await connect(nodes[0]!, "dev", { clean: false });
    await old.subscribeAsync("t/#", { qos: 1 });
    const closed = new Promise<void>((resolve) => old.once("close", () => resolve()));
    const fresh = mqtt.connect({ host: "127.0.0.1", port: nodes[1]!.broker.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(fresh);
    const connack = await new Promise<mqtt.IConnackPacket>((resolve) => fresh.once("connect", resolve));
    expect(connack.sessionPresent).toBe(true);
    await closed;
    const got = collect(fresh);
    // node-1 dropped its copy of the session and its route; node-2 has both.
    await until(() => !nodes[0]!.broker.broker.sessions.has("dev") && routes(nodes[0]!, "t/1", "node-2"), "node-1 to route to node-2");
    const pub = await connect(nodes[0]!, "pub");
    await pub.publishAsync("t/1", "after", { qos: 1 });
    await until(() => got.length === 1, "the message on the new connection");
    expect(got[0]?.payload).toBe("after");
  });

  it("a dead node's sessions go offline and what was left in its queue reaches the session's stored queue", async () => {
    const { nodes, store, registry } = await cluster(2);
    // A node that died: registered long ago, owning a persistent session, with a delivery left in its queue.
    await ghostNode(store, registry, "dev", "d/#");
    const left: NodeMessage = {
      type: "deliver",
      id: "ghost-1",
      origin: "node-9",
      seq: 1,
      msg: { topic: "d/1", payload: Buffer.from("left-behind").toString("base64"), qos: 1, retain: false },
      targets: [{ clientId: "dev", qos: 1 }],
    };
    registry.injectRaw("ghost", [encodeNodeMessage(left)]);
    await until(async () => (await store.listNodes(Date.now())).length === 2 && (await store.expiredNodes(Date.now())).length === 0, "ghost removed");
    const session = await store.getSession("dev");
    expect(session?.node).toBeNull();
    expect(session?.outgoing.map((o) => o.msg.payload.toString())).toEqual(["left-behind"]);
    const lost = nodes.flatMap((n) => n.events.events).filter((e) => e.type === "client.disconnected" && e.clientId === "dev");
    expect(lost.map((e) => (e.type === "client.disconnected" ? e.reason : ""))).toEqual(["node-failure"]);
  });
});
