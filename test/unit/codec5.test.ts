import type { Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { AckType, MalformedPacketError } from "../../broker/codec.js";
import { type Ack5Packet, encodeAck5, encodePublish5, type Publish5Packet, publish5Size, writePublish5 } from "../../broker/codec5.js";
import { PacketDecoder, type PacketSink } from "../../broker/decoder.js";
import { encodeProperties, MALFORMED_PACKET, type Properties, PropertyError, PROTOCOL_ERROR } from "../../broker/properties.js";

// The MQTT 5 hot path (broker/codec5.ts through broker/decoder.ts at protocol level 5): PUBLISH with properties,
// the acknowledgements with reason codes, their encoders, and that level 4 reads the same bytes as before.

const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const str = (s: string): number[] => {
  const b = Buffer.from(s, "utf8");
  return [...u16(b.length), ...b];
};
/** A packet: first byte, remaining length (one byte: bodies under 128 bytes), body. */
const frame = (first: number, ...body: number[]): Buffer => Buffer.from([first, body.length, ...body]);

function decode(chunks: Buffer[], level = 5): { packets: Packet[]; errors: Error[] } {
  const packets: Packet[] = [];
  const errors: Error[] = [];
  const sink: PacketSink = {
    onPacket(p) {
      packets.push(p);
      return true;
    },
    onDecodeError(err) {
      errors.push(err);
    },
    onOversize() {
      throw new Error("oversize");
    },
  };
  const decoder = new PacketDecoder(sink, 1 << 20);
  decoder.setProtocolLevel(level);
  for (const c of chunks) decoder.push(c);
  return { packets, errors };
}

function one(buf: Buffer): Packet {
  const { packets, errors } = decode([buf]);
  expect(errors).toEqual([]);
  expect(packets).toHaveLength(1);
  return packets[0] as Packet;
}

/** The MQTT 5 reason code a decode error is answered with: a PropertyError's own, 0x81 for any other. */
function failure(buf: Buffer): number {
  const { packets, errors } = decode([buf]);
  expect(packets).toEqual([]);
  expect(errors).toHaveLength(1);
  const err = errors[0] as Error;
  expect(err instanceof PropertyError || err instanceof MalformedPacketError).toBe(true);
  return err instanceof PropertyError ? err.reasonCode : MALFORMED_PACKET;
}

describe("v5 PUBLISH on the hot path", () => {
  it("QoS 0: the property block follows the topic; no properties means no `props`", () => {
    const p = one(frame(0x30, ...str("a/b"), 0x00, 0x68, 0x69)) as Publish5Packet;
    expect(p).toMatchObject({ cmd: "publish", topic: "a/b", qos: 0, retain: false, dup: false });
    expect(p.payload).toEqual(Buffer.from("hi"));
    expect(p.props).toBeUndefined();
    expect("properties" in p).toBe(false);
  });

  it("QoS 1 with DUP and RETAIN: packet id, then properties (user properties in order), then the payload", () => {
    const props = [0x01, 1, 0x02, 0, 0, 0, 60, 0x26, ...str("b"), ...str("1"), 0x26, ...str("a"), ...str("2"), 0x26, ...str("b"), ...str("3")];
    const p = one(frame(0x3b, ...str("t"), 0x01, 0x02, props.length, ...props, 0xff)) as Publish5Packet;
    expect(p).toMatchObject({ qos: 1, dup: true, retain: true, messageId: 258, topic: "t" });
    expect(p.props).toEqual({ payloadFormatIndicator: 1, messageExpiryInterval: 60, userProperties: [["b", "1"], ["a", "2"], ["b", "3"]] });
    expect(p.payload).toEqual(Buffer.from([0xff]));
  });

  it("QoS 2 with a topic alias and an empty topic (the session resolves the alias)", () => {
    const p = one(frame(0x34, 0, 0, 0, 9, 3, 0x23, 0, 1)) as Publish5Packet;
    expect(p).toMatchObject({ qos: 2, messageId: 9, topic: "" });
    expect(p.props).toEqual({ topicAlias: 1 });
    expect(p.payload.length).toBe(0);
  });

  it("rejects a PUBLISH whose properties are malformed, with the right reason code", () => {
    expect(failure(frame(0x30, ...str("t")))).toBe(MALFORMED_PACKET); // no Property Length
    expect(failure(frame(0x32, ...str("t"), 0, 1))).toBe(MALFORMED_PACKET); // QoS 1, no Property Length after the id
    expect(failure(frame(0x30, ...str("t"), 9, 0x23, 0, 1))).toBe(MALFORMED_PACKET); // Property Length overruns
    expect(failure(frame(0x30, ...str("t"), 5, 0x11, 0, 0, 0, 1))).toBe(MALFORMED_PACKET); // Session Expiry in PUBLISH
    expect(failure(frame(0x30, ...str("t"), 6, 0x23, 0, 1, 0x23, 0, 2))).toBe(PROTOCOL_ERROR); // Topic Alias twice
    expect(failure(frame(0x30, ...str("t"), 4, 0x03, 0, 1, 0xff))).toBe(MALFORMED_PACKET); // ill-formed Content Type
    expect(failure(frame(0x30, 0, 2, 0xc3, 0x28, 0))).toBe(MALFORMED_PACKET); // ill-formed topic
    expect(failure(frame(0x30, 0, 1, 0x00, 0))).toBe(MALFORMED_PACKET); // U+0000 in the topic
  });

  it("a malformed packet stops the stream: nothing after it is decoded", () => {
    const { packets, errors } = decode([Buffer.concat([frame(0x30, ...str("t"), 1, 0x04), frame(0xc0)])]);
    expect(packets).toEqual([]);
    expect(errors).toHaveLength(1);
  });

  it("decodes the same packets from every split of the stream", () => {
    const stream = Buffer.concat([
      encodePublish5("s/1", Buffer.from("x"), 1, false, false, 7, { contentType: "c", userProperties: [["k", "v"]] }),
      encodeAck5(AckType.Puback, 3, 0x10, { reasonString: "none" }),
      encodePublish5("s/2", Buffer.alloc(200, 1), 0, true, false, 0),
    ]);
    const whole = decode([stream]).packets;
    expect(whole).toHaveLength(3);
    for (let cut = 1; cut < stream.length; cut++) {
      const split = decode([stream.subarray(0, cut), stream.subarray(cut)]);
      expect(split.errors).toEqual([]);
      expect(split.packets).toEqual(whole);
    }
  });
});

describe("v5 PUBACK, PUBREC, PUBREL, PUBCOMP on the hot path", () => {
  it("remaining length 2: reason 0x00, no properties", () => {
    expect(one(frame(0x40, 0, 1))).toEqual({ cmd: "puback", messageId: 1, length: 2, reasonCode: 0 });
    expect(one(frame(0x62, 0xff, 0xff))).toEqual({ cmd: "pubrel", messageId: 65535, length: 2, reasonCode: 0 });
  });

  it("remaining length 3: a reason code, no properties", () => {
    expect(one(frame(0x40, 0, 1, 0x10))).toEqual({ cmd: "puback", messageId: 1, length: 3, reasonCode: 0x10 });
    expect(one(frame(0x50, 0, 2, 0x87))).toEqual({ cmd: "pubrec", messageId: 2, length: 3, reasonCode: 0x87 });
    expect(one(frame(0x70, 0, 3, 0x92))).toEqual({ cmd: "pubcomp", messageId: 3, length: 3, reasonCode: 0x92 });
  });

  it("remaining length 4 and more: reason code and properties", () => {
    expect(one(frame(0x50, 0, 4, 0x00, 0))).toEqual({ cmd: "pubrec", messageId: 4, length: 4, reasonCode: 0 });
    const props = [0x1f, ...str("quota"), 0x26, ...str("k"), ...str("v")];
    const p = one(frame(0x40, 0, 5, 0x97, props.length, ...props)) as Ack5Packet;
    expect(p).toMatchObject({ cmd: "puback", messageId: 5, reasonCode: 0x97 });
    expect(p.props).toEqual({ reasonString: "quota", userProperties: [["k", "v"]] });
  });

  it("rejects what an acknowledgement cannot be", () => {
    expect(failure(frame(0x40, 0))).toBe(MALFORMED_PACKET); // too short for a packet id
    expect(failure(frame(0x40, 0, 1, 0x92))).toBe(MALFORMED_PACKET); // PUBREL's reason in a PUBACK
    expect(failure(frame(0x62, 0, 1, 0x10))).toBe(MALFORMED_PACKET); // PUBACK's reason in a PUBREL
    expect(failure(frame(0x70, 0, 1, 0, 2, 0x1f))).toBe(MALFORMED_PACKET); // property cut short
    expect(failure(frame(0x40, 0, 1, 0, 0, 0xaa))).toBe(MALFORMED_PACKET); // a byte after the properties
    expect(failure(frame(0x50, 0, 1, 0, 2, 0x23, 0))).toBe(MALFORMED_PACKET); // Topic Alias is not valid in a PUBREC
    expect(failure(frame(0x62, 0, 1, 0, 8, 0x1f, ...str("a"), 0x1f, ...str("b")))).toBe(PROTOCOL_ERROR); // Reason String twice
    expect(failure(frame(0x60, 0, 1))).toBe(MALFORMED_PACKET); // PUBREL header flags [MQTT-2.2.2-2]
  });

  it("PINGREQ is unchanged; AUTH's packet type is accepted at level 5 and reserved at level 4", () => {
    expect(one(frame(0xc0))).toEqual({ cmd: "pingreq", length: 0 });
    expect(failure(frame(0xc0, 0))).toBe(MALFORMED_PACKET);
    expect(one(frame(0xf0, 0x18, 0))).toMatchObject({ cmd: "auth", reasonCode: 0x18 });
    expect(decode([frame(0xf0, 0x18, 0)], 4).errors[0]?.message).toMatch(/reserved packet type 15/);
  });
});

describe("level 4 reads the same bytes as 3.1.1, as before", () => {
  it("a v5-shaped PUBLISH at level 4: the property bytes are payload", () => {
    const { packets, errors } = decode([frame(0x30, ...str("t"), 0x00, 0x68)], 4);
    expect(errors).toEqual([]);
    expect((packets[0] as Publish5Packet).payload).toEqual(Buffer.from([0x00, 0x68]));
    expect("props" in (packets[0] as object)).toBe(false);
  });

  it("a PUBACK with a reason code at level 4 is malformed", () => {
    expect(decode([frame(0x40, 0, 1, 0x10)], 4).errors[0]).toBeInstanceOf(MalformedPacketError);
    expect(decode([frame(0x40, 0, 1)], 4).packets).toEqual([{ cmd: "puback", messageId: 1, length: 2 }]);
  });
});

describe("v5 encoders", () => {
  it("PUBLISH golden bytes: QoS 0 without properties, QoS 1 with", () => {
    expect([...encodePublish5("a", Buffer.from("x"), 0, false, false, 0)]).toEqual([0x30, 5, 0, 1, 0x61, 0, 0x78]);
    expect([...encodePublish5("a", Buffer.from("x"), 1, true, true, 0x0102, { topicAlias: 2 })]).toEqual([0x3b, 10, 0, 1, 0x61, 1, 2, 3, 0x23, 0, 2, 0x78]);
  });

  it("PUBLISH round-trips every message property, in a buffer of the size it says", () => {
    const props: Properties = {
      payloadFormatIndicator: 1,
      messageExpiryInterval: 3600,
      contentType: "application/json",
      responseTopic: "reply/é",
      correlationData: Buffer.from([0, 1, 2]),
      subscriptionIdentifiers: [1, 300],
      topicAlias: 4,
      userProperties: [["x", "1"], ["y", "2"], ["x", "3"]],
    };
    for (const qos of [0, 1, 2]) {
      const payload = Buffer.alloc(qos * 100, 5);
      const buf = encodePublish5("sensors/é", payload, qos, qos === 1, qos === 2, 77, props);
      const p = one(buf) as Publish5Packet;
      expect(p).toMatchObject({ topic: "sensors/é", qos, retain: qos === 1, dup: qos === 2, messageId: qos > 0 ? 77 : undefined });
      expect(p.payload).toEqual(payload);
      expect(p.props).toEqual(props);
    }
  });

  it("writePublish5 writes at an offset with a block encoded once, and says where the packet id is", () => {
    const block = encodeProperties({ contentType: "t" });
    const size = publish5Size(1, block, 2, true);
    const buf = Buffer.alloc(3 + size);
    expect(writePublish5(buf, 3, "a", 1, block, Buffer.from("hi"), 1, false, false, 0xabcd)).toBe(3 + 2 + 3);
    expect(buf.readUInt16BE(8)).toBe(0xabcd);
    const p = one(buf.subarray(3)) as Publish5Packet;
    expect(p.props).toEqual({ contentType: "t" });
    expect(p.payload).toEqual(Buffer.from("hi"));
    expect(writePublish5(Buffer.alloc(publish5Size(1, null, 0, false)), 0, "a", 1, null, Buffer.alloc(0), 0, false, false, 0)).toBe(-1);
  });

  it("acknowledgements: the 4-byte form for success without properties, 5 bytes for a reason alone, else the full form", () => {
    expect([...encodeAck5(AckType.Puback, 1)]).toEqual([0x40, 2, 0, 1]);
    expect([...encodeAck5(AckType.Pubrel, 2, 0)]).toEqual([0x62, 2, 0, 2]);
    expect([...encodeAck5(AckType.Pubrec, 3, 0x10)]).toEqual([0x50, 3, 0, 3, 0x10]);
    expect([...encodeAck5(AckType.Pubcomp, 4, 0x92, { reasonString: "x" })]).toEqual([0x70, 8, 0, 4, 0x92, 4, 0x1f, 0, 1, 0x78]);
    expect([...encodeAck5(AckType.Puback, 5, 0, {})]).toEqual([0x40, 4, 0, 5, 0, 0]);
  });

  it("acknowledgements round-trip through the decoder", () => {
    const props: Properties = { reasonString: "r".repeat(150), userProperties: [["a", "b"]] };
    const p = one(encodeAck5(AckType.Pubrec, 9, 0x97, props)) as Ack5Packet;
    expect(p).toMatchObject({ cmd: "pubrec", messageId: 9, reasonCode: 0x97, props });
  });
});
