import mqtt from "mqtt";
import { describe, expect, it } from "vitest";
import type { TestBroker } from "../helpers/broker.js";
import { until } from "../helpers/wait.js";
import { slowClaims, useInProcessCluster } from "./in-process-support.js";

/**
 * A claim the store answers after its connection went away still moved the session (finding S10, decision 023):
 * the node that held the client must close its connection then too. Otherwise the store names the claiming node,
 * the next claim kicks that node only, and the old connection lives on until its keepalive runs out: two nodes
 * serve one client (simulation, `storeStalls` with the CI faults, seed 12: 12 s).
 */
const { cluster, connect, clients } = useInProcessCluster();

describe("a take-over whose client leaves before the store answers its claim", () => {
  it("still closes the old connection on the node that held the client", async () => {
    const { nodes, store } = await cluster(2);
    const [n1, n2] = nodes as [TestBroker, TestBroker];
    const old = await connect(n1, "dev", { clean: false });
    await old.subscribeAsync("t/#", { qos: 1 });
    let closed = false;
    old.on("close", () => (closed = true));
    const { release } = slowClaims(store);
    const moving = mqtt.connect({ host: "127.0.0.1", port: n2.mqttPort, clientId: "dev", clean: false, reconnectPeriod: 0 });
    clients.push(moving);
    moving.on("error", () => undefined);
    await until(() => (n2.broker.sessions.get("dev")?.claimant ?? null) !== null, "node-2's claim to start");
    // The client gives up before CONNACK; the store then answers the claim.
    moving.end(true);
    await until(() => n2.broker.connections.size === 0, "node-2 to see the connection closed");
    release();
    await until(async () => (await store.getSession("dev"))?.epoch === 2, "the claim to land");
    await until(() => closed, "the old connection on node-1 to be closed");
    expect(n1.broker.sessions.get("dev")?.link ?? null).toBeNull();
    // The session is node-2's now, offline: a message published there is stored for it.
    const pub = await connect(n2, "pub");
    await pub.publishAsync("t/1", "after", { qos: 1 });
    await until(async () => ((await store.getSession("dev"))?.outgoing ?? []).some((o) => o.msg.payload.toString() === "after"), "the message in dev's stored queue");
  });
});
