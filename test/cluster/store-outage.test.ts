import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { encodeNodeMessage, MemoryCommunicator, MemoryRegistry, type NodeMessage } from "../../core/communicator/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import type { Store } from "../../core/store/types.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { until } from "../helpers/wait.js";

/**
 * A store outage longer than the node TTL is not the death of every node (decision 032): every node loses its
 * lease, closes its connections and registers again when the store answers; none of them takes the others'
 * sessions for those of a dead node because it happened to register first.
 */

const started: TestBroker[] = [];
const clients: mqtt.MqttClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  await Promise.all(started.splice(0).map((b) => b.close().catch(() => undefined)));
});

interface Connection {
  store: Store;
  /** Every call fails. */
  down: boolean;
  /** `getSession` calls wait until `release()`. */
  holdReads: boolean;
  /** Calls of this method take effect, but their replies are lost (once each). */
  loseReplies: string[];
  held: (() => void)[];
  release(): void;
}

/** One node's connection to the shared store. */
function connection(memory: MemoryStore): Connection {
  const link: Connection = {
    down: false,
    holdReads: false,
    loseReplies: [],
    held: [],
    store: memory as Store,
    release() {
      link.holdReads = false;
      for (const go of link.held.splice(0)) go();
    },
  };
  link.store = new Proxy(memory, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== "function" || prop === "close") return v;
      return async (...args: unknown[]) => {
        if (link.down) throw new Error(`store unreachable (test) in ${String(prop)}`);
        if (link.holdReads && prop === "getSession") await new Promise<void>((resolve) => link.held.push(resolve));
        const result = await (v as (...a: unknown[]) => unknown).apply(target, args);
        const lost = link.loseReplies.indexOf(String(prop));
        if (lost >= 0) {
          link.loseReplies.splice(lost, 1);
          throw new Error(`store reply lost (test) in ${String(prop)}`);
        }
        return result;
      };
    },
  }) as Store;
  return link;
}

async function twoNodes(nodeTtlMs = 1000): Promise<{ memory: MemoryStore; registry: MemoryRegistry; links: [Connection, Connection]; nodes: [TestBroker, TestBroker] }> {
  const memory = new MemoryStore();
  const registry = new MemoryRegistry();
  const links: [Connection, Connection] = [connection(memory), connection(memory)];
  for (const [i, link] of links.entries()) {
    const node = await startTestBroker({ nodeId: `node-${i + 1}`, cluster: { heartbeatMs: 100, nodeTtlMs } }, undefined, link.store, {
      communicator: new MemoryCommunicator({ registry }),
    });
    started.push(node);
  }
  return { memory, registry, links, nodes: started as [TestBroker, TestBroker] };
}

const registered = async (memory: MemoryStore, node: string): Promise<boolean> => (await memory.listNodes(Date.now())).some((n) => n.nodeId === node);

/** A `match` forward of QoS 1 on `t/1` from a node long gone, received by `node` now (a late drain). */
function injectLateForward(registry: { injectRaw(node: string, bodies: string[]): void }, node: string): void {
  const late: NodeMessage = {
    type: "deliver",
    id: "late-1",
    origin: "node-9",
    seq: 1,
    msg: { topic: "t/1", payload: Buffer.from("late").toString("base64"), qos: 1, retain: false },
    targets: [],
    match: true,
  };
  registry.injectRaw(node, [encodeNodeMessage(late)]);
}

describe("a store outage longer than the TTL", () => {
  it("is not taken for the death of the nodes that register again a little later: their sessions stay theirs", async () => {
    // A TTL well above the time a node takes to register again once its store answers (its retries back off to
    // about 1 s while the store is down), so "a little later" stays within node-1's first TTL.
    const ttl = 2500;
    const { memory, links, nodes } = await twoNodes(ttl);
    const [, n2] = nodes;
    const dev = await mqtt.connectAsync({ host: "127.0.0.1", port: n2.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(dev);
    await dev.subscribeAsync("t/#", { qos: 1 });
    expect(await memory.sessionsInCustodyOf("node-2")).toEqual(["dev"]);
    // The store goes away for both nodes, longer than the TTL; node-2 gets it back 400 ms after node-1.
    for (const link of links) link.down = true;
    await until(async () => (await memory.expiredNodes(Date.now())).length === 2, "both leases to expire");
    links[0].down = false;
    await until(() => registered(memory, "node-1"), "node-1 to register again");
    const back = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 400));
    links[1].down = false;
    await until(() => registered(memory, "node-2"), "node-2 to register again");
    // Node-1 judges the nodes only after holding its own lease a TTL; node-2 registered again within it. Wait
    // until node-1 has judged (its TTL and a few heartbeats since it registered).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, back + ttl + 500 - Date.now())));
    expect(await memory.sessionsInCustodyOf("node-2")).toEqual(["dev"]);
    expect(await memory.sessionsInCustodyOf("node-1")).toEqual([]);
  });

  it("a reload of the node's custody that a store error interrupts is done again: a forward received meanwhile finds its session", async () => {
    const ttl = 2500; // as in the first case: node-1 registers again within node-2's first TTL, so nothing is adopted
    const { memory, registry, links, nodes } = await twoNodes(ttl);
    const [n1, n2] = nodes;
    const first = await mqtt.connectAsync({ host: "127.0.0.1", port: n1.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(first);
    await first.subscribeAsync("t/#", { qos: 1 });
    // The store goes away: node-1 closes dev's connection when its lease runs out, and cannot release the session.
    for (const link of links) link.down = true;
    await until(async () => (await memory.expiredNodes(Date.now())).length === 2, "both leases to expire");
    expect((await memory.getSession("dev"))?.node).toBe("node-1");
    links[1].down = false;
    await until(() => registered(memory, "node-2"), "node-2 to register again");
    // Node-1 comes back; the reload's release of dev takes effect but its reply is lost (decision 036, seed 197).
    links[0].loseReplies.push("releaseSession");
    links[0].down = false;
    await until(() => registered(memory, "node-1"), "node-1 to register again");
    injectLateForward(registry, "node-1");
    await until(() => links[0].loseReplies.length === 0 && n1.broker.sessions.has("dev"), "node-1 to hold dev again");
    const dev = await mqtt.connectAsync({ host: "127.0.0.1", port: n2.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(dev);
    const got: string[] = [];
    dev.on("message", (_t, payload) => got.push(payload.toString()));
    await until(() => got.length === 1, "the late forward at dev on node-2");
    expect(got).toEqual(["late"]);
  });

  it("a session of the node's custody claimed elsewhere while the node reloads it stays here as a copy: a forward meant for it is passed on", async () => {
    const { memory, registry, links, nodes } = await twoNodes();
    const [n1, n2] = nodes;
    const first = await mqtt.connectAsync({ host: "127.0.0.1", port: n1.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    await first.subscribeAsync("t/#", { qos: 1 });
    await first.endAsync();
    expect(await memory.sessionsInCustodyOf("node-1")).toEqual(["dev"]);
    for (const link of links) link.down = true;
    await until(async () => (await memory.expiredNodes(Date.now())).length === 2, "both leases to expire");
    links[1].down = false;
    await until(() => registered(memory, "node-2"), "node-2 to register again");
    // Node-1 comes back and reloads its custody; the session's snapshot is read only after dev was claimed on node-2.
    links[0].holdReads = true;
    links[0].down = false;
    await until(() => links[0].held.length > 0, "node-1 to read its custody's snapshots");
    const dev = await mqtt.connectAsync({ host: "127.0.0.1", port: n2.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(dev);
    const got: string[] = [];
    dev.on("message", (_t, payload) => got.push(payload.toString()));
    links[0].release();
    await until(() => registered(memory, "node-1"), "node-1 to register again");
    // A match forward node-1's earlier incarnation was sent while dev was its session, received now.
    injectLateForward(registry, "node-1");
    await until(() => got.length === 1, "the late forward at dev on node-2");
    expect(got).toEqual(["late"]);
  });
  it("a node that loses its lease hands what it received and has not finished handling back to its queue (decision 046)", async () => {
    class Counting extends MemoryCommunicator {
      handBacks = 0;
      handBack(): void {
        this.handBacks++;
      }
    }
    const memory = new MemoryStore();
    const link = connection(memory);
    const comm = new Counting({ registry: new MemoryRegistry() });
    started.push(await startTestBroker({ nodeId: "node-1", cluster: { heartbeatMs: 100, nodeTtlMs: 1000 } }, undefined, link.store, { communicator: comm }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(comm.handBacks).toBe(0);
    link.down = true;
    await until(() => comm.handBacks > 0, "the lease to run out");
  });
});
