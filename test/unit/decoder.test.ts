import { generate, parser as createParser, type Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { parseFrame } from "../../broker/codec.js";
import { copyBytes, decodeString, headerError, PacketDecoder, type PacketSink } from "../../broker/decoder.js";

// The broker's packet decoder (broker/decoder.ts) against raw bytes: golden packets, the same packets as
// mqtt-packet reads them, every split across chunks, many packets per chunk, and malformed input.

const bytes = (...b: number[]): Buffer => Buffer.from(b);

interface Recorded {
  packets: Packet[];
  errors: Error[];
  oversize: number[];
}

/** A sink that records what the decoder reports; `stopAfter` packets makes it refuse further ones (a close). */
function recorder(stopAfter = Number.POSITIVE_INFINITY): Recorded & PacketSink {
  const r: Recorded & PacketSink = {
    packets: [],
    errors: [],
    oversize: [],
    onPacket(p) {
      r.packets.push(p);
      return r.packets.length < stopAfter;
    },
    onDecodeError(err) {
      r.errors.push(err);
    },
    onOversize(n) {
      r.oversize.push(n);
    },
  };
  return r;
}

function decode(chunks: Buffer[], maxRemaining = 1 << 20): Recorded & { decoder: PacketDecoder } {
  const r = recorder();
  const decoder = new PacketDecoder(r, maxRemaining);
  for (const c of chunks) decoder.push(c);
  return { ...r, decoder };
}

/** What mqtt-packet makes of the same bytes (the reference for the fields the broker uses). */
function reference(buf: Buffer): Packet[] {
  const out: Packet[] = [];
  const p = createParser({ protocolVersion: 4 });
  p.on("packet", (packet: Packet) => out.push(packet));
  p.on("error", (err: Error) => {
    throw err;
  });
  p.parse(buf);
  return out;
}

/** The fields the handlers read, so packets from both decoders compare equal. */
function fields(p: Packet): Record<string, unknown> {
  switch (p.cmd) {
    case "publish":
      return { cmd: p.cmd, topic: p.topic, qos: p.qos, dup: p.dup, retain: p.retain, messageId: p.qos > 0 ? p.messageId : undefined, payload: Buffer.from(p.payload as Buffer).toString("hex") };
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return { cmd: p.cmd, messageId: p.messageId };
    case "subscribe":
      return { cmd: p.cmd, messageId: p.messageId, subscriptions: p.subscriptions };
    case "unsubscribe":
      return { cmd: p.cmd, messageId: p.messageId, unsubscriptions: p.unsubscriptions };
    case "connect":
      return { cmd: p.cmd, clientId: p.clientId, protocolVersion: p.protocolVersion, clean: p.clean, keepalive: p.keepalive, username: p.username };
    default:
      return { cmd: p.cmd };
  }
}

const SAMPLES: Packet[] = [
  { cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 30, clientId: "dev-1", username: "u", password: Buffer.from("p") },
  { cmd: "publish", topic: "a/b", payload: Buffer.from("hello"), qos: 0, retain: false, dup: false },
  { cmd: "publish", topic: "sensors/é/temp", payload: Buffer.from("21.5"), qos: 1, messageId: 513, retain: true, dup: false },
  { cmd: "publish", topic: "x", payload: Buffer.alloc(300, 7), qos: 2, messageId: 65535, retain: false, dup: true },
  { cmd: "publish", topic: "empty", payload: Buffer.alloc(0), qos: 1, messageId: 1, retain: false, dup: false },
  { cmd: "puback", messageId: 1 },
  { cmd: "pubrec", messageId: 258 },
  { cmd: "pubrel", messageId: 40000 },
  { cmd: "pubcomp", messageId: 7 },
  { cmd: "subscribe", messageId: 9, subscriptions: [{ topic: "a/#", qos: 1 }, { topic: "b/+", qos: 2 }] },
  { cmd: "unsubscribe", messageId: 10, unsubscriptions: ["a/#"] },
  { cmd: "pingreq" },
  { cmd: "disconnect" },
];

describe("PacketDecoder: golden bytes", () => {
  it("decodes PUBLISH QoS 0 from its bytes", () => {
    // 0x30, remaining 7: topic length 3, "a/b", payload "hi"
    const { packets, errors } = decode([bytes(0x30, 0x07, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x68, 0x69)]);
    expect(errors).toEqual([]);
    expect(packets.map(fields)).toEqual([{ cmd: "publish", topic: "a/b", qos: 0, dup: false, retain: false, messageId: undefined, payload: "6869" }]);
  });

  it("decodes PUBLISH QoS 1 with DUP and RETAIN, and its packet id", () => {
    const { packets } = decode([bytes(0x3b, 0x06, 0x00, 0x01, 0x74, 0x01, 0x02, 0xff)]);
    expect(packets.map(fields)).toEqual([{ cmd: "publish", topic: "t", qos: 1, dup: true, retain: true, messageId: 258, payload: "ff" }]);
  });

  it("decodes the four acknowledgements and PINGREQ", () => {
    const { packets, errors } = decode([bytes(0x40, 0x02, 0x00, 0x01, 0x50, 0x02, 0x01, 0x00, 0x62, 0x02, 0xff, 0xff, 0x70, 0x02, 0x00, 0x09, 0xc0, 0x00)]);
    expect(errors).toEqual([]);
    expect(packets.map(fields)).toEqual([
      { cmd: "puback", messageId: 1 },
      { cmd: "pubrec", messageId: 256 },
      { cmd: "pubrel", messageId: 65535 },
      { cmd: "pubcomp", messageId: 9 },
      { cmd: "pingreq" },
    ]);
  });

  it("reads a remaining length of 2, 3 and 4 bytes", () => {
    for (const size of [200, 20_000, 2_100_000]) {
      const packet: Packet = { cmd: "publish", topic: "big", payload: Buffer.alloc(size, 1), qos: 0, retain: false, dup: false };
      const { packets, errors } = decode([generate(packet)], 4_000_000);
      expect(errors).toEqual([]);
      expect(packets).toHaveLength(1);
      expect((packets[0] as { payload: Buffer }).payload.length).toBe(size);
    }
  });
});

describe("PacketDecoder: the same packets as mqtt-packet", () => {
  const all = Buffer.concat(SAMPLES.map((p) => generate(p)));
  const expected = reference(all).map(fields);

  it("many packets in one chunk", () => {
    const { packets, errors, decoder } = decode([all]);
    expect(errors).toEqual([]);
    expect(packets.map(fields)).toEqual(expected);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("split into two chunks at every byte offset", () => {
    for (let at = 1; at < all.length; at++) {
      const { packets, errors, decoder } = decode([all.subarray(0, at), all.subarray(at)]);
      expect(errors).toEqual([]);
      expect(packets.map(fields)).toEqual(expected);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it("one byte per chunk", () => {
    const chunks = Array.from(all, (b) => Buffer.from([b]));
    const { packets, errors } = decode(chunks);
    expect(errors).toEqual([]);
    expect(packets.map(fields)).toEqual(expected);
  });

  it("random splits (seeded)", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000);
    for (let round = 0; round < 200; round++) {
      const chunks: Buffer[] = [];
      for (let pos = 0; pos < all.length; ) {
        const n = 1 + Math.floor(rand() * 60);
        chunks.push(all.subarray(pos, pos + n));
        pos += n;
      }
      const { packets, errors } = decode(chunks);
      expect(errors).toEqual([]);
      expect(packets.map(fields)).toEqual(expected);
    }
  });

  it("keeps only the bytes of a cut packet, and none once it is complete", () => {
    const publish = generate({ cmd: "publish", topic: "a", payload: Buffer.alloc(100), qos: 0, retain: false, dup: false });
    const r = recorder();
    const decoder = new PacketDecoder(r, 1 << 20);
    decoder.push(Buffer.concat([generate({ cmd: "pingreq" }), publish.subarray(0, 10)]));
    expect(r.packets.map((p) => p.cmd)).toEqual(["pingreq"]);
    expect(decoder.bufferedBytes).toBe(10);
    decoder.push(publish.subarray(10, 50));
    expect(decoder.bufferedBytes).toBe(50);
    decoder.push(publish.subarray(50));
    expect(r.packets.map((p) => p.cmd)).toEqual(["pingreq", "publish"]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("a large packet in many chunks", () => {
    const payload = Buffer.alloc(256 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const frame = generate({ cmd: "publish", topic: "big/one", payload, qos: 1, messageId: 5, retain: false, dup: false });
    const chunks: Buffer[] = [];
    for (let pos = 0; pos < frame.length; pos += 16 * 1024) chunks.push(frame.subarray(pos, pos + 16 * 1024));
    const { packets, errors } = decode([...chunks, generate({ cmd: "puback", messageId: 3 })]);
    expect(errors).toEqual([]);
    expect(packets.map((p) => p.cmd)).toEqual(["publish", "puback"]);
    expect(Buffer.compare((packets[0] as { payload: Buffer }).payload, payload)).toBe(0);
  });

  it("stops decoding a chunk when the sink refuses a packet (the connection closed)", () => {
    const r = recorder(2);
    const decoder = new PacketDecoder(r, 1 << 20);
    decoder.push(Buffer.concat([generate({ cmd: "pingreq" }), generate({ cmd: "puback", messageId: 1 }), generate({ cmd: "puback", messageId: 2 })]));
    expect(r.packets.map((p) => p.cmd)).toEqual(["pingreq", "puback"]);
  });
});

describe("PacketDecoder: malformed input", () => {
  const cases: [string, Buffer][] = [
    ["(MQTT-3.3.1-4) PUBLISH with QoS 3", bytes(0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01)],
    ["(MQTT-4.8.0-1) PUBLISH with remaining length 1", bytes(0x30, 0x01, 0x00)],
    ["(MQTT-4.8.0-1) PUBLISH topic length beyond the packet end", bytes(0x30, 0x03, 0x00, 0x05, 0x61)],
    ["(MQTT-4.8.0-1) PUBLISH QoS 1 cut before its packet id", bytes(0x32, 0x03, 0x00, 0x01, 0x61)],
    ["(MQTT-4.8.0-1) PUBLISH QoS 2 cut inside its packet id", bytes(0x34, 0x04, 0x00, 0x01, 0x61, 0x00)],
    ["(MQTT-1.5.3-1) PUBLISH topic with ill-formed UTF-8", bytes(0x30, 0x05, 0x00, 0x02, 0xc0, 0x80, 0x78)],
    ["(MQTT-1.5.3-1) PUBLISH topic with a surrogate", bytes(0x30, 0x05, 0x00, 0x03, 0xed, 0xa0, 0x80)],
    ["(MQTT-1.5.3-2) PUBLISH topic containing U+0000", bytes(0x30, 0x05, 0x00, 0x02, 0x61, 0x00, 0x78)],
    ["(MQTT-3.6.1-1) PUBREL with header flags 0x0", bytes(0x60, 0x02, 0x00, 0x01)],
    ["(MQTT-2.2.2-2) PUBACK with header flags 0x2", bytes(0x42, 0x02, 0x00, 0x01)],
    ["(MQTT-2.2.2-2) PINGREQ with header flags 0x1", bytes(0xc1, 0x00)],
    ["(MQTT-4.8.0-1) PUBACK with remaining length 3", bytes(0x40, 0x03, 0x00, 0x01, 0x00)],
    ["(MQTT-4.8.0-1) PUBREC with remaining length 1", bytes(0x50, 0x01, 0x00)],
    ["(MQTT-4.8.0-1) PUBREL with remaining length 0", bytes(0x62, 0x00)],
    ["(MQTT-4.8.0-1) PINGREQ with remaining length 1", bytes(0xc0, 0x01, 0x00)],
    ["(MQTT-4.8.0-1) reserved packet type 0", bytes(0x00, 0x00)],
    ["(MQTT-4.8.0-1) reserved packet type 15", bytes(0xf0, 0x00)],
    ["(MQTT-4.8.0-1) a 5-byte remaining length", bytes(0x30, 0x80, 0x80, 0x80, 0x80, 0x01)],
    ["(MQTT-3.8.1-1) SUBSCRIBE with header flags 0x0", bytes(0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00)],
    ["(MQTT-1.5.3-1) SUBSCRIBE filter with ill-formed UTF-8 (through mqtt-packet)", bytes(0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0xff, 0x00)],
    ["(MQTT-4.8.0-1) SUBSCRIBE filter without its QoS byte (through mqtt-packet)", bytes(0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61)],
  ];
  for (const [name, input] of cases) {
    it(`${name}: one error, no packet, also when split`, () => {
      for (let at = 0; at < input.length; at++) {
        const chunks = at === 0 ? [input] : [input.subarray(0, at), input.subarray(at)];
        const { packets, errors } = decode([...chunks, bytes(0xc0, 0x00)]);
        expect(packets).toEqual([]);
        expect(errors).toHaveLength(1);
      }
    });
  }

  it("a bad first byte is refused at once, before the rest of its packet arrives", () => {
    const { errors } = decode([bytes(0x62)]);
    expect(errors).toHaveLength(0);
    expect(decode([bytes(0x60)]).errors).toHaveLength(1);
    expect(decode([bytes(0x36)]).errors).toHaveLength(1);
  });

  it("a packet over the size limit is refused as soon as its length is read, before its body", () => {
    const { packets, oversize, errors } = decode([bytes(0x40, 0x02, 0x00, 0x01, 0x30, 0xe9, 0x07)], 1000);
    expect(packets.map((p) => p.cmd)).toEqual(["puback"]);
    expect(oversize).toEqual([1001]);
    expect(errors).toEqual([]);
  });

  it("an unsupported protocol level is reported as mqtt-packet words it (the broker answers CONNACK 0x01)", () => {
    const connect = generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clean: true, keepalive: 0, clientId: "x" });
    connect[8] = 6;
    const { errors } = decode([connect]);
    expect(errors.map((e) => e.message)).toEqual(["Invalid protocol version"]);
  });
});

describe("parseFrame (mqtt-packet, shared by all connections)", () => {
  it("an MQTT 5 CONNECT does not change how the next connection's packets are read", () => {
    const v5 = parseFrame(generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clean: true, keepalive: 0, clientId: "five", properties: {} }));
    expect(v5).toMatchObject({ cmd: "connect", protocolVersion: 5 });
    const sub = parseFrame(generate({ cmd: "subscribe", messageId: 3, subscriptions: [{ topic: "a", qos: 1 }] }));
    expect(sub).toMatchObject({ cmd: "subscribe", messageId: 3, subscriptions: [{ topic: "a", qos: 1 }] });
  });

  it("recovers after a malformed packet", () => {
    expect(parseFrame(bytes(0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61))).toBeInstanceOf(Error);
    expect(parseFrame(generate({ cmd: "unsubscribe", messageId: 4, unsubscriptions: ["a/b"] }))).toMatchObject({ cmd: "unsubscribe", unsubscriptions: ["a/b"] });
  });
});

describe("decodeString", () => {
  it("ASCII, multi-byte UTF-8 and a leading U+FEFF are kept (MQTT-1.5.3-3)", () => {
    for (const s of ["plain/topic", "température/°C", "\uFEFFbom", "emoji/😀"]) {
      const b = Buffer.from(`xx${s}yy`);
      expect(decodeString(b, 2, b.length - 2)).toBe(s);
    }
  });

  it("ill-formed UTF-8 and U+0000 give null (MQTT-1.5.3-1) (MQTT-1.5.3-2)", () => {
    for (const b of [bytes(0x61, 0xff), bytes(0xe2, 0x82), bytes(0x61, 0x00), bytes(0xc3, 0xa9, 0x00)]) expect(decodeString(b, 0, b.length)).toBeNull();
  });
});

describe("headerError", () => {
  it("accepts exactly the first bytes a client may send or that mqtt-packet reports itself", () => {
    const ok: number[] = [];
    for (let b = 0; b < 256; b++) if (headerError(b) === null) ok.push(b);
    const publish = Array.from({ length: 16 }, (_, i) => 0x30 | i).filter((b) => (b & 0x06) !== 0x06);
    expect(ok).toEqual([0x10, 0x20, ...publish, 0x40, 0x50, 0x62, 0x70, 0x82, 0x90, 0xa2, 0xb0, 0xc0, 0xd0, 0xe0]);
  });
});

describe("copyBytes", () => {
  it("copies any range into any place, by loop (small) or Buffer#copy (larger), as Buffer#copy does", () => {
    const src = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff));
    for (const length of [0, 1, 2, 63, 64, 65, 100, 200]) {
      for (const start of [0, 1, 17, 300 - length]) {
        for (const at of [0, 5]) {
          const got = Buffer.alloc(at + length + 3, 0xee);
          const want = Buffer.alloc(at + length + 3, 0xee);
          copyBytes(src, start, start + length, got, at);
          src.copy(want, at, start, start + length);
          expect(got.equals(want), `length ${length} from ${start} to ${at}`).toBe(true);
        }
      }
    }
  });
});

describe("a PUBLISH topic equal to the previous one", () => {
  /** A 3.1.1 QoS 0 PUBLISH with these topic bytes and payload "x". */
  const publishBytes = (topic: Buffer): Buffer => Buffer.concat([bytes(0x30, 2 + topic.length + 1, topic.length >> 8, topic.length & 0xff), topic, bytes(0x78)]);

  it("is read the same, and a topic of the same length with other bytes is read as itself", () => {
    const seen: string[] = [];
    const decoder = new PacketDecoder({ onPacket: (p) => (seen.push((p as { topic: string }).topic), true), onDecodeError: (e) => seen.push(`error: ${e.message}`), onOversize: () => {} }, 1 << 20, true);
    for (const t of ["a/b", "a/b", "a/c", "é/b", "é/b", "a/b", "xyz"]) decoder.push(publishBytes(Buffer.from(t)), undefined, true);
    expect(seen).toEqual(["a/b", "a/b", "a/c", "é/b", "é/b", "a/b", "xyz"]);
  });

  it("after a topic with é (2 bytes in UTF-8), a lone 0xE9 byte in its place is still ill-formed UTF-8 (MQTT-1.5.3-1)", () => {
    const errors: string[] = [];
    const topics: string[] = [];
    const decoder = new PacketDecoder({ onPacket: (p) => (topics.push((p as { topic: string }).topic), true), onDecodeError: (e) => errors.push(e.message), onOversize: () => {} }, 1 << 20, true);
    // "é" is one character: a one-byte topic 0xE9 has the same length as the string and the same char code.
    decoder.push(publishBytes(Buffer.from("é")));
    decoder.push(publishBytes(bytes(0xe9)));
    expect(topics).toEqual(["é"]);
    expect(errors).toEqual([expect.stringContaining("ill-formed UTF-8")]);
  });

  it("a U+0000 in a topic after an equal-length one is still refused (MQTT-1.5.3-2)", () => {
    const errors: string[] = [];
    const decoder = new PacketDecoder({ onPacket: () => true, onDecodeError: (e) => errors.push(e.message), onOversize: () => {} }, 1 << 20, true);
    decoder.push(publishBytes(Buffer.from("ab")));
    decoder.push(publishBytes(bytes(0x61, 0x00)));
    expect(errors).toEqual([expect.stringContaining("U+0000")]);
  });
});
