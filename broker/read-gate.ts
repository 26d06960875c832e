import type { SharedBufferReads } from "./borrowed-reads.js";
import type { ClientStream } from "./client-stream.js";

/**
 * Whether the broker reads from one client (broker/connection.ts), and why not. Reading pauses for any of three
 * reasons, each set and cleared here only, and resumes once none is left:
 * - packets are held (`hold`): CONNECT is being authenticated, or a handler waits for the store, so a client cannot
 *   make the broker buffer more than what one read brought in;
 * - the client is congested (`congest`): it is not reading our output (broker/outbox.ts), so it gets no more work;
 * - too many acknowledgements wait for the store (`pauseForAcks`, broker/durable-acks.ts): the store is slow or down.
 */
export class ReadGate {
  private holdingPackets = false;
  private clientCongested = false;
  private acksBacklogged = false;

  constructor(
    private readonly stream: ClientStream,
    /** Plain TCP: reads through the shared buffer (decision 039); null for streams that emit "data". */
    readonly shared: SharedBufferReads | null,
  ) {}

  /** Reading is paused because packets are held (authentication, or a handler waiting for the store). */
  get holding(): boolean {
    return this.holdingPackets;
  }

  /** The client's unread output is above `limits.socketHighWaterMark`. */
  get congested(): boolean {
    return this.clientCongested;
  }

  /** Acknowledgements waiting for the store reached their bounds. */
  get ackPaused(): boolean {
    return this.acksBacklogged;
  }

  pause(): void {
    if (this.shared !== null) this.shared.pause();
    else this.stream.pause();
  }

  resume(): void {
    if (this.shared !== null) this.shared.resume();
    else this.stream.resume();
  }

  /** Packets are held from now on, or no longer: reading pauses, or resumes unless another reason holds it. */
  hold(hold: boolean): void {
    if (hold === this.holdingPackets) return;
    this.holdingPackets = hold;
    if (hold) this.pause();
    else if (!this.clientCongested && !this.acksBacklogged) this.resume();
  }

  /** The client is not keeping up with its output (`Outbox.checkCongestion`). */
  congest(): void {
    this.clientCongested = true;
    this.pause();
  }

  /** The client caught up with its output. */
  uncongest(): void {
    this.clientCongested = false;
    if (!this.acksBacklogged && !this.holdingPackets) this.resume();
  }

  /** Acknowledgements waiting for the store reached their bounds: stop taking work from this client. */
  pauseForAcks(): void {
    this.acksBacklogged = true;
    this.pause();
  }

  /** Acknowledgements waiting for the store are back under half their bounds. */
  releaseAcks(): void {
    this.acksBacklogged = false;
    if (!this.clientCongested && !this.holdingPackets) this.resume();
  }
}
