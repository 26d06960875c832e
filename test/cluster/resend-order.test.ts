import { describe, expect, it } from "vitest";
import { RawClient } from "../helpers/raw-client.js";
import { routesTo, until } from "../helpers/wait.js";
import { payloads, slowGroup, useInProcessCluster } from "./in-process-support.js";

/**
 * A QoS 1 message a client sends again after moving to another node keeps its place among the client's messages
 * (decision 045): the old node's reply to the take-over kick lists what the client may re-send, with the order keys
 * it gave them, and the new node gives the re-sends those keys.
 */

function publish(c: RawClient, payload: string, messageId: number, dup: boolean): void {
  c.send({ cmd: "publish", topic: "t/x", payload: Buffer.from(payload), qos: 1, messageId, dup, retain: false });
}

describe("a QoS 1 re-send after a move keeps its order key (decision 045)", () => {
  const { cluster, connect } = useInProcessCluster();

  it.each([
    ["taken over", false],
    ["dropped before it moved (the kick finds no connection)", true],
  ])("a subscriber whose deliveries are held gets the re-sent message before a newer one of the old node (publisher %s)", async (_how, dropFirst) => {
    const { members } = await cluster(3);
    const [a, b, c] = members as [(typeof members)[0], (typeof members)[0], (typeof members)[0]];
    // The subscriber is on node-3; node-1 routes t/x there.
    const oldSub = await connect(c.broker, "sub", { clean: false });
    await oldSub.subscribeAsync("t/x", { qos: 1 });
    await until(() => routesTo(a.broker, "t/x", "node-3"), "node-1 to learn node-3's route for t/x");

    // m1 goes from node-1 to node-3, which is behind on node-1's messages; node-1 acknowledges it, and the client
    // leaves before it reads the PUBACK.
    const slow = slowGroup(a.comm, "node-3");
    slow.close();
    const pubA = await RawClient.connected(a.broker.mqttPort, { clientId: "pub", clean: false });
    publish(pubA, "m1", 5, false);
    await pubA.expect("puback");
    expect(slow.waiting().some((m) => m.type === "deliver")).toBe(true);

    // The subscriber moves to node-1: node-3's reply to the kick is behind in the same group, so node-1 holds its
    // deliveries (decision 031), m2 among them.
    const sub = await connect(a.broker, "sub", { clean: false });
    const got = payloads(sub);
    publish(pubA, "m2", 6, false);
    const m2 = Buffer.from("m2").toString("base64");
    await until(() => a.events.events.some((e) => e.type === "message.published" && "payload" in e && e.payload === m2), "m2 routed at node-1");
    await until(() => routesTo(b.broker, "t/x", "node-1"), "node-2 to learn node-1's route for t/x");

    if (dropFirst) {
      // Its connection drops first (the socket, not a take-over): node-1 keeps what it may re-send for the kick.
      const closed = a.events.events.length;
      pubA.socket.destroy();
      await until(() => a.events.events.slice(closed).some((e) => e.type === "client.disconnected" && e.clientId === "pub"), "node-1 to see pub's connection close");
    }
    // The publisher moves to node-2 and sends both again (it read no PUBACK on its old connection).
    const pubB = await RawClient.connected(b.broker.mqttPort, { clientId: "pub", clean: false });
    publish(pubB, "m1", 5, true);
    publish(pubB, "m2", 6, true);
    await pubB.expect("puback");
    await pubB.expect("puback");

    // node-1's hold ends at its limit; m1 (re-sent, its first copy still behind at node-3) comes before m2.
    await until(() => got.includes("m1") && got.includes("m2"), "m1 and m2 at the subscriber", 5000);
    const first = got.filter((p, i) => got.indexOf(p) === i);
    expect(first.filter((p) => p === "m1" || p === "m2")).toEqual(["m1", "m2"]);
    await slow.open();
    pubA.socket.destroy();
    pubB.socket.destroy();
  });
});
