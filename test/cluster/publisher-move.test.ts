import { describe, expect, it } from "vitest";
import type mqtt from "mqtt";
import { payloads, slowGroup, useInProcessCluster, type Member } from "./in-process-support.js";
import { routesTo, until } from "../helpers/wait.js";

describe("order across a publisher's move between nodes (decision 044)", () => {
  const { cluster, connect } = useInProcessCluster();

  /** Two nodes and a persistent subscriber of t/x on node-2, with what it gets. */
  async function subscriberOnNode2(): Promise<{ a: Member; b: Member; got: string[] }> {
    const { members } = await cluster(2);
    const [a, b] = members as [Member, Member];
    const sub = await connect(b.broker, "sub", { clean: false });
    await sub.subscribeAsync("t/x", { qos: 1 });
    return { a, b, got: payloads(sub) };
  }

  /**
   * `pub`, with a will, moves from node-1 to node-2 while node-1's messages to node-2 (its reply to the take-over
   * kick among them) wait (`slow`).
   */
  async function movesWithAWill(): Promise<{ got: string[]; pubB: mqtt.MqttClient; slow: ReturnType<typeof slowGroup> }> {
    const { a, b, got } = await subscriberOnNode2();
    await connect(a.broker, "pub", { clean: false });
    const slow = slowGroup(a.comm, "node-2");
    slow.close();
    const will = { topic: "t/x", payload: Buffer.from("will"), qos: 1 as const, retain: false };
    const pubB = await connect(b.broker, "pub", { clean: false, will });
    return { got, pubB, slow };
  }

  /**
   * Two nodes; a persistent subscriber of t/x on node-2 (node-1 routes there) has got m0 from the persistent
   * publisher `pub` on node-1; from now on node-1's messages to node-2 wait (`slow`). The publisher then
   * sends m1 through node-1, which node-1 acknowledges (its forward accepted, not read yet).
   */
  async function m1OnItsWay(): Promise<{ a: Member; b: Member; got: string[]; pubA: mqtt.MqttClient; slow: ReturnType<typeof slowGroup> }> {
    const { a, b, got } = await subscriberOnNode2();
    await until(() => routesTo(a.broker, "t/x", "node-2"), "node-1 to learn node-2's route for t/x");
    const pubA = await connect(a.broker, "pub", { clean: false });
    await pubA.publishAsync("t/x", "m0", { qos: 1 });
    await until(() => got.includes("m0"), "m0 at the subscriber");
    const slow = slowGroup(a.comm, "node-2");
    slow.close();
    await pubA.publishAsync("t/x", "m1", { qos: 1 });
    expect(slow.waiting().some((m) => m.type === "deliver")).toBe(true);
    return { a, b, got, pubA, slow };
  }

  it("routes what a client publishes on the node that claimed its session only once the old node passed on what it routed before", async () => {
    // m1 goes through node-1; its forward to node-2 is accepted but not read yet.
    const { b, got, slow } = await m1OnItsWay();

    // The client moves to node-2 (node-1's take-over kick closes the old connection) and publishes m2 at once.
    const pubB = await connect(b.broker, "pub", { clean: false });
    const m2 = pubB.publishAsync("t/x", "m2", { qos: 1 });
    // node-1's `moved` reply waits behind m1 in the slow group: m2 must not be routed meanwhile.
    await until(() => slow.waiting().some((m) => m.type === "moved"), "node-1's reply to the take-over kick");
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(got).not.toContain("m2");

    await slow.open();
    await m2;
    await until(() => got.includes("m2"), "m2 at the subscriber");
    expect(got.filter((p) => p === "m1" || p === "m2")).toEqual(["m1", "m2"]);
  });

  it("handles what the client sent meanwhile at the wait's limit when the old node's reply does not come", async () => {
    // node-1's reply to the take-over kick does not reach node-2 (its group there is not read).
    const { got, pubB, slow } = await movesWithAWill();
    const acked = pubB.publishAsync("t/x", "m2", { qos: 1 });
    await until(() => slow.waiting().some((m) => m.type === "moved"), "node-1's reply to the take-over kick");
    expect(got).not.toContain("m2");
    // The wait ends at its limit (1 s): m2 is routed, acknowledged, and the DISCONNECT after it discards the will.
    await acked;
    await until(() => got.includes("m2"), "m2 at the subscriber");
    await pubB.endAsync();
    await slow.open();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(got).not.toContain("will");
  });

  it("keeps the order when the client reconnects to the new node while its move still settles (the new claim joins the wait)", async () => {
    const { b, got, slow } = await m1OnItsWay();

    // The client moves to node-2 (held: node-1's reply is behind m1)...
    const pubB = await connect(b.broker, "pub", { clean: false });
    await until(() => slow.waiting().some((m) => m.type === "moved"), "node-1's reply to the take-over kick");
    // ...its connection drops and it comes back to node-2 at once, within the settle wait.
    pubB.stream.destroy();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const pubB2 = await connect(b.broker, "pub", { clean: false });
    const m2 = pubB2.publishAsync("t/x", "m2", { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = [...got];
    await slow.open();
    await m2;
    await until(() => got.includes("m1") && got.includes("m2"), "m1 and m2 at the subscriber");
    expect(before).not.toContain("m2");
    expect(got.filter((p) => p === "m1" || p === "m2")).toEqual(["m1", "m2"]);
  });

  it("a DISCONNECT (and socket end) sent during the hold discards the will", async () => {
    const { got, pubB, slow } = await movesWithAWill();
    pubB.publish("t/x", "m2", { qos: 1 });
    const ended = pubB.endAsync(); // DISCONNECT, then the socket's end, both during the hold
    await until(() => slow.waiting().some((m) => m.type === "moved"), "node-1's reply to the take-over kick");
    await until(() => got.includes("m2"), "m2 at the subscriber", 3000);
    await ended.catch(() => undefined);
    await slow.open();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(got).not.toContain("will");
  });

  it("keeps the order for a persistent publisher that went offline on node-1 and connects to node-2 (node-1 was its custodian)", async () => {
    const { b, got, pubA, slow } = await m1OnItsWay();
    await pubA.endAsync();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const pubB = await connect(b.broker, "pub", { clean: false });
    const m2 = pubB.publishAsync("t/x", "m2", { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await slow.open();
    await m2;
    await until(() => got.includes("m1") && got.includes("m2"), "m1 and m2 at the subscriber");
    expect(got.filter((p) => p === "m1" || p === "m2")).toEqual(["m1", "m2"]);
  });
});
