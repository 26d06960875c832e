import mqtt from "mqtt";
import { afterEach, describe, expect, it } from "vitest";
import { MemoryCommunicator, MemoryRegistry } from "../../core/communicator/index.js";
import { MemoryEventSink } from "../../core/events/index.js";
import { MemoryStore } from "../../core/store/memory.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";

/**
 * Windows where an acknowledged message could be lost (issue 13, decision 020), each pinned deterministically with
 * nodes in this process: one shared memory store, node queues through the in-process communicator.
 */

const started: TestBroker[] = [];
const clients: mqtt.MqttClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => undefined)));
  await Promise.all(started.splice(0).map((b) => b.close()));
});

async function cluster(n: number): Promise<{ nodes: TestBroker[]; store: MemoryStore; registry: MemoryRegistry }> {
  const store = new MemoryStore();
  const registry = new MemoryRegistry();
  const nodes: TestBroker[] = [];
  for (let i = 0; i < n; i++) {
    const broker = await startTestBroker({ nodeId: `node-${i + 1}`, cluster: { heartbeatMs: 200, nodeTtlMs: 1000 } }, undefined, store, {
      communicator: new MemoryCommunicator({ registry }),
      events: new MemoryEventSink(),
    });
    started.push(broker);
    nodes.push(broker);
  }
  return { nodes, store, registry };
}

async function connect(node: TestBroker, clientId: string, opts: mqtt.IClientOptions = {}): Promise<mqtt.MqttClient> {
  const c = await mqtt.connectAsync({ host: "127.0.0.1", port: node.mqttPort, clientId, reconnectPeriod: 0, ...opts });
  clients.push(c);
  return c;
}

function collect(c: mqtt.MqttClient): string[] {
  const got: string[] = [];
  c.on("message", (_topic, payload) => got.push(payload.toString()));
  return got;
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
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
    cluster2.sessionChanged = () => undefined;
    const fresh = await connect(n2, "dev", { clean: false });
    const got = collect(fresh);
    expect(n1.broker.sessions.get("dev")?.link).not.toBeNull();
    // Delivered at node-1 to the old connection's session: the store refuses its write ("fenced").
    const pub = await connect(n1, "pub");
    await pub.publishAsync("t/1", "after", { qos: 1 });
    await until(() => got.length === 1, "the message on the new connection");
    expect(got).toEqual(["after"]);
  });
});
