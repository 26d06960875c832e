import type { IPubackPacket, IPubcompPacket, IPublishPacket, IPubrecPacket, IPubrelPacket, Packet } from "mqtt-packet";
import { type AckType, decodeString, MalformedPacketError, publishFlags } from "./codec.js";
import { decodeProperties, encodeProperties, type Properties, propertiesLength, varIntSize, writeProperties, writeVarInt } from "./properties.js";

/**
 * The MQTT 5 forms of the delivery hot path packets: PUBLISH with its property block, and PUBACK, PUBREC, PUBREL,
 * PUBCOMP with a reason code and properties. broker/decoder.ts calls `decodeHot5` instead of its 3.1.1 reader on
 * a connection at protocol level 5, so a 3.1.1 packet never passes through here.
 *
 * Decoded packets carry their properties as `props` (broker/properties.ts: user properties in order), never as
 * mqtt-packet's `properties`; a packet without properties has no `props`.
 */

export type Publish5Packet = IPublishPacket & { props?: Properties };
export type Ack5Packet = (IPubackPacket | IPubrecPacket | IPubrelPacket | IPubcompPacket) & {
  reasonCode: number;
  props?: Properties;
};

const ACK_COMMANDS = ["puback", "pubrec", "pubrel", "pubcomp"] as const;

/** Reason codes a PUBACK or PUBREC may carry (3.4.2.1, 3.5.2.1), and a PUBREL or PUBCOMP (3.6.2.1, 3.7.2.1). */
const PUBACK_REASONS = new Set([0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]);
const PUBREL_REASONS = new Set([0x00, 0x92]);

/**
 * Decodes a v5 hot-path packet from `buf` (first byte at `start`, body from `body` to `end`); undefined for the
 * other types, which go to mqtt-packet (`parseFrame` at level 5). Errors: `MalformedPacketError` (reason code
 * 0x81) or a `PropertyError` with its own reason code.
 */
export function decodeHot5(buf: Buffer, start: number, body: number, end: number): Packet | Error | undefined {
  const first = buf[start] as number;
  const type = first >> 4;
  try {
    if (type === 3) return decodePublish5(buf, first, body, end);
    if (type >= 4 && type <= 7) return decodeAck5(buf, type, body, end);
  } catch (err) {
    return err as Error;
  }
  if (type === 12 && end !== body) return new MalformedPacketError(`pingreq fields do not match its remaining length ${end - body}`);
  return type === 12 ? PINGREQ_PACKET : undefined;
}

/** PUBLISH (3.3.2): topic, packet id when QoS > 0, properties, payload to the end. */
function decodePublish5(buf: Buffer, first: number, body: number, end: number): Publish5Packet | Error {
  const qos = (first >> 1) & 3;
  const length = end - body;
  if (length < 2) return new MalformedPacketError("Cannot parse topic");
  const topicEnd = body + 2 + ((buf[body] as number) << 8) + (buf[body + 1] as number);
  if (topicEnd > end) return new MalformedPacketError("Cannot parse topic");
  // May be empty when a Topic Alias stands for it (3.3.2.3.4); the session decides.
  const topic = decodeString(buf, body + 2, topicEnd);
  if (topic === null) return new MalformedPacketError("ill-formed UTF-8 string or U+0000 in topic [MQTT-1.5.4-1] [MQTT-1.5.4-2]");
  let pos = topicEnd;
  let messageId: number | undefined;
  if (qos > 0) {
    if (pos + 2 > end) return new MalformedPacketError(`publish fields do not match its remaining length ${length}`);
    messageId = ((buf[pos] as number) << 8) | (buf[pos + 1] as number);
    pos += 2;
  }
  const { props, next } = decodeProperties(buf, pos, end, 3);
  const packet: Publish5Packet = {
    cmd: "publish",
    qos: qos as 0 | 1 | 2,
    dup: (first & 0x08) !== 0,
    retain: (first & 0x01) !== 0,
    topic,
    payload: buf.subarray(next, end),
    messageId,
    length,
  };
  if (props !== undefined) packet.props = props;
  return packet;
}

/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP (3.4.2): packet id, then a reason code and properties that may be left out:
 * remaining length 2 is reason 0x00 without properties, 3 a reason code without properties.
 */
function decodeAck5(buf: Buffer, type: number, body: number, end: number): Ack5Packet | Error {
  const cmd = ACK_COMMANDS[type - 4] as Ack5Packet["cmd"];
  const length = end - body;
  if (length < 2) return new MalformedPacketError(`${cmd} fields do not match its remaining length ${length}`);
  const messageId = ((buf[body] as number) << 8) | (buf[body + 1] as number);
  const reasonCode = length > 2 ? (buf[body + 2] as number) : 0;
  if (!(type <= 5 ? PUBACK_REASONS : PUBREL_REASONS).has(reasonCode)) {
    return new MalformedPacketError(`${cmd} with reason code 0x${reasonCode.toString(16)}, which it cannot carry`);
  }
  const packet = { cmd, messageId, length, reasonCode } as Ack5Packet;
  if (length > 3) {
    const { props, next } = decodeProperties(buf, body + 3, end, type);
    if (next !== end) return new MalformedPacketError(`${cmd} fields do not match its remaining length ${length}`);
    if (props !== undefined) packet.props = props;
  }
  return packet;
}

/** PINGREQ carries nothing: one shared, frozen packet. */
const PINGREQ_PACKET: Packet = Object.freeze({ cmd: "pingreq" as const, length: 0 });

/**
 * Bytes of a v5 PUBLISH: `propsBlock` is its encoded property block (`encodeProperties`, Property Length
 * included), or null for none (one byte, Property Length 0).
 */
export function publish5Size(topicBytes: number, propsBlock: Buffer | null, payloadLength: number, withId: boolean): number {
  const remaining = 2 + topicBytes + (withId ? 2 : 0) + (propsBlock === null ? 1 : propsBlock.length) + payloadLength;
  return 1 + varIntSize(remaining) + remaining;
}

/**
 * Writes a v5 PUBLISH at `at` of `buf`, which has room for its `publish5Size` bytes; returns the offset of its
 * packet id, or -1 at QoS 0. The property block is passed encoded so that a message's properties are encoded once
 * for all its receivers; a receiver that needs its own (topic alias, subscription identifiers) gets its own block.
 */
export function writePublish5(
  buf: Buffer,
  at: number,
  topic: string,
  topicBytes: number,
  propsBlock: Buffer | null,
  payload: Buffer,
  qos: number,
  retain: boolean,
  dup: boolean,
  packetId: number,
): number {
  buf[at] = publishFlags(qos, retain, dup);
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + (propsBlock === null ? 1 : propsBlock.length) + payload.length;
  let pos = writeVarInt(buf, at + 1, remaining);
  buf[pos++] = topicBytes >> 8;
  buf[pos++] = topicBytes & 0xff;
  pos += buf.write(topic, pos, topicBytes, "utf8");
  let idAt = -1;
  if (qos > 0) {
    idAt = pos;
    buf[pos++] = packetId >> 8;
    buf[pos++] = packetId & 0xff;
  }
  if (propsBlock === null) buf[pos++] = 0;
  else pos += propsBlock.copy(buf, pos);
  payload.copy(buf, pos);
  return idAt;
}

/** Encodes a v5 PUBLISH into a buffer of its own; `props` undefined for none. */
export function encodePublish5(
  topic: string,
  payload: Buffer,
  qos: number,
  retain: boolean,
  dup: boolean,
  packetId: number,
  props?: Properties,
): Buffer {
  const topicBytes = Buffer.byteLength(topic);
  const block = props === undefined ? null : encodeProperties(props);
  const buf = Buffer.allocUnsafe(publish5Size(topicBytes, block, payload.length, qos > 0));
  writePublish5(buf, 0, topic, topicBytes, block, payload, qos, retain, dup, packetId);
  return buf;
}

/**
 * Encodes a v5 PUBACK, PUBREC, PUBREL or PUBCOMP. Reason 0x00 without properties is the 4-byte 3.1.1 form (the
 * spec lets the Reason Code and Property Length be left out, 3.4.2.1); another reason without properties leaves
 * out only the Property Length (remaining length 3).
 */
export function encodeAck5(type: AckType, packetId: number, reasonCode = 0, props?: Properties): Buffer {
  const propsLength = propertiesLength(props);
  const remaining = props === undefined ? (reasonCode === 0 ? 2 : 3) : 3 + varIntSize(propsLength) + propsLength;
  const buf = Buffer.allocUnsafe(1 + varIntSize(remaining) + remaining);
  buf[0] = type;
  let pos = writeVarInt(buf, 1, remaining);
  buf[pos++] = packetId >> 8;
  buf[pos++] = packetId & 0xff;
  if (remaining > 2) buf[pos++] = reasonCode;
  if (props !== undefined) writeProperties(buf, pos, props, propsLength);
  return buf;
}
