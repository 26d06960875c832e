import { Socket } from "node:net";
import type { ClientStream } from "./client-stream.js";
import { type StreamWrapBinding, streamWrap, uvError } from "./stream-binding.js";

/**
 * Writes of plain TCP connections straight to the socket's handle, past the Writable stream, while the stream holds
 * nothing (the counterpart of decision 039's shared read buffer, broker/borrowed-reads.ts).
 *
 * `socket.write` costs, for every write, a `WriteWrap` request object, the Writable's after-write record and a
 * `nextTick` to run it (~250 B of young-generation garbage): with one batch written per connection per turn, that was
 * the largest part of what a QoS 1 message allocates. The handle's `writeBuffer(req, buf)` (what `socket.write`
 * ends in) first tries to write at once; when the kernel takes every byte, as it does while the client keeps up,
 * nothing is queued and `req` is never used, so one request object serves every such write. When bytes are left,
 * libuv queues them behind `req`, which is then kept (with the buffer) until its `oncomplete`, and the next write
 * takes a new one.
 *
 * Order: a direct write is made only while the Writable holds nothing (`writableLength` 0: nothing buffered, none of
 * its writes in flight); libuv queues every write of one handle in the order made, so a write through the stream
 * after a direct one that was queued goes after it, and `end()`'s shutdown waits for both.
 *
 * The request constructor and the "last write was async" flag are Node internals (broker/stream-binding.ts). When
 * they are missing (another runtime or Node version) `writeHandleOf` returns null and the connection writes through
 * the stream: slower, never wrong. A `HandleStream` (decision 053) writes through here always.
 * test/unit/direct-writes.test.ts fails if plain TCP sockets stop taking this path on a supported Node.
 */

/** A write request as the handle takes it (a `WriteWrap`): the fields below are ours, set only on queued writes. */
interface WriteReq {
  oncomplete: ((this: WriteReq, status: number) => void) | null;
  /** Keeps the queued bytes alive until written (as `net` does). */
  buffer: Buffer | null;
  owner: DirectWriter | null;
}

export interface WriteHandle {
  writeBuffer(req: WriteReq, buf: Uint8Array): number;
}

/** Who is told when a queued direct write is done (the connection). */
export interface DirectWriter {
  /** `bytes` of a queued write reached the kernel, or failed (`status` < 0, a libuv error). */
  onDirectWritten(bytes: number, status: number): void;
}

/** The request of the next write: one for every write that completes at once. */
let spare: WriteReq | null = null;

/** The handle of a plain TCP socket with a handle, when this Node offers what direct writes need; else null. */
export function writeHandleOf(stream: ClientStream): WriteHandle | null {
  if (!(stream instanceof Socket) || stream.constructor !== Socket) return null;
  const handle = (stream as unknown as { _handle?: Partial<WriteHandle> | null })._handle;
  if (handle === null || handle === undefined || typeof handle.writeBuffer !== "function") return null;
  return streamWrap() === null ? null : (handle as WriteHandle);
}

/** `writeDirect`'s answer when the kernel took every byte. */
export const WRITTEN = 0;
/** `writeDirect`'s answer when bytes were queued: `owner.onDirectWritten(buf.length, status)` follows. */
export const QUEUED = 1;

/**
 * Writes `buf` to `handle`: WRITTEN, QUEUED, or a negative libuv error (nothing was queued; the caller destroys the
 * stream with `writeError`, as `net` does). Only while the stream's Writable holds nothing (see above).
 */
export function writeDirect(handle: WriteHandle, buf: Buffer, owner: DirectWriter): number {
  const b = streamWrap() as StreamWrapBinding;
  const req = (spare ??= newReq(b));
  const err = handle.writeBuffer(req, buf);
  if (err !== 0) {
    // The native side may have wrapped the request before failing: it is not used again.
    spare = null;
    return err;
  }
  if (b.streamBaseState[b.kLastWriteWasAsync] === 0) return WRITTEN;
  // Queued: this request now belongs to the write in flight.
  spare = null;
  req.buffer = buf;
  req.owner = owner;
  req.oncomplete = onQueuedWriteDone;
  return QUEUED;
}

function newReq(b: StreamWrapBinding): WriteReq {
  const req = new b.WriteWrap() as WriteReq;
  req.oncomplete = null;
  req.buffer = null;
  req.owner = null;
  return req;
}

function onQueuedWriteDone(this: WriteReq, status: number): void {
  const owner = this.owner as DirectWriter;
  const bytes = (this.buffer as Buffer).length;
  this.owner = null;
  this.buffer = null;
  owner.onDirectWritten(bytes, status);
}

/** The error `net` destroys a socket with when a write fails (`write EPIPE`, with code, errno and syscall). */
export function writeError(status: number): Error {
  return uvError(status, "write");
}
