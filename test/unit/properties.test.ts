import { describe, expect, it } from "vitest";
import {
  decodeProperties,
  encodeProperties,
  MALFORMED_PACKET,
  type Properties,
  PropertyError,
  PROTOCOL_ERROR,
  propertiesLength,
  WILL_PROPERTIES,
} from "../../broker/properties.js";
import { allowedIn } from "../../broker/property-table.js";

// The MQTT 5 property codec (broker/properties.ts) against raw bytes: every data type, every packet's properties,
// every malformed block the spec names, and round trips. Section numbers are MQTT 5.0's.

const CONNECT = 1;
const CONNACK = 2;
const PUBLISH = 3;
const PUBACK = 4;
const SUBSCRIBE = 8;
const UNSUBSCRIBE = 10;
const DISCONNECT = 14;
const AUTH = 15;

const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const u32 = (n: number): number[] => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const str = (s: string): number[] => {
  const b = Buffer.from(s, "utf8");
  return [...u16(b.length), ...b];
};
const raw = (...b: number[]): number[] => [...u16(b.length), ...b];
/** A property block: Property Length (one byte, for blocks under 128 bytes) and the properties. */
const block = (...props: number[]): Buffer => Buffer.from([props.length, ...props]);

function decode(buf: Buffer, context: number): Properties | undefined {
  const { props, next } = decodeProperties(buf, 0, buf.length, context);
  expect(next).toBe(buf.length);
  return props;
}

function rejects(buf: Buffer, context: number): number {
  try {
    decodeProperties(buf, 0, buf.length, context);
  } catch (err) {
    expect(err).toBeInstanceOf(PropertyError);
    return (err as PropertyError).reasonCode;
  }
  throw new Error("accepted");
}

describe("property blocks: every data type", () => {
  it("an empty block (Property Length 0) is no properties and allocates none", () => {
    expect(decodeProperties(Buffer.from([0x00, 0xaa]), 0, 2, PUBLISH)).toEqual({ props: undefined, next: 1 });
  });

  it("reads a PUBLISH's byte, four-byte, UTF-8, binary, variable byte, two-byte and string-pair properties", () => {
    const buf = block(
      0x01, 1, // payload format indicator (byte)
      0x02, ...u32(0x01020304), // message expiry interval (four-byte integer)
      0x03, ...str("text/plain"), // content type (UTF-8)
      0x08, ...str("reply/é"), // response topic (UTF-8, not ASCII)
      0x09, ...raw(0, 1, 0xff), // correlation data (binary)
      0x0b, 0xff, 0xff, 0xff, 0x7f, // subscription identifier 268,435,455 (variable byte integer, 4 bytes)
      0x0b, 0x02, // a second subscription identifier (allowed in PUBLISH)
      0x23, ...u16(7), // topic alias (two-byte integer)
      0x26, ...str("a"), ...str("1"), // user properties (string pairs), interleaved and repeated
      0x26, ...str("b"), ...str("2"),
      0x26, ...str("a"), ...str("3"),
    );
    expect(decode(buf, PUBLISH)).toEqual({
      payloadFormatIndicator: 1,
      messageExpiryInterval: 0x01020304,
      contentType: "text/plain",
      responseTopic: "reply/é",
      correlationData: Buffer.from([0, 1, 0xff]),
      subscriptionIdentifiers: [268_435_455, 2],
      topicAlias: 7,
      userProperties: [["a", "1"], ["b", "2"], ["a", "3"]],
    });
  });

  it("reads CONNECT, will, CONNACK, DISCONNECT and AUTH properties", () => {
    expect(
      decode(block(0x11, ...u32(3600), 0x21, ...u16(10), 0x22, ...u16(5), 0x27, ...u32(65536), 0x17, 0, 0x19, 1, 0x15, ...str("SCRAM"), 0x16, ...raw(9)), CONNECT),
    ).toEqual({
      sessionExpiryInterval: 3600,
      receiveMaximum: 10,
      topicAliasMaximum: 5,
      maximumPacketSize: 65536,
      requestProblemInformation: 0,
      requestResponseInformation: 1,
      authenticationMethod: "SCRAM",
      authenticationData: Buffer.from([9]),
    });
    expect(decode(block(0x18, ...u32(30), 0x01, 0, 0x03, ...str("json")), WILL_PROPERTIES)).toEqual({ willDelayInterval: 30, payloadFormatIndicator: 0, contentType: "json" });
    expect(
      decode(block(0x12, ...str("auto-1"), 0x13, ...u16(60), 0x24, 1, 0x25, 0, 0x28, 1, 0x29, 0, 0x2a, 1, 0x1a, ...str("ri"), 0x1c, ...str("other"), 0x1f, ...str("why")), CONNACK),
    ).toEqual({
      assignedClientIdentifier: "auto-1",
      serverKeepAlive: 60,
      maximumQoS: 1,
      retainAvailable: 0,
      wildcardSubscriptionAvailable: 1,
      subscriptionIdentifiersAvailable: 0,
      sharedSubscriptionAvailable: 1,
      responseInformation: "ri",
      serverReference: "other",
      reasonString: "why",
    });
    expect(decode(block(0x11, ...u32(0), 0x1f, ...str("bye"), 0x1c, ...str("s2")), DISCONNECT)).toEqual({ sessionExpiryInterval: 0, reasonString: "bye", serverReference: "s2" });
    expect(decode(block(0x15, ...str("m"), 0x16, ...raw(), 0x1f, ...str("r")), AUTH)).toEqual({ authenticationMethod: "m", authenticationData: Buffer.alloc(0), reasonString: "r" });
  });

  it("reads a block at an offset and stops at its Property Length, not at the end of the buffer", () => {
    const buf = Buffer.from([0xee, 3, 0x23, 0, 1, 0x41, 0x42]);
    expect(decodeProperties(buf, 1, buf.length, PUBLISH)).toEqual({ props: { topicAlias: 1 }, next: 5 });
  });

  it("reads a Property Length of two bytes", () => {
    const value = "v".repeat(200);
    const props = [0x26, ...str("k"), ...str(value)];
    const buf = Buffer.from([0x80 | (props.length & 0x7f), props.length >> 7, ...props]);
    expect(decode(buf, PUBLISH)).toEqual({ userProperties: [["k", value]] });
  });

  it("copies binary data, so a kept property does not pin the socket's chunk", () => {
    const buf = block(0x09, ...raw(1, 2));
    const props = decode(buf, PUBLISH);
    buf.fill(0);
    expect(props?.correlationData).toEqual(Buffer.from([1, 2]));
  });
});

describe("property blocks: what the receiver must reject, with its reason code", () => {
  const cases: [string, Buffer, number, number][] = [
    ["an unknown identifier (0x04)", block(0x04, 0), PUBLISH, MALFORMED_PACKET],
    ["identifier 0", block(0x00, 0), PUBLISH, MALFORMED_PACKET],
    ["an identifier above the table (0x2b)", block(0x2b, 0), CONNACK, MALFORMED_PACKET],
    // 2.2.2.2: "A Control Packet which contains an Identifier which is not valid for its packet type ... is a Malformed Packet"
    ["Will Delay Interval in a PUBLISH", block(0x18, ...u32(1)), PUBLISH, MALFORMED_PACKET],
    ["Session Expiry Interval in a PUBLISH", block(0x11, ...u32(1)), PUBLISH, MALFORMED_PACKET],
    ["Topic Alias in will properties", block(0x23, ...u16(1)), WILL_PROPERTIES, MALFORMED_PACKET],
    ["Session Expiry Interval in will properties", block(0x11, ...u32(1)), WILL_PROPERTIES, MALFORMED_PACKET],
    ["Reason String in a CONNECT", block(0x1f, ...str("x")), CONNECT, MALFORMED_PACKET],
    ["Subscription Identifier in an UNSUBSCRIBE", block(0x0b, 1), UNSUBSCRIBE, MALFORMED_PACKET],
    ["Content Type in a PUBACK", block(0x03, ...str("x")), PUBACK, MALFORMED_PACKET],
    ["Assigned Client Identifier in a CONNECT (server-only)", block(0x12, ...str("x")), CONNECT, MALFORMED_PACKET],
    // "It is a Protocol Error to include ... more than once"
    ["Message Expiry Interval twice", block(0x02, ...u32(1), 0x02, ...u32(2)), PUBLISH, PROTOCOL_ERROR],
    ["Session Expiry Interval twice", block(0x11, ...u32(1), 0x11, ...u32(1)), CONNECT, PROTOCOL_ERROR],
    ["Subscription Identifier twice in a SUBSCRIBE", block(0x0b, 1, 0x0b, 2), SUBSCRIBE, PROTOCOL_ERROR],
    ["Reason String twice", block(0x1f, ...str("a"), 0x1f, ...str("b")), DISCONNECT, PROTOCOL_ERROR],
    ["Correlation Data twice", block(0x09, ...raw(), 0x09, ...raw()), WILL_PROPERTIES, PROTOCOL_ERROR],
    // Values the property does not allow
    ["Request Problem Information 2 (3.1.2.11.7)", block(0x17, 2), CONNECT, PROTOCOL_ERROR],
    ["Request Response Information 2 (3.1.2.11.6)", block(0x19, 2), CONNECT, PROTOCOL_ERROR],
    ["Payload Format Indicator 2", block(0x01, 2), PUBLISH, PROTOCOL_ERROR],
    ["Receive Maximum 0 (3.1.2.11.3)", block(0x21, ...u16(0)), CONNECT, PROTOCOL_ERROR],
    ["Maximum Packet Size 0 (3.1.2.11.4)", block(0x27, ...u32(0)), CONNECT, PROTOCOL_ERROR],
    ["Subscription Identifier 0 (3.8.2.1.2)", block(0x0b, 0), SUBSCRIBE, PROTOCOL_ERROR],
    // Ill-formed strings [MQTT-1.5.4-1] [MQTT-1.5.4-2]
    ["ill-formed UTF-8 in Content Type", block(0x03, 0, 2, 0xc3, 0x28), PUBLISH, MALFORMED_PACKET],
    ["a UTF-16 surrogate (CESU-8) in Response Topic", block(0x08, 0, 3, 0xed, 0xa0, 0x80), PUBLISH, MALFORMED_PACKET],
    ["U+0000 in a Reason String", block(0x1f, 0, 2, 0x61, 0x00), PUBACK, MALFORMED_PACKET],
    ["U+0000 in a user property name", block(0x26, 0, 1, 0x00, ...str("v")), PUBLISH, MALFORMED_PACKET],
    ["ill-formed UTF-8 in a user property value", block(0x26, ...str("k"), 0, 1, 0xff), SUBSCRIBE, MALFORMED_PACKET],
    // Lengths that overrun
    ["a Property Length past the end of the packet", Buffer.from([5, 0x23, 0, 1]), PUBLISH, MALFORMED_PACKET],
    ["a four-byte integer cut by the Property Length", Buffer.from([3, 0x02, 0, 0, 0, 1]), PUBLISH, MALFORMED_PACKET],
    ["a two-byte integer cut by the Property Length", Buffer.from([2, 0x23, 0, 1]), PUBLISH, MALFORMED_PACKET],
    ["a byte property with no value", Buffer.from([1, 0x01]), PUBLISH, MALFORMED_PACKET],
    ["a string longer than the block", block(0x03, 0, 9, 0x61), PUBLISH, MALFORMED_PACKET],
    ["binary data longer than the block", block(0x09, 0, 3, 1), PUBLISH, MALFORMED_PACKET],
    ["a user property without its value", block(0x26, ...str("k")), PUBLISH, MALFORMED_PACKET],
    ["a Subscription Identifier cut in the middle", block(0x0b, 0x80), SUBSCRIBE, MALFORMED_PACKET],
    ["a Subscription Identifier of 5 bytes", block(0x0b, 0x80, 0x80, 0x80, 0x80, 0x01), PUBLISH, MALFORMED_PACKET],
    ["a Subscription Identifier not in its shortest form (MQTT 5.0 1.5.5)", block(0x0b, 0x81, 0x00), PUBLISH, MALFORMED_PACKET],
    ["a Property Length of 5 bytes", Buffer.from([0x80, 0x80, 0x80, 0x80, 0x01]), PUBLISH, MALFORMED_PACKET],
    ["no Property Length at all", Buffer.alloc(0), SUBSCRIBE, MALFORMED_PACKET],
  ];
  for (const [what, buf, context, code] of cases) {
    it(`${what}: 0x${code.toString(16)}`, () => {
      expect(rejects(buf, context)).toBe(code);
    });
  }

  it("User Property may repeat in every packet that has properties", () => {
    for (const context of [WILL_PROPERTIES, CONNECT, CONNACK, PUBLISH, PUBACK, 5, 6, 7, SUBSCRIBE, 9, UNSUBSCRIBE, 11, DISCONNECT, AUTH]) {
      expect(decode(block(0x26, ...str("k"), ...str("1"), 0x26, ...str("k"), ...str("2")), context)).toEqual({ userProperties: [["k", "1"], ["k", "2"]] });
    }
  });

  it("the table: each property's packets (spot checks against table 2-4)", () => {
    expect([0, 1, 2, 3, 8, 14].map((c) => allowedIn(0x11, c))).toEqual([false, true, true, false, false, true]); // session expiry
    expect([0, 3, 8].map((c) => allowedIn(0x0b, c))).toEqual([false, true, true]); // subscription identifier
    expect([0, 1, 3].map((c) => allowedIn(0x18, c))).toEqual([true, false, false]); // will delay interval
    expect([2, 4, 5, 6, 7, 9, 11, 14, 15, 1, 3].map((c) => allowedIn(0x1f, c))).toEqual([true, true, true, true, true, true, true, true, true, false, false]); // reason string
    expect(allowedIn(0x04, 3)).toBe(false);
  });
});

describe("property blocks: encoding", () => {
  it("writes golden bytes in identifier order, user properties in their own order", () => {
    const props: Properties = { userProperties: [["z", "1"], ["a", "2"]], topicAlias: 3, payloadFormatIndicator: 1 };
    expect([...encodeProperties(props)]).toEqual([19, 0x01, 1, 0x23, 0, 3, 0x26, ...str("z"), ...str("1"), 0x26, ...str("a"), ...str("2")]);
    expect(propertiesLength(props)).toBe(19);
  });

  it("no properties is one byte, Property Length 0", () => {
    expect([...encodeProperties(undefined)]).toEqual([0]);
    expect([...encodeProperties({})]).toEqual([0]);
  });

  it("round-trips every property of every context", () => {
    const samples: [number, Properties][] = [
      [PUBLISH, { payloadFormatIndicator: 1, messageExpiryInterval: 4_294_967_295, contentType: "a/é", responseTopic: "r", correlationData: Buffer.from([1, 2, 3]), subscriptionIdentifiers: [1, 127, 128, 16_383, 16_384, 268_435_455], topicAlias: 65535, userProperties: [["b", ""], ["", "x"], ["b", "y"]] }],
      [CONNECT, { sessionExpiryInterval: 1, receiveMaximum: 1, topicAliasMaximum: 0, maximumPacketSize: 1, requestProblemInformation: 1, requestResponseInformation: 0, authenticationMethod: "m", authenticationData: Buffer.alloc(0) }],
      [WILL_PROPERTIES, { willDelayInterval: 10, payloadFormatIndicator: 0, messageExpiryInterval: 5, contentType: "t", responseTopic: "rt", correlationData: Buffer.from("c") }],
      [CONNACK, { sessionExpiryInterval: 9, assignedClientIdentifier: "id", serverKeepAlive: 30, receiveMaximum: 100, topicAliasMaximum: 10, maximumQoS: 1, retainAvailable: 1, maximumPacketSize: 1024, wildcardSubscriptionAvailable: 0, subscriptionIdentifiersAvailable: 1, sharedSubscriptionAvailable: 0, responseInformation: "ri", serverReference: "sr", reasonString: "ok", authenticationMethod: "m", authenticationData: Buffer.from([0]) }],
      [SUBSCRIBE, { subscriptionIdentifiers: [42], userProperties: [["k", "v"]] }],
      [DISCONNECT, { reasonString: "r".repeat(300), sessionExpiryInterval: 0 }],
    ];
    for (const [context, props] of samples) {
      const buf = encodeProperties(props);
      expect(decode(buf, context)).toEqual(props);
    }
  });
});
