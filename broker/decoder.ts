import type { Packet } from "mqtt-packet";
import { decodeString, MalformedPacketError, parseFrame } from "./codec.js";
import { decodeHot5 } from "./codec5.js";
import { giveBack, hotAck, hotPublish } from "./lent-packets.js";

export { decodeString, MalformedPacketError } from "./codec.js";

/**
 * Splits a client's byte stream into MQTT packets. The packets of the delivery hot path (PUBLISH, PUBACK, PUBREC,
 * PUBREL, PUBCOMP, PINGREQ) are decoded here, straight from the socket's chunk; every other packet type is handed,
 * as one complete frame, to mqtt-packet's parser (`parseFrame`, one instance shared by all connections). Both apply
 * the same rules: reserved header flags [MQTT-2.2.2-2], QoS 3 [MQTT-3.3.1-4], fields that must fill the remaining
 * length exactly [MQTT-4.8.0-1], well-formed UTF-8 without U+0000 [MQTT-1.5.3-1] [MQTT-1.5.3-2].
 *
 * At protocol level 5 (`setProtocolLevel`) the hot packets are read by broker/codec5.ts and the others by
 * mqtt-packet at level 5, with properties checked against one table (broker/properties.ts).
 *
 * An idle connection costs one small object: no buffer is held between packets unless a packet is cut across
 * chunks, and then only its bytes.
 */

/** Where decoded packets go. Callbacks are made synchronously, in stream order. */
export interface PacketSink {
  /** `size` is the packet's length on the wire. Returns false to stop decoding the current chunk (the connection closed). */
  onPacket(packet: Packet, size: number): boolean;
  onDecodeError(err: Error): void;
  /** A packet's remaining length exceeds the limit; called as soon as its header is read. */
  onOversize(remainingLength: number): void;
}

/** A rest shorter than this is copied out of its chunk, so a few leftover bytes never pin a large chunk. */
const COPY_REST_BELOW = 4096;

/** `buf[start, end)` in a buffer of its own (small ones from Node's pool). */
export function copyOf(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  copyBytes(buf, start, end, out, 0);
  return out;
}

/**
 * Up to this many bytes are copied by a loop: `Buffer#copy` of part of a buffer makes a view of that part first
 * (Node 20's `_copyActual`, ~96 B of garbage per copy). Measured on Node 20 (allocation of the copy included), the
 * loop costs less up to 48 bytes and about the same at 64; above, `copy` is faster.
 */
const COPY_LOOP_MAX = 64;

/** Copies `src[start, end)` into `target` at `at`. */
export function copyBytes(src: Buffer, start: number, end: number, target: Buffer, at: number): void {
  if (end - start > COPY_LOOP_MAX) {
    src.copy(target, at, start, end);
    return;
  }
  for (let i = start; i < end; i++) target[at++] = src[i] as number;
}

export class PacketDecoder {
  /** Bytes of an incomplete packet (header included), or null. */
  private rest: Buffer | null = null;
  /** Further chunks of that packet, not yet joined (a large packet arriving in many reads is joined once). */
  private more: Buffer[] | null = null;
  private restBytes = 0;
  /** Total bytes of the incomplete packet once its header is complete, or 0. */
  private need = 0;
  /** After a malformed or oversized packet the stream cannot be resynchronised: the rest is ignored. */
  private failed = false;
  /** The protocol level packets are read at: 4 (3.1.1, which reads 3.1 too) until a CONNECT says otherwise. */
  private level = 4;
  /**
   * The topic of the last 3.1.1 PUBLISH read: a device publishes to the same few topics, and a topic whose bytes are
   * the same ASCII is this string again instead of a new one (~40 B per message; `sameTopic`).
   */
  private lastTopic = "";

  constructor(
    private readonly sink: PacketSink,
    private maxRemainingLength: number,
    /**
     * Lend the sink the hot-path packets (broker/lent-packets.ts): it must not keep them past `onPacket` unless
     * through `keepPacket`. Off by default (a sink that records packets keeps them all).
     */
    private readonly lend = false,
  ) {}

  /** Changes the limit for packets whose header is read from now on (a connection allows more after CONNECT). */
  setMaxRemainingLength(max: number): void {
    this.maxRemainingLength = max;
  }

  /**
   * Reads the packets after the CONNECT at its protocol level (5: MQTT 5 properties and reason codes, by
   * broker/codec5.ts); a level is set once, when the CONNECT is read.
   */
  setProtocolLevel(level: number): void {
    this.level = level;
  }

  /** Bytes received and not yet decoded into a packet. */
  get bufferedBytes(): number {
    return this.restBytes;
  }

  /**
   * Decodes what a read brought: `chunk`'s first `length` bytes. A `borrowed` chunk is overwritten by the next read
   * (broker/borrowed-reads.ts): nothing decoded from it may keep its bytes. A 3.1.1 PUBLISH gets a copy of its
   * payload; any other packet that may keep bytes (an MQTT 5 PUBLISH and its properties, anything mqtt-packet
   * parses) is decoded from a copy of its frame, and the start of a packet cut across reads is copied too. The
   * acknowledgements and PINGREQ keep nothing and are decoded in place.
   */
  push(chunk: Buffer, length: number = chunk.length, borrowed = false): void {
    if (this.failed) return;
    let buf = chunk;
    let len = length;
    let inPlace = borrowed;
    if (this.rest !== null) {
      if (this.need > 0 && this.restBytes + len < this.need) {
        (this.more ??= []).push(borrowed ? copyOf(chunk, 0, len) : chunk);
        this.restBytes += len;
        return;
      }
      const last = len === chunk.length ? chunk : chunk.subarray(0, len);
      buf = this.more === null ? Buffer.concat([this.rest, last]) : Buffer.concat([this.rest, ...this.more, last]);
      len = buf.length;
      inPlace = false;
      this.rest = null;
      this.more = null;
      this.restBytes = 0;
      this.need = 0;
    }
    let pos = 0;
    while (pos < len) {
      // Fixed header: type and flags, checked at once, then the remaining length in 1 to 4 bytes.
      const invalid = headerError(buf[pos] as number);
      // AUTH (type 15, flags 0) exists from MQTT 5 on.
      if (invalid !== null && !(this.level === 5 && buf[pos] === 0xf0)) {
        this.fail(new MalformedPacketError(invalid));
        return;
      }
      if (pos + 2 > len) break;
      let remaining = 0;
      let p = pos + 1;
      let mul = 1;
      let complete = false;
      for (let i = 0; i < 4 && p < len; i++) {
        const b = buf[p++] as number;
        remaining += (b & 0x7f) * mul;
        mul *= 128;
        if (b < 0x80) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (p - pos - 1 >= 4) {
          this.fail(new MalformedPacketError("Invalid variable byte integer"));
          return;
        }
        break;
      }
      if (remaining > this.maxRemainingLength) {
        this.failed = true;
        this.sink.onOversize(remaining);
        return;
      }
      const end = p + remaining;
      if (end > len) {
        this.need = end - pos;
        break;
      }
      const type = (buf[pos] as number) >> 4;
      let packet: Packet | Error;
      if (!inPlace || (type >= 4 && type <= 7) || type === 12) packet = this.decode(buf, pos, p, end);
      else if (type === 3 && this.level !== 5) packet = decodeHot(buf, pos, p, end, true, this.lend, this.lastTopic) as Packet | Error;
      else packet = this.decode(copyOf(buf, pos, end), 0, p - pos, end - pos);
      const size = end - pos;
      pos = end;
      if (packet instanceof Error) {
        this.fail(packet);
        return;
      }
      if (type === 3 && this.level !== 5) this.lastTopic = (packet as { topic: string }).topic;
      let more: boolean;
      try {
        more = this.sink.onPacket(packet, size);
      } finally {
        if (this.lend) giveBack(packet);
      }
      if (!more) return;
    }
    if (pos < len) {
      this.rest = inPlace || len - pos < COPY_REST_BELOW ? copyOf(buf, pos, len) : buf.subarray(pos, len);
      this.restBytes = len - pos;
    }
  }

  /** One complete frame, `buf[start, end)`, its body from `body`. */
  private decode(buf: Buffer, start: number, body: number, end: number): Packet | Error {
    return (
      (this.level === 5 ? decodeHot5(buf, start, body, end) : decodeHot(buf, start, body, end, false, this.lend, this.lastTopic)) ??
      parseFrame(start === 0 && end === buf.length ? buf : buf.subarray(start, end), this.level)
    );
  }

  private fail(err: Error): void {
    this.failed = true;
    this.sink.onDecodeError(err);
  }
}

/**
 * Decodes a hot-path packet from `buf` (first byte at `start`, body from `body` to `end`); undefined for the
 * other types, which go to mqtt-packet.
 */
function decodeHot(buf: Buffer, start: number, body: number, end: number, copyPayload = false, lend = false, lastTopic = ""): Packet | Error | undefined {
  const first = buf[start] as number;
  const length = end - body;
  switch (first >> 4) {
    case 3: {
      // PUBLISH: topic, packet id when QoS > 0, payload to the end.
      const qos = (first >> 1) & 3;
      if (length < 2) return new MalformedPacketError("Cannot parse topic");
      const topicEnd = body + 2 + ((buf[body] as number) << 8) + (buf[body + 1] as number);
      if (topicEnd > end) return new MalformedPacketError("Cannot parse topic");
      const topic = sameTopic(buf, body + 2, topicEnd, lastTopic) ? lastTopic : decodeString(buf, body + 2, topicEnd);
      if (topic === null) return new MalformedPacketError("ill-formed UTF-8 string or U+0000 in topic [MQTT-1.5.3-1] [MQTT-1.5.3-2]");
      let payloadStart = topicEnd;
      let messageId: number | undefined;
      if (qos > 0) {
        if (topicEnd + 2 > end) return new MalformedPacketError(`publish fields do not match its remaining length ${length}`);
        messageId = ((buf[topicEnd] as number) << 8) | (buf[topicEnd + 1] as number);
        payloadStart += 2;
      }
      // From a borrowed chunk the payload is copied out (the next read overwrites the chunk).
      const payload = copyPayload ? copyOf(buf, payloadStart, end) : buf.subarray(payloadStart, end);
      return hotPublish(lend, qos as 0 | 1 | 2, (first & 0x08) !== 0, (first & 0x01) !== 0, topic, payload, messageId, length);
    }
    case 4:
    case 5:
    case 6:
    case 7: {
      // PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70: a 2-byte packet id and nothing else.
      const cmd = ACK_COMMANDS[(first >> 4) - 4] as "puback" | "pubrec" | "pubrel" | "pubcomp";
      if (length !== 2) return new MalformedPacketError(`${cmd} fields do not match its remaining length ${length}`);
      return hotAck(lend, cmd, ((buf[body] as number) << 8) | (buf[body + 1] as number), length);
    }
    case 12:
      if (length !== 0) return new MalformedPacketError(`pingreq fields do not match its remaining length ${length}`);
      return PINGREQ_PACKET;
    default:
      return undefined;
  }
}

/**
 * Whether `buf[start, end)` is `topic` in ASCII: then it is `topic` again, already found well-formed (no U+0000, and
 * ASCII is valid UTF-8). A byte of 0x80 or above never matches, so bytes that are not ASCII are always decoded.
 */
function sameTopic(buf: Buffer, start: number, end: number, topic: string): boolean {
  if (end - start !== topic.length || topic.length === 0) return false;
  for (let i = start, j = 0; i < end; i++, j++) {
    const b = buf[i] as number;
    if (b >= 0x80 || b !== topic.charCodeAt(j)) return false;
  }
  return true;
}

/**
 * The header flags each packet type must carry [MQTT-2.2.2-1]; -1 for PUBLISH (its flags are DUP, QoS, RETAIN) and
 * null for the reserved types 0 and 15 (15 is AUTH in MQTT 5 only).
 */
const REQUIRED_FLAGS: readonly (number | null)[] = [null, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, null];

/** Why a packet's first byte is malformed, or null; known from the first byte alone, so checked before buffering. */
export function headerError(first: number): string | null {
  const type = first >> 4;
  const required = REQUIRED_FLAGS[type];
  if (required === null || required === undefined) return `reserved packet type ${type}`;
  if (required === -1) return (first & 0x06) === 0x06 ? "PUBLISH with QoS 3 [MQTT-3.3.1-4]" : null;
  return (first & 0x0f) === required ? null : `invalid header flags 0x${(first & 0x0f).toString(16)} for packet type ${type} [MQTT-2.2.2-2]`;
}

const ACK_COMMANDS = ["puback", "pubrec", "pubrel", "pubcomp"] as const;
/** PINGREQ carries nothing: one shared, frozen packet. */
const PINGREQ_PACKET: Packet = Object.freeze({ cmd: "pingreq" as const, length: 0 });
