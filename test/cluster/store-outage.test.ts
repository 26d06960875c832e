import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryCommunicator, MemoryRegistry } from "../../core/communicator/index.js";
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

/** One node's connection to the shared store: every call fails while `down`. */
function connection(memory: MemoryStore): { store: Store; down: boolean } {
  const link = { down: false, store: memory as Store };
  link.store = new Proxy(memory, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== "function" || prop === "close") return v;
      return (...args: unknown[]) => {
        if (link.down) return Promise.reject(new Error(`store unreachable (test) in ${String(prop)}`));
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Store;
  return link;
}

describe("a store outage longer than the TTL", () => {
  it("is not taken for the death of the nodes that register again a little later: their sessions stay theirs", async () => {
    const memory = new MemoryStore();
    const registry = new MemoryRegistry();
    const links = [connection(memory), connection(memory)];
    for (const [i, link] of links.entries()) {
      const node = await startTestBroker({ nodeId: `node-${i + 1}`, cluster: { heartbeatMs: 100, nodeTtlMs: 1000 } }, undefined, link.store, {
        communicator: new MemoryCommunicator({ registry }),
      });
      started.push(node);
    }
    const [, n2] = started as [TestBroker, TestBroker];
    const dev = await mqtt.connectAsync({ host: "127.0.0.1", port: n2.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(dev);
    await dev.subscribeAsync("t/#", { qos: 1 });
    expect(await memory.sessionsInCustodyOf("node-2")).toEqual(["dev"]);
    // The store goes away for both nodes, longer than the TTL; node-2 gets it back 400 ms after node-1.
    for (const link of links) link.down = true;
    await until(async () => (await memory.expiredNodes(Date.now())).length === 2, "both leases to expire");
    (links[0] as { down: boolean }).down = false;
    await until(async () => (await memory.listNodes(Date.now())).some((n) => n.nodeId === "node-1"), "node-1 to register again");
    await new Promise((resolve) => setTimeout(resolve, 400));
    (links[1] as { down: boolean }).down = false;
    await until(async () => (await memory.listNodes(Date.now())).some((n) => n.nodeId === "node-2"), "node-2 to register again");
    // Node-1 judges the nodes only after holding its own lease a TTL; node-2 registered again within it.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await memory.sessionsInCustodyOf("node-2")).toEqual(["dev"]);
    expect(await memory.sessionsInCustodyOf("node-1")).toEqual([]);
  });
});
