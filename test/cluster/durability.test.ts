import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import type { MemoryCommunicator, NodeMessage } from "../../core/communicator/index.js";
import type { TestBroker } from "../helpers/broker.js";
import { routesTo, until } from "../helpers/wait.js";
import { gate, ghostNode, holdRoutes, payloads, slowClaims, useInProcessCluster } from "./in-process-support.js";

/**
 * Windows where an acknowledged message could be lost (issue 13, decision 020), each pinned deterministically with
 * nodes in this process: one shared memory store, node queues through the in-process communicator.
 */

const { cluster: startCluster, connect, clients } = useInProcessCluster();

/** Nodes with a dead node's queue kept `graceMs` after its sessions were released (decision 020). */
async function cluster(n: number, graceMs = 90_000) {
  const c = await startCluster(n, { cluster: { deadQueueGraceMs: graceMs } });
  return { ...c, communicators: c.members.map((m) => m.comm) };
}

describe("nothing acknowledged is lost: take-over", () => {
  it("a message routed to the old owner after another node claimed the session (its kick not arrived yet) reaches the new owner", async () => {
    const { nodes } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const old = await connect(n1, "dev", { clean: false });
    await old.subscribeAsync("t/#", { qos: 1 });
    // Node-2's kick and broadcast are late: node-1 keeps the old connection (and its stale epoch) for the test.
    const cluster2 = n2.broker.cluster as NonNullable<typeof n2.broker.cluster>;
    cluster2.takeover = () => undefined;
    const fresh = await connect(n2, "dev", { clean: false });
    const got = payloads(fresh);
    expect(n1.broker.sessions.get("dev")?.link).not.toBeNull();
    // Delivered at node-1 to the old connection's session: the store refuses its write ("fenced").
    const pub = await connect(n1, "pub");
    await pub.publishAsync("t/1", "after", { qos: 1 });
    await until(() => got.length === 1, "the message on the new connection");
    expect(got).toEqual(["after"]);
  });
});

describe("nothing acknowledged is lost: a re-routed delivery", () => {
  it("the publisher's PUBACK waits until the fenced delivery, routed again, was forwarded to the new owner", async () => {
    const { nodes, communicators } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const old = await connect(n1, "dev", { clean: false });
    await old.subscribeAsync("t/#", { qos: 1 });
    const cluster2 = n2.broker.cluster as NonNullable<typeof n2.broker.cluster>;
    cluster2.takeover = () => undefined;
    const fresh = await connect(n2, "dev", { clean: false });
    const got = payloads(fresh);
    const pub = await connect(n1, "pub");
    const sends = gate(communicators[0] as MemoryCommunicator);
    let sent = false;
    const acked = pub.publishAsync("t/1", "after", { qos: 1 }).then(() => sent);
    try {
      await until(() => sends.held() > 0, "the forward to node-2 to be attempted");
    } finally {
      sent = true;
      sends.open();
    }
    // PUBACK before the forward went out would vouch for a message that only node-1's memory held.
    expect(await acked).toBe(true);
    await until(() => got.length === 1, "the message on the new connection");
  });
});

describe("nothing acknowledged is lost: QoS 2", () => {
  it("the inbound packet id is recorded as routed only after the message's forwards went out, and PUBREC only after both", async () => {
    const { nodes, store, communicators } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const remote = await connect(n2, "remote", { clean: false });
    const got = payloads(remote);
    await remote.subscribeAsync("q/#", { qos: 2 });
    const local = await connect(n1, "local", { clean: false });
    await local.subscribeAsync("q/#", { qos: 2 });
    const routes1 = (n1.broker.cluster as NonNullable<typeof n1.broker.cluster>).routes;
    const routedToNode2 = (): boolean => {
      let found = false;
      routes1.table.match("q/1", (node) => (found ||= node === "node-2"));
      return found;
    };
    await until(routedToNode2, "node-1 to route to node-2");
    const sends = gate(communicators[0] as MemoryCommunicator);
    const pub = await connect(n1, "pub", { clean: false });
    const pubrec = new Promise<void>((resolve) => pub.on("packetreceive", (p) => p.cmd === "pubrec" && resolve()));
    let recorded = false;
    void pubrec.then(() => (recorded = true));
    void pub.publishAsync("q/1", "once", { qos: 2 });
    try {
      // The batch landed (the local subscriber's copy is stored) while the forward to node-2 is held back.
      await until(async () => ((await store.getSession("local"))?.outgoing.length ?? 0) === 1 && sends.held() > 0, "the local copy stored");
      // Were the node to die now, the client would send the PUBLISH again elsewhere: it must be routed again,
      // under the root recorded with the id (decision 025), not answered with PUBREC alone.
      const marker = await store.getSession("pub");
      expect(marker?.inboundQos2).toHaveLength(1);
      expect(Object.keys(marker?.inboundRoots ?? {})).toEqual(marker?.inboundQos2.map(String));
      expect(recorded).toBe(false);
    } finally {
      sends.open();
    }
    await pubrec;
    const routed = await store.getSession("pub");
    expect(routed?.inboundQos2).toHaveLength(1);
    expect(routed?.inboundRoots).toBeUndefined();
    await until(() => got.length === 1, "the message at node-2");
  });
});

/**
 * One node; the persistent session "dev" (subscribed to t/#) reconnects while the store is slow to answer its claim
 * (held until `release()`): its deliveries are held meanwhile. `pub` is a connected publisher, `got` what the
 * reconnected client receives.
 */
async function reconnectWhileClaimIsSlow() {
  const { nodes, store } = await cluster(1);
  const [n1] = nodes as [TestBroker];
  const first = await connect(n1, "dev", { clean: false });
  await first.subscribeAsync("t/#", { qos: 1 });
  await first.endAsync();
  const pub = await connect(n1, "pub");
  const { release } = slowClaims(store);
  const again = mqtt.connect({ host: "127.0.0.1", port: n1.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
  clients.push(again);
  const got = payloads(again);
  await until(() => n1.broker.sessions.get("dev")?.claimant !== null, "the claim to start");
  return { n1, pub, got, release };
}

describe("nothing acknowledged is lost: a claim in progress", () => {
  it("a message for a session being claimed is acknowledged only once it is stored (not while it waits in memory)", async () => {
    const { pub, got, release } = await reconnectWhileClaimIsSlow();
    let open = false;
    const acked = pub.publishAsync("t/1", "held", { qos: 1 }).then(() => open);
    setTimeout(() => {
      open = true;
      release();
    }, 300);
    // PUBACK before the claim went on would vouch for a message that only this process's memory holds.
    expect(await acked).toBe(true);
    await until(() => got.length === 1, "the held message on the reconnected client");
    expect(got).toEqual(["held"]);
  });
});

describe("a claim in progress: the batch its held deliveries land in", () => {
  it("a message held in the tick the claim ends does not hold that batch, and every later acknowledgement, forever", async () => {
    const { n1, pub, got, release } = await reconnectWhileClaimIsSlow();
    // The claim's answer and a message for the session in one tick: the message is held in the batch being filled,
    // and the claim, going on in that tick, releases it into the same batch.
    release();
    n1.broker.publish({ topic: "t/1", payload: Buffer.from("same tick"), qos: 1, retain: false });
    await until(() => got.length === 1, "the held message on the reconnected client");
    // The node still acknowledges: that batch became durable.
    let acked = false;
    void pub.publishAsync("t/2", "after", { qos: 1 }).then(() => (acked = true));
    await until(() => acked, "a PUBACK after the claim", 5000);
    await until(() => got.length === 2, "the later message");
    expect(got).toEqual(["same tick", "after"]);
  });
});

/** Like SQS: a send to a queue deleted in the last 60 s is accepted, and dropped. */
function acceptAfterDelete(communicators: MemoryCommunicator[]): void {
  const deleted = new Set<string>();
  for (const c of communicators) {
    const send = c.send.bind(c);
    const remove = c.deleteNodeQueue.bind(c);
    c.deleteNodeQueue = async (node) => {
      deleted.add(node);
      return remove(node);
    };
    c.send = async (node, messages) => (deleted.has(node) ? undefined : send(node, messages));
  }
}

describe("nothing acknowledged is lost: a dead node's queue", () => {
  it("is kept and drained for the grace period after its sessions were released: a late sender's message reaches the store", async () => {
    const { store, registry, communicators } = await cluster(2, 1000);
    acceptAfterDelete(communicators);
    await ghostNode(store, registry, "dev", "d/#");
    await until(async () => (await store.getSession("dev"))?.node === null, "the dead node's session released");
    // A node that had not noticed yet still routes to the dead node: SQS accepts the send.
    const late: NodeMessage = {
      type: "deliver",
      id: "node-2:late",
      origin: "node-2",
      seq: 1,
      msg: { topic: "d/1", payload: Buffer.from("late").toString("base64"), qos: 1, retain: false },
      targets: [{ clientId: "dev", qos: 1 }],
    };
    await (communicators[1] as MemoryCommunicator).send("ghost", [late]);
    await until(async () => ((await store.getSession("dev"))?.outgoing.length ?? 0) === 1, "the late message in the session's stored queue");
    expect((await store.getSession("dev"))?.outgoing.map((o) => o.msg.payload.toString())).toEqual(["late"]);
    // Then the queue goes, and the node's record with it.
    await until(async () => !registry.mailboxes.has("ghost") && (await store.expiredNodes(Date.now())).length === 0, "the dead node removed", 10_000);
  });
});

describe("nothing acknowledged is lost: a node that leaves", () => {
  it("keeps its queue after a graceful shutdown until the others retired it: a late sender's message reaches the store", async () => {
    const { nodes, store, registry, communicators } = await cluster(2, 500);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    acceptAfterDelete(communicators);
    const dev = await connect(n2, "dev", { clean: false });
    await dev.subscribeAsync("d/#", { qos: 1 });
    await until(() => routesTo(n1, "d/1", "node-2"), "node-1 to route to node-2");
    await n2.close();
    expect((await store.listNodes(Date.now())).map((n) => n.nodeId)).toEqual(["node-1"]);
    expect((await store.getSession("dev"))?.node).toBeNull();
    // A node that had not applied the hand-back yet still forwards to node-2: SQS accepts the send.
    const late: NodeMessage = {
      type: "deliver",
      id: "node-1:late",
      origin: "node-1",
      seq: 1,
      msg: { topic: "d/1", payload: Buffer.from("late").toString("base64"), qos: 1, retain: false },
      targets: [{ clientId: "dev", qos: 1 }],
    };
    await (communicators[0] as MemoryCommunicator).send("node-2", [late]);
    await until(async () => ((await store.getSession("dev"))?.outgoing.length ?? 0) === 1, "the late message in the session's stored queue");
    await until(async () => !registry.mailboxes.has("node-2") && (await store.expiredNodes(Date.now())).length === 0, "node-2's queue retired", 10_000);
  });
});

// test/cluster/processes.test.ts › "take-over from node-1 to node-2 … a publish from node-3 reaches the new one" lost
// its QoS 1 message about once in 12 runs, with no broker error. Its publish went out ~20 ms after the SUBACK on
// node-1: when node-3 had not yet received any session broadcast for the subscriber, nothing matched there and the
// PUBACK vouched for nothing. Routing to other nodes is eventually consistent (docs/cluster.md); the test now waits
// until node-3 routes to the session before the take-over. What it means to test, pinned here deterministically:
describe("the flaky take-over test, pinned", () => {
  it("a publish from a node that has not yet heard of a subscription on another node is not routed to it", async () => {
    const { nodes } = await cluster(3);
    const [n1, , n3] = nodes as [TestBroker, TestBroker, TestBroker];
    const late = holdRoutes(n3);
    const sub = await connect(n1, "dev", { clean: false });
    const got = payloads(sub);
    await sub.subscribeAsync("t/#", { qos: 1 });
    const pub = await connect(n3, "pub");
    expect(n3.broker.sessions.get("dev")).toBeUndefined();
    expect(routesTo(n3, "t/early", "node-1")).toBe(false);
    await pub.publishAsync("t/early", "early", { qos: 1 });
    await late.open();
    await until(() => routesTo(n3, "t/later", "node-1"), "node-3 to learn the subscription");
    await pub.publishAsync("t/later", "later", { qos: 1 });
    await until(() => got.length > 0, "the later message");
    expect(got).toEqual(["later"]);
  });

  it("a publish from a node with a stale view (the holder before a take-over) reaches the new holder, once", async () => {
    const { nodes } = await cluster(3);
    const [n1, n2, n3] = nodes as [TestBroker, TestBroker, TestBroker];
    const old = await connect(n1, "dev", { clean: false });
    await old.subscribeAsync("t/#", { qos: 1 });
    await until(() => routesTo(n3, "t/x", "node-1"), "node-3 to route to node-1");
    // Node-3 does not hear of the take-over: it keeps forwarding to node-1.
    const stale = holdRoutes(n3);
    const closed = new Promise<void>((resolve) => old.once("close", () => resolve()));
    const fresh = await connect(n2, "dev", { clean: false });
    const got = payloads(fresh);
    await closed;
    // Node-1 forwards what still reaches it for the session to node-2 (decision 017, "Moves").
    await until(() => n1.broker.sessions.get("dev")?.owner === "node-2", "node-1 to know the new holder");
    const pub = await connect(n3, "pub");
    await pub.publishAsync("t/after", "after", { qos: 1 });
    await until(() => got.length > 0, "the message on the new connection");
    expect(routesTo(n3, "t/after", "node-2")).toBe(false);
    await stale.open();
    await until(() => routesTo(n3, "t/x", "node-2"), "node-3 to route to node-2");
    // Both paths now: node-3 sends to node-2 directly and to node-1, which forwards it on; node-2 keeps one.
    await pub.publishAsync("t/both", "both", { qos: 1 });
    await until(() => got.length > 1, "the second message");
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual(["after", "both"]);
  });

});
