import { randomBytes } from "node:crypto";
import { type Socket, connect } from "node:net";
import {
  FrameDecoder,
  FrameType,
  LinkProtocolError,
  NONCE_BYTES,
  decodeHello,
  decodeWelcome,
  encodeAuth,
  encodeBatch,
  handshakeMac,
  readId,
  sameMac,
} from "./frame.js";
import type { LinkCounters, LinkFallbackReason } from "./types.js";

/**
 * The sending end of one node link (this node → `peer`). Opens, authenticates (frame.ts) and checks that the
 * listener is the node it meant to reach, then carries batches and waits for their acks. Bounded: at most
 * `maxUnackedBytes` and `maxUnackedBatches` in flight; a batch beyond either is refused ("saturated") and the
 * caller sends it by SQS instead. A batch not acked within `ackTimeoutMs` cuts the link: every unacked batch
 * fails over to SQS at once (the receiver may have handled some: it skips the SQS copies, see links.ts).
 */

export interface LinkClientOptions {
  nodeId: string;
  peer: string;
  /** host:port of the peer's link listener. */
  address: string;
  secret: string;
  ackTimeoutMs: number;
  handshakeTimeoutMs: number;
  maxUnackedBytes: number;
  maxUnackedBatches: number;
  counters: LinkCounters;
  onError(operation: string, err: Error): void;
  /** The link is gone (failed to open, or cut); `opened` says whether it had been authenticated. */
  onClose(opened: boolean): void;
}

interface Unacked {
  bytes: number;
  sentAt: number;
  done: (reason: LinkFallbackReason | null) => void;
}

const MAX_BATCH_ID = 0xffffffff;

export class LinkClient {
  private readonly socket: Socket;
  private open = false;
  private closed = false;
  private readonly unacked = new Map<number, Unacked>();
  private unackedBytes = 0;
  private nextId = 1;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: LinkClientOptions) {
    const at = opts.address.lastIndexOf(":");
    const host = opts.address.slice(0, at).replace(/^\[(.*)\]$/, "$1");
    const port = Number(opts.address.slice(at + 1));
    const nonce = randomBytes(NONCE_BYTES);
    const decoder = new FrameDecoder(1024);
    let serverNonce: Buffer | null = null;
    this.socket = connect({ host, port, noDelay: true });
    const started = Date.now();
    this.timer = setInterval(() => this.checkTimeouts(started), Math.max(10, Math.floor(Math.min(opts.ackTimeoutMs, opts.handshakeTimeoutMs) / 4)));
    this.timer.unref();
    this.socket.on("error", (err) => {
      if (!this.closed) opts.onError(`node link to ${opts.peer}`, err);
    });
    this.socket.on("close", () => this.close("cut"));
    this.socket.on("data", (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          if (this.open) {
            this.answer(frame.type, readId(frame));
          } else if (serverNonce === null) {
            const hello = decodeHello(frame);
            if (hello.nodeId !== opts.peer) throw new LinkProtocolError("bad-auth", `node link to ${opts.peer} at ${opts.address} reached node ${hello.nodeId}`);
            serverNonce = Buffer.from(hello.nonce);
            this.socket.write(encodeAuth(nonce, handshakeMac(opts.secret, "client", nonce, serverNonce, opts.nodeId, opts.peer), opts.nodeId));
          } else {
            const mac = decodeWelcome(frame);
            if (!sameMac(mac, handshakeMac(opts.secret, "server", serverNonce, nonce, opts.peer, opts.nodeId))) {
              throw new LinkProtocolError("bad-auth", `node link to ${opts.peer}: the listener does not hold the link secret`);
            }
            this.open = true;
          }
        }
      } catch (err) {
        opts.onError(`node link to ${opts.peer}`, err as Error);
        this.socket.destroy();
      }
    });
  }

  /** Authenticated and not cut. */
  get usable(): boolean {
    return this.open && !this.closed;
  }

  /**
   * Sends one BATCH (JSON text of a node message list); resolves null once acked, or why it must go by SQS
   * instead. Never rejects.
   */
  send(json: string, bytes: number): Promise<LinkFallbackReason | null> {
    if (!this.usable) return Promise.resolve("down");
    if (this.unacked.size >= this.opts.maxUnackedBatches || this.unackedBytes + bytes > this.opts.maxUnackedBytes) {
      return Promise.resolve("saturated");
    }
    const id = this.nextId;
    this.nextId = id === MAX_BATCH_ID ? 1 : id + 1;
    return new Promise((resolve) => {
      this.unacked.set(id, { bytes, sentAt: Date.now(), done: resolve });
      this.unackedBytes += bytes;
      this.opts.counters.sentBatches++;
      this.socket.write(encodeBatch(id, json));
    });
  }

  /** Cuts the link; unacked batches fail over (`reason`). */
  close(reason: LinkFallbackReason = "cut"): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.socket.destroy();
    const unacked = [...this.unacked.values()];
    this.unacked.clear();
    this.unackedBytes = 0;
    for (const u of unacked) u.done(reason);
    this.opts.onClose(this.open);
  }

  private answer(type: number, id: number): void {
    if (type !== FrameType.ack && type !== FrameType.nack) throw new LinkProtocolError("malformed", `unexpected frame type ${type}`);
    const u = this.unacked.get(id);
    if (u === undefined) return; // already failed over
    this.unacked.delete(id);
    this.unackedBytes -= u.bytes;
    if (type === FrameType.ack) this.opts.counters.ackedBatches++;
    u.done(type === FrameType.ack ? null : "nack");
  }

  private checkTimeouts(started: number): void {
    const now = Date.now();
    if (!this.open) {
      if (now - started > this.opts.handshakeTimeoutMs) {
        this.opts.onError(`node link to ${this.opts.peer}`, new Error(`no handshake within ${this.opts.handshakeTimeoutMs} ms`));
        this.close("down");
      }
      return;
    }
    // The oldest batch is first (insertion order).
    for (const u of this.unacked.values()) {
      if (now - u.sentAt > this.opts.ackTimeoutMs) {
        this.opts.onError(`node link to ${this.opts.peer}`, new Error(`no ack within ${this.opts.ackTimeoutMs} ms: link cut, batches sent by SQS`));
        this.close("ack-timeout");
      }
      return;
    }
  }
}
