import { parser as createMqttParser, generate, writeToStream } from "mqtt-packet";
import type { Packet, Parser } from "mqtt-packet";
import { decodeProperties, type Properties, varIntSize, WILL_PROPERTIES } from "./properties.js";

/**
 * The MQTT codec: mqtt-packet's parser, made strict about UTF-8 and (MQTT 5) about properties, for the packets off
 * the delivery hot path (`parseFrame`; broker/decoder.ts reads the hot ones and splits the stream), and
 * hand-written encoders for the packets on the delivery hot path (PUBLISH and the 4-byte acknowledgements; the
 * MQTT 5 forms are in broker/codec5.ts).
 */

// ignoreBOM: a leading U+FEFF is part of the string and MUST NOT be stripped [MQTT-1.5.3-3].
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A varint of more than 4 bytes or a packet whose bytes contradict its remaining length: the stream is unusable. */
export class MalformedPacketError extends Error {
  override readonly name = "MalformedPacketError";
}

/** Decodes `len` bytes at `start` as an MQTT UTF-8 string; null when ill-formed or containing U+0000. */
export function decodeString(buf: Buffer, start: number, end: number): string | null {
  // Topics are nearly always ASCII: check bytes and take the fast path.
  for (let i = start; i < end; i++) {
    const b = buf[i] as number;
    if (b === 0) return null; // [MQTT-1.5.3-2]
    if (b >= 0x80) {
      let s: string;
      try {
        // ignoreBOM: a leading U+FEFF is part of the string [MQTT-1.5.3-3].
        s = strictUtf8.decode(buf.subarray(start, end));
      } catch {
        return null; // [MQTT-1.5.3-1]
      }
      return s.includes("\u0000") ? null : s;
    }
  }
  // ASCII: latin1 decoding is exact and the cheapest.
  return buf.toString("latin1", start, end);
}

/** The parts of mqtt-packet's parser internals that the strict overrides touch (pinned version 9.0.2). */
interface ParserInternals {
  _list: { length: number; slice(start: number, end: number): Buffer };
  _pos: number;
  packet: { cmd: string; length: number; messageId?: number; protocolVersion?: number; props?: Properties; will?: { props?: Properties } };
  settings: { protocolVersion?: number };
  _parseNum(): number;
  _emitError(err: Error): void;
  _parseString(): string | null;
  _parseProperties(): object | false;
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

const original = createMqttParser() as unknown as ParserInternals;
const emitPacket = original._newPacket;
const lenientProperties = original._parseProperties;

/** Packet types of the packets whose properties mqtt-packet reads (MQTT 5.0 table 2-1). */
const PACKET_TYPES: Readonly<Record<string, number>> = {
  connect: 1,
  connack: 2,
  publish: 3,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  disconnect: 14,
  auth: 15,
};
/** Property blocks read so far in the current frame: a CONNECT's second one is its will properties. */
let propertyBlocks = 0;

/**
 * mqtt-packet reads MQTT 5 properties leniently: a single-valued property twice becomes an array, a property in
 * a packet it is not valid for is accepted, byte values become booleans (2 reads as true), user properties become
 * an object (order and interleaving lost) and a block that overruns its Property Length is not noticed. At level
 * 5 the block is read by broker/properties.ts instead, and put on the packet as `props` (`will.props` for the
 * will properties); mqtt-packet's `properties` stays unset. A CONNECT is read at the level it carries.
 */
function parsePropertiesStrict(this: ParserInternals): object | false {
  const { cmd, length } = this.packet;
  // A CONNECT says its own level (the connection's is not known before it); every other packet is read at the
  // connection's level.
  const level = cmd === "connect" ? this.packet.protocolVersion : this.settings.protocolVersion;
  if (level !== 5) return lenientProperties.call(this);
  // DISCONNECT and AUTH may end before their Property Length (3.14.2.2, 3.15.2.2); no other packet may.
  if (this._pos >= length && (cmd === "disconnect" || cmd === "auth")) return {};
  const context = cmd === "connect" && propertyBlocks++ > 0 ? WILL_PROPERTIES : (PACKET_TYPES[cmd] ?? -1);
  try {
    const { props, next } = decodeProperties(this._list.slice(0, length), this._pos, length, context);
    this._pos = next;
    if (props !== undefined) {
      if (context === WILL_PROPERTIES && this.packet.will) this.packet.will.props = props;
      else this.packet.props = props;
    }
  } catch (err) {
    this._emitError(err as Error);
    this._pos = length;
  }
  return {};
}

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
  p._parseProperties = parsePropertiesStrict;
  p.on("packet", (packet: Packet) => {
    parsed = packet;
  });
  // mqtt-packet reads on after an error: the first one says what was wrong (a later one is only its consequence).
  p.on("error", (err: Error) => {
    if (!(parsed instanceof Error)) parsed = err;
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
 * frame is read at the level its connection gives, whichever connection parsed the last one.
 */
const SETTINGS = Object.freeze({ protocolVersion: 4 });
const SETTINGS5 = Object.freeze({ protocolVersion: 5 });
const EMPTY_AUTH = Object.freeze({ cmd: "auth", reasonCode: 0, retain: false, qos: 0, dup: false, length: 0, topic: null, payload: null }) as Packet;

/**
 * Parses one complete packet (fixed header included) with mqtt-packet: the packets off the delivery hot path
 * (CONNECT, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT, AUTH and the ones a client must not send), at protocol `level` (5:
 * MQTT 5 fields and properties; anything else: 3.1.1, which reads 3.1 too). Returns the error when the packet is
 * malformed (a `PropertyError` carries the MQTT 5 reason code).
 */
export function parseFrame(frame: Buffer, level = 4): Packet | Error {
  // An AUTH of Remaining Length 0 is well formed: Reason Code 0x00 and no properties (3.15.2.1). mqtt-packet reads
  // a reason code byte that is not there and calls it malformed; the handlers judge the reason code (a client may
  // not send 0x00: Protocol Error).
  if (level === 5 && frame.length === 2 && frame[0] === 0xf0 && frame[1] === 0) return { ...EMPTY_AUTH };
  parsed = null;
  propertyBlocks = 0;
  const parser = shared as Parser & ParserInternals & { settings: object };
  parser.settings = level === 5 ? SETTINGS5 : SETTINGS;
  const left = parser.parse(frame);
  // It keeps a CONNECT as its settings: not past this call (a password would stay in memory).
  parser.settings = SETTINGS;
  const result: Packet | Error = parsed ?? new Error("incomplete packet");
  parsed = null;
  // After an error, or bytes it did not consume, the parser's state is unknown: start over with a new one.
  if (result instanceof Error || left !== 0) shared = createStrictParser();
  return left !== 0 && !(result instanceof Error) ? new Error(`${left} bytes after the packet`) : result;
}

// mqtt-packet's encoder otherwise builds, on its first call, a 2-byte Buffer for each of the 65,536 two-byte
// numbers: about 7 MB of heap that every broker kept for the packet ids and lengths of its cold-path packets.
// Without the table each such number is a fresh 2-byte Buffer, and those packets are rare.
writeToStream.cacheNumbers = false;

/** Encodes a non-hot-path packet (CONNACK, SUBACK, ...). */
export function encode(packet: Packet): Buffer {
  return generate(packet);
}

/** Bytes of a PUBLISH whose topic has `topicBytes` UTF-8 bytes; `withId` when QoS > 0 (a packet id follows the topic). */
export function publishSize(topicBytes: number, payloadLength: number, withId: boolean): number {
  const remaining = 2 + topicBytes + (withId ? 2 : 0) + payloadLength;
  return 1 + varIntSize(remaining) + remaining;
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
