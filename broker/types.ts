import type { QoS } from "mqtt-packet";
import type { MessageProperties } from "../core/message-properties.js";

/** An application message as routed inside the broker. Immutable once created; shared by all receivers. */
export interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  /** MQTT 5 properties as published (decision 024); undefined for every 3.1.1 / 3.1 message. */
  readonly props?: MessageProperties | undefined;
  /** Epoch ms of publication, set only with `props.messageExpiryInterval`: queued copies count down from it. */
  readonly publishedAt?: number | undefined;
  /** The publisher's order key (core/order-key.ts, decision 038): QoS 1/2 publishes of MQTT clients only. */
  readonly order?: string | undefined;
}

/** Outgoing QoS 1/2 delivery state for one session ([MQTT-4.3.2], [MQTT-4.3.3]). */
export const enum OutState {
  /** PUBLISH sent (or to be sent), waiting for PUBACK (QoS 1) or PUBREC (QoS 2). */
  AwaitAck = 0,
  /** PUBREL sent, waiting for PUBCOMP (QoS 2). */
  AwaitComp = 1,
}

export interface Outgoing {
  readonly msg: Message;
  /** QoS of this delivery: min(message QoS, granted QoS). */
  readonly qos: QoS;
  /**
   * RETAIN flag on the wire: 1 when sent because of a new subscription [MQTT-3.3.1-8], or for a retained publish
   * through a Retain As Published subscription [MQTT-3.3.1-13].
   */
  readonly retain: boolean;
  packetId: number;
  state: OutState;
  /** Store sequence number (persistent sessions), 0 until the store has assigned it. */
  seq: number;
  /** False while this entry's latest store write is not yet durable: it is not sent before. */
  durable: boolean;
  /** MQTT 5 Subscription Identifiers of the subscriptions this delivery was matched with. */
  subIds?: number[] | undefined;
  /** The shared subscription (`$share/…` filter) this delivery came through, for a session that is not stored. */
  group?: string | undefined;
  /** The node queue message this delivery came from (its store dedup id), when it came from one. */
  dedupId?: string;
}

export type CloseReason =
  | "client-disconnect"
  /** MQTT 5 DISCONNECT with reason 0x04: the will is published. */
  | "client-disconnect-with-will"
  | "socket-closed"
  | "socket-error"
  | "protocol-error"
  | "keepalive-timeout"
  | "connect-timeout"
  | "takeover"
  | "kicked"
  | "packet-too-large"
  | "not-authorized"
  | "server-shutdown"
  | "limit-exceeded";

/**
 * Why a message was not delivered to a session. "expired": its MQTT 5 Message Expiry Interval passed before it
 * could be sent; "too-large": it exceeds the receiving MQTT 5 client's Maximum Packet Size; "no-subscriber": a
 * shared subscription member left with it and no other member was left to take it.
 */
export type DropReason = "queue-full" | "slow-consumer" | "not-authorized" | "retained-limit" | "session-busy" | "expired" | "too-large" | "no-subscriber";
