import { parser as createMqttParser, generate } from "mqtt-packet";
import type { Packet, Parser } from "mqtt-packet";

/**
 * The MQTT codec: mqtt-packet's parser, made strict about UTF-8, and hand-written encoders for the
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

export interface MqttParser extends Parser {
  /** Remaining length of the packet being parsed, or -1 before it is known. */
  readonly pendingLength: number;
  /** Bytes buffered and not yet parsed into a packet. */
  readonly bufferedBytes: number;
}

export function createParser(): MqttParser {
  const p = createMqttParser() as Parser & ParserInternals;
  p._parseString = parseStringStrict;
  p._newPacket = newPacketStrict;
  Object.defineProperty(p, "pendingLength", { get: () => p.packet.length });
  Object.defineProperty(p, "bufferedBytes", { get: () => p._list.length });
  return p as unknown as MqttParser;
}

/** Encodes a non-hot-path packet (CONNACK, SUBACK, ...). */
export function encode(packet: Packet): Buffer {
  return generate(packet);
}

function varIntLength(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}

/**
 * Encodes a PUBLISH. `topicBytes` is the topic's UTF-8 byte length (computed once per message, not per receiver).
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
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payload.length;
  const total = 1 + varIntLength(remaining) + remaining;
  const buf = Buffer.allocUnsafe(total);
  buf[0] = 0x30 | (dup ? 0x08 : 0) | (qos << 1) | (retain ? 1 : 0);
  let pos = 1;
  let n = remaining;
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (n > 0);
  buf[pos++] = topicBytes >> 8;
  buf[pos++] = topicBytes & 0xff;
  pos += buf.write(topic, pos, topicBytes, "utf8");
  if (qos > 0) {
    buf[pos++] = packetId >> 8;
    buf[pos++] = packetId & 0xff;
  }
  payload.copy(buf, pos);
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
  buf[0] = type;
  buf[1] = 2;
  buf[2] = packetId >> 8;
  buf[3] = packetId & 0xff;
  return buf;
}

export const PINGRESP = Buffer.from([0xd0, 0x00]);
