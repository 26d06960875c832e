import { performance } from "node:perf_hooks";
import type { Outbox } from "./outbox.js";

/**
 * When what is written to connections leaves (decisions 035 and 054). Everything written to a connection is copied
 * into its batch (broker/outbox.ts), and the batches are written together. What a read writes goes when the read's
 * callback returns, unless the loop is busy: a read that begins soon after the previous one began (libuv hands one
 * poll's ready sockets over back to back) waits for the turn's end (`setImmediate`), so that packets many clients'
 * reads send to one connection (a backend subscriber of a whole fleet, each device's publish arriving in a read of
 * its own) leave in one write. A write that follows no read (a timer, the journal's answer) goes after its callback
 * (`nextTick`), or with a busy turn's batches that already wait.
 *
 * Decision 035 told the turn's first read from the others by counting reads, reset by an immediate every turn with
 * a read scheduled: one more call from libuv into JavaScript per turn, most of them for turns of one read. The gap
 * between reads tells the same without it (decision 054).
 */

/** A batch starts with room for at least this many bytes (Buffer.allocUnsafe takes small ones from Node's pool). */
export const MIN_BATCH = 256;
/** Packets larger than this are written as they are, not copied into the batch. */
export const MAX_BATCHED_PACKET = 16 * 1024;
/** A connection's batch is written as soon as it would grow past this many bytes. */
export const MAX_BATCH = 64 * 1024;

/** Outboxes with a batch to write. */
const batched: (Outbox | null)[] = [];
/**
 * Entries of `batched` in use. The array is kept between turns and its entries cleared: setting `length = 0` gave
 * its backing store up, and the next turn's first push allocated one again (~150 B per turn).
 */
let batchedCount = 0;
/** A turn that batched for more connections than this does not keep the array that long. */
const KEEP_BATCHED = 4096;
let flushScheduled = false;
/** A read's callback is running: what a read that is not busy batches is written at its end (`endRead`). */
let reading = false;

/**
 * A read that begins within this many milliseconds of the previous read's beginning is taken to be in the same turn
 * of the event loop (libuv hands over one poll's ready sockets back to back), or in the next turn of a loop with
 * more to do: what it batches waits for the turn's end. After a longer gap it is a turn's first read. Either guess is
 * safe: a batch always leaves by the end of the turn it was made in. One clock read per read (about 50 ns) is what
 * this costs: the gap from the previous read's end would need two.
 */
export const SAME_TURN_GAP_MS = 0.1;
/** Milliseconds, monotonic (replaced by the unit tests). */
let clock: () => number = () => performance.now();
/** When the last read's callback began. */
let lastReadBegan = Number.NEGATIVE_INFINITY;
/** The running (or last) read began within `SAME_TURN_GAP_MS` of the read before it. */
let busy = false;

/** A read's callback begins (broker/connection-stream.ts): busy, or the first of its turn. */
export function beginRead(): void {
  reading = true;
  const now = clock();
  busy = now - lastReadBegan < SAME_TURN_GAP_MS;
  lastReadBegan = now;
}

/** The end of a read's callback: what a read that is not busy batched is written now. */
export function endRead(): void {
  reading = false;
  if (flushScheduled && !busy) flushBatched();
}

/** `outbox` started a batch: it is written with the others, when this turn's reads say (see above). */
export function batchForTurn(outbox: Outbox): void {
  batched[batchedCount++] = outbox;
  if (!flushScheduled) {
    flushScheduled = true;
    // A busy read's batches wait for the turn's end.
    if (reading && busy) setImmediate(flushBatched);
    // A read that is not busy writes its batches when its callback returns (`endRead`). Without a read (a timer, the
    // journal's answer) they go after this callback, unless a busy read's already wait (then they join those): the
    // journal answers from an immediate of its own, and an immediate scheduled there would wait a whole turn.
    else if (!reading) process.nextTick(flushBatched);
  }
}

/** For test/unit/write-batches.test.ts: the clock reads are timed by, and a fresh start (no read yet). */
export function setClockForTests(next: () => number): void {
  clock = next;
  lastReadBegan = Number.NEGATIVE_INFINITY;
  busy = false;
}

function flushBatched(): void {
  flushScheduled = false;
  // A flush may batch more (to another connection): those are appended and written in this same pass.
  for (let i = 0; i < batchedCount; i++) (batched[i] as Outbox).flush();
  if (batchedCount > KEEP_BATCHED) batched.length = 0;
  else for (let i = 0; i < batchedCount; i++) batched[i] = null;
  batchedCount = 0;
}
