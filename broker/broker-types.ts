import type { QoS } from "mqtt-packet";
import type { Connection, Transport } from "./connection.js";
import type { Session } from "./session.js";
import type { CloseReason, DropReason, Message } from "./types.js";

// The broker's event map and the interfaces the composition root plugs into it (broker/server.ts).

/**
 * Decides, before a QoS 1/2 PUBLISH is routed and acknowledged, whether it may be accepted at all: its
 * acknowledgement depends on a side effect with bounded room (the events queue's buffer, broker/events.ts).
 */
export interface PublishAdmission {
  admits(clientId: string, topic: string, payloadBytes: number): boolean;
}
/**
 * The cluster's route table as the broker core sees it (broker/routes.ts implements it in a cluster, decision
 * 017): told when a filter gains or loses a local subscriber, and given every message published on this node to
 * forward once to each other node whose routes match.
 */
export interface RemoteRoutes {
  added(filter: string): void;
  removed(filter: string): void;
  publish(msg: Message): void;
  /**
   * An id for a publish of this node that other nodes' routes match (null: none does). Its local deliveries are
   * stored under it too, so a copy that comes back (through a session's previous holder) is stored once.
   */
  rootFor(topic: string): string | null;
  /** A fresh root id (a QoS 2 publish records it with its packet id before routing; decision 025). */
  newRoot(): string;
  /** Calls `visit` for each other node with members of a shared subscription group (`key`) matching `topic`. */
  sharedNodes(topic: string, visit: (key: string, node: string) => void): void;
  /** Sends `msg` to `node` for one member of its group `key` (decision 026). */
  forwardShared(node: string, msg: Message, key: string): void;
}

/** Events for the process edge (logs, metrics, the events queue). The broker itself never logs. */
export interface BrokerEvents {
  "client.connected": [session: Session, conn: Connection, sessionPresent: boolean];
  "client.disconnected": [clientId: string, reason: CloseReason, error: Error | undefined, conn: Connection];
  "client.refused": [conn: Connection, returnCode: number, reason: string];
  /** A socket closed before its client was connected (timeouts, malformed CONNECT, refusals). */
  "connection.closed": [conn: Connection, reason: CloseReason, error: Error | undefined];
  /** `policy`: a restored subscription granted at a lower QoS by the client's current rules (on resume). */
  "session.subscribed": [clientId: string, filter: string, qos: QoS, requested: QoS, source: "mqtt" | "rest" | "policy"];
  /** `policy`: a restored subscription the client's current rules no longer allow, removed on resume. */
  "session.unsubscribed": [clientId: string, filter: string, source: "mqtt" | "rest" | "policy"];
  /** An offline persistent session was deleted after `limits.sessionExpirySeconds` (by this node's sweep). */
  "session.expired": [clientId: string, username: string | null];
  "subscribe.refused": [clientId: string, filter: string, reason: string, requested: QoS];
  /** Emitted for every accepted client publish (and wills). Only computed when someone listens. */
  "message.published": [msg: Message, clientId: string | null];
  "message.dropped": [clientId: string | null, msg: Message, reason: DropReason];
  /** A store call failed (the broker keeps serving; see docs/store.md for what is withheld meanwhile). */
  "store.error": [operation: string, error: Error, attempt: number];
  "store.recovered": [];
  /** The oldest applied journal batch has waited `waitedMs` for its side effects; every later ack waits too. */
  "journal.stalled": [batchId: number, waitedMs: number, pending: string[]];
  /** A cluster operation failed; it is retried or worked around (see broker/cluster.ts). */
  "cluster.error": [operation: string, error: Error];
  /**
   * The buffer of the events queue is full and events are being dropped (`full`), or has room again; `dropped`
   * events were lost since it filled (decision 009).
   */
  "events.overflow": [full: boolean, dropped: number];
  /** A listener could not accept a connection (out of file descriptors, say); it goes on listening. */
  "listener.acceptFailed": [transport: Transport, error: Error];
  /** This node cleaned up after a dead node. */
  "cluster.node-removed": [nodeId: string, sessions: number, drained: number];
}

export interface BrokerOptions {
  /** The clock (epoch ms) for session times and expiry; tests inject one. Default Date.now. */
  now?: () => number;
  /** The keepalive sweep's monotonic clock (ms); tests drive it. Default performance.now. */
  keepaliveClock?: () => number;
}
