import type { MessageProperties } from "../core/message-properties.js";
import { remainingExpiry } from "../core/readable-properties.js";
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
 * delivery gets a packet id, so nothing waits in flight for a PUBLISH that was never sent. Callers skip the call
 * for a message without expiry to a receiver without a size limit.
 */
export function undeliverable(msg: Message, v5: Link5 | null, now: number, subIds?: readonly number[]): DropReason | null {
  if (msg.publishedAt !== undefined && remainingExpiry(msg.props, msg.publishedAt, now) === 0) return "expired";
  if (v5 === null || v5.maximumPacketSize === 0) return null;
  // An upper bound of the PUBLISH's size: QoS > 0 (a packet id), the expiry as published, 5 bytes per identifier.
  const props = propertiesLength(msg.props) + (subIds === undefined ? 0 : subIds.length * 5);
  const remaining = 2 + Buffer.byteLength(msg.topic) + 2 + varIntSize(props) + props + msg.payload.length;
  return v5.fits(1 + varIntSize(remaining) + remaining) ? null : "too-large";
}

/**
 * The property block of `msg` for an MQTT 5 receiver (null: none), with the remaining expiry and `subIds`. The
 * block of the last message is kept for its next receiver (fan-out) unless it has an expiry or identifiers.
 */
export function propertyBlock(msg: Message, now: number, subIds?: readonly number[]): Buffer | null {
  if (msg.props === undefined && subIds === undefined) return null;
  if (last.msg === msg && last.subIds === subIds && msg.publishedAt === undefined) return last.block;
  const props: MessageProperties & { subscriptionIdentifiers?: number[] } = { ...msg.props };
  const remaining = remainingExpiry(msg.props, msg.publishedAt, now);
  if (remaining !== undefined) props.messageExpiryInterval = remaining;
  if (subIds !== undefined) props.subscriptionIdentifiers = [...subIds];
  const block = encodeProperties(props);
  last.msg = msg;
  last.block = block;
  last.subIds = subIds;
  return block;
}
