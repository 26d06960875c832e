/**
 * Batches whose bytes the kernel took at once (a direct write, broker/direct-writes.ts), each cut to the length it
 * had (broker/outbox.ts `flush`): new batches are written into them instead of a Buffer allocated per batch (and
 * a view cut from it per write), when one of the last few given back is large enough for what the connection wrote
 * last time. A stack in a ring: the most recent on top, the oldest overwritten once it is full. Bounded, since each
 * keeps its part of Node's buffer pool referenced (at most MAX_SPARES pool slabs of 8 KiB; the spares of a steady
 * load come from a few).
 *
 * A spare's bytes are overwritten by the batch that takes it: whoever still refers to them (the last PUBLISH kept for
 * its next receiver) forgets them before giving them back.
 */
const MAX_SPARES = 256;
/** Larger batches are not kept. */
const MAX_SPARE_BYTES = 4096;
/** How many spares from the top `takeSpare` looks at. */
const SPARE_LOOKS = 4;
const spares: (Buffer | null)[] = new Array<Buffer | null>(MAX_SPARES).fill(null);
/** The slot the next spare goes to: the top of the stack is the one before. */
let spareTop = 0;

/** A spare of at least `room` bytes, or null. */
export function takeSpare(room: number): Buffer | null {
  const top = (spareTop + MAX_SPARES - 1) % MAX_SPARES;
  for (let k = 0; k < SPARE_LOOKS; k++) {
    const i = (top + MAX_SPARES - k) % MAX_SPARES;
    const buf = spares[i] as Buffer | null;
    // Below an empty slot there is none.
    if (buf === null) return null;
    if (buf.length < room) continue;
    // The top one moves into the slot taken, so the stack stays without gaps.
    spares[i] = spares[top] as Buffer;
    spares[top] = null;
    spareTop = top;
    return buf;
  }
  return null;
}

/** `bytes` were written and nothing refers to them any more: kept for a later batch. */
export function giveSpare(bytes: Buffer): void {
  if (bytes.length > MAX_SPARE_BYTES) return;
  spares[spareTop] = bytes;
  spareTop = (spareTop + 1) % MAX_SPARES;
}
