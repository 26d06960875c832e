import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import { MemoryCommunicator, type NodeMessage } from "../../core/communicator/index.js";
import type { MemoryEventSink } from "../../core/events/index.js";
import type { MemoryStore } from "../../core/store/memory.js";
import type { TestBroker } from "../helpers/broker.js";
import { until } from "../helpers/wait.js";
import { useInProcessCluster } from "./in-process-support.js";

/**
 * Routes, not sessions (decision 017), with several nodes in this process: a node holds only the sessions it
 * serves; the others know its filters through the route table, and a publish goes once to each matching node.
 */

/** A communicator that records what its node sends. */
class RecordingCommunicator extends MemoryCommunicator {
  readonly sent: { node: string; message: NodeMessage }[] = [];

  override send(nodeId: string, messages: NodeMessage[]): Promise<void> {
    for (const message of messages) this.sent.push({ node: nodeId, message });
    return super.send(nodeId, messages);
  }
}

interface Node {
  broker: TestBroker;
  comm: RecordingCommunicator;
  events: MemoryEventSink;
}

const inProcess = useInProcessCluster();
const clients = inProcess.clients;

async function cluster(n: number): Promise<{ nodes: Node[]; store: MemoryStore }> {
  const c = await inProcess.cluster(n, { cluster: { heartbeatMs: 100, nodeTtlMs: 600 }, communicator: (registry) => new RecordingCommunicator({ registry }) });
  return { nodes: c.members.map((m) => ({ ...m, comm: m.comm as RecordingCommunicator })), store: c.store };
}

function connect(node: Node, clientId: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  return inProcess.connect(node.broker, clientId, opts);
}


/** The nodes `node` would forward a message on `topic` to. */
function routedTo(node: Node, topic: string): string[] {
  const to = new Set<string>();
  node.broker.cluster?.routes.table.match(topic, (n) => to.add(n));
  return [...to].sort();
}

const SESSIONS = 40;

/** SESSIONS persistent sessions on `node`, each with its own filter and the shared one, left offline. */
async function devices(node: Node, prefix: string): Promise<void> {
  for (let i = 0; i < SESSIONS; i++) {
    const c = await connect(node, `${prefix}-${i}`, { clean: false });
    await c.subscribeAsync({ [`dev/${prefix}-${i}/cmd`]: { qos: 1 }, "fleet/all": { qos: 1 } });
    await c.endAsync();
  }
}

describe("routes, not sessions", () => {
  it("a node holds no Session for sessions served elsewhere; its route table has their filters, once per filter", async () => {
    const { nodes } = await cluster(3);
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    await devices(n1, "d");
    expect(n1.broker.broker.sessions.size).toBe(SESSIONS); // offline, in node-1's custody
    for (const other of [n2, n3]) {
      await until(() => other.broker.cluster?.routes.table.size === SESSIONS + 1, `the routes of node-1 on ${other.broker.config.nodeId}`);
      expect(other.broker.broker.sessions.size).toBe(0);
      expect(other.broker.broker.subscriptionCount).toBe(0);
      expect(routedTo(other, "dev/d-7/cmd")).toEqual(["node-1"]);
      expect(routedTo(other, "fleet/all")).toEqual(["node-1"]);
      expect(routedTo(other, "dev/unknown/cmd")).toEqual([]);
    }
    // node-1's own routes are in the store exactly once per distinct filter.
    expect((await n1.broker.broker.store.routeDigests()).digests["node-1"]?.count).toBe(SESSIONS + 1);
  });

  it("a publish matching many sessions on another node is forwarded once; that node queues it for each of them", async () => {
    const { nodes, store } = await cluster(2);
    const [n1, n2] = nodes as [Node, Node];
    await devices(n1, "f");
    await until(() => routedTo(n2, "fleet/all").includes("node-1"), "node-1's routes on node-2");
    const pub = await connect(n2, "pub");
    const before = n2.comm.sent.length;
    await pub.publishAsync("fleet/all", "to everyone", { qos: 1 });
    const forwards = n2.comm.sent.slice(before).filter((s) => s.message.type === "deliver");
    expect(forwards.length).toBe(1);
    expect(forwards[0]?.node).toBe("node-1");
    expect(forwards[0]?.message).toMatchObject({ type: "deliver", match: true, targets: [] });
    await until(async () => (await store.getSession(`f-${SESSIONS - 1}`))?.outgoing.length === 1, "the message queued for every session");
    for (let i = 0; i < SESSIONS; i++) expect((await store.getSession(`f-${i}`))?.outgoing.map((o) => o.msg.payload.toString())).toEqual(["to everyone"]);
  });

  it("removing a node's last subscriber to a filter removes the route; a take-over moves the routes with the session", async () => {
    const { nodes } = await cluster(2);
    const [n1, n2] = nodes as [Node, Node];
    const a = await connect(n1, "mover", { clean: false });
    await a.subscribeAsync("move/#", { qos: 1 });
    await until(() => routedTo(n2, "move/x").includes("node-1"), "the route on node-2");
    const b = await connect(n2, "mover", { clean: false }); // take-over: node-1 drops its copy and its route
    await until(() => !n1.broker.broker.sessions.has("mover") && routedTo(n1, "move/x").includes("node-2") && routedTo(n2, "move/x").length === 0, "the route moved to node-2");
    await b.unsubscribeAsync("move/#");
    await until(() => routedTo(n1, "move/x").length === 0, "the route removed");
    void a;
  });

  it("after a take-over the old holder passes on what still comes to it (a node whose routes lag), once", async () => {
    const { nodes } = await cluster(3);
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    const first = await connect(n1, "lagged", { clean: false });
    await first.subscribeAsync("lag/#", { qos: 1 });
    await first.endAsync();
    await until(() => routedTo(n3, "lag/x").includes("node-1"), "node-1's route on node-3");
    await n3.broker.cluster?.routes.stop(); // node-3 stops reading the route log: it keeps routing to node-1
    const moved = mqtt.connect({ host: "127.0.0.1", port: n2.broker.mqttPort, clientId: "lagged", clean: false, reconnectPeriod: 0 });
    clients.push(moved);
    const got: string[] = [];
    moved.on("message", (_t, p) => got.push(p.toString()));
    await new Promise((resolve) => moved.once("connect", resolve));
    await until(() => routedTo(n1, "lag/x").includes("node-2"), "node-2's route on node-1");
    const pub = await connect(n3, "lag-pub");
    await pub.publishAsync("lag/x", "via the old holder", { qos: 1 });
    await until(() => got.length === 1, "the message on node-2");
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual(["via the old holder"]);
  });

  it("a route table that diverged from the store (a lost change) is repaired at the next heartbeat by the digests", async () => {
    const { nodes } = await cluster(2);
    const [n1, n2] = nodes as [Node, Node];
    await devices(n1, "g");
    await until(() => routedTo(n2, "dev/g-5/cmd").includes("node-1"), "node-1's routes on node-2");
    const table = n2.broker.cluster?.routes.table;
    table?.remove("node-1", "dev/g-5/cmd"); // as if node-2 had missed that log entry
    table?.add("node-1", "ghost/route"); // and applied one that never was
    expect(routedTo(n2, "dev/g-5/cmd")).toEqual([]);
    await until(() => routedTo(n2, "dev/g-5/cmd").includes("node-1") && routedTo(n2, "ghost/route").length === 0, "the digest check to reload node-1's routes");
    expect(table?.size).toBe(SESSIONS + 1);
  });

  it("a dead node's offline sessions are adopted by the survivors (routes first, epochs bumped) and keep receiving", async () => {
    const { nodes, store } = await cluster(3);
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    await devices(n3, "z");
    await until(() => routedTo(n1, "fleet/all").includes("node-3"), "node-3's routes on node-1");
    const epochs = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => store.getSession(`z-${i}`).then((s) => s?.epoch ?? 0)));
    // node-3 dies (SIGKILL-like: nothing of a graceful leave; its record just expires): its listeners close, its
    // heartbeats and route polls stop.
    await n3.broker.cluster?.kill();
    await n3.broker.close().catch(() => undefined);
    await until(async () => (await store.sessionsInCustodyOf("node-3")).length === 0 && !routedTo(n1, "fleet/all").includes("node-3"), "the sessions adopted and node-3's routes gone", 10_000);
    const custodians = new Set(await Promise.all(Array.from({ length: SESSIONS }, (_, i) => store.custodianOf(`z-${i}`))));
    expect([...custodians].sort()).toEqual(["node-1", "node-2"]);
    for (let i = 0; i < SESSIONS; i++) expect((await store.getSession(`z-${i}`))?.epoch).toBeGreaterThan(epochs[i] as number);
    expect(n1.broker.broker.sessions.size + n2.broker.broker.sessions.size).toBe(SESSIONS);
    const pub = await connect(n1, "pub");
    await pub.publishAsync("fleet/all", "after", { qos: 1 });
    await pub.publishAsync("dev/z-3/cmd", "just you", { qos: 1 });
    await until(async () => (await store.getSession(`z-${SESSIONS - 1}`))?.outgoing.length === 1, "queued for the adopted sessions");
    const back = mqtt.connect({ host: "127.0.0.1", port: n2.broker.mqttPort, clientId: "z-3", clean: false, reconnectPeriod: 0 });
    clients.push(back);
    const got: string[] = [];
    back.on("message", (_t, p) => got.push(p.toString()));
    await until(() => got.length === 2, "both messages after the reconnect");
    expect(got).toEqual(["after", "just you"]);
  });
});
