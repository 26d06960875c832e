import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAllowAll } from "../../core/auth/index.js";
import { MemoryEventSink } from "../../core/events/sink.js";
import { startTestBroker, type TestBroker } from "../helpers/broker.js";
import { RawClient } from "../helpers/raw-client.js";

/**
 * The events queue and MQTT 5 (docs/events.md, v3): a `message.published` carries the properties the device
 * published with, in the REST API's readable form, user properties in the order sent; a 3.1.1 publish has none.
 */

let broker: TestBroker;
const sink = new MemoryEventSink();
const clients: RawClient[] = [];

beforeAll(async () => {
  broker = await startTestBroker({}, createAllowAll(), undefined, { events: sink });
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await broker.close();
});

const str = (s: string | Buffer): number[] => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s, "utf8");
  return [b.length >> 8, b.length & 0xff, ...b];
};

/** A QoS 1 MQTT 5 PUBLISH, byte by byte, so the user properties go out exactly in this order (a, b, a). */
function publishFrame(topic: string, packetId: number, payload: string): Buffer {
  const props = [
    ...[0x01, 1], // Payload Format Indicator: UTF-8
    ...[0x02, 0, 0, 0x0e, 0x10], // Message Expiry Interval: 3600 s
    ...[0x03, ...str("application/json")],
    ...[0x08, ...str("replies/7")],
    ...[0x09, ...str(Buffer.from([0, 1, 2, 255]))],
    ...[0x26, ...str("a"), ...str("1")],
    ...[0x26, ...str("b"), ...str("2")],
    ...[0x26, ...str("a"), ...str("3")],
  ];
  const body = [...str(topic), packetId >> 8, packetId & 0xff, props.length, ...props, ...Buffer.from(payload)];
  return Buffer.from([0x32, body.length, ...body]);
}

async function client(clientId: string, protocolVersion: 4 | 5): Promise<RawClient> {
  const c = await RawClient.open(broker.mqttPort, "127.0.0.1", undefined, protocolVersion);
  clients.push(c);
  await c.connect({ clientId });
  return c;
}

describe("message.published events of MQTT 5 publishes", () => {
  it("carry the message's properties (v3), user properties in the order sent, duplicates kept", async () => {
    const pub = await client("ev5-pub", 5);
    pub.sendBytes(publishFrame("ev5/t", 7, '{"x":1}'));
    // QoS 1: the PUBACK comes once the events queue accepted the event.
    expect((await pub.expect("puback")).messageId).toBe(7);
    const event = sink.events.find((e) => e.type === "message.published" && e.clientId === "ev5-pub");
    expect(event).toEqual({
      v: 3,
      id: expect.any(String),
      type: "message.published",
      ts: expect.any(Number),
      node: broker.config.nodeId,
      clientId: "ev5-pub",
      topic: "ev5/t",
      qos: 1,
      retain: false,
      payload: Buffer.from('{"x":1}').toString("base64"),
      payloadFormatIndicator: 1,
      messageExpiry: 3600,
      contentType: "application/json",
      responseTopic: "replies/7",
      correlationData: Buffer.from([0, 1, 2, 255]).toString("base64"),
      userProperties: [
        ["a", "1"],
        ["b", "2"],
        ["a", "3"],
      ],
    });
  });

  it("an MQTT 3.1.1 publish, and an MQTT 5 one without properties, carry none of the property fields", async () => {
    const v4 = await client("ev4-pub", 4);
    v4.send({ cmd: "publish", topic: "ev4/t", payload: Buffer.from("x"), qos: 1, retain: false, dup: false, messageId: 1 });
    await v4.expect("puback");
    const v5 = await client("ev5-bare", 5);
    v5.send({ cmd: "publish", topic: "ev5/bare", payload: Buffer.from("y"), qos: 1, retain: false, dup: false, messageId: 2 });
    await v5.expect("puback");
    for (const clientId of ["ev4-pub", "ev5-bare"]) {
      const event = sink.events.find((e) => e.type === "message.published" && e.clientId === clientId);
      expect(Object.keys(event ?? {}).sort()).toEqual(["clientId", "id", "node", "payload", "qos", "retain", "topic", "ts", "type", "v"]);
      expect(event?.v).toBe(3);
    }
  });
});
