import type { QoS } from "mqtt-packet";
import type { MessageProperties } from "../message-properties.js";

/**
 * The messages the store keeps: a message as published (`StoredMessage`), as a retained message (`RetainedRecord`,
 * with `RetainedStats` over the retained set) and as a session's outgoing delivery (`StoredOutgoing`). Part of the
 * Store contract (core/store/types.ts), which re-exports them.
 */

export interface StoredMessage {
  topic: string;
  payload: Buffer;
  /** QoS the message was published with. */
  qos: QoS;
  /** RETAIN flag as published. */
  retain: boolean;
  /** MQTT 5 properties as published (decision 024); absent for 3.1.1 messages and v5 messages without any. */
  props?: MessageProperties | undefined;
  /** Epoch ms of publication, present only with `props.messageExpiryInterval` (expiry counts down from it). */
  publishedAt?: number | undefined;
  /** The publisher's order key (core/order-key.ts, decision 038), for QoS 1/2 messages of MQTT clients. */
  order?: string | undefined;
}

/** A retained message as the store returns it from its index: with the time it was last set (epoch ms). */
export interface RetainedRecord extends StoredMessage {
  updatedAt: number;
}

/** The retained set, cluster-wide: the two quantities the limits bound. */
export interface RetainedStats {
  count: number;
  /** Topic plus payload bytes of every retained message (what `maxBytes` bounds). */
  bytes: number;
}

/**
 * An outgoing QoS 1/2 message of one session, queued (packetId 0) or in flight. Ordered by `seq`, which the
 * store assigns on enqueue and which increases per session, so order survives restarts and owner changes.
 * In flight means: stored with a packet id (enqueued in flight, or set by `outgoing.update`), or covered by the
 * session's sent boundary (`outgoing.sent`), whose entries carry `sentPacketId(seq)` (sent-boundary.ts).
 */
export interface StoredOutgoing {
  seq: number;
  msg: StoredMessage;
  /** Delivery QoS: min(message QoS, granted QoS). Always 1 or 2 in the store (QoS 0 is never stored). */
  qos: QoS;
  /** RETAIN flag on the wire (1 for deliveries caused by a new subscription, and with Retain As Published). */
  retain: boolean;
  /** Packet id once sent (in flight): its own, or `sentPacketId(seq)` under the sent boundary; 0 while queued. */
  packetId: number;
  /** 0 = PUBLISH sent, awaiting PUBACK/PUBREC; 1 = PUBREL sent, awaiting PUBCOMP. */
  state: 0 | 1;
  /** MQTT 5 Subscription Identifiers the delivery was matched with (sent with it and with every resend). */
  subIds?: number[] | undefined;
}
