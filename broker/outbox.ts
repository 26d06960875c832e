import type { Broker } from "./broker.js";
import type { ClientStream } from "./client-stream.js";
import { type DirectWriter, QUEUED, writeDirect, writeError, type WriteHandle } from "./direct-writes.js";
import { forgetPublishIn } from "./publish-writes.js";
import type { ReadGate } from "./read-gate.js";
import { giveSpare, takeSpare } from "./spare-batches.js";
import { batchForTurn, MAX_BATCH, MAX_BATCHED_PACKET, MIN_BATCH } from "./write-batches.js";

/** What an outbox needs from its connection. */
export interface OutboxOwner {
  /** The connection closed: bytes are still written while its stream is writable (a refusing CONNACK). */
  readonly isClosed: boolean;
  /** The client caught up with its output: reading resumes and its session sends what waited. */
  onDrain(): void;
}

/**
 * One connection's output: what is written to it is copied into one buffer and handed to the socket as one write
 * (broker/write-batches.ts, decision 035), straight to the socket's handle while the stream holds nothing (plain
 * TCP, broker/direct-writes.ts). It watches what the client has not read: above `limits.socketHighWaterMark` the
 * connection is congested (`ReadGate.congest`) until the client catches up.
 */
export class Outbox implements DirectWriter {
  /** This tick's outgoing bytes (see `reserve`), or null. */
  private out: Buffer | null = null;
  private outLength = 0;
  /** The last batch's length: the next batch starts with room for it (at least MIN_BATCH when newly allocated). */
  private outHint = MIN_BATCH;
  /** Bytes of direct writes queued by libuv and not yet written (the stream's `writableLength` does not count them). */
  private handleQueued = 0;
  /** `written`, bound once, on the first write that backs up: most connections never need it. */
  private onWritten: (() => void) | null = null;

  constructor(
    private readonly owner: OutboxOwner,
    private readonly broker: Pick<Broker, "stats" | "config">,
    private readonly stream: ClientStream,
    /** Plain TCP: the socket's handle, written to directly while the stream holds nothing; else null. */
    private readonly handle: WriteHandle | null,
    private readonly reading: ReadGate,
  ) {}

  /** Output not yet taken by the peer: this turn's batch and what the socket holds (retained delivery waits on it). */
  get unsentBytes(): number {
    return this.outLength + this.backlog();
  }

  /** The batch that `reserve` made room in. */
  get batch(): Buffer {
    return this.out as Buffer;
  }

  /** Bytes handed to the socket and not yet taken by the kernel: the stream's, and direct writes libuv queued. */
  private backlog(): number {
    return this.stream.writableLength + this.handleQueued;
  }

  write(buf: Buffer): void {
    if (buf.length > MAX_BATCHED_PACKET) {
      // A large packet is not copied: what is batched goes first, then the packet as it is.
      if (this.owner.isClosed && !this.stream.writable) return;
      this.flush();
      this.broker.stats.bytesSent += buf.length;
      this.send(buf);
      return;
    }
    const at = this.reserve(buf.length);
    if (at >= 0) buf.copy(this.out as Buffer, at);
  }

  /**
   * Room for `size` bytes in this turn's batch (`batch`): what is written to a connection is copied into one buffer
   * and handed to the socket as one write, after the current callback, or once a busy turn's I/O callbacks have run
   * (broker/write-batches.ts). Returns the offset, or -1 when the stream is gone.
   */
  reserve(size: number): number {
    let out = this.out;
    // A batch is written once it holds MAX_BATCH bytes: what one turn batches for a connection stays bounded, and
    // a client that does not read is found congested (`send`) before the turn is over.
    if (out !== null && this.outLength + size > MAX_BATCH) {
      this.flush();
      out = null;
    }
    if (out === null) {
      if (this.owner.isClosed && !this.stream.writable) return -1;
      const room = size > this.outHint ? size : this.outHint;
      out = this.out = takeSpare(room) ?? Buffer.allocUnsafe(room > MIN_BATCH ? room : MIN_BATCH);
      this.outLength = 0;
      batchForTurn(this);
    } else if (this.outLength + size > out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, this.outLength + size));
      out.copy(bigger, 0, 0, this.outLength);
      out = this.out = bigger;
    }
    const at = this.outLength;
    this.outLength = at + size;
    return at;
  }

  /** Writes this turn's batch to the socket; an idle connection then holds no buffer. */
  flush(): void {
    const out = this.out;
    if (out === null) return;
    const length = this.outLength;
    this.out = null;
    this.outLength = 0;
    // The next batch starts at this one's size, so a steady stream does not regrow its batch every tick.
    this.outHint = length < MAX_BATCHED_PACKET ? length : MAX_BATCHED_PACKET;
    if (this.owner.isClosed && !this.stream.writable) return;
    this.broker.stats.bytesSent += length;
    const bytes = length === out.length ? out : out.subarray(0, length);
    // Taken by the kernel at once: the batch's bytes serve a later batch (broker/spare-batches.ts).
    if (this.send(bytes)) recycle(bytes, out);
  }

  /**
   * Hands bytes to the stream, then checks what the client has not read. Once output backs up (or one write is
   * larger than the high-water mark) the write carries a callback, because the stream's "drain" alone cannot end
   * congestion: it is emitted only after a write crossed the stream's own high-water mark, which can be above
   * `limits.socketHighWaterMark` (Node 22 raised the default from 16 to 64 KiB, and WebSocket and TLS streams have
   * their own). Writes stay callback-free while the client keeps up.
   */
  private send(buf: Buffer): boolean {
    const stream = this.stream;
    let taken = false;
    if (this.handle !== null && stream.writableLength === 0 && stream.writable) {
      // Plain TCP while the stream holds nothing: straight to the handle (broker/direct-writes.ts).
      const result = writeDirect(this.handle, buf, this);
      if (result === QUEUED) this.handleQueued += buf.length;
      else if (result < 0) {
        stream.destroy(writeError(result));
        return false;
      } else {
        taken = true;
        // Found congested before this write (`saturated`, a large batch) and all of it was taken at once: no write
        // is left to report back, so the check a stream write's callback made comes after this turn's writes.
        if (this.reading.congested) process.nextTick(afterTakenWrite, this);
      }
    } else if (this.backlog() > 0 || buf.length > this.broker.config.limits.socketHighWaterMark) {
      stream.write(buf, (this.onWritten ??= this.written.bind(this)));
    } else {
      stream.write(buf);
    }
    // What the socket could not take now is what the client has not read.
    this.checkCongestion(this.backlog());
    return taken;
  }

  /** DirectWriter: a direct write libuv queued reached the kernel (or failed: the stream is destroyed, as `net` does). */
  onDirectWritten(bytes: number, status: number): void {
    this.handleQueued -= bytes;
    if (status < 0) {
      if (!this.stream.destroyed) this.stream.destroy(writeError(status));
      return;
    }
    this.written();
  }

  /** A backed-up write reached the kernel: the client is reading again once half the high-water mark is left. */
  written(): void {
    if (this.reading.congested && this.backlog() <= this.broker.config.limits.socketHighWaterMark / 2) {
      this.owner.onDrain();
    }
  }

  /**
   * For bulk writers (a session queue drained at once, retained messages after SUBSCRIBE): true once what the
   * client has not read, this turn's batch included, is above the high-water mark. The connection is then
   * congested until the client catches up, and the writer stops: its client's unsent output exceeds the mark by at
   * most the packet that crossed it. Live routing only checks `congested`, which a batch reaching 64 KiB updates
   * (it is written then), so a burst to a client that keeps up is not mistaken for congestion.
   */
  saturated(): boolean {
    if (!this.reading.congested) this.checkCongestion(this.backlog() + this.outLength);
    return this.reading.congested;
  }

  /**
   * `backlog` is what the client has not read yet: what the socket holds, and for `saturated` this turn's batch. Above the
   * high-water mark the client is not keeping up: later QoS 0 messages to it are dropped, QoS 1/2 wait in its
   * session, and we stop reading from it too, until its buffer drains (`written`, the connection's `onDrain`).
   */
  private checkCongestion(backlog: number): void {
    if (this.reading.congested || this.owner.isClosed) return;
    if (backlog > this.broker.config.limits.socketHighWaterMark) this.reading.congest();
  }
}

/** `bytes` (the written part of batch `out`) are free again: the last PUBLISH's copy forgets them, then a spare. */
function recycle(bytes: Buffer, out: Buffer): void {
  // The last PUBLISH's bytes are about to be overwritten: the next receiver encodes its own.
  forgetPublishIn(out);
  giveSpare(bytes);
}

function afterTakenWrite(outbox: Outbox): void {
  outbox.written();
}
