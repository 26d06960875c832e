import { getDefaultHighWaterMark } from "node:stream";
import { sharedReadBuffer } from "./borrowed-reads.js";
import type { ClientStream } from "./client-stream.js";
import { type DirectWriter, QUEUED, type WriteHandle, writeDirect, writeError } from "./direct-writes.js";
import { type StreamReq, type StreamWrapBinding, streamWrap, UV_EOF, uvError } from "./stream-binding.js";

/**
 * A plain TCP connection driven through its libuv handle, with no `net.Socket` around it (decision 053).
 *
 * Reads and writes already went past the socket's streams (decisions 035 and 039); what was left of the socket was
 * its objects (the Socket, its readable and writable state, event table, listeners: about 1 KB of heap per
 * connection, 1.6 KiB of RSS per socket at 18,000 sockets, bench/socket-floor.mjs --handles) and Node's read callback
 * on every read. This class keeps the handle alone and does for the broker what the socket did: it reads into the
 * buffer all connections share, reports each read, the end of stream and a failure to its `HandleEvents`, writes
 * through broker/direct-writes.ts, ends our side after what was written (shutdown), and closes the handle once.
 *
 * Order of what it reports, as a socket's events came: reads, then `end` (the client's FIN) at most once; `error`
 * (in a later tick) before `close`, which comes once the handle is closed. `end()` then the client's FIN, or
 * `destroy()`, close it; a connection that ended its side and whose client never ends theirs is destroyed by the
 * connection's own timer (broker/connection.ts).
 */

/** libuv's TCP handle as Node's `tcp_wrap` binding exposes it: the calls used here. */
export interface TcpHandle extends WriteHandle {
  onread: ((this: TcpHandle) => void) | null;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Uint8Array): void;
  shutdown(req: StreamReq): number;
  close(cb: () => void): void;
  getpeername(out: { address?: string; port?: number }): number;
  setNoDelay(on: boolean): number;
}

/** What the stream reports to its connection (broker/connection-stream.ts). */
export interface HandleEvents {
  /** `length` bytes arrived in `buf` (the shared read buffer): gone once this returns. */
  read(buf: Buffer, length: number): void;
  /** The client ended its side. */
  end(): void;
  /** A read, write or shutdown failed: `close` follows. */
  error(err: Error): void;
  /** The handle is closed. */
  close(): void;
}

/** Where a stream's handle is told it has closed: a listener counts the handles it has open. */
export interface HandleCount {
  closed(): void;
}

const kStream = Symbol("mqgate.handleStream");
interface OwnedHandle extends TcpHandle {
  [kStream]: HandleStream;
}

/** What a paused connection keeps before the handle stops reading: as a socket's readable high-water mark. */
const HIGH_WATER_MARK = getDefaultHighWaterMark(false);

/** Whether this Node has what a HandleStream needs (checked once per listener, on its listening handle). */
export function handleStreamsSupported(handle: Partial<TcpHandle>): boolean {
  return (
    streamWrap() !== null &&
    typeof handle.readStart === "function" &&
    typeof handle.readStop === "function" &&
    typeof handle.useUserBuffer === "function" &&
    typeof handle.writeBuffer === "function" &&
    typeof handle.shutdown === "function" &&
    typeof handle.close === "function" &&
    typeof handle.getpeername === "function" &&
    typeof handle.setNoDelay === "function"
  );
}

export class HandleStream implements ClientStream, DirectWriter {
  readonly readableHighWaterMark = HIGH_WATER_MARK;
  /** "address:port" of the client, as net.Socket's `remoteAddress` and `remotePort` give it. */
  readonly remote: string;
  private events: HandleEvents | null = null;
  private reading = false;
  private paused = false;
  private isDestroyed = false;
  /** `end()` was called: nothing more is written. */
  private ending = false;
  private shutdownDone = false;
  /** The client ended its side (a read reported the end of stream). */
  private readEnded = false;
  /** Bytes of `write` calls libuv holds, and their callbacks in order (libuv completes a handle's writes in order). */
  private queued = 0;
  private callbacks: ((err?: Error | null) => void)[] | null = null;

  constructor(
    private readonly handle: TcpHandle,
    private readonly count: HandleCount,
  ) {
    (handle as OwnedHandle)[kStream] = this;
    handle.onread = onHandleRead;
    handle.setNoDelay(true);
    const peer: { address?: string; port?: number } = {};
    this.remote = handle.getpeername(peer) === 0 ? `${peer.address ?? "?"}:${peer.port ?? "?"}` : "?:?";
  }

  /** The handle, for broker/direct-writes.ts. */
  get writeHandle(): WriteHandle {
    return this.handle;
  }

  get writable(): boolean {
    return !this.ending && !this.isDestroyed;
  }

  get writableLength(): number {
    return this.queued;
  }

  get destroyed(): boolean {
    return this.isDestroyed;
  }

  /** Reports to `events` from now on and starts reading into the shared buffer. */
  attach(events: HandleEvents): void {
    this.events = events;
    if (this.isDestroyed) return;
    this.handle.useUserBuffer(sharedReadBuffer());
    this.startReading();
  }

  pause(): void {
    this.paused = true;
    if (this.reading) {
      this.reading = false;
      this.handle.readStop();
    }
  }

  resume(): void {
    this.paused = false;
    this.startReading();
  }

  private startReading(): void {
    if (this.reading || this.paused || this.readEnded || this.isDestroyed || this.events === null) return;
    const err = this.handle.readStart();
    if (err !== 0) this.destroy(uvError(err, "read"));
    else this.reading = true;
  }

  /** A read of the handle: bytes, nothing, the end of stream, or a failure. */
  onRead(result: number): void {
    if (this.isDestroyed) return;
    if (result > 0) {
      (this.events as HandleEvents).read(sharedReadBuffer(), result);
      return;
    }
    if (result === 0) return;
    if (result !== UV_EOF) {
      this.destroy(uvError(result, "read"));
      return;
    }
    // libuv stops reading at the end of stream.
    this.readEnded = true;
    this.reading = false;
    if (!this.ending) (this.events as HandleEvents).end();
    else if (this.shutdownDone) this.destroy();
  }

  write(buf: Uint8Array, cb?: (err?: Error | null) => void): boolean {
    if (!this.writable) {
      if (cb !== undefined) process.nextTick(cb, new Error("write after end"));
      return false;
    }
    const bytes = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    const result = writeDirect(this.handle, bytes, this);
    if (result < 0) {
      const err = writeError(result);
      this.destroy(err);
      if (cb !== undefined) process.nextTick(cb, err);
      return false;
    }
    if (result === QUEUED) {
      this.queued += bytes.length;
      (this.callbacks ??= []).push(cb ?? noCallback);
      return false;
    }
    if (cb !== undefined) process.nextTick(cb);
    return true;
  }

  /** DirectWriter: one of this stream's queued writes went out (or failed). */
  onDirectWritten(bytes: number, status: number): void {
    this.queued -= bytes;
    const cb = (this.callbacks as ((err?: Error | null) => void)[]).shift() as (err?: Error | null) => void;
    if (status < 0) {
      const err = writeError(status);
      this.destroy(err);
      cb(err);
    } else cb();
  }

  /** Ends our side once what was written went out; closes once the client's side has ended too. */
  end(): void {
    if (this.ending || this.isDestroyed) return;
    this.ending = true;
    const req = new ((streamWrap() as StreamWrapBinding).ShutdownWrap)();
    req.oncomplete = (status) => this.onShutdown(status);
    const err = this.handle.shutdown(req);
    if (err !== 0) this.destroy();
  }

  private onShutdown(status: number): void {
    this.shutdownDone = true;
    // The client may have gone first (ENOTCONN): there is nothing left to say to it.
    if (status < 0 || this.readEnded) this.destroy();
  }

  /** Closes the handle now (what libuv still holds for it is dropped); `err` is reported first. */
  destroy(err?: Error): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    this.reading = false;
    this.handle.close(() => this.onClosed());
    // Reported in a later tick, as a socket's "error" was: after what the caller does next, before `close`.
    if (err !== undefined) process.nextTick(() => this.events?.error(err));
  }

  private onClosed(): void {
    this.count.closed();
    this.events?.close();
  }
}

function onHandleRead(this: TcpHandle): void {
  const b = streamWrap() as StreamWrapBinding;
  (this as OwnedHandle)[kStream].onRead(b.streamBaseState[b.kReadBytesOrError] as number);
}

function noCallback(): void {}
