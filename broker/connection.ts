import type { Duplex } from "node:stream";
import type { Packet, QoS } from "mqtt-packet";
import type { ClientInfo, ClientPolicy } from "../core/auth/types.js";
import type { Broker } from "./broker.js";
import type { DurabilityWaiter } from "./journal.js";
import { type AckType, createParser, encode, encodeAck, encodePublish, type MqttParser } from "./codec.js";
import { ProtocolError } from "./errors.js";
import { dispatch } from "./handlers/index.js";
import type { Session, SessionLink } from "./session.js";
import type { CloseReason, Message } from "./types.js";

export const enum ConnState {
  /** Socket accepted; the first packet must be CONNECT [MQTT-3.1.0-1]. */
  AwaitConnect = 0,
  /** CONNECT received; authentication in progress. Later packets wait in `pending`. */
  Connecting = 1,
  Connected = 2,
  Closed = 3,
}

export type Transport = "tcp" | "tls" | "ws";

/** Packets a client may pipeline behind CONNECT before CONNACK is sent. Beyond this the client is abusive. */
const MAX_PENDING_PACKETS = 1024;

let nextConnectionId = 1;

/**
 * One network connection: parses packets, dispatches them to the handlers, writes responses, enforces the
 * connect timeout, keepalive, maximum packet size and back-pressure. An error closes only this connection.
 */
/** Acknowledgements waiting for store writes; beyond this many the broker stops reading from the client. */
const MAX_PENDING_ACKS = 1024;

export class Connection implements SessionLink, DurabilityWaiter {
  readonly id = nextConnectionId++;
  state = ConnState.AwaitConnect;
  session: Session | null = null;
  client: ClientInfo | null = null;
  policy: ClientPolicy | null = null;
  /** The will message, published if the connection closes without DISCONNECT [MQTT-3.1.2-8]. */
  will: Message | null = null;
  /** Effective keepalive in seconds (0 = off). */
  keepalive = 0;
  closeReason: CloseReason | null = null;
  congested = false;
  private readonly parser: MqttParser;
  private pending: Packet[] | null = null;
  private timer: NodeJS.Timeout;
  private corked = false;
  /** Bytes written in the current corked batch: not yet offered to the socket, so not a sign of congestion. */
  private corkedBytes = 0;
  private readonly maxRemainingLength: number;
  /**
   * Acknowledgements (PUBACK, PUBREC, PUBCOMP) held until the store writes they vouch for are durable, in the
   * order the packets arrived [MQTT-4.6.0-2]: packed as type << 16 | packet id, with the batch each waits for.
   */
  private ackQueue: number[] = [];
  private ackBatch: number[] = [];
  private ackPaused = false;
  private suspended = false;

  constructor(
    readonly broker: Broker,
    readonly stream: Duplex,
    readonly remoteAddress: string,
    readonly transport: Transport,
  ) {
    this.parser = createParser();
    this.parser.on("packet", (packet) => this.onPacket(packet));
    this.parser.on("error", (err: Error) => this.onParseError(err));
    // Fixed header is at least 2 bytes; the limit applies to the whole packet.
    this.maxRemainingLength = broker.config.limits.maxPacketSize - 2;
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("error", (err) => this.close("socket-error", err));
    stream.on("end", () => this.close("socket-closed"));
    stream.on("close", () => this.close("socket-closed"));
    stream.on("drain", () => this.onDrain());
    this.timer = setTimeout(onConnectTimeout, broker.config.limits.connectTimeoutMs, this);
  }

  get isClosed(): boolean {
    return this.state === ConnState.Closed;
  }

  get clientId(): string | undefined {
    return this.client?.clientId;
  }

  // --- input -------------------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    this.broker.stats.bytesReceived += chunk.length;
    this.parser.parse(chunk);
    // Refuse a packet as soon as its declared length is known to exceed the limit, before buffering it.
    if (this.parser.pendingLength > this.maxRemainingLength && this.state !== ConnState.Closed) {
      this.close("packet-too-large", new ProtocolError(`packet of ${this.parser.pendingLength} bytes exceeds maxPacketSize`));
    }
  }

  private onPacket(packet: Packet): void {
    if (this.state === ConnState.Closed) return;
    if (packet.length !== undefined && packet.length > this.maxRemainingLength) {
      this.close("packet-too-large", new ProtocolError(`packet of ${packet.length} bytes exceeds maxPacketSize`));
      return;
    }
    if (this.keepalive > 0 && this.state === ConnState.Connected) this.timer.refresh();
    if (this.state === ConnState.Connecting || this.suspended) {
      // Packets are handled strictly in arrival order: while CONNECT or a SUBSCRIBE waits for the store,
      // later packets wait too.
      const pending = (this.pending ??= []);
      if (pending.length >= MAX_PENDING_PACKETS) {
        this.close("protocol-error", new ProtocolError("too many packets while waiting for the session store"));
        return;
      }
      pending.push(packet);
      return;
    }
    try {
      dispatch(this, packet);
    } catch (err) {
      this.close("protocol-error", err as Error);
    }
  }

  private onParseError(err: Error): void {
    if (this.state === ConnState.Closed) return;
    // An unsupported protocol level in CONNECT gets CONNACK 0x01 before the close [MQTT-3.1.2-2].
    if (this.state === ConnState.AwaitConnect && err.message === "Invalid protocol version") {
      this.refuse(1, new ProtocolError("unsupported protocol level", "MQTT-3.1.2-2"));
      return;
    }
    this.close("protocol-error", new ProtocolError(`malformed packet: ${err.message}`));
  }

  // --- lifecycle ---------------------------------------------------------------------------------------

  /** CONNECT accepted and being authenticated: hold later packets until CONNACK. */
  beginConnect(keepalive: number): void {
    this.state = ConnState.Connecting;
    this.keepalive = keepalive;
    // The connect timer keeps running: authentication must also finish within connectTimeoutMs.
  }

  /** CONNACK 0 has been written: start keepalive and process packets that arrived meanwhile. */
  completeConnect(): void {
    this.state = ConnState.Connected;
    clearTimeout(this.timer);
    if (this.keepalive > 0) {
      // The server closes a connection silent for 1.5 times the keepalive [MQTT-3.1.2-24].
      this.timer = setTimeout(onKeepaliveTimeout, this.keepalive * 1500, this);
    }
    this.replayPending();
  }

  /** Holds incoming packets until `resume()`: a handler is waiting for the store. */
  suspend(): void {
    this.suspended = true;
  }

  resume(): void {
    if (!this.suspended) return;
    this.suspended = false;
    if (this.state !== ConnState.Closed) this.replayPending();
  }

  private replayPending(): void {
    const pending = this.pending;
    this.pending = null;
    // A replayed packet may suspend again; the rest then queue up behind it, in order.
    if (pending !== null) for (const packet of pending) this.onPacket(packet);
  }

  /** Sends CONNACK with a refusal code and closes [MQTT-3.2.2-4] [MQTT-3.2.2-5]. */
  refuse(returnCode: 1 | 2 | 3 | 4 | 5, err: Error): void {
    this.broker.onConnectRefused(this, returnCode, err.message);
    this.write(encode({ cmd: "connack", returnCode, sessionPresent: false }));
    this.close(returnCode === 4 || returnCode === 5 ? "not-authorized" : "protocol-error", err, true);
  }

  /**
   * Closes the connection once. `flush` lets queued bytes (a refusing CONNACK) reach the client first.
   * The broker is told at once, so session state never waits on a slow socket.
   */
  close(reason: CloseReason, err?: Error, flush = false): void {
    if (this.state === ConnState.Closed) return;
    this.state = ConnState.Closed;
    this.closeReason = reason;
    clearTimeout(this.timer);
    this.pending = null;
    if (flush) {
      this.uncork();
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

  writePublish(msg: Message, qos: QoS, retain: boolean, dup: boolean, packetId: number): void {
    if (this.state === ConnState.Closed) return;
    this.broker.stats.messagesSent++;
    this.broker.stats.sentByQos[qos]++;
    this.write(encodePublish(msg.topic, Buffer.byteLength(msg.topic), msg.payload, qos, retain, dup, packetId));
  }

  writeAck(type: AckType, packetId: number): void {
    this.write(encodeAck(type, packetId));
  }

  /**
   * Acknowledges an inbound packet once what it caused is durable. `wroteSince` is the journal's write count
   * before the packet was handled: when nothing was written and nothing waits, the ack goes out at once.
   */
  ackWhenDurable(type: AckType, packetId: number, wroteSince: number): void {
    const journal = this.broker.journal;
    const wrote = journal.writes !== wroteSince;
    if (!wrote && this.ackQueue.length === 0) {
      this.writeAck(type, packetId);
      return;
    }
    this.ackQueue.push((type << 16) | packetId);
    this.ackBatch.push(wrote ? journal.wait(this) : 0);
    if (this.ackQueue.length >= MAX_PENDING_ACKS && !this.ackPaused) {
      // The store is slow or down: stop taking work from this client until its acks go out.
      this.ackPaused = true;
      this.stream.pause();
    }
  }

  onDurable(batchId: number): void {
    const queue = this.ackQueue;
    const batches = this.ackBatch;
    let n = 0;
    while (n < queue.length && (batches[n] as number) <= batchId) n++;
    if (n === 0) return;
    if (this.state !== ConnState.Closed) {
      for (let i = 0; i < n; i++) {
        const packed = queue[i] as number;
        this.writeAck((packed >>> 16) as AckType, packed & 0xffff);
      }
    }
    queue.splice(0, n);
    batches.splice(0, n);
    if (this.ackPaused && queue.length < MAX_PENDING_ACKS / 2) {
      this.ackPaused = false;
      if (!this.congested) this.stream.resume();
    }
  }

  write(buf: Buffer): void {
    if (this.state === ConnState.Closed && !this.stream.writable) return;
    if (!this.corked) {
      // Batch everything written in this tick into one socket write.
      this.corked = true;
      this.stream.cork();
      process.nextTick(uncorkConnection, this);
    }
    this.broker.stats.bytesSent += buf.length;
    this.corkedBytes += buf.length;
    this.stream.write(buf);
    this.checkCongestion(this.stream.writableLength - this.corkedBytes);
  }

  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.corkedBytes = 0;
    this.stream.uncork();
    // What the socket could not take now is what the client has not read.
    this.checkCongestion(this.stream.writableLength);
  }

  /**
   * `backlog` is what the socket holds from earlier batches. Above the high-water mark the client is not
   * reading: stop reading from it too, until its buffer drains. The current batch does not count, or a
   * burst to a client that reads normally would look like congestion.
   */
  private checkCongestion(backlog: number): void {
    if (this.congested || this.state === ConnState.Closed) return;
    if (backlog > this.broker.config.limits.socketHighWaterMark) {
      this.congested = true;
      this.stream.pause();
    }
  }

  private onDrain(): void {
    if (!this.congested || this.state === ConnState.Closed) return;
    this.congested = false;
    if (!this.ackPaused) this.stream.resume();
    this.session?.drain();
  }

  onConnectTimeout(): void {
    if (this.state === ConnState.AwaitConnect || this.state === ConnState.Connecting) this.close("connect-timeout");
  }

  onKeepaliveTimeout(): void {
    this.close("keepalive-timeout");
  }
}

function uncorkConnection(conn: Connection): void {
  conn.uncork();
}

function onConnectTimeout(conn: Connection): void {
  conn.onConnectTimeout();
}

function onKeepaliveTimeout(conn: Connection): void {
  conn.onKeepaliveTimeout();
}

function destroyStream(stream: Duplex): void {
  stream.destroy();
}
