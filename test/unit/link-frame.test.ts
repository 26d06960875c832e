import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { encodeBatch, encodeId, FrameDecoder, FrameType, handshakeMac, LinkProtocolError } from "../../broker/link/frame.js";
import { RecentIds } from "../../broker/link/links.js";

// The node link wire format (broker/link/frame.ts): golden bytes, splitting at every byte, limits, and random input.

describe("link frames", () => {
  it("golden bytes: ACK and BATCH", () => {
    expect(encodeId(FrameType.ack, 0x01020304).toString("hex")).toBe("000000050501020304");
    expect(encodeBatch(7, "[]").toString("hex")).toBe("00000007" + "04" + "00000007" + "5b5d");
  });

  it("decodes frames split at every byte boundary, in order", () => {
    const bytes = Buffer.concat([encodeBatch(1, '[{"a":"é"}]'), encodeId(FrameType.ack, 2), encodeId(FrameType.nack, 3)]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const d = new FrameDecoder(1024);
      const frames = [...d.push(bytes.subarray(0, cut)), ...d.push(bytes.subarray(cut))];
      expect(frames.map((f) => f.type)).toEqual([FrameType.batch, FrameType.ack, FrameType.nack]);
      expect(frames[0]!.body.subarray(4).toString("utf8")).toBe('[{"a":"é"}]');
    }
  });

  it("refuses a frame over the limit from its header alone, and an empty frame", () => {
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1025, 0);
    expect(() => new FrameDecoder(1024).push(header)).toThrow(LinkProtocolError);
    expect(() => new FrameDecoder(1024).push(Buffer.alloc(4))).toThrow(/empty frame/);
  });

  it("random input either decodes or throws LinkProtocolError, never anything else", () => {
    for (let i = 0; i < 2000; i++) {
      const d = new FrameDecoder(64);
      try {
        d.push(randomBytes(1 + (i % 40)));
      } catch (err) {
        expect(err).toBeInstanceOf(LinkProtocolError);
      }
    }
  });

  it("the handshake MAC depends on the role, both nonces and both node ids", () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const mac = handshakeMac("s".repeat(32), "client", a, b, "n1", "n2");
    expect(handshakeMac("s".repeat(32), "client", a, b, "n1", "n2")).toEqual(mac);
    for (const other of [
      handshakeMac("s".repeat(32), "server", a, b, "n1", "n2"),
      handshakeMac("s".repeat(32), "client", b, a, "n1", "n2"),
      handshakeMac("s".repeat(32), "client", a, b, "n2", "n1"),
      handshakeMac("t".repeat(32), "client", a, b, "n1", "n2"),
    ]) {
      expect(other).not.toEqual(mac);
    }
  });
});

describe("RecentIds (dedup across link and node queue)", () => {
  it("keeps at most `max` ids, oldest forgotten first", () => {
    const ids = new RecentIds(3, 60_000);
    for (const id of ["a", "b", "c", "d"]) ids.add(id);
    expect(["a", "b", "c", "d"].map((id) => ids.has(id))).toEqual([false, true, true, true]);
    expect(ids.size).toBe(3);
  });
});
