import type { Packet } from "mqtt-packet";
import { NO_BYTES } from "./no-bytes.js";

/**
 * The hot-path packets a connection's decoder lends to its sink instead of allocating one per packet (PacketDecoder
 * with `lend`): a 3.1.1 PUBLISH and the acknowledgements (PUBACK, PUBREC, PUBREL, PUBCOMP). One object of each is
 * filled and handed to `onPacket`, and taken back when that call returns; a decode nested in it (another
 * connection's reads resumed by a handler) gets new objects. Per QoS 1 message that saves the PUBLISH (88 B) and the
 * subscriber's PUBACK (48 B).
 *
 * So a sink must not keep a packet past its `onPacket` call as it is: what it keeps (a packet held while the
 * connection waits for the store, a QoS 2 PUBLISH waiting for its root record) goes through `keepPacket`, which
 * copies a lent one.
 */

type AckCmd = "puback" | "pubrec" | "pubrel" | "pubcomp";

interface HotPublish {
  cmd: "publish";
  qos: 0 | 1 | 2;
  dup: boolean;
  retain: boolean;
  topic: string;
  payload: Buffer;
  messageId: number | undefined;
  length: number;
}

interface HotAck {
  cmd: AckCmd;
  messageId: number;
  length: number;
}

// Built by the same literals as the packets made when these are out, so both have one shape.
const publish = newPublish(0, false, false, "", NO_BYTES, undefined, 0);
const ack = newAck("puback", 0, 0);
let publishOut = false;
let ackOut = false;

function newPublish(qos: 0 | 1 | 2, dup: boolean, retain: boolean, topic: string, payload: Buffer, messageId: number | undefined, length: number): HotPublish {
  return { cmd: "publish", qos, dup, retain, topic, payload, messageId, length };
}

function newAck(cmd: AckCmd, messageId: number, length: number): HotAck {
  return { cmd, messageId, length };
}

/** A PUBLISH packet with these fields: the lent one when `lend` and it is in, else a new one. */
export function hotPublish(lend: boolean, qos: 0 | 1 | 2, dup: boolean, retain: boolean, topic: string, payload: Buffer, messageId: number | undefined, length: number): Packet {
  if (!lend || publishOut) return newPublish(qos, dup, retain, topic, payload, messageId, length) as Packet;
  publishOut = true;
  publish.qos = qos;
  publish.dup = dup;
  publish.retain = retain;
  publish.topic = topic;
  publish.payload = payload;
  publish.messageId = messageId;
  publish.length = length;
  return publish as Packet;
}

/** An acknowledgement packet: the lent one when `lend` and it is in, else a new one. */
export function hotAck(lend: boolean, cmd: AckCmd, messageId: number, length: number): Packet {
  if (!lend || ackOut) return newAck(cmd, messageId, length) as Packet;
  ackOut = true;
  ack.cmd = cmd;
  ack.messageId = messageId;
  ack.length = length;
  return ack as Packet;
}

/** The sink's call with `packet` returned: a lent packet is in again (and refers to no payload). */
export function giveBack(packet: Packet): void {
  if (packet === (publish as Packet)) {
    publishOut = false;
    publish.payload = NO_BYTES;
    publish.topic = "";
  } else if (packet === (ack as Packet)) {
    ackOut = false;
  }
}

/** What a sink keeps past its `onPacket` call: a copy of a lent packet, any other packet as it is. */
export function keepPacket<P extends Packet>(packet: P): P {
  return packet === (publish as Packet) || packet === (ack as Packet) ? { ...packet } : packet;
}
