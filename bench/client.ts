import { connect, type Socket } from "node:net";
import { generate, type IConnackPacket, type ISubscribePacket, parser as createParser } from "mqtt-packet";
import {
  ACK_SIZE,
  FrameReader,
  PacketType,
  type Protocol,
  type PublishView,
  readStamp,
  skipProperties,
  varintLength,
  viewPublish,
  viewPublish5,
  writeAck,
  writeAckBuffer,
  writeVarint,
} from "./wire.js";

export interface ClientOptions {
  host: string;
  port: number;
  clientId: string;
  clean: boolean;
  keepalive: number;
  /** Give up on TCP connect + CONNACK after this long. */
  timeoutMs: number;
  /** Write every acknowledgement by itself as soon as its packet is read (default: one write per chunk read). */
  ackPerPacket?: boolean;
  /** MQTT protocol level (default 4, MQTT 3.1.1). */
  protocol?: Protocol;
}

/** A session that outlives the connection at MQTT 5 (clean = false): the 3.1.1 meaning of clean = 0. */
const PERSISTENT_EXPIRY = 0xffff_ffff;

/** The properties of an MQTT 5 CONNACK (cold path: parsed with mqtt-packet). */
function connack5(first: number, buf: Buffer, start: number, end: number): IConnackPacket {
  const body = buf.subarray(start, end);
  const header = Buffer.allocUnsafe(1 + varintLength(body.length));
  header[0] = first;
  writeVarint(header, 1, body.length);
  let packet: IConnackPacket | null = null;
  const p = createParser({ protocolVersion: 5 });
  p.on("packet", (pkt) => {
    if (pkt.cmd === "connack") packet = pkt;
  });
  p.on("error", (err: Error) => {
    throw err;
  });
  p.parse(Buffer.concat([header, body]));
  if (packet === null) throw new Error("malformed CONNACK");
  return packet;
}

/** Receives a benchmark message: its stamp, and when the chunk holding it arrived (performance.now() ms). */
export type MessageHandler = (publisher: number, seq: number, sentAt: number, receivedAt: number, qos: number) => void;

/**
 * One MQTT 3.1.1 or MQTT 5 connection of the load generator on a raw socket. Acknowledges what it receives at once
 * (PUBACK, PUBREC, PUBCOMP), batched into one write per chunk read, or, with `ackPerPacket`, one write per
 * acknowledgement (what a device SDK does). As a publisher it answers PUBREC with
 * PUBREL and reports completed packet ids (PUBACK at QoS 1, PUBCOMP at QoS 2). At MQTT 5 the acknowledgements
 * it writes keep the 4-byte form (reason code 0, no properties: 3.4.2.1), and what it reads is parsed with the
 * property blocks skipped.
 */
export class BenchClient {
  onMessage: MessageHandler | null = null;
  /** A QoS 1/2 PUBLISH this client sent is complete. */
  onComplete: ((packetId: number) => void) | null = null;
  /** The socket closed (after `close()` too); `error` is set when it was not asked for. */
  onClose: ((error: Error | null) => void) | null = null;
  closed = false;
  /** Messages received with a payload that carries no benchmark stamp. */
  foreign = 0;
  /** QoS 1/2 publishes the server accepts unacknowledged (MQTT 5 CONNACK Receive Maximum; 65,535 otherwise). */
  receiveMaximum = 65_535;
  private closing = false;
  private readonly reader: FrameReader;
  private ackBuf = Buffer.allocUnsafe(256);
  private ackLen = 0;
  private chunkAt = 0;
  private readonly view: PublishView = { qos: 0, topicStart: 0, topicEnd: 0, packetId: 0, payloadStart: 0, payloadEnd: 0 };
  private waitConnack: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private waitSuback: { resolve: (granted: number[]) => void; reject: (e: Error) => void } | null = null;

  private constructor(
    readonly socket: Socket,
    private readonly ackPerPacket: boolean,
    readonly v5: boolean,
  ) {
    this.reader = new FrameReader((first, buf, start, end) => this.frame(first, buf, start, end));
    socket.on("data", (chunk: Buffer) => {
      this.chunkAt = performance.now();
      try {
        this.reader.push(chunk);
      } catch (err) {
        socket.destroy(err as Error);
        return;
      }
      this.flushAcks();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      const err = this.closing ? null : new Error(`connection closed by the broker`);
      const e = err ?? new Error("closed");
      this.waitConnack?.reject(e);
      this.waitSuback?.reject(e);
      this.waitConnack = null;
      this.waitSuback = null;
      this.onClose?.(err);
    });
  }

  /** TCP connect, CONNECT, CONNACK with return code 0. */
  static open(opts: ClientOptions): Promise<BenchClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: opts.host, port: opts.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect of ${opts.clientId} timed out after ${opts.timeoutMs} ms`));
      }, opts.timeoutMs);
      const fail = (err: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      socket.once("error", fail);
      socket.once("connect", () => {
        socket.off("error", fail);
        const v5 = opts.protocol === 5;
        const client = new BenchClient(socket, opts.ackPerPacket === true, v5);
        client.waitConnack = {
          resolve: () => {
            clearTimeout(timer);
            resolve(client);
          },
          reject: fail,
        };
        const { clientId, clean, keepalive } = opts;
        socket.write(
          v5
            ? generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 5, clientId, clean, keepalive, properties: clean ? {} : { sessionExpiryInterval: PERSISTENT_EXPIRY } })
            : generate({ cmd: "connect", protocolId: "MQTT", protocolVersion: 4, clientId, clean, keepalive }),
        );
      });
    });
  }

  /** SUBSCRIBE one filter; resolves with the granted QoS, rejects on failure (0x80, or any code ≥ 0x80 at MQTT 5). */
  subscribe(filter: string, qos: 0 | 1 | 2): Promise<number> {
    return new Promise((resolve, reject) => {
      this.waitSuback = {
        resolve: (granted) => {
          const g = granted[0];
          if (g === undefined || g >= 0x80) reject(new Error(`subscription to ${filter} refused`));
          else resolve(g);
        },
        reject,
      };
      const packet: ISubscribePacket = { cmd: "subscribe", messageId: 1, subscriptions: [{ topic: filter, qos }] };
      this.socket.write(this.v5 ? generate(packet, { protocolVersion: 5 }) : generate(packet));
    });
  }

  write(buf: Buffer): void {
    this.socket.write(buf);
  }

  /** DISCONNECT and end the socket; resolves when it is closed (or after `timeoutMs`). */
  close(timeoutMs = 2000): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closing = true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, timeoutMs);
      this.socket.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end(generate({ cmd: "disconnect" }));
    });
  }

  /** Closes at once, without DISCONNECT. */
  destroy(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private frame(first: number, buf: Buffer, start: number, end: number): void {
    const type = first >> 4;
    switch (type) {
      case PacketType.Publish: {
        const v = this.v5 ? viewPublish5(first, buf, start, end, this.view) : viewPublish(first, buf, start, end, this.view);
        const stamp = readStamp(buf, v.payloadStart, v.payloadEnd - v.payloadStart);
        if (v.qos === 1) this.queueAck(PacketType.Puback, v.packetId);
        else if (v.qos === 2) this.queueAck(PacketType.Pubrec, v.packetId);
        if (stamp === null) this.foreign++;
        else this.onMessage?.(stamp.publisher, stamp.seq, stamp.sentAt, this.chunkAt, v.qos);
        return;
      }
      case PacketType.Pubrel:
        this.queueAck(PacketType.Pubcomp, buf.readUInt16BE(start));
        return;
      case PacketType.Puback:
      case PacketType.Pubcomp:
        this.onComplete?.(buf.readUInt16BE(start));
        return;
      case PacketType.Pubrec:
        this.queueAck(PacketType.Pubrel, buf.readUInt16BE(start));
        return;
      case PacketType.Connack: {
        const code = buf[start + 1];
        const w = this.waitConnack;
        this.waitConnack = null;
        if (code === 0 && this.v5) this.receiveMaximum = connack5(first, buf, start, end).properties?.receiveMaximum ?? 65_535;
        if (code === 0) w?.resolve();
        else w?.reject(new Error(`CONNACK return code ${code}`));
        return;
      }
      case PacketType.Suback: {
        const granted = [...buf.subarray(this.v5 ? skipProperties(buf, start + 2, end) : start + 2, end)];
        const w = this.waitSuback;
        this.waitSuback = null;
        w?.resolve(granted);
        return;
      }
      default:
        return;
    }
  }

  private queueAck(type: 4 | 5 | 6 | 7, packetId: number): void {
    if (this.ackPerPacket) {
      if (!this.closed) this.socket.write(writeAckBuffer(type, packetId));
      return;
    }
    if (this.ackLen + ACK_SIZE > this.ackBuf.length) {
      const bigger = Buffer.allocUnsafe(this.ackBuf.length * 2);
      this.ackBuf.copy(bigger, 0, 0, this.ackLen);
      this.ackBuf = bigger;
    }
    this.ackLen = writeAck(this.ackBuf, this.ackLen, type, packetId);
  }

  private flushAcks(): void {
    if (this.ackLen === 0 || this.closed) return;
    this.socket.write(Buffer.from(this.ackBuf.subarray(0, this.ackLen)));
    this.ackLen = 0;
  }
}
