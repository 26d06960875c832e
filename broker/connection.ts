import type { Packet, QoS } from "mqtt-packet";
import type { Broker } from "./broker.js";
import { type AckType, encode, writeAck } from "./codec.js";
import { encodeAck5 } from "./codec5.js";
import { encodeConnack5, Reason } from "./codec5-control.js";
import { closingDisconnect5, refusingConnack5 } from "./reasons5.js";
import { SharedBufferReads } from "./borrowed-reads.js";
import { ConnectionIdentity } from "./connection-identity.js";
import type { ClientStream } from "./client-stream.js";
import { listen, writeHandleFor } from "./connection-stream.js";
import { CredentialsExpiry, type ExpiringClient } from "./credentials-expiry.js";
import { DurableAcks } from "./durable-acks.js";
import { PacketDecoder, type PacketSink } from "./decoder.js";
import { Handshake } from "./handshake.js";
import { HeldPackets, type HeldPacketSink, refusal } from "./held-packets.js";
import { LimitExceeded } from "./errors.js";
import type { Link5 } from "./link5.js";
import { Outbox, type OutboxOwner } from "./outbox.js";
import type { Properties } from "./properties.js";
import { batchPublish, batchPublish5 } from "./publish-writes.js";
import type { AuthPacket } from "./handlers/auth5.js";
import { dispatch } from "./handlers/index.js";
import { handleMalformed, handleOversize } from "./handlers/malformed.js";
import type { SessionLink } from "./session-ports.js";
import type { CloseReason, Message } from "./types.js";
import type { ClientCertificate } from "../core/auth/backend.js";
import { validateTopicName } from "../core/topic/index.js";
import { ACTIVE, type KeepaliveSubject } from "./keepalive-sweep.js";
import { ReadGate } from "./read-gate.js";

export const enum ConnState {
  /** Socket accepted; the first packet must be CONNECT [MQTT-3.1.0-1]. */
  AwaitConnect = 0,
  /** CONNECT received; authentication in progress. Later packets are held (`held`); reading is paused. */
  Connecting = 1,
  Connected = 2,
  Closed = 3,
}

export type Transport = "tcp" | "tls" | "ws";

let nextConnectionId = 1;

/**
 * One network connection: parses packets, dispatches them to the handlers, writes responses, enforces the
 * connect timeout, keepalive, maximum packet size and back-pressure. An error closes only this connection.
 */
export class Connection extends ConnectionIdentity implements SessionLink, PacketSink, HeldPacketSink, KeepaliveSubject, OutboxOwner, ExpiringClient {
  readonly id = nextConnectionId++;
  state = ConnState.AwaitConnect;
  /** Effective keepalive in seconds (0 = off), watched by the broker's keepalive sweep once connected. */
  keepalive = 0;
  /** For the keepalive sweep (broker/keepalive-sweep.ts): ACTIVE after a packet, else the tick it was anchored at. */
  private seen = ACTIVE;
  /** What MQTT 5 adds to this connection (the client's limits, topic aliases); null at 3.1.1 and 3.1. */
  v5: Link5 | null = null;
  /** From the socket to CONNACK: the connect timeout, authentication, CONNACK's properties; null once connected. */
  private handshake: Handshake | null;
  private readonly decoder: PacketDecoder;
  /** Whether the client is read from, and why not. */
  private readonly reading: ReadGate;
  /** What is written to the client, batched per turn (broker/outbox.ts). */
  private readonly outbox: Outbox;
  /** Packets read while CONNECT or a handler waits, handled after it (broker/held-packets.ts); made on first use. */
  private held: HeldPackets | null = null;
  /** Closes the connection when its credentials expire (a JWT's exp); made on first use. */
  private expiry: CredentialsExpiry | null = null;
  /** Acknowledgements held until the store writes they vouch for are durable; made on first use. */
  private acks: DurableAcks | null = null;
  private suspended = false;
  /**
   * The session was claimed from another node and waits for it (decision 044, `holdUntilSettled`): packets the
   * client sends meanwhile are held like a suspended connection's. A flag of its own, so that a handler's `resume()`
   * cannot end it.
   */
  private settling = false;
  /**
   * The slot of the source address in `broker.addressLimits` (broker/address-limits.ts), given back when the stream
   * has closed (not when the connection closes: a flushing socket still counts); null without one or once given back.
   */
  private addressKey: string | null;
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
    super();
    this.addressKey = addressKey;
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
    this.handshake = new Handshake(setTimeout(onConnectTimeout, broker.config.limits.connectTimeoutMs, this));
  }

  get isClosed(): boolean {
    return this.state === ConnState.Closed;
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

  // --- lifecycle ---------------------------------------------------------------------------------------

  /**
   * CONNECT accepted and being authenticated: hold later packets until CONNACK. The signal fires if the
   * connection closes before authentication ends.
   */
  beginConnect(keepalive: number): AbortSignal {
    this.state = ConnState.Connecting;
    this.keepalive = keepalive;
    this.decoder.setMaxRemainingLength(this.broker.config.limits.maxPacketSize - 2);
    this.updateReading();
    // The connect timer keeps running: authentication must also finish within connectTimeoutMs.
    return (this.handshake as Handshake).beginAuth();
  }

  /**
   * The CONNECT is MQTT 5: later packets are read and written with properties and reason codes (a refusing
   * CONNACK too).
   */
  useV5(link: Link5): void {
    this.v5 = link;
    this.decoder.setProtocolLevel(5);
  }

  /** Properties of the MQTT 5 CONNACK that will accept this connection (added to those given before). */
  acceptWith(connack: Properties): void {
    (this.handshake as Handshake).acceptWith(connack);
  }

  /**
   * The client's next AUTH packet, during an MQTT 5 enhanced authentication (broker/handlers/auth5.ts): while
   * CONNECT is being authenticated other packets wait, AUTH goes to the exchange. Rejects if the connection closes.
   */
  awaitAuth(): Promise<AuthPacket> {
    const answer = (this.handshake as Handshake).nextAuth();
    // Reading is paused while CONNECT is authenticated: the answer must come in. Other packets stay bounded
    // (limits.maxPreAuthBytes), and reading pauses again once the answer is here.
    this.reading.resume();
    return answer;
  }

  /** CONNACK accepting the connection [MQTT-3.2.2-1..3]. */
  writeConnack(sessionPresent: boolean): void {
    const props = (this.handshake as Handshake).takeConnack();
    if (this.v5 === null) this.write(encode({ cmd: "connack", returnCode: 0, sessionPresent }));
    else this.write(encodeConnack5(sessionPresent, Reason.Success, props));
  }

  /** CONNACK 0 has been written: start keepalive and process packets that arrived meanwhile. */
  completeConnect(): void {
    this.state = ConnState.Connected;
    this.handshake?.end();
    this.handshake = null;
    if (this.keepalive > 0) {
      // The server closes a connection silent for 1.5 times the keepalive [MQTT-3.1.2-24]: the broker's sweep,
      // counting from CONNACK.
      this.seen = ACTIVE;
      this.broker.keepalives.watch();
    }
    if (!this.settling) this.replayPending();
    this.updateReading();
  }

  /**
   * The client's credentials no longer hold (expired, or the user was deleted or disabled): the connection is
   * closed as not authorized, and its will is not published, since it would go out under rules that were revoked.
   */
  revoke(reason: Error): void {
    this.discardWill();
    this.close("not-authorized", reason);
  }

  /**
   * The credentials this connection authenticated with expire at `epochMs`: close it then (0x05-like,
   * "not-authorized"). Undefined: they do not expire (a re-authentication's may replace ones that did).
   */
  expireAt(epochMs: number | undefined): void {
    if (this.state === ConnState.Closed) return;
    if (epochMs !== undefined || this.expiry !== null) (this.expiry ??= new CredentialsExpiry(this)).at(epochMs);
  }

  /** Holds incoming packets until `resume()`: a handler is waiting for the store. */
  suspend(): void {
    this.suspended = true;
    this.updateReading();
  }

  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    if (this.state !== ConnState.Closed && !this.settling) this.replayPending();
    this.updateReading();
  }

  /**
   * Until `settled`, what the client sends waits: its session may have been claimed from another node, which still
   * passes on what it had (decision 031), and the client's new messages must not overtake, at a subscriber, the ones
   * the old node routed before the move (decision 044). Called on every accepted CONNECT before `completeConnect`;
   * the session lets go at once when there is nothing to wait for.
   */
  holdUntilSettled(): void {
    this.settling = true;
  }

  /** After CONNACK, the client's packets wait: for a handler's store answer (`suspend`), or for its move to settle. */
  private get waiting(): boolean {
    return this.suspended || this.settling;
  }

  /** SessionLink: the session's move settled; what the client sent meanwhile is handled now, in order. */
  settled(): void {
    if (!this.settling) return;
    this.settling = false;
    // Before CONNACK (nothing to wait for): `completeConnect` replays them.
    if (this.state === ConnState.Connected && !this.suspended) this.replayPending();
    this.updateReading();
  }

  private replayPending(): void {
    const held = this.held;
    if (held === null) return;
    // Let go first, so a connection keeps no empty holder once CONNACK has gone out (most clients never hold again).
    // A replayed packet may suspend again; the rest then queue up behind it, in order, in a new holder.
    this.held = null;
    held.replay(this);
  }

  /** HeldPacketSink: the end of stream held behind packets is next. Suspended again: it waits behind the new wait. */
  onHeldEnd(): boolean {
    if (this.waiting) return false;
    this.close("socket-closed");
    return true;
  }

  /**
   * Reading is paused while packets are held (CONNECT being authenticated, a handler waiting for the store), so
   * a client cannot make the broker buffer more than what one read brought in; it resumes when they are handled,
   * unless congestion or pending acknowledgements hold it too.
   */
  private updateReading(): void {
    if (this.state === ConnState.Closed) return;
    this.reading.hold(this.state === ConnState.Connecting || this.waiting);
  }

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
    this.state = ConnState.Closed;
    this.expiry?.stop();
    this.held = null;
    // Not dropped: an authentication still under way may yet add CONNACK properties or ask for the next AUTH.
    this.handshake?.cancel();
    this.v5?.reauth?.stop();
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

  onConnectTimeout(): void {
    if (this.state === ConnState.AwaitConnect || this.state === ConnState.Connecting) this.close("connect-timeout");
  }

  /** Gives the source address's slot back (once): the stream has closed. */
  releaseAddress(): void {
    if (this.addressKey === null) return;
    this.broker.addressLimits.release(this.addressKey);
    this.addressKey = null;
  }

  /** Keepalive in seconds while the sweep applies it: connected with a keepalive, else 0. */
  get watchedKeepalive(): number {
    return this.state === ConnState.Connected ? this.keepalive : 0;
  }

  /** KeepaliveSubject: the mark as it was; a packet since the last sweep (`ACTIVE`) is anchored at `anchor`. */
  anchorSeen(anchor: number): number {
    const seen = this.seen;
    if (seen === ACTIVE) this.seen = anchor;
    return seen;
  }

  onKeepaliveTimeout(): void {
    this.close("keepalive-timeout");
  }
}

function onConnectTimeout(conn: Connection): void {
  conn.onConnectTimeout();
}

function destroyStream(stream: ClientStream): void {
  stream.destroy();
}
