import type { Outbox } from "./outbox.js";

/**
 * When what is written to connections leaves (decision 035). Everything written to a connection is copied into its
 * batch (broker/outbox.ts), and the batches are written together: what the turn's first read writes goes at once
 * (`nextTick`, or at the end of the read's callback); once a turn has handled more reads, the loop is busy and
 * batches wait for its end (`setImmediate`), not for the end of each callback: packets that many clients' reads
 * send to one connection (a backend subscriber of a whole fleet, each device's publish arriving in a read of its
 * own) leave in one write.
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
/** A read's callback is running: what the turn's first read batches is written at its end (`endRead`). */
let reading = false;
/** Reads handled since this turn of the event loop began (reset by `endTurn`, the turn's first immediate). */
let turnReads = 0;

/** A read's callback begins (broker/connection-stream.ts): counted for the turn. */
export function beginRead(): void {
  if (turnReads++ === 0) setImmediate(endTurn);
  reading = true;
}

/**
 * The end of a read's callback: what the turn's first read batched is written now, as a `nextTick` after the callback
 * wrote it before (without allocating a tick per read).
 */
export function endRead(): void {
  reading = false;
  if (flushScheduled && turnReads <= 1) flushBatched();
}

/** `outbox` started a batch: it is written with the others, when this turn's reads say (see above). */
export function batchForTurn(outbox: Outbox): void {
  batched[batchedCount++] = outbox;
  if (!flushScheduled) {
    flushScheduled = true;
    // The turn's first read (or no read: a timer, the journal's answer) is written as soon as it is handled, as
    // a lone client's round trip wants; after more reads in one turn the loop is busy, and what they write
    // waits for the turn's end, to leave together.
    if (turnReads > 1) setImmediate(flushBatched);
    // In a read's callback (`endRead`) the batch goes out when the callback returns; without a read (a timer, the
    // journal's answer), after this callback (`nextTick`).
    else if (!reading) process.nextTick(flushBatched);
  }
}

function endTurn(): void {
  turnReads = 0;
}

function flushBatched(): void {
  flushScheduled = false;
  // A flush may batch more (to another connection): those are appended and written in this same pass.
  for (let i = 0; i < batchedCount; i++) (batched[i] as Outbox).flush();
  if (batchedCount > KEEP_BATCHED) batched.length = 0;
  else for (let i = 0; i < batchedCount; i++) batched[i] = null;
  batchedCount = 0;
}
