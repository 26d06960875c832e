import { Duplex } from "node:stream";
import type { NodeFaults } from "./faults.js";
import type { Prng } from "./prng.js";

/**
 * A client's TCP connection to a node, in memory: the broker gets a Duplex (what its listener would hand it), the
 * client gets callbacks. Bytes travel in order with a small random latency. A paused node's side holds bytes
 * until it resumes; a crashed node's connections close on the client's side only (the kernel resets them; the
 * dead process sees nothing); a client that moved away ("abandon": a device whose network changed) neither sends
 * nor reads, and what the broker writes is lost, until the broker closes its side.
 */
export class Link {
  readonly broker: BrokerSide;
  private toClient: Buffer[] = [];
  private toBroker: Buffer[] = [];
  private flushing = { client: false, broker: false };
  /** The client side is gone (closed or abandoned): nothing more reaches it. */
  private clientGone = false;
  private brokerGone = false;
  onData: (buf: Buffer) => void = () => {};
  onClose: () => void = () => {};
  /** Every write of the broker, also the ones that never reach the client (it abandoned or closed the connection). */
  onWrite: (buf: Buffer) => void = () => {};

  constructor(
    private readonly node: NodeFaults,
    private readonly prng: Prng,
    private readonly maxLatencyMs: number,
  ) {
    this.broker = new BrokerSide(this);
  }

  get open(): boolean {
    return !this.clientGone && !this.brokerGone;
  }

  /** The client writes. */
  send(buf: Buffer): void {
    if (this.clientGone || this.brokerGone) return;
    this.toBroker.push(buf);
    this.schedule("broker");
  }

  /** The client closes its connection (the broker sees the socket close). */
  close(): void {
    if (this.clientGone) return;
    this.clientGone = true;
    this.toClient = [];
    // The FIN/RST reaches the broker after what was sent before it.
    setTimeout(() => {
      void this.node.gate().then(() => {
        if (!this.broker.destroyed) this.broker.destroy();
      });
    }, this.prng.int(0, this.maxLatencyMs));
  }

  /** The client stops using this connection without closing it (it moved); the broker finds out by itself. */
  abandon(): void {
    this.clientGone = true;
    this.toClient = [];
    this.toBroker = [];
  }

  /** The node crashed: the client's side closes; the broker's side is never told. */
  reset(): void {
    this.brokerGone = true;
    this.toBroker = [];
    if (this.clientGone) return;
    this.clientGone = true;
    this.toClient = [];
    setTimeout(() => this.onClose(), this.prng.int(0, this.maxLatencyMs));
  }

  /** The broker writes. */
  fromBroker(buf: Buffer): void {
    if (this.node.crashed) return;
    this.onWrite(buf);
    if (this.clientGone) return;
    this.toClient.push(buf);
    this.schedule("client");
  }

  /** The broker closed its side: the client sees it after what was written before. */
  brokerClosed(): void {
    if (this.brokerGone) return;
    this.brokerGone = true;
    this.toClient.push(CLOSE);
    this.schedule("client");
  }

  private schedule(to: "client" | "broker"): void {
    if (this.flushing[to]) return;
    this.flushing[to] = true;
    setTimeout(() => void this.flush(to), this.prng.int(0, this.maxLatencyMs));
  }

  private async flush(to: "client" | "broker"): Promise<void> {
    // A paused node neither reads nor writes: bytes wait in the "kernel" until it resumes.
    await this.node.gate();
    this.flushing[to] = false;
    if (to === "broker") {
      const bufs = this.toBroker;
      this.toBroker = [];
      if (this.brokerGone || this.broker.destroyed) return;
      for (const b of bufs) this.broker.push(b);
      return;
    }
    const bufs = this.toClient;
    this.toClient = [];
    for (const b of bufs) {
      if (this.clientGone) return;
      if (b === CLOSE) {
        this.clientGone = true;
        this.onClose();
        return;
      }
      this.onData(b);
    }
  }
}

const CLOSE = Buffer.alloc(0);

/** The broker's end of a Link. */
class BrokerSide extends Duplex {
  constructor(private readonly link: Link) {
    super();
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.link.fromBroker(chunk);
    cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.link.brokerClosed();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.link.brokerClosed();
    cb(err);
  }
}
