/**
 * The load generator's hot-path MQTT codec (3.1.1, and 5 with `--protocol 5`): PUBLISH and acknowledgements
 * encoded by patching bytes in a template, and a frame splitter for what the broker sends back. Control packets that are sent once per
 * connection (CONNECT, SUBSCRIBE, DISCONNECT) use mqtt-packet's `generate` (see client.ts); the unit tests check
 * these encoders against mqtt-packet's parser.
 */

/** Packet types (high nibble of the first byte). */
export const PacketType = {
  Connack: 2,
  Publish: 3,
  Puback: 4,
  Pubrec: 5,
  Pubrel: 6,
  Pubcomp: 7,
  Suback: 9,
  Unsuback: 11,
  Pingresp: 13,
} as const;

/** Bytes of the sequence header at the start of every benchmark payload: magic, publisher id, seq, send time. */
export const PAYLOAD_HEADER = 16;
const MAGIC = 0xb3;

export interface PayloadStamp {
  publisher: number;
  seq: number;
  /** performance.now() of the sender when the message was written, in milliseconds. */
  sentAt: number;
}

/**
 * Writes the stamp at `offset`: magic (1 byte), version 1 (1 byte), publisher id (uint16), seq (uint32),
 * sent-at (float64 ms). The rest of the payload is filler.
 */
export function writeStamp(buf: Buffer, offset: number, publisher: number, seq: number, sentAt: number): void {
  buf[offset] = MAGIC;
  buf[offset + 1] = 1;
  buf.writeUInt16BE(publisher, offset + 2);
  buf.writeUInt32BE(seq, offset + 4);
  buf.writeDoubleBE(sentAt, offset + 8);
}

/** Reads a stamp from a payload; null when it does not start with one. */
export function readStamp(buf: Buffer, offset: number, length: number): PayloadStamp | null {
  if (length < PAYLOAD_HEADER || buf[offset] !== MAGIC || buf[offset + 1] !== 1) return null;
  return { publisher: buf.readUInt16BE(offset + 2), seq: buf.readUInt32BE(offset + 4), sentAt: buf.readDoubleBE(offset + 8) };
}

/** The MQTT protocol level the load generator's clients speak: 4 = 3.1.1, 5 = MQTT 5. */
export type Protocol = 4 | 5;

/** Bytes needed for an MQTT variable-length integer. */
export function varintLength(n: number): number {
  if (n < 128) return 1;
  if (n < 16_384) return 2;
  if (n < 2_097_152) return 3;
  if (n < 268_435_456) return 4;
  throw new RangeError(`remaining length too large: ${n}`);
}

/** Writes `n` as an MQTT variable-length integer at `offset`; returns the offset after it. */
export function writeVarint(buf: Buffer, offset: number, n: number): number {
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[offset++] = byte;
  } while (n > 0);
  return offset;
}

/**
 * A PUBLISH of one topic, QoS and payload size, encoded once; `write` copies it into an output buffer and
 * patches the packet id and the payload stamp. At MQTT 5 the template carries an empty property block (Property
 * Length 0, 3.3.2.3) after the packet id, so `write` costs the same at both levels.
 */
export class PublishTemplate {
  readonly template: Buffer;
  readonly size: number;
  /** Offset of the packet id inside the packet (QoS > 0), or -1. */
  private readonly packetIdAt: number;
  /** Offset of the payload inside the packet. */
  readonly payloadAt: number;

  constructor(
    topic: string,
    readonly qos: 0 | 1 | 2,
    payloadSize: number,
    protocol: Protocol = 4,
  ) {
    if (payloadSize < PAYLOAD_HEADER) throw new RangeError(`payload must hold at least ${PAYLOAD_HEADER} bytes`);
    const topicBytes = Buffer.from(topic, "utf8");
    const properties = protocol === 5 ? 1 : 0;
    const remaining = 2 + topicBytes.length + (qos > 0 ? 2 : 0) + properties + payloadSize;
    this.size = 1 + varintLength(remaining) + remaining;
    const t = Buffer.alloc(this.size);
    t[0] = 0x30 | (qos << 1);
    let o = writeVarint(t, 1, remaining);
    t.writeUInt16BE(topicBytes.length, o);
    o += 2;
    topicBytes.copy(t, o);
    o += topicBytes.length;
    this.packetIdAt = qos > 0 ? o : -1;
    if (qos > 0) o += 2;
    // MQTT 5: Property Length 0 (Buffer.alloc left it zero).
    o += properties;
    this.payloadAt = o;
    // Filler: a recognisable pattern rather than zeros.
    for (let i = o + PAYLOAD_HEADER; i < this.size; i++) t[i] = 0x61 + ((i - o) % 26);
    this.template = t;
  }

  /** Writes one PUBLISH at `offset` of `out`; returns the offset after it. */
  write(out: Buffer, offset: number, packetId: number, publisher: number, seq: number, sentAt: number): number {
    this.template.copy(out, offset);
    if (this.packetIdAt >= 0) out.writeUInt16BE(packetId, offset + this.packetIdAt);
    writeStamp(out, offset + this.payloadAt, publisher, seq, sentAt);
    return offset + this.size;
  }
}

/** Size of PUBACK, PUBREC, PUBREL and PUBCOMP. */
export const ACK_SIZE = 4;

/** Writes a PUBACK/PUBREC/PUBREL/PUBCOMP at `offset`; returns the offset after it. */
export function writeAck(out: Buffer, offset: number, type: 4 | 5 | 6 | 7, packetId: number): number {
  out[offset] = (type << 4) | (type === PacketType.Pubrel ? 0x02 : 0);
  out[offset + 1] = 2;
  out.writeUInt16BE(packetId, offset + 2);
  return offset + ACK_SIZE;
}

/** One acknowledgement in a buffer of its own (one write per acknowledgement). */
export function writeAckBuffer(type: 4 | 5 | 6 | 7, packetId: number): Buffer {
  const buf = Buffer.allocUnsafe(ACK_SIZE);
  writeAck(buf, 0, type, packetId);
  return buf;
}

/** Receives one complete frame: the first byte, and the body (variable header + payload) as buf[start, end). */
export type FrameHandler = (first: number, buf: Buffer, start: number, end: number) => void;

/**
 * Splits a byte stream into MQTT frames. Frames may span chunks; the handler sees each body in one buffer
 * (a chunk, or a concatenation when a frame straddled chunks). Throws on a malformed remaining length.
 */
export class FrameReader {
  private pending: Buffer | null = null;

  constructor(private readonly onFrame: FrameHandler) {}

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    const n = buf.length;
    let o = 0;
    while (o < n) {
      if (n - o < 2) break;
      let remaining = 0;
      let multiplier = 1;
      let i = o + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < n; k++) {
        const byte = buf[i++] as number;
        remaining += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
        if (k === 3) throw new Error("malformed remaining length");
      }
      if (!complete) break;
      const end = i + remaining;
      if (end > n) break;
      this.onFrame(buf[o] as number, buf, i, end);
      o = end;
    }
    if (o < n) this.pending = buf.subarray(o);
  }

  /** Bytes of an incomplete frame waiting for more input. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }
}

/** Where a PUBLISH body's parts are: topic, packet id (0 at QoS 0) and payload. */
export interface PublishView {
  qos: number;
  topicStart: number;
  topicEnd: number;
  packetId: number;
  payloadStart: number;
  payloadEnd: number;
}

/** Decodes the layout of a PUBLISH body (no copies). */
export function viewPublish(first: number, buf: Buffer, start: number, end: number, out: PublishView): PublishView {
  const qos = (first >> 1) & 3;
  const topicLength = buf.readUInt16BE(start);
  out.qos = qos;
  out.topicStart = start + 2;
  out.topicEnd = start + 2 + topicLength;
  let o = out.topicEnd;
  if (qos > 0) {
    out.packetId = buf.readUInt16BE(o);
    o += 2;
  } else {
    out.packetId = 0;
  }
  out.payloadStart = o;
  out.payloadEnd = end;
  return out;
}

/**
 * The offset after an MQTT 5 property block starting at `o` (its Property Length, a Variable Byte Integer,
 * then that many bytes); the properties themselves are not read. Throws when the block overruns `end`.
 */
export function skipProperties(buf: Buffer, o: number, end: number): number {
  let length = 0;
  let multiplier = 1;
  for (let k = 0; ; k++) {
    if (k === 4 || o >= end) throw new Error("malformed property length");
    const byte = buf[o++] as number;
    length += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) break;
    multiplier *= 128;
  }
  if (o + length > end) throw new Error("property block overruns the packet");
  return o + length;
}

/** `viewPublish` for an MQTT 5 PUBLISH body: its property block (3.3.2.3) is skipped, the payload follows it. */
export function viewPublish5(first: number, buf: Buffer, start: number, end: number, out: PublishView): PublishView {
  viewPublish(first, buf, start, end, out);
  out.payloadStart = skipProperties(buf, out.payloadStart, end);
  return out;
}
