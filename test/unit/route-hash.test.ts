import { describe, expect, it } from "vitest";
import { RouteHasher } from "../../broker/route-hash.js";

/** HalfSipHash-2-4 64-bit tags from the reference implementation (key 00..07, message 00..len-1). */
const VECTORS = [
  "218d1f59b9b83cc8",
  "be552412f8387315",
  "064f39ef7c50eb57",
  "ce0f1a45f7060679",
  "d5e78a175be52ea1",
  "cb9d7c3f2f3db580",
  "ce3e91358aa2bc25",
  "ff202728b07bc684",
  "edfee820bce4858c",
  "5b51cccc13888307",
];

function tag(h: RouteHasher): string {
  const out = Buffer.alloc(8);
  out.writeInt32LE(h.hi, 0);
  out.writeInt32LE(h.lo, 4);
  return out.toString("hex");
}

describe("RouteHasher (HalfSipHash-2-4, 64-bit tag)", () => {
  it("matches the reference test vectors", () => {
    const h = new RouteHasher(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7]));
    VECTORS.forEach((want, len) => {
      h.hashBytes(Uint8Array.from({ length: len }, (_, i) => i));
      expect(tag(h), `length ${len}`).toBe(want);
    });
  });

  it("hashes a string as its UTF-16LE bytes, odd and even lengths, non-ASCII included", () => {
    const key = Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2]);
    const a = new RouteHasher(key);
    const b = new RouteHasher(key);
    for (const s of ["", "a", "ab", "devices/d-000017/cmd", "sensors/ü/温度/🌡", "x".repeat(300)]) {
      a.hash(s);
      b.hashBytes(Buffer.from(s, "utf16le"));
      expect(tag(a), s).toBe(tag(b));
    }
  });

  it("gives different tags under different keys (random per process by default)", () => {
    const a = new RouteHasher();
    const b = new RouteHasher();
    a.hash("devices/d-1/cmd");
    b.hash("devices/d-1/cmd");
    expect(tag(a)).not.toBe(tag(b));
    expect(() => new RouteHasher(new Uint8Array(4))).toThrow(/8-byte key/);
  });
});
