import { createRequire } from "node:module";
import { writeToStream } from "mqtt-packet";
import { describe, expect, it } from "vitest";
import { encode } from "../../broker/codec.js";

// mqtt-packet's table of 65,536 pre-built two-byte Buffers (about 7 MB of heap) is never built by the broker.
const numbers = createRequire(import.meta.url)("mqtt-packet/numbers.js") as { cache: Record<number, Buffer> };

describe("broker/codec: the cold-path encoder's memory", () => {
  it("encodes without mqtt-packet's number table, byte for byte as with it", () => {
    expect(writeToStream.cacheNumbers).toBe(false);
    const suback = encode({ cmd: "suback", messageId: 0x1234, granted: [1, 0x80] });
    const connack = encode({ cmd: "connack", returnCode: 0, sessionPresent: true });
    expect(Object.keys(numbers.cache)).toHaveLength(0);
    expect([...suback]).toEqual([0x90, 4, 0x12, 0x34, 1, 0x80]);
    expect([...connack]).toEqual([0x20, 2, 1, 0]);
  });
});
