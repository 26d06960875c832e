import { connect as netConnect } from "node:net";
import { generate } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import type { MemoryStore } from "../../core/store/memory.js";
import type { TestBroker } from "../helpers/broker.js";
import { payloads, useInProcessCluster } from "./in-process-support.js";

/**
 * A client that ends its side of the stream while its connection is suspended (a persistent session's QoS 2 PUBLISH
 * waits for its root record, decision 023 S13): the packets read before the end are handled first.
 */

const { cluster, connect } = useInProcessCluster();

/** A store that takes 200 ms to apply a batch with an inbound QoS 2 record (a remote store, a stall). */
function slowRootRecords(store: MemoryStore): void {
  const apply = store.apply.bind(store);
  store.apply = async (ops, key) => {
    if (ops.some((op) => op.op === "inbound2.add")) await new Promise((r) => setTimeout(r, 200));
    return apply(ops, key);
  };
}

/** CONNECT (clean = 0, with a will), then PUBLISH and, when asked, DISCONNECT in one write, then FIN. */
async function publishAndEnd(node: TestBroker, qos: 1 | 2, disconnect: boolean): Promise<void> {
  const sock = netConnect(node.mqttPort, "127.0.0.1");
  await new Promise<void>((r) => sock.once("connect", () => r()));
  const connack = new Promise<void>((r) => sock.once("data", () => r()));
  const will = { topic: "will/dev", payload: Buffer.from("gone"), qos: 1 as const, retain: false };
  sock.write(generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: false, clientId: "dev", keepalive: 60, will }));
  await connack;
  const publish = generate({ cmd: "publish", topic: "q/1", payload: Buffer.from("x"), qos, messageId: 1, dup: false, retain: false });
  sock.end(disconnect ? Buffer.concat([publish, generate({ cmd: "disconnect" })]) : publish);
  await new Promise<void>((r) => sock.once("close", () => r()));
}

describe("a stream ended while the connection waits for a QoS 2 root record", () => {
  /** Two nodes whose store answers root records late, and the wills published on node-1 as they come. */
  async function watched(): Promise<{ n1: TestBroker; wills: string[] }> {
    const { nodes, store } = await cluster(2);
    slowRootRecords(store);
    const [n1] = nodes as [TestBroker, TestBroker];
    const watcher = await connect(n1, "watch", { clean: true });
    const wills = payloads(watcher);
    await watcher.subscribeAsync("will/#", { qos: 1 });
    return { n1, wills };
  }

  it("PUBLISH (QoS 2), DISCONNECT, FIN: the DISCONNECT is handled, no will", async () => {
    const { n1, wills } = await watched();
    await publishAndEnd(n1, 2, true);
    await new Promise((r) => setTimeout(r, 800));
    expect(wills).toEqual([]);
  });

  it("PUBLISH (QoS 2), FIN without DISCONNECT: the connection still closes, and the will goes", async () => {
    const { n1, wills } = await watched();
    await publishAndEnd(n1, 2, false);
    await new Promise((r) => setTimeout(r, 800));
    expect(wills).toEqual(["gone"]);
  });
});
