import { randomBytes } from "node:crypto";

/**
 * A keyed 64-bit hash of topic filters and topic names for the exact routes (decision 043): HalfSipHash-2-4 with
 * a 64-bit tag, over the string's UTF-16LE bytes. The key is random per process, so a client cannot choose two
 * filters whose tags collide; a collision by chance needs about 2^32 filters on one node before it is likely.
 * `hash` leaves the tag in `hi` and `lo` (no allocation on the publish path).
 */
export class RouteHasher {
  /** The tag of the last `hash` or `hashBytes` call: first and second 32-bit word (signed). */
  hi = 0;
  lo = 0;
  private readonly k0: number;
  private readonly k1: number;
  private words = new Int32Array(64);
  private v0 = 0;
  private v1 = 0;
  private v2 = 0;
  private v3 = 0;

  constructor(key: Uint8Array = randomBytes(8)) {
    if (key.length !== 8) throw new Error("RouteHasher needs an 8-byte key");
    this.k0 = (key[0]! | (key[1]! << 8) | (key[2]! << 16) | (key[3]! << 24)) | 0;
    this.k1 = (key[4]! | (key[5]! << 8) | (key[6]! << 16) | (key[7]! << 24)) | 0;
  }

  /** Hashes `s` as its UTF-16LE bytes (two code units per 32-bit word). */
  hash(s: string): void {
    const units = s.length;
    const full = units >>> 1;
    const words = this.room(full);
    for (let i = 0; i < full; i++) words[i] = s.charCodeAt(2 * i) | (s.charCodeAt(2 * i + 1) << 16);
    this.run(words, full, units & 1 ? s.charCodeAt(units - 1) : 0, 2 * units);
  }

  /** Hashes raw bytes (the reference function; used by the tests against the published test vectors). */
  hashBytes(bytes: Uint8Array): void {
    const full = bytes.length >>> 2;
    const words = this.room(full);
    for (let i = 0; i < full; i++) {
      const p = 4 * i;
      words[i] = bytes[p]! | (bytes[p + 1]! << 8) | (bytes[p + 2]! << 16) | (bytes[p + 3]! << 24);
    }
    let tail = 0;
    for (let p = bytes.length - 1; p >= 4 * full; p--) tail = (tail << 8) | bytes[p]!;
    this.run(words, full, tail, bytes.length);
  }

  private room(n: number): Int32Array {
    if (this.words.length < n) this.words = new Int32Array(Math.max(n, 2 * this.words.length));
    return this.words;
  }

  /** HalfSipHash-2-4, 64-bit tag: `count` full words, then the tail bytes with the length in the top byte. */
  private run(words: Int32Array, count: number, tail: number, byteLength: number): void {
    this.v0 = this.k0;
    this.v1 = this.k1 ^ 0xee;
    this.v2 = 0x6c796765 ^ this.k0;
    this.v3 = 0x74656462 ^ this.k1;
    for (let i = 0; i < count; i++) this.compress(words[i]!);
    this.compress(tail | (byteLength << 24));
    this.v2 ^= 0xee;
    this.rounds(4);
    this.hi = this.v1 ^ this.v3;
    this.v1 ^= 0xdd;
    this.rounds(4);
    this.lo = this.v1 ^ this.v3;
  }

  private compress(m: number): void {
    this.v3 ^= m;
    this.rounds(2);
    this.v0 ^= m;
  }

  /** `n` SipRounds of HalfSipHash on the state words (32-bit add, rotate, xor). */
  private rounds(n: number): void {
    let v0 = this.v0;
    let v1 = this.v1;
    let v2 = this.v2;
    let v3 = this.v3;
    for (let i = 0; i < n; i++) {
      v0 = (v0 + v1) | 0;
      v1 = (v1 << 5) | (v1 >>> 27);
      v1 ^= v0;
      v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0;
      v3 = (v3 << 8) | (v3 >>> 24);
      v3 ^= v2;
      v0 = (v0 + v3) | 0;
      v3 = (v3 << 7) | (v3 >>> 25);
      v3 ^= v0;
      v2 = (v2 + v1) | 0;
      v1 = (v1 << 13) | (v1 >>> 19);
      v1 ^= v2;
      v2 = (v2 << 16) | (v2 >>> 16);
    }
    this.v0 = v0;
    this.v1 = v1;
    this.v2 = v2;
    this.v3 = v3;
  }
}
