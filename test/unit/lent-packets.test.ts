import { generate, type Packet } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { PacketDecoder, type PacketSink } from "../../broker/decoder.js";
import { keepPacket } from "../../broker/lent-packets.js";

// A decoder with `lend` (broker/lent-packets.ts) hands its sink one PUBLISH object and one acknowledgement object,
// filled again for each packet: what the sink keeps goes through keepPacket, a decode nested in a sink call gets
// objects of its own, and a packet given back refers to no payload.

const frames = (...packets: object[]): Buffer => Buffer.concat(packets.map((p) => generate(p as Packet)));
const publish = (topic: string, payload: string, messageId: number): object => ({ cmd: "publish", topic, payload: Buffer.from(payload), qos: 1, messageId, retain: false, dup: false });

function sink(onPacket: (p: Packet) => void): PacketSink {
  return {
    onPacket: (p) => (onPacket(p), true),
    onDecodeError: (e) => {
      throw e;
    },
    onOversize: () => {
      throw new Error("oversize");
    },
  };
}

describe("lent packets", () => {
  it("one object per kind is lent for every packet; keepPacket keeps what each was", () => {
    const seen: Packet[] = [];
    const kept: Packet[] = [];
    const decoder = new PacketDecoder(sink((p) => (seen.push(p), kept.push(keepPacket(p)))), 1 << 20, true);
    decoder.push(frames(publish("a/1", "one", 1), { cmd: "puback", messageId: 7 }, publish("a/2", "two", 2), { cmd: "pubrec", messageId: 8 }), undefined, true);
    expect(seen[0]).toBe(seen[2]);
    expect(seen[1]).toBe(seen[3]);
    expect(kept.map((p) => (p.cmd === "publish" ? [p.cmd, p.topic, p.payload.toString(), p.messageId] : [p.cmd, (p as { messageId: number }).messageId]))).toEqual([
      ["publish", "a/1", "one", 1],
      ["puback", 7],
      ["publish", "a/2", "two", 2],
      ["pubrec", 8],
    ]);
    // Given back after each call: the lent PUBLISH refers to no payload.
    expect((seen[0] as { payload: Buffer }).payload.length).toBe(0);
  });

  it("a decode nested in a sink call gets objects of its own", () => {
    const inner: Packet[] = [];
    const innerDecoder = new PacketDecoder(sink((p) => inner.push(keepPacket(p))), 1 << 20, true);
    const outer: string[] = [];
    const outerDecoder = new PacketDecoder(
      sink((p) => {
        const topic = (p as { topic: string }).topic;
        innerDecoder.push(frames(publish("inner", "i", 3), { cmd: "puback", messageId: 9 }));
        // The outer packet is still what it was after the nested decode.
        outer.push(`${topic}=${(p as { topic: string }).topic}`);
      }),
      1 << 20,
      true,
    );
    outerDecoder.push(frames(publish("outer", "o", 4)));
    expect(outer).toEqual(["outer=outer"]);
    expect(inner.map((p) => p.cmd)).toEqual(["publish", "puback"]);
    expect((inner[0] as { topic: string }).topic).toBe("inner");
  });

  it("a decoder without `lend` makes a new packet every time", () => {
    const seen: Packet[] = [];
    const decoder = new PacketDecoder(sink((p) => seen.push(p)), 1 << 20);
    decoder.push(frames(publish("a", "1", 1), publish("b", "2", 2)));
    expect(seen[0]).not.toBe(seen[1]);
    expect(seen.map((p) => (p as { topic: string }).topic)).toEqual(["a", "b"]);
  });
});
