import { randomBytes } from "node:crypto";
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";
import { decodeNodeMessages } from "../../core/communicator/schema.js";
import type { NodeMessage } from "../../core/communicator/types.js";
import {
  type Frame,
  FrameDecoder,
  FrameType,
  LinkProtocolError,
  NONCE_BYTES,
  decodeAuth,
  encodeFrame,
  encodeHello,
  encodeId,
  handshakeMac,
  readId,
  sameMac,
} from "./frame.js";
import type { LinkCounters } from "./types.js";

/**
 * The receiving end of node links: accepts TCP connections from other nodes, authenticates them (frame.ts), and
 * hands each BATCH to the node's handler, the same one its SQS queue feeds; the batch is acknowledged once the
 * handler resolved (what it caused is durable), NACKed when it rejected.
 *
 * Bounded: pending handshakes (beyond the limit a new socket is closed at accept) each with a deadline; frames
 * before authentication are tiny; a frame over `maxFrameBytes` cuts the link; per link at most `maxInflight`
 * batches are being handled and at most `maxPendingWriteBytes` of acks wait to be written; beyond either the
 * socket stops being read, so TCP pushes back on the sender (which falls back to SQS).
 */

export interface LinkServerOptions {
  nodeId: string;
  secret: string;
  host: string;
  port: number;
  /** Largest BATCH frame accepted (bytes). Default 4 MiB. */
  maxFrameBytes?: number;
  /** A peer that has not authenticated by then is cut. Default 5 s. */
  handshakeTimeoutMs?: number;
  /** Connections still in their handshake; more are closed at accept. Default 64. */
  maxPendingHandshakes?: number;
  /** Batches of one link being handled at once; beyond, reading pauses. Default 64. */
  maxInflight?: number;
  /** Unwritten ack bytes on one link beyond which reading pauses until they drain. Default 64 KiB. */
  maxPendingWriteBytes?: number;
  counters: LinkCounters;
  onError(operation: string, err: Error): void;
}

/** Frames a peer may send before it authenticated (AUTH is 64 bytes plus a node id of at most 128 characters). */
const HANDSHAKE_FRAME_BYTES = 1024;

export type BatchHandler = (messages: NodeMessage[]) => Promise<void>;

export class LinkServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private pendingHandshakes = 0;
  private handler: BatchHandler | null = null;
  private closing = false;
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly opts: LinkServerOptions) {}

  /**
   * Binds the port (`port`: another than the configured one, as when listening again after `close()`); batches are
   * accepted only once a handler is set (before, they are NACKed).
   */
  async listen(port = this.opts.port): Promise<AddressInfo> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.opts.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) => this.opts.onError("link server", err));
    this.server = server;
    this.closing = false;
    return server.address() as AddressInfo;
  }

  setHandler(handler: BatchHandler): void {
    this.handler = handler;
  }

  /** The bound port (null before listen). */
  get port(): number | null {
    const a = this.server?.address();
    return a !== null && typeof a === "object" ? a.port : null;
  }

  /** Connections open (authenticated or not). */
  get connections(): number {
    return this.sockets.size;
  }

  /** Stops accepting, cuts every link (unacked batches fall back to SQS at their senders), waits for handlers. */
  async close(): Promise<void> {
    this.closing = true;
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    await Promise.allSettled([...this.inflight]);
  }

  private accept(socket: Socket): void {
    const max = this.opts.maxPendingHandshakes ?? 64;
    if (this.closing || this.pendingHandshakes >= max) {
      this.opts.counters.rejected("handshake-limit");
      socket.destroy();
      return;
    }
    this.pendingHandshakes++;
    this.sockets.add(socket);
    let authenticated = false;
    const nonce = randomBytes(NONCE_BYTES);
    const decoder = new FrameDecoder(HANDSHAKE_FRAME_BYTES);
    const endHandshake = () => {
      if (timer === null) return;
      clearTimeout(timer);
      timer = null;
      this.pendingHandshakes--;
    };
    let timer: NodeJS.Timeout | null = setTimeout(() => {
      this.opts.counters.rejected("handshake-timeout");
      socket.destroy();
    }, this.opts.handshakeTimeoutMs ?? 5000);
    timer.unref();
    const link = new InboundLink(socket, this, this.opts);
    socket.on("error", () => {}); // a reset peer: 'close' follows
    socket.on("close", () => {
      endHandshake();
      this.sockets.delete(socket);
      link.socketClosed();
    });
    socket.on("data", (chunk: Buffer) => {
      let frames;
      try {
        frames = decoder.push(chunk);
      } catch (err) {
        this.opts.counters.rejected(err instanceof LinkProtocolError ? err.reason : "malformed");
        socket.destroy();
        return;
      }
      let i = 0;
      for (; i < frames.length && !authenticated; i++) {
        try {
          const auth = decodeAuth(frames[i]!);
          const expected = handshakeMac(this.opts.secret, "client", auth.nonce, nonce, auth.nodeId, this.opts.nodeId);
          if (!sameMac(auth.mac, expected)) throw new LinkProtocolError("bad-auth", `node link from ${socket.remoteAddress ?? "?"}: wrong secret`);
          authenticated = true;
          endHandshake();
          link.authenticated(auth.nodeId);
          decoder.allowFramesUpTo(this.opts.maxFrameBytes ?? 4 * 1024 * 1024);
          socket.write(encodeFrame(FrameType.welcome, handshakeMac(this.opts.secret, "server", nonce, auth.nonce, this.opts.nodeId, auth.nodeId)));
          this.opts.counters.accepted();
        } catch (err) {
          this.opts.counters.rejected(err instanceof LinkProtocolError ? err.reason : "malformed");
          if (err instanceof LinkProtocolError && err.reason === "bad-auth") this.opts.onError("node link", err);
          socket.destroy();
          return;
        }
      }
      if (i < frames.length) link.push(i === 0 ? frames : frames.slice(i));
    });
    socket.write(encodeHello(nonce, this.opts.nodeId));
  }

  /** Runs a batch through the handler (tracked so close() can wait for it). */
  run(messages: NodeMessage[]): Promise<void> {
    const handler = this.handler;
    if (handler === null || this.closing) return Promise.reject(new Error("not receiving"));
    const p = handler(messages);
    this.inflight.add(p);
    void p.then(
      () => this.inflight.delete(p),
      () => this.inflight.delete(p),
    );
    return p;
  }
}

/**
 * One authenticated inbound link: batches in, acks out. At most `maxInflight` batches are handed to the handler at
 * once; frames decoded beyond that wait (at most one read's worth) with the socket paused, as they do while acks
 * are not being written.
 */
class InboundLink {
  private closed = false;
  /** The node at the other end, once the handshake named it. */
  private peer = "";
  private inflight = 0;
  private writePaused = false;
  private backlog: Frame[] = [];
  private readonly maxInflight: number;

  constructor(
    private readonly socket: Socket,
    private readonly server: LinkServer,
    private readonly opts: LinkServerOptions,
  ) {
    this.maxInflight = opts.maxInflight ?? 64;
    socket.on("drain", () => {
      this.writePaused = false;
      this.pump();
    });
  }

  /** The handshake passed: the link is from node `peer`. */
  authenticated(peer: string): void {
    this.peer = peer;
  }

  /** The socket closed: nothing more is started or answered. */
  socketClosed(): void {
    this.closed = true;
  }

  push(frames: Frame[]): void {
    this.backlog.push(...frames);
    this.pump();
  }

  private pump(): void {
    let started = 0;
    while (started < this.backlog.length && this.inflight < this.maxInflight && !this.writePaused && !this.closed) {
      this.start(this.backlog[started++]!);
    }
    if (started > 0) this.backlog = this.backlog.slice(started);
    if (this.closed) return;
    const hold = this.backlog.length > 0 || this.writePaused || this.inflight >= this.maxInflight;
    if (hold && !this.socket.isPaused()) this.socket.pause();
    else if (!hold && this.socket.isPaused()) this.socket.resume();
  }

  private start(frame: Frame): void {
    if (frame.type !== FrameType.batch) {
      this.cut(new Error(`node link from ${this.peer}: unexpected frame type ${frame.type}`));
      return;
    }
    let id: number;
    let messages: NodeMessage[];
    try {
      id = readId(frame);
      const decoded = decodeNodeMessages(frame.body.subarray(4).toString("utf8"));
      // A peer that passed the handshake runs our code: a bad element is a bug or a version skew. The batch is
      // refused whole (the sender then sends it through the node queue, where bad elements are skipped one by one).
      if (decoded.problems.length > 0) throw new Error(decoded.problems.join("; "));
      messages = decoded.messages;
    } catch (err) {
      this.cut(new Error(`node link from ${this.peer}: bad batch (${(err as Error).message})`));
      return;
    }
    this.opts.counters.received(messages.length);
    this.inflight++;
    this.server.run(messages).then(
      () => this.answer(encodeId(FrameType.ack, id)),
      (err: unknown) => {
        this.opts.onError(`node link batch from ${this.peer}`, err as Error);
        this.answer(encodeId(FrameType.nack, id));
      },
    );
  }

  private answer(frame: Buffer): void {
    this.inflight--;
    if (this.closed) return;
    if (!this.socket.write(frame) && this.socket.writableLength > (this.opts.maxPendingWriteBytes ?? 64 * 1024)) this.writePaused = true;
    this.pump();
  }

  private cut(err: Error): void {
    this.opts.counters.rejected("malformed");
    this.opts.onError("node link", err);
    this.closed = true;
    this.backlog = [];
    this.socket.destroy();
  }
}
