import type { Packet } from "mqtt-packet";
import type { Broker } from "./broker.js";
import { encode } from "./codec.js";
import { encodeConnack5, Reason } from "./codec5-control.js";
import { ConnectionIdentity } from "./connection-identity.js";
import { CredentialsExpiry, type ExpiringClient } from "./credentials-expiry.js";
import type { PacketDecoder } from "./decoder.js";
import { Handshake } from "./handshake.js";
import type { HeldPacketSink, HeldPackets } from "./held-packets.js";
import type { Link5 } from "./link5.js";
import type { Properties } from "./properties.js";
import type { AuthPacket } from "./handlers/auth5.js";
import type { CloseReason } from "./types.js";
import { ACTIVE, type KeepaliveSubject } from "./keepalive-sweep.js";
import type { ReadGate } from "./read-gate.js";

export const enum ConnState {
  /** Socket accepted; the first packet must be CONNECT [MQTT-3.1.0-1]. */
  AwaitConnect = 0,
  /** CONNECT received; authentication in progress. Later packets are held (`held`); reading is paused. */
  Connecting = 1,
  Connected = 2,
  Closed = 3,
}

/**
 * A connection's states and their transitions: CONNECT's handshake up to CONNACK, the waits after it (a handler's
 * store answer, a move settling) with the packets read meanwhile, keepalive, the expiry of its credentials, and what
 * a close ends. The packets and bytes that go through it are `Connection`'s (broker/connection.ts): its input and
 * output, the parts these transitions use (its decoder and read gate), and the close itself (what the client and the
 * broker are told).
 *
 * The base of `Connection`, not a part it holds, like `ConnectionIdentity`: every connection has this state, so a
 * separate object would cost one more allocation and hop per connection.
 */
export abstract class ConnectionStates extends ConnectionIdentity implements HeldPacketSink, KeepaliveSubject, ExpiringClient {
  state = ConnState.AwaitConnect;
  /** Effective keepalive in seconds (0 = off), watched by the broker's keepalive sweep once connected. */
  keepalive = 0;
  /** For the keepalive sweep (broker/keepalive-sweep.ts): ACTIVE after a packet, else the tick it was anchored at. */
  protected seen = ACTIVE;
  /** What MQTT 5 adds to this connection (the client's limits, topic aliases); null at 3.1.1 and 3.1. */
  v5: Link5 | null = null;
  /** From the socket to CONNACK: the connect timeout, authentication, CONNACK's properties; null once connected. */
  protected handshake: Handshake | null;
  /** Packets read while CONNECT or a handler waits, handled after it (broker/held-packets.ts); made on first use. */
  protected held: HeldPackets | null = null;
  /** Closes the connection when its credentials expire (a JWT's exp); made on first use. */
  private expiry: CredentialsExpiry | null = null;
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

  abstract readonly broker: Broker;
  protected abstract readonly decoder: PacketDecoder;
  /** Whether the client is read from, and why not. */
  protected abstract readonly reading: ReadGate;
  abstract write(buf: Buffer): void;
  /** Handles (or holds) one decoded packet; false once the connection is closed, to stop decoding. */
  abstract onPacket(packet: Packet, size: number): boolean;
  /** Closes the connection once (Connection.close). */
  abstract close(reason: CloseReason, err?: Error, flush?: boolean): void;

  constructor(connectTimeoutMs: number, addressKey: string | null) {
    super();
    this.addressKey = addressKey;
    this.handshake = new Handshake(setTimeout(onConnectTimeout, connectTimeoutMs, this));
  }

  get isClosed(): boolean {
    return this.state === ConnState.Closed;
  }

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
  protected get waiting(): boolean {
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
   * The connection closes (Connection.close, which writes what the client is told and tells the broker): its state
   * is Closed, its timers stop, what it held goes.
   */
  protected closeStates(): void {
    this.state = ConnState.Closed;
    this.expiry?.stop();
    this.held = null;
    // Not dropped: an authentication still under way may yet add CONNACK properties or ask for the next AUTH.
    this.handshake?.cancel();
    this.v5?.reauth?.stop();
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

function onConnectTimeout(conn: ConnectionStates): void {
  conn.onConnectTimeout();
}
