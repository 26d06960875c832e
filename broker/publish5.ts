import type { MessageProperties } from "../core/message-properties.js";
import { remainingExpiry } from "../core/readable-properties.js";
import { publish5Size, writePublish5 } from "./codec5.js";
import type { Link5 } from "./link5.js";
import { encodeProperties, propertiesLength, varIntSize } from "./properties.js";
import type { DropReason, Message } from "./types.js";

/**
 * The MQTT 5 side of delivering a message (decision 024, point 3): what a receiver is sent, and whether it may be
 * sent at all. A 3.1.1 receiver never comes here.
 */

/**
 * The message's property block as last encoded, for the next receiver of the same message (fan-out): a message is
 * handed to all its receivers in a row. A message with a Message Expiry Interval is encoded per receiver, since
 * the interval sent is what remains of it [MQTT-3.3.2-6].
 */
const last = { msg: null as Message | null, block: null as Buffer | null, subIds: undefined as readonly number[] | undefined };


/**
 * Why `msg` must not be sent to a receiver now, or null: its Message Expiry Interval has passed [MQTT-3.3.2-5], or
 * (MQTT 5 receivers) the PUBLISH would exceed the client's Maximum Packet Size [MQTT-3.1.2-25]. Checked before a
 * delivery gets a packet id, so nothing waits in flight for a PUBLISH that was never sent.
 */
export function undeliverable(msg: Message, v5: Link5 | null, now: number): DropReason | null {
  if (msg.publishedAt !== undefined && remainingExpiry(msg.props, msg.publishedAt, now) === 0) return "expired";
  if (v5 === null || v5.maximumPacketSize === 0) return null;
  // An upper bound of the PUBLISH's size: QoS > 0 (a packet id), the expiry as published.
  const props = propertiesLength(msg.props);
  const remaining = 2 + Buffer.byteLength(msg.topic) + 2 + varIntSize(props) + props + msg.payload.length;
  return v5.fits(1 + varIntSize(remaining) + remaining) ? null : "too-large";
}

/** The PUBLISH for an MQTT 5 receiver, with the message's properties and the remaining expiry. */
export function writePublishTo5(
  msg: Message,
  qos: number,
  retain: boolean,
  dup: boolean,
  packetId: number,
  now: number,
  subIds?: readonly number[],
): Buffer {
  let block: Buffer | null;
  if (msg.props === undefined && subIds === undefined) {
    block = null;
  } else if (last.msg === msg && last.subIds === subIds && msg.props?.messageExpiryInterval === undefined) {
    block = last.block;
  } else {
    const props: MessageProperties & { subscriptionIdentifiers?: number[] } = { ...msg.props };
    const remaining = remainingExpiry(msg.props, msg.publishedAt, now);
    if (remaining !== undefined) props.messageExpiryInterval = remaining;
    if (subIds !== undefined) props.subscriptionIdentifiers = [...subIds];
    block = encodeProperties(props);
    last.msg = msg;
    last.block = block;
    last.subIds = subIds;
  }
  const topicBytes = Buffer.byteLength(msg.topic);
  const buf = Buffer.allocUnsafe(publish5Size(topicBytes, block, msg.payload.length, qos > 0));
  writePublish5(buf, 0, msg.topic, topicBytes, block, msg.payload, qos, retain, dup, packetId);
  return buf;
}
