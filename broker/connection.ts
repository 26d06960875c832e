import type { Packet, QoS } from "mqtt-packet";
import type { Broker } from "./broker.js";
import { type AckType, encode, writeAck } from "./codec.js";
import { encodeAck5 } from "./codec5.js";
import { closingDisconnect5, refusingConnack5 } from "./reasons5.js";
import { SharedBufferReads } from "./borrowed-reads.js";
import type { ClientStream } from "./client-stream.js";
import { listen, writeHandleFor } from "./connection-stream.js";
import { ConnectionStates, ConnState } from "./connection-states.js";
import { DurableAcks } from "./durable-acks.js";
import { PacketDecoder, type PacketSink } from "./decoder.js";
import { HeldPackets, refusal } from "./held-packets.js";
import { LimitExceeded } from "./errors.js";
import { Outbox, type OutboxOwner } from "./outbox.js";
import { batchPublish, batchPublish5 } from "./publish-writes.js";
import type { AuthPacket } from "./handlers/auth5.js";
import { dispatch } from "./handlers/index.js";
import { handleMalformed, handleOversize } from "./handlers/malformed.js";
import type { SessionLink } from "./session-ports.js";
import type { CloseReason, Message } from "./types.js";
import type { ClientCertificate } from "../core/auth/backend.js";
import { validateTopicName } from "../core/topic/index.js";
import { ACTIVE } from "./keepalive-sweep.js";
import { ReadGate } from "./read-gate.js";

export type Transport = "tcp" | "tls" | "ws";

let nextConnectionId = 1;

/**
 * One network connection: parses packets, dispatches them to the handlers, writes responses, enforces the
 * connect timeout, keepalive, maximum packet size and back-pressure. An error closes only this connection. Its
 * states (connect, the waits after CONNACK, keepalive) and their transitions are its base class,
 * broker/connection-states.ts.
 */
export class Connection extends ConnectionStates implements SessionLink, PacketSink, OutboxOwner {
  readonly id = nextConnectionId++;
  protected readonly decoder: PacketDecoder;
  /** Whether the client is read from, and why not. */
  protected readonly reading: ReadGate;
  /** What is written to the client, batched per turn (broker/outbox.ts). */
  private readonly outbox: Outbox;
  /** Acknowledgements held until the store writes they vouch for are durable; made on first use. */
  private acks: DurableAcks | null = null;
  /** The last topic name this client published to that was found valid (`topicNameError`). */
  private validTopic: string | null = null;

  constructor(
    readonly broker: Broker,
    readonly stream: ClientStream,
    readonly remoteAddress: string,
    readonly transport: Transport,
    /** The verified client certificate (TLS listener with client certificates), for the auth layer. */
    readonly certificate?: ClientCertificate | undefined,
    /** The address slot `broker.addressLimits.admit` gave this stream, if any. */
    addressKey: string | null = null,
  ) {
    super(broker.config.limits.connectTimeoutMs, addressKey);
    // Fixed header is at least 2 bytes; the limit applies to the whole packet.
    // Before CONNECT, only a CONNECT-sized packet is buffered: a socket that has not authenticated cannot make the
    // broker hold maxPacketSize bytes. The full limit applies once CONNECT is in (`beginConnect`).
    const { maxPacketSize, maxConnectPacketSize } = broker.config.limits;
    // Hot-path packets are lent (broker/lent-packets.ts): the ones held (`held`) are copies.
    this.decoder = new PacketDecoder(this, Math.min(maxPacketSize, maxConnectPacketSize) - 2, true);
    // Plain TCP reads into the buffer all connections share and writes to the socket's handle (decisions 039, 035).
    const borrowed = listen(stream, this, transport === "tcp");
    this.reading = new ReadGate(stream, borrowed ? new SharedBufferReads(stream, this.decoder) : null);
    this.outbox = new Outbox(this, broker, stream, borrowed ? writeHandleFor(stream) : null, this.reading);
  }

  /** The client's unread output is above `limits.socketHighWaterMark`: it gets no more work until it reads. */
  get congested(): boolean {
    return this.reading.congested;
  }

  /** Output not yet taken by the peer: this turn's batch and what the socket holds (retained delivery waits on it). */
  get unsentBytes(): number {
    return this.outbox.unsentBytes;
  }

  // --- input -------------------------------------------------------------------------------------------

  onData(chunk: Buffer): void {
    this.broker.stats.bytesReceived += chunk.length;
    this.decoder.push(chunk);
  }

  /** A read into the shared buffer (broker/borrowed-reads.ts): its bytes are gone once this returns. */
  onBorrowedData(buf: Buffer, length: number): void {
    this.broker.stats.bytesReceived += length;
    (this.reading.shared as SharedBufferReads).onRead(buf, length);
  }

  /** The client ended its side of the stream: closed once what was read before is handled. */
  onEnd(): void {
    const shared = this.reading.shared;
    if (shared !== null && shared.endAfterHeld(() => this.close("socket-closed"))) return;
    if (this.waiting && this.state === ConnState.Connected) {
      // Packets decoded before the end wait for a handler's store answer (a QoS 2 root record, a SUBSCRIBE): the end
      // goes behind them, so a DISCONNECT among them is still handled and the will discarded [MQTT-3.14.4-3].
      (this.held ??= new HeldPackets()).holdEnd();
      return;
    }
    this.close("socket-closed");
  }

  /** A packet was refused as soon as its declared length was known to exceed the limit, before buffering it. */
  onOversize(remainingLength: number): void {
    handleOversize(this, remainingLength);
  }

  /** Handles (or holds) one decoded packet; false once the connection is closed, to stop decoding. */
  onPacket(packet: Packet, size: number): boolean {
    if (this.state === ConnState.Closed) return false;
    // Any control packet counts as activity [MQTT-3.1.2-23]; the sweep reads it (no timer per connection).
    this.seen = ACTIVE;
    const handshake = this.handshake;
    if (handshake !== null && handshake.awaitingAuth && packet.cmd === "auth" && this.state === ConnState.Connecting) {
      if (this.reading.holding) this.reading.pause();
      handshake.answerAuth(packet as AuthPacket);
      return true;
    }
    if (this.state === ConnState.Connecting || this.waiting) {
      // Packets are handled strictly in arrival order: while CONNECT or a SUBSCRIBE waits for the store (or the
      // session's move settles), later packets wait too. Reading is paused meanwhile (`updateReading`); what was already read is bounded.
      const limits = this.broker.config.limits;
      const beforeConnack = this.state === ConnState.Connecting;
      if ((this.held ??= new HeldPackets()).hold(packet, size, beforeConnack, limits)) return true;
      this.broker.stats.limitHits["pre-auth-bytes"]++;
      this.close("limit-exceeded", refusal(beforeConnack, limits));
      return false;
    }
    try {
      dispatch(this, packet);
    } catch (err) {
      this.close(err instanceof LimitExceeded ? "limit-exceeded" : "protocol-error", err as Error);
    }
    // The handler may have closed the connection (TypeScript's narrowing above does not see that).
    return !this.isClosed;
  }

  /** A malformed packet: the connection is closed [MQTT-4.8.0-1] (broker/handlers/malformed.ts). */
  onDecodeError(err: Error): void {
    if (this.state !== ConnState.Closed) handleMalformed(this, err);
  }

  // --- refusal and close (the states: broker/connection-states.ts) ---------------------------------------

  /**
   * Sends CONNACK with a refusal code and closes [MQTT-3.2.2-4] [MQTT-3.2.2-5]; an MQTT 5 client gets the matching
   * reason code, or `reason5` when given (broker/reasons5.ts).
   */
  refuse(returnCode: 1 | 2 | 3 | 4 | 5, err: Error, reason5?: number): void {
    this.broker.onConnectRefused(this, returnCode, err.message);
    if (this.v5 === null) this.write(encode({ cmd: "connack", returnCode, sessionPresent: false }));
    else this.write(refusingConnack5(this.v5, returnCode, err, reason5));
    this.close(returnCode === 4 || returnCode === 5 ? "not-authorized" : "protocol-error", err, true);
  }

  /**
   * Closes the connection once. `flush` lets queued bytes (a refusing CONNACK) reach the client first.
   * The broker is told at once, so session state never waits on a slow socket.
   */
  close(reason: CloseReason, err?: Error, flush = false): void {
    if (this.state === ConnState.Closed) return;
    if (this.v5 !== null && this.state === ConnState.Connected) {
      // An MQTT 5 client is told why, after CONNACK only [MQTT-3.14.0-1]; not when it disconnected or the socket went.
      const disconnect = closingDisconnect5(this.v5, reason, err);
      if (disconnect !== null) {
        this.write(disconnect);
        flush = true;
      }
    }
    this.closeStates();
    if (flush) {
      this.outbox.flush();
      this.stream.end();
      setTimeout(destroyStream, 1000, this.stream).unref();
    } else {
      this.stream.destroy();
    }
    this.broker.onConnectionClosed(this, reason, err);
  }

  // --- output ------------------------------------------------------------------------------------------

  writePacket(packet: Packet): void {
    this.write(encode(packet));
  }

  /**
   * Why `topic` is not a valid topic name for a PUBLISH, or null. A device publishes to the same topic again and
   * again, and the decoder hands it the same string (broker/decoder.ts): the last valid one is not checked again.
   */
  topicNameError(topic: string): string | null {
    if (topic === this.validTopic) return null;
    const invalid = validateTopicName(topic, this.broker.topicLimits);
    if (invalid === null) this.validTopic = topic;
    return invalid;
  }

  writePublish(msg: Message, qos: QoS, retain: boolean, dup: boolean, packetId: number, subIds?: readonly number[]): void {
    if (this.state === ConnState.Closed) return;
    this.broker.stats.messagesSent++;
    this.broker.stats.sentByQos[qos]++;
    if (this.v5 === null) batchPublish(this.outbox, msg, qos, retain, dup, packetId);
    else batchPublish5(this.outbox, msg, qos, retain, dup, packetId, subIds, msg.publishedAt === undefined ? 0 : this.broker.now());
  }

  /** PUBACK, PUBREC, PUBREL or PUBCOMP; a reason code other than 0 only on MQTT 5 (3.1.1 has none). */
  writeAck(type: AckType, packetId: number, reasonCode = 0): void {
    if (reasonCode !== 0 && this.v5 !== null) {
      this.write(encodeAck5(type, packetId, reasonCode));
      return;
    }
    const outbox = this.outbox;
    const at = outbox.reserve(4);
    if (at >= 0) writeAck(outbox.batch, at, type, packetId);
  }

  /**
   * QoS 1 and 2 publishes of an MQTT 5 client not yet acknowledged: PUBACKs held for the store and QoS 2 packet
   * ids not yet released. Compared with the Receive Maximum the server gave [MQTT-3.3.4-9].
   */
  get unacknowledgedInbound(): number {
    return (this.acks === null ? 0 : this.acks.pubacksHeld) + (this.session?.inboundQos2Count ?? 0);
  }

  /**
   * Acknowledges an inbound packet once what it caused is durable. `wroteSince` is the journal's write count
   * before the packet was handled: when nothing was written and nothing waits, the ack goes out at once.
   */
  ackWhenDurable(type: AckType, packetId: number, wroteSince: number, bytes = 0, reasonCode = 0, order: number | string = 0): void {
    const journal = this.broker.journal;
    const wrote = journal.writes !== wroteSince;
    if (!wrote && (this.acks === null || this.acks.isEmpty)) {
      this.writeAck(type, packetId, reasonCode);
      return;
    }
    (this.acks ??= new DurableAcks(this, journal, this.reading)).hold(type, packetId, reasonCode, wrote, bytes, order);
  }

  /**
   * The QoS 1 publishes the client may send again, with their order keys (DurableAcks.resendable): read when the
   * session is taken over by another node, which gives the client's re-sends these keys (decision 045).
   */
  resendablePublishes(): [number, string][] {
    const session = this.session;
    return this.acks === null || session === null ? [] : this.acks.resendable(session.orderPrefix, Date.now());
  }

  /**
   * A QoS 0 message that caused store writes (a retained message, say): nothing to acknowledge, but its bytes count
   * towards what this client may have waiting for the store.
   */
  countWhileDurable(wroteSince: number, bytes: number): void {
    const journal = this.broker.journal;
    if (journal.writes !== wroteSince) (this.acks ??= new DurableAcks(this, journal, this.reading)).count(bytes);
  }

  write(buf: Buffer): void {
    this.outbox.write(buf);
  }

  /** For bulk writers (a session queue, retained messages): true once the client's unread output is too much. */
  saturated(): boolean {
    return this.outbox.saturated();
  }

  /** The client caught up with its output (the stream's "drain", or the outbox): reading resumes, the session sends. */
  onDrain(): void {
    if (!this.reading.congested || this.state === ConnState.Closed) return;
    this.reading.uncongest();
    this.session?.drain();
  }
}

function destroyStream(stream: ClientStream): void {
  stream.destroy();
}
