import { randomFillSync } from "node:crypto";

/**
 * Event ids: ULIDs (26 characters of Crockford base32: 48 bits of milliseconds, then 80 random bits), unique
 * across nodes and restarts without coordination, sortable by time. Ids made by one factory increase strictly
 * (monotonic ULID: within one millisecond the random part counts up), so one node's events sort in emit order.
 */

const ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_BYTES = 10;

export function createIdFactory(now: () => number = Date.now): () => string {
  const pool = Buffer.alloc(RANDOM_BYTES * 64);
  let poolAt = pool.length;
  const rand = new Uint8Array(RANDOM_BYTES);
  let last = -1;
  return () => {
    let t = now();
    if (t > last) {
      if (poolAt === pool.length) {
        randomFillSync(pool);
        poolAt = 0;
      }
      pool.copy(rand, 0, poolAt, poolAt + RANDOM_BYTES);
      poolAt += RANDOM_BYTES;
      last = t;
    } else {
      t = last; // the clock went back or did not move: keep the time, count the random part up
      let i = RANDOM_BYTES - 1;
      while (i >= 0 && rand[i] === 0xff) rand[i--] = 0;
      if (i < 0) last = t = last + 1; // 2^80 ids in one millisecond: borrow the next one
      else rand[i] = (rand[i] as number) + 1;
    }
    return encodeTime(t) + encodeRandom(rand);
  };
}

function encodeTime(t: number): string {
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = (ALPHABET[t % 32] as string) + out;
    t = Math.floor(t / 32);
  }
  return out;
}

/** 80 bits, big-endian, as 16 characters of 5 bits. */
function encodeRandom(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31] as string;
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** A process-wide id factory. */
export const newEventId: () => string = createIdFactory();
