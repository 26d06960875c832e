import { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { ClientStream } from "./client-stream.js";
import { copyOf } from "./decoder.js";

/**
 * Reads of plain TCP connections into one buffer that every such connection shares (decision 039).
 *
 * A socket read the usual way allocates a Buffer object for every read, pushes it through the Readable stream
 * (`push`, the "data" event) and schedules a `nextTick` to read more: for a fleet of devices that each send one small
 * packet per TCP segment, that is the main per-read cost in JavaScript and most of the young-generation garbage per
 * message. Node's `onread` socket option (net.Socket's constructor, for client sockets) skips all of it: libuv reads
 * into a buffer the application owns and a callback gets the byte count. Node offers no option for the sockets a
 * server accepts, so this sets the same two socket fields the constructor sets for `onread` and points the handle at
 * the buffer, as the constructor does.
 *
 * Those fields are Node internals. They are looked up by name and checked; if any is missing (another Node version,
 * a TLS socket, a WebSocket stream), `readInto` returns false and the connection reads the usual way: slower, never
 * wrong. test/unit/borrowed-reads.test.ts fails if plain TCP sockets stop taking this path on a supported Node.
 *
 * One buffer is enough for all connections: the event loop runs one read callback at a time, and the bytes are
 * decoded before the callback returns. What must outlive the callback (a PUBLISH, the bytes of a packet cut across
 * reads) is copied out by the decoder (`PacketDecoder.push` with `borrowed`).
 */

/** Read size: what one read of one socket may take (as Node's default for stream reads). */
const READ_BUFFER_BYTES = 64 * 1024;

interface SocketFields {
  buffer: symbol;
  callback: symbol;
}

interface UserBufferHandle {
  useUserBuffer(buf: Uint8Array): void;
}

/** The callback Node calls with each read: byte count, then the buffer. */
export type BorrowedRead = (this: Duplex, length: number, buf: Buffer) => boolean;

let fields: SocketFields | null | undefined;
let shared: Buffer | null = null;

/** The socket's own symbols named as net.Socket's constructor names them for `onread`, or null. */
function fieldsOf(socket: Socket): SocketFields | null {
  let buffer: symbol | undefined;
  let callback: symbol | undefined;
  for (const s of Object.getOwnPropertySymbols(socket)) {
    if (s.description === "kBuffer") buffer = s;
    else if (s.description === "kBufferCb") callback = s;
  }
  return buffer === undefined || callback === undefined ? null : { buffer, callback };
}

/**
 * Makes a plain TCP socket read into the shared buffer and call `onRead` instead of emitting "data". False (and
 * nothing changed) when the stream is not a plain net.Socket with a handle, or Node's fields are not found.
 */
export function readInto(stream: ClientStream, onRead: BorrowedRead): boolean {
  if (!(stream instanceof Socket) || stream.constructor !== Socket) return false;
  const handle = (stream as unknown as { _handle?: Partial<UserBufferHandle> | null })._handle;
  if (handle === null || handle === undefined || typeof handle.useUserBuffer !== "function") return false;
  fields ??= fieldsOf(stream);
  if (fields === null) return false;
  const target = stream as unknown as Record<symbol, unknown>;
  // Already reading into a buffer of its own: leave it.
  if (target[fields.buffer] !== null || target[fields.callback] !== null) return false;
  const buf = sharedReadBuffer();
  target[fields.buffer] = buf;
  target[fields.callback] = onRead;
  handle.useUserBuffer(buf);
  return true;
}

/** The buffer every plain TCP connection reads into (also a `HandleStream`'s, broker/handle-stream.ts). */
export function sharedReadBuffer(): Buffer {
  return (shared ??= Buffer.allocUnsafeSlow(READ_BUFFER_BYTES));
}

/** Where a connection's bytes go: `PacketDecoder.push`. */
export interface ChunkSink {
  push(chunk: Buffer, length?: number, borrowed?: boolean): void;
}

/**
 * One connection's reads through the shared buffer, paused and resumed as the connection needs. Reading goes on
 * while paused, as a paused Readable's did, so that a client that goes away is seen at once: what arrives is copied
 * and kept, up to the stream's high-water mark, and only then is the socket itself paused. On resume what was kept
 * is decoded first, in order; a packet among it may pause reading again. An end of stream that comes while bytes
 * are kept takes effect once they are decoded (`endAfterHeld`), as a Readable's "end" waited for its buffer.
 */
export class SharedBufferReads {
  private held: Buffer[] | null = null;
  private heldBytes = 0;
  private paused = false;
  /** The socket itself was paused (kept bytes reached the bound). */
  private stopped = false;
  private draining = false;
  private onEnd: (() => void) | null = null;

  constructor(
    private readonly stream: ClientStream,
    private readonly sink: ChunkSink,
  ) {}

  /** A read into the shared buffer: decoded in place, or copied and kept while paused. */
  onRead(buf: Buffer, length: number): void {
    if (!this.paused && (this.held === null || this.held.length === 0)) {
      this.sink.push(buf, length, true);
      return;
    }
    (this.held ??= []).push(copyOf(buf, 0, length));
    this.heldBytes += length;
    if (!this.stopped && this.heldBytes >= this.stream.readableHighWaterMark) {
      this.stopped = true;
      this.stream.pause();
    }
  }

  pause(): void {
    this.paused = true;
  }

  /** Decodes what was kept, then reads from the socket again, unless a packet among it pauses reading again. */
  resume(): void {
    this.paused = false;
    // Called from a packet that `resume` itself is decoding: that loop goes on.
    if (this.draining) return;
    this.draining = true;
    try {
      const held = this.held;
      while (!this.paused && held !== null && held.length > 0) {
        const chunk = held.shift() as Buffer;
        this.heldBytes -= chunk.length;
        this.sink.push(chunk);
      }
    } finally {
      this.draining = false;
    }
    if (this.paused) return;
    if (this.onEnd !== null) {
      const end = this.onEnd;
      this.onEnd = null;
      end();
      return;
    }
    if (this.stopped) {
      this.stopped = false;
      this.stream.resume();
    }
  }

  /**
   * The stream ended. True when bytes are kept: `end` then runs once they are decoded (never, if the connection
   * closes first). False when nothing is kept: the caller ends the connection now.
   */
  endAfterHeld(end: () => void): boolean {
    if (this.held === null || this.held.length === 0) return false;
    this.onEnd = end;
    return true;
  }
}
