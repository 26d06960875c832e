import { type IConnectPacket, type Packet, parser as createParser } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { parseFrame } from "../../broker/codec.js";
import { MALFORMED_PACKET, type Properties, PropertyError, PROTOCOL_ERROR } from "../../broker/properties.js";

// The MQTT 5 packets off the hot path (CONNECT, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT, AUTH) are read by mqtt-packet
// 9.0.2; its property reading is lenient (first block below), so at level 5 `parseFrame` reads property blocks with
// broker/properties.ts instead (the rest). Raw frames throughout.

const u16 = (n: number): number[] => [n >> 8, n & 0xff];
const u32 = (n: number): number[] => [n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
const str = (s: string): number[] => {
  const b = Buffer.from(s, "utf8");
  return [...u16(b.length), ...b];
};
const frame = (first: number, ...body: number[]): Buffer => Buffer.from([first, body.length, ...body]);
const props = (...p: number[]): number[] => [p.length, ...p];
/** SUBSCRIBE, packet id 1, the given property block, one filter "a" at QoS 1. */
const subscribe = (block: number[]): Buffer => frame(0x82, 0, 1, ...block, ...str("a"), 1);
/** CONNECT "MQTT" level 5, clean start, keep alive 60, the given properties, client id "c", optionally a will. */
function connect(block: number[], will?: number[]): Buffer {
  const flags = 0x02 | (will ? 0x04 : 0);
  const willPart = will ? [...will, ...str("w/t"), ...str("bye")] : [];
  return frame(0x10, ...str("MQTT"), 5, flags, 0, 60, ...block, ...str("c"), ...willPart);
}

/** What mqtt-packet alone makes of a frame at level 5. */
function mqttPacket(buf: Buffer): Packet | Error {
  let out: Packet | Error = new Error("nothing");
  const p = createParser({ protocolVersion: 5 });
  p.on("packet", (packet: Packet) => (out = packet));
  p.on("error", (err: Error) => (out = err));
  p.parse(buf);
  return out;
}

function ok(buf: Buffer): Packet & { props?: Properties } {
  const p = parseFrame(buf, 5);
  if (p instanceof Error) throw p;
  return p;
}

function code(buf: Buffer): number {
  const p = parseFrame(buf, 5);
  expect(p).toBeInstanceOf(PropertyError);
  return (p as PropertyError).reasonCode;
}

describe("mqtt-packet 9.0.2 alone is not strict enough about MQTT 5 properties", () => {
  it("accepts a duplicate single-valued property (as an array)", () => {
    expect(mqttPacket(subscribe(props(0x0b, 1, 0x0b, 2)))).toMatchObject({ properties: { subscriptionIdentifier: [1, 2] } });
  });
  it("accepts a property not valid for the packet", () => {
    expect(mqttPacket(subscribe(props(0x11, ...u32(1))))).toMatchObject({ properties: { sessionExpiryInterval: 1 } });
  });
  it("loses the order of interleaved user properties", () => {
    const p = mqttPacket(subscribe(props(0x26, ...str("a"), ...str("1"), 0x26, ...str("b"), ...str("2"), 0x26, ...str("a"), ...str("3"))));
    expect(p).toMatchObject({ properties: { userProperties: { a: ["1", "3"], b: "2" } } });
  });
  it("reads a byte property's 2 as true", () => {
    const p = mqttPacket(connect(props(0x17, 2)));
    expect((p as IConnectPacket).properties?.requestProblemInformation).toBe(true);
  });
  it("does not notice a property that overruns its Property Length", () => {
    // Property Length 2, but Session Expiry Interval takes 5 bytes
    expect(mqttPacket(frame(0x82, 0, 1, 2, 0x11, 0, 0, 0, 1, ...str("a"), 1))).toMatchObject({ cmd: "subscribe" });
  });
});

describe("parseFrame at level 5: properties through the one table", () => {
  it("SUBSCRIBE: a subscription identifier and ordered user properties as `props`; subscription options", () => {
    const p = ok(frame(0x82, 0, 7, ...props(0x0b, 0x80, 0x01, 0x26, ...str("a"), ...str("1"), 0x26, ...str("b"), ...str("2"), 0x26, ...str("a"), ...str("3")), ...str("x/#"), 0x2e));
    expect(p).toMatchObject({ cmd: "subscribe", messageId: 7, subscriptions: [{ topic: "x/#", qos: 2, nl: true, rap: true, rh: 2 }] });
    expect(p.props).toEqual({ subscriptionIdentifiers: [128], userProperties: [["a", "1"], ["b", "2"], ["a", "3"]] });
    expect("properties" in p).toBe(false);
  });

  it("SUBSCRIBE: a duplicate, a misplaced property, a zero identifier, an overrun, a missing Property Length", () => {
    expect(code(subscribe(props(0x0b, 1, 0x0b, 2)))).toBe(PROTOCOL_ERROR);
    expect(code(subscribe(props(0x11, ...u32(1))))).toBe(MALFORMED_PACKET);
    expect(code(subscribe(props(0x0b, 0)))).toBe(PROTOCOL_ERROR);
    expect(code(frame(0x82, 0, 1, 2, 0x11, 0, 0, 0, 1, ...str("a"), 1))).toBe(MALFORMED_PACKET);
    expect(code(frame(0x82, 0, 1))).toBe(MALFORMED_PACKET);
    expect(code(subscribe(props(0x26, 0, 1, 0xff, ...str("v"))))).toBe(MALFORMED_PACKET);
  });

  it("SUBSCRIBE: reserved option bits and retain handling 3 stay malformed (mqtt-packet's checks)", () => {
    expect(parseFrame(frame(0x82, 0, 1, 0, ...str("a"), 0x41), 5)).toBeInstanceOf(Error);
    expect(parseFrame(frame(0x82, 0, 1, 0, ...str("a"), 0x30), 5)).toBeInstanceOf(Error);
  });

  it("UNSUBSCRIBE: user properties allowed, a subscription identifier is not", () => {
    expect(ok(frame(0xa2, 0, 3, ...props(0x26, ...str("k"), ...str("v")), ...str("a")))).toMatchObject({ unsubscriptions: ["a"], props: { userProperties: [["k", "v"]] } });
    expect(code(frame(0xa2, 0, 3, ...props(0x0b, 1), ...str("a")))).toBe(MALFORMED_PACKET);
  });

  it("DISCONNECT: no reason and no properties, a reason alone, a reason and properties", () => {
    expect(ok(frame(0xe0))).toMatchObject({ cmd: "disconnect", reasonCode: 0 });
    expect(ok(frame(0xe0, 0x04))).toMatchObject({ cmd: "disconnect", reasonCode: 4 });
    const p = ok(frame(0xe0, 0x00, ...props(0x11, ...u32(10), 0x1f, ...str("bye"))));
    expect(p.props).toEqual({ sessionExpiryInterval: 10, reasonString: "bye" });
    expect(code(frame(0xe0, 0x00, ...props(0x23, 0, 1)))).toBe(MALFORMED_PACKET);
    expect(code(frame(0xe0, 0x00, ...props(0x1f, ...str("a"), 0x1f, ...str("b"))))).toBe(PROTOCOL_ERROR);
    expect(parseFrame(frame(0xe0, 0x05), 5)).toBeInstanceOf(Error); // 0x05 is no DISCONNECT reason code
  });

  it("AUTH: reason and authentication properties; a will property in it is malformed", () => {
    const p = ok(frame(0xf0, 0x18, ...props(0x15, ...str("SCRAM-SHA-1"), 0x16, 0, 2, 1, 2)));
    expect(p).toMatchObject({ cmd: "auth", reasonCode: 0x18 });
    expect(p.props).toEqual({ authenticationMethod: "SCRAM-SHA-1", authenticationData: Buffer.from([1, 2]) });
    expect(code(frame(0xf0, 0x18, ...props(0x18, ...u32(1))))).toBe(MALFORMED_PACKET);
  });

  it("CONNECT: its properties as `props`, its will properties as `will.props`, each block against its own list", () => {
    const will = props(0x18, ...u32(30), 0x01, 1, 0x26, ...str("w"), ...str("1"));
    const p = ok(connect(props(0x11, ...u32(120), 0x21, ...u16(20), 0x26, ...str("c"), ...str("2")), will)) as IConnectPacket & { props?: Properties; will: { props?: Properties } };
    expect(p).toMatchObject({ protocolVersion: 5, clientId: "c", will: { topic: "w/t" } });
    expect(p.props).toEqual({ sessionExpiryInterval: 120, receiveMaximum: 20, userProperties: [["c", "2"]] });
    expect(p.will.props).toEqual({ willDelayInterval: 30, payloadFormatIndicator: 1, userProperties: [["w", "1"]] });
    expect(code(connect(props(0x18, ...u32(30))))).toBe(MALFORMED_PACKET); // will delay among the CONNECT properties
    expect(code(connect(props(), props(0x11, ...u32(1))))).toBe(MALFORMED_PACKET); // session expiry among the will properties
    expect(code(connect(props(0x17, 2)))).toBe(PROTOCOL_ERROR);
    expect(code(connect(props(0x21, ...u16(0))))).toBe(PROTOCOL_ERROR);
    expect(code(connect(props(0x11, ...u32(1), 0x11, ...u32(2))))).toBe(PROTOCOL_ERROR);
  });
});

describe("parseFrame at level 4: unchanged", () => {
  it("a v5 CONNECT is read at level 5 whatever the connection's level: strict properties, as props", () => {
    // Before its CONNECT a connection is at level 4; the CONNECT says its own level.
    const p = parseFrame(connect(props(0x11, ...u32(7))));
    expect(p).toMatchObject({ cmd: "connect", protocolVersion: 5, props: { sessionExpiryInterval: 7 } });
    expect("properties" in (p as object)).toBe(false);
    // A property given twice is a Protocol Error (mqtt-packet would make a list of it).
    expect(parseFrame(connect(props(0x11, ...u32(1), 0x11, ...u32(2))))).toMatchObject({ reasonCode: 0x82 });
  });

  it("a SUBSCRIBE is read as 3.1.1: no property block", () => {
    expect(parseFrame(frame(0x82, 0, 1, ...str("a"), 1))).toMatchObject({ cmd: "subscribe", subscriptions: [{ topic: "a", qos: 1 }] });
    expect(parseFrame(subscribe(props()))).toBeInstanceOf(Error); // the 0 byte is read as a topic length
  });

  it("the shared parser is not left at level 5 by a level 5 frame", () => {
    ok(subscribe(props(0x0b, 1)));
    expect(parseFrame(frame(0x82, 0, 1, ...str("a"), 1))).toMatchObject({ cmd: "subscribe" });
  });
});
