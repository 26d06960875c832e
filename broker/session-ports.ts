import type { QoS } from "mqtt-packet";
import type { AckType } from "./codec.js";
import type { Journal } from "./journal.js";
import type { Link5 } from "./link5.js";
import type { Session } from "./session.js";
import type { CloseReason, DropReason, Message } from "./types.js";

// What a session (broker/session.ts) talks to: the connection attached to it or claiming it, retained delivery, its
// limits, and the broker.

/** What a session needs from the connection it is attached to. */
export interface SessionLink {
  /** `subIds`: the MQTT 5 Subscription Identifiers the delivery was matched with (sent to an MQTT 5 client only). */
  writePublish(msg: Message, qos: QoS, retain: boolean, dup: boolean, packetId: number, subIds?: readonly number[]): void;
  /** An MQTT 5 client's limits (Receive Maximum, Maximum Packet Size); null at 3.1.1. */
  readonly v5: Link5 | null;
  writeAck(type: AckType, packetId: number): void;
  /** True while the socket's outgoing buffer is above its high-water mark. */
  readonly congested: boolean;
  /** Like `congested`, counting what this turn already wrote: bulk writers (queue drains) stop on it. */
  saturated(): boolean;
  /** Bytes written to this link and not yet taken by the peer (this turn's batch plus the socket's buffer). */
  readonly unsentBytes: number;
  /** The session's move settled (decision 044): the packets the client sent while it did are handled now. */
  settled(): void;
  readonly isClosed: boolean;
  /**
   * The broker closes the attached connection through its session: a newer CONNECT here or a store write that came
   * back fenced (a newer claim owns the session: "takeover"), a kick.
   */
  close(reason: CloseReason): void;
  /** The QoS 1 publishes the client may send again elsewhere, with their order keys (decision 045). */
  resendablePublishes(): [number, string][];
}

/**
 * The connection claiming a session (CONNECT in progress, `Session.claimant`): the session only tells whether one
 * is; a newer claim, a kick or a discarded session closes it.
 */
export interface SessionClaimant {
  readonly isClosed: boolean;
  close(reason: CloseReason): void;
}

/** Retained delivery for new subscriptions (broker/retained.ts): waits for room on the link, told on every drain. */
export interface RetainedFeed {
  add(filter: string, qos: QoS): void;
  /** The subscription is gone: its pending lookup (if any) is dropped. */
  remove(filter: string): void;
  pump(): void;
  cancel(): void;
}

export interface SessionLimits {
  maxInflight: number;
  maxQueued: number;
  queueDropPolicy: "oldest" | "newest";
}

/** The broker side of a session: drop accounting, the store journal and, in a cluster, other nodes. */
export interface SessionHost {
  readonly journal: Journal;
  /** True when other nodes may own sessions (a cluster): offline enqueues then check for an owner. */
  readonly clustered: boolean;
  /** The broker's clock (ms), the one MQTT 5 publication times are taken on: message expiry is judged by it. */
  now(): number;
  onDrop(session: Session, msg: Message, reason: DropReason): void;
  /** A message the client may not read was withheld (docs/auth.md, "Exact authorization"). Counted, not an event. */
  onDeliveryDenied(session: Session, msg: Message): void;
  /**
   * Sends a delivery to the node that owns `session` (cluster only), with the RETAIN flag and Subscription
   * Identifiers it was matched with here: that node does not match it again [MQTT-3.3.4-3].
   */
  forward(session: Session, node: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void;
  /**
   * A session made state the idle sweep lets go when unused (an outbox, a route memo): the sweep runs while some
   * session holds such state (broker/idle-trim.ts).
   */
  onIdleStateMade(): void;
}
