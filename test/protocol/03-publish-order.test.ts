import type { IPublishPacket, QoS } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { useBroker } from "../helpers/fixture.js";
import type { RawClient } from "../helpers/raw-client.js";

/**
 * Order across QoS levels on the wire. MQTT 3.1.1 4.6 asks for order per QoS; mqgate keeps one order for all of a
 * subscriber's messages (docs/rest-api.md "Order"), also while QoS 2 flows are open and while the in-flight window
 * is full. What a client library reports can differ: mqtt.js emits a QoS 2 message on its PUBREL, a round trip after
 * the PUBLISH, so a QoS 0 message sent right behind it reaches the application first.
 */

const f = useBroker({ limits: { maxInflight: 2, maxQueued: 1000 } });

const sequence: [string, QoS][] = [
  ["a", 2],
  ["b", 0],
  ["c", 1],
  ["d", 1],
  ["e", 0],
  ["f", 2],
  ["g", 0],
];

/** The publisher's side of its flows, as a client does: waits for each PUBACK, answers each PUBREC with PUBREL. */
async function completeFlows(pub: RawClient, qos1: number, qos2: number): Promise<void> {
  let acked = 0;
  let completed = 0;
  while (acked < qos1 || completed < qos2) {
    const p = await pub.next();
    if (p.cmd === "puback") acked++;
    else if (p.cmd === "pubrec") pub.send({ cmd: "pubrel", messageId: p.messageId });
    else if (p.cmd === "pubcomp") completed++;
    else throw new Error(`publisher got ${p.cmd}`);
  }
}

function publishAll(pub: RawClient, topic: string): void {
  let id = 1;
  for (const [payload, qos] of sequence) {
    pub.send({ cmd: "publish", topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...(qos > 0 ? { messageId: id++ } : {}) });
  }
}

describe("one order for all QoS levels, per subscriber", () => {
  it("[MQTT-4.6.0-6] a QoS 0 message behind a QoS 2 one whose flow is still open is sent after it, without waiting for the flow", async () => {
    const sub = await f.raw();
    expect(await sub.subscribe("order/open", 2)).toEqual([2]);
    const pub = await f.raw();
    pub.send({ cmd: "publish", topic: "order/open", payload: Buffer.from("q2"), qos: 2, retain: false, dup: false, messageId: 7 });
    pub.send({ cmd: "publish", topic: "order/open", payload: Buffer.from("q0"), qos: 0, retain: false, dup: false });
    await completeFlows(pub, 0, 1);
    const first = await sub.expect("publish");
    const second = await sub.expect("publish");
    expect([first.payload.toString(), first.qos, second.payload.toString(), second.qos]).toEqual(["q2", 2, "q0", 0]);
    // Only now the subscriber answers the QoS 2 flow.
    sub.send({ cmd: "pubrec", messageId: first.messageId });
    expect((await sub.expect("pubrel")).messageId).toBe(first.messageId);
    sub.send({ cmd: "pubcomp", messageId: first.messageId });
    expect(await sub.silentFor(100)).toBe(true);
  });

  it("[MQTT-4.6.0-6] with the in-flight window full, QoS 0 messages wait behind the queued QoS 1 and 2 ones instead of overtaking them", async () => {
    const sub = await f.raw();
    expect(await sub.subscribe("order/full", 2)).toEqual([2]);
    const pub = await f.raw();
    publishAll(pub, "order/full");
    await completeFlows(pub, 2, 2);
    // Window of 2: a (QoS 2) and c (QoS 1) fill it; b, the QoS 0 between them, goes out in its place.
    const early: IPublishPacket[] = [];
    for (let i = 0; i < 3; i++) early.push(await sub.expect("publish"));
    expect(early.map((p) => p.payload.toString())).toEqual(["a", "b", "c"]);
    expect(await sub.silentFor(150)).toBe(true); // e, a QoS 0, is held behind d

    // The subscriber acknowledges each packet as it arrives, one at a time: the rest follows in publish order.
    const got = early.map((p) => p.payload.toString());
    const ack = (p: IPublishPacket): void => {
      if (p.qos === 1) sub.send({ cmd: "puback", messageId: p.messageId });
      if (p.qos === 2) sub.send({ cmd: "pubrec", messageId: p.messageId });
    };
    for (const p of early) ack(p);
    while (got.length < sequence.length) {
      const p = await sub.next();
      if (p.cmd === "pubrel") {
        sub.send({ cmd: "pubcomp", messageId: p.messageId });
        continue;
      }
      if (p.cmd !== "publish") throw new Error(`unexpected ${p.cmd}`);
      got.push(p.payload.toString());
      ack(p);
    }
    expect(got).toEqual(sequence.map(([payload]) => payload));
  });
});
