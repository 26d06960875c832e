import { parser as createMqttParser, generate } from "mqtt-packet";
import type { Packet, Parser } from "mqtt-packet";

/**
 * The MQTT codec: mqtt-packet's parser, made strict about UTF-8, for the packets off the delivery hot path
 * (`parseFrame`; broker/decoder.ts reads the hot ones and splits the stream), and hand-written encoders for the
 * packets on the delivery hot path (PUBLISH and the 4-byte acknowledgements).
 */

// ignoreBOM: a leading U+FEFF is part of the string and MUST NOT be stripped [MQTT-1.5.3-3].
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The parts of mqtt-packet's parser internals that the strict string override touches (pinned version 9.0.2). */
interface ParserInternals {
  _list: { length: number; slice(start: number, end: number): Buffer };
  _pos: number;
  packet: { cmd: string; length: number; messageId?: number };
  _parseNum(): number;
  _emitError(err: Error): void;
  _parseString(): string | null;
  _newPacket(): boolean;
}

/**
 * mqtt-packet decodes strings with Buffer#toString, which silently replaces ill-formed UTF-8 with U+FFFD.
 * The server MUST close the connection on ill-formed UTF-8 [MQTT-1.5.3-1], so strings are decoded with a
 * fatal decoder instead. U+0000 is rejected too [MQTT-1.5.3-2].
 */
function parseStringStrict(this: ParserInternals): string | null {
  const length = this._parseNum();
  if (length === -1) return null;
  const end = length + this._pos;
  if (end > this._list.length || end > this.packet.length) return null;
  let result: string;
  try {
    result = strictUtf8.decode(this._list.slice(this._pos, end));
  } catch {
    this._emitError(new Error("ill-formed UTF-8 string [MQTT-1.5.3-1]"));
    return null;
  }
  if (result.includes("\u0000")) {
    this._emitError(new Error("string contains U+0000 [MQTT-1.5.3-2]"));
    return null;
  }
  this._pos = end;
  return result;
}

const emitPacket = (createMqttParser() as unknown as ParserInternals)._newPacket;

/**
 * mqtt-packet reads fixed-size fields (packet ids) without checking them against the remaining length: a PUBACK of
 * 0 or 3 bytes, a PINGREQ with a body or a QoS 1 PUBLISH cut before its packet id are accepted, with bytes of the
 * next packet read as the packet id, or -1 when none follow. A packet whose fields do not fill its remaining length
 * exactly (a PUBLISH payload takes the rest) is malformed, and the connection is closed [MQTT-4.8.0-1].
 */
function newPacketStrict(this: ParserInternals): boolean {
  const { cmd, length, messageId } = this.packet;
  if ((cmd === "publish" ? this._pos > length : this._pos !== length) || messageId === -1) {
    this._emitError(new Error(`${cmd} fields do not match its remaining length ${length}`));
    return false;
  }
  return emitPacket.call(this);
}

/** mqtt-packet's parser with the strict string and length rules above. */
function createStrictParser(): Parser & ParserInternals {
  const p = createMqttParser() as Parser & ParserInternals;
  p._parseString = parseStringStrict;
  p._newPacket = newPacketStrict;
  p.on("packet", (packet: Packet) => {
    parsed = packet;
  });
  p.on("error", (err: Error) => {
    parsed = err;
  });
  return p;
}

/** What the shared parser emitted during the current `parseFrame` call. */
let parsed: Packet | Error | null = null;
/**
 * One parser for every connection: it only ever gets one complete packet at a time (see `parseFrame`), so it
 * holds no state from one call to the next, and an idle connection holds no parser.
 */
let shared = createStrictParser();
/**
 * mqtt-packet keeps the last CONNECT as its settings (protocol level 5 changes how later packets are read); every
 * frame is read as MQTT 3.1.1, whichever connection it comes from.
 */
const SETTINGS = Object.freeze({ protocolVersion: 4 });

/**
 * Parses one complete packet (fixed header included) with mqtt-packet: the packets off the delivery hot path
 * (CONNECT, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT and the ones a client must not send). Returns the error when the
 * packet is malformed.
 */
export function parseFrame(frame: Buffer): Packet | Error {
  parsed = null;
  const parser = shared as Parser & ParserInternals & { settings: object };
  parser.settings = SETTINGS;
  const left = parser.parse(frame);
  // It keeps a CONNECT as its settings: not past this call (a password would stay in memory).
  parser.settings = SETTINGS;
  const result: Packet | Error = parsed ?? new Error("incomplete packet");
  parsed = null;
  // After an error, or bytes it did not consume, the parser's state is unknown: start over with a new one.
  if (result instanceof Error || left !== 0) shared = createStrictParser();
  return left !== 0 && !(result instanceof Error) ? new Error(`${left} bytes after the packet`) : result;
}

/** Encodes a non-hot-path packet (CONNACK, SUBACK, ...). */
export function encode(packet: Packet): Buffer {
  return generate(packet);
}

function varIntLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/** Bytes of a PUBLISH whose topic has `topicBytes` UTF-8 bytes; `withId` when QoS > 0 (a packet id follows the topic). */
export function publishSize(topicBytes: number, payloadLength: number, withId: boolean): number {
  const remaining = 2 + topicBytes + (withId ? 2 : 0) + payloadLength;
  return 1 + varIntLength(remaining) + remaining;
}

/** The first byte of a PUBLISH: type 3 with DUP, QoS and RETAIN [MQTT-3.3.1]. */
export function publishFlags(qos: number, retain: boolean, dup: boolean): number {
  return 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
}

/**
 * Writes a PUBLISH at `at` of `buf`, which has room for its `publishSize` bytes; returns the offset of its packet
 * id, or -1 at QoS 0.
 */
export function writePublish(
  buf: Buffer,
  at: number,
  topic: string,
  topicBytes: number,
  payload: Buffer,
  qos: number,
  retain: boolean,
  dup: boolean,
  packetId: number,
): number {
  buf[at] = publishFlags(qos, retain, dup);
  let pos = at + 1;
  let n = 2 + topicBytes + (qos > 0 ? 2 : 0) + payload.length;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (n > 0);
  buf[pos++] = topicBytes >> 8;
  buf[pos++] = topicBytes & 0xff;
  pos += buf.write(topic, pos, topicBytes, "utf8");
  let idAt = -1;
  if (qos > 0) {
    idAt = pos;
    buf[pos++] = packetId >> 8;
    buf[pos++] = packetId & 0xff;
  }
  payload.copy(buf, pos);
  return idAt;
}

/**
 * Encodes a PUBLISH into a buffer of its own. `topicBytes` is the topic's UTF-8 byte length (computed once per
 * message, not per receiver).
 */
export function encodePublish(
  topic: string,
  topicBytes: number,
  payload: Buffer,
  qos: number,
  retain: boolean,
  dup: boolean,
  packetId: number,
): Buffer {
  const buf = Buffer.allocUnsafe(publishSize(topicBytes, payload.length, qos > 0));
  writePublish(buf, 0, topic, topicBytes, payload, qos, retain, dup, packetId);
  return buf;
}

/** PUBACK 0x40, PUBREC 0x50, PUBREL 0x62, PUBCOMP 0x70: fixed 4-byte packets. */
export const enum AckType {
  Puback = 0x40,
  Pubrec = 0x50,
  Pubrel = 0x62,
  Pubcomp = 0x70,
}

export function encodeAck(type: AckType, packetId: number): Buffer {
  const buf = Buffer.allocUnsafe(4);
  writeAck(buf, 0, type, packetId);
  return buf;
}

/** Writes a 4-byte acknowledgement at `at` of `buf`. */
export function writeAck(buf: Buffer, at: number, type: AckType, packetId: number): void {
  buf[at] = type;
  buf[at + 1] = 2;
  buf[at + 2] = packetId >> 8;
  buf[at + 3] = packetId & 0xff;
}

export const PINGRESP = Buffer.from([0xd0, 0x00]);
