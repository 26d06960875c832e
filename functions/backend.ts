import type { QoS } from "mqtt-packet";
import type { DecodedMessage } from "../core/communicator/wire.js";
import type { Store } from "../core/store/types.js";

/**
 * What the REST handlers need from the MQTT side. Read-only routes use `store` alone (so they work on any
 * Store: memory, Redis, Upstash); publishing and client control go through the backend, which keeps the
 * broker's semantics.
 *
 * Implementations:
 * - `localBackend(broker)` (backend-local.ts): the in-process broker of `npm start` and the tests.
 * - `clusterBackend(...)` (backend-cluster.ts): the REST Lambda, with the store and the broker nodes' queues.
 *
 * Methods throw the gateway's typed errors (functions/errors.ts): NotFoundError for an unknown client,
 * ConflictError for a limit, UnavailableError when durability cannot be confirmed in time.
 */
export interface GatewayBackend {
  readonly store: Store;

  /**
   * Publishes messages in order, with the broker's semantics: topic matching, one copy per session at
   * min(message QoS, highest granted QoS), retained messages stored or cleared (empty payload). Resolves once
   * every store write the messages caused is durable: for QoS 1/2 that is the message queued for every matching
   * persistent session, and for `retain` the retained message. Topics are valid names (validated by the caller).
   * `origin` identifies the caller (`rest:<api key id>`): publishes of one origin keep their order across nodes.
   * `requestId`, given for a request with an Idempotency-Key, is the same for every retry of it: a backend that
   * hands the messages on (the cluster backend) uses it as the node message id, so a repeated send is deduplicated.
   */
  publish(messages: readonly PublishMessage[], origin?: string, requestId?: string): Promise<PublishResult[]>;

  /**
   * Disconnects the client on whichever node holds its connection (its will is published, as for any close but
   * DISCONNECT) and, with `discardSession`, deletes its session and everything queued for it.
   * @throws NotFoundError when the client has neither a connection nor a session.
   */
  kick(clientId: string, discardSession: boolean): Promise<KickResult>;

  /**
   * Adds or replaces subscriptions of an existing session, durably. Retained messages matching each filter are
   * delivered when the client is online (RETAIN=1, as after a SUBSCRIBE). Returns the granted QoS per filter.
   * @throws NotFoundError for an unknown session, ConflictError beyond `maxSubscriptionsPerSession`.
   */
  subscribe(clientId: string, add: Readonly<Record<string, QoS>>): Promise<Record<string, QoS>>;

  /**
   * Removes subscriptions of an existing session, durably. Returns the filters that were subscribed.
   * @throws NotFoundError for an unknown session.
   */
  unsubscribe(clientId: string, filters: readonly string[]): Promise<string[]>;

  /**
   * Deletes the retained message of `topic` without publishing anything to subscribers (unlike an empty retained
   * PUBLISH). Resolves once durable; false when there was none.
   */
  deleteRetained(topic: string): Promise<boolean>;

  /**
   * Live figures of the brokers this backend reaches, for `GET /v1/stats` (and the dashboard). Optional: without
   * it, `/v1/stats` answers with the store's node count and counters only. With `top` 0 it must be cheap (no
   * scan over sessions); `top` > 0 adds the busiest topics (only those `topicVisible` accepts) and the sessions
   * with the most queued messages.
   */
  liveStats?(opts: LiveStatsOptions): Promise<LiveStats>;
}

export interface LiveStatsOptions {
  /** How many top topics and largest queues to return (0: neither). */
  top: number;
  /** Topics the caller may see (its API key's topic patterns). */
  topicVisible(topic: string): boolean;
}

export interface LiveStats {
  /** When the figures were taken (ms since the epoch): rates are differences between samples over this clock. */
  sampledAt: number;
  /** The node these figures are of: its heartbeat snapshot in the store is replaced by them in GET /v1/stats. */
  nodeId?: string;
  /** Messages queued in memory behind the in-flight windows, and sent but unacknowledged, over the sessions. */
  queued?: number;
  inflight?: number;
  /** Clients with a live connection. */
  connections: number;
  /** Sessions held: connected, and offline persistent ones. */
  sessions: number;
  /** Counters since the broker started: application messages accepted, PUBLISH packets sent, messages dropped. */
  messages: { received: number; sent: number; dropped: number };
  /** With `top` > 0: topics by messages published over the last `topicWindowSeconds`, busiest first. */
  topTopics?: TopicRate[];
  topicWindowSeconds?: number;
  /** With `top` > 0: sessions with messages waiting, most queued first. */
  largestQueues?: SessionQueue[];
}

export interface TopicRate {
  topic: string;
  /** Messages published to the topic within the window. */
  messages: number;
  /** Messages per second over the window. */
  rate: number;
}

export interface SessionQueue {
  clientId: string;
  connected: boolean;
  /** Messages waiting behind the in-flight window (offline: in the store). */
  queued: number;
  /** Messages sent and not yet acknowledged. */
  inflight: number;
}

/**
 * A REST publish: the fields of a node message's message (`props` absent when the request gave none;
 * `publishedAt`: when the gateway accepted it, only with `props.messageExpiryInterval`).
 */
export type PublishMessage = DecodedMessage;

export interface PublishResult {
  /** Unique id of this publish (for logs and correlation; not sent over MQTT 3.1.1). */
  id: string;
  /**
   * Sessions the message was routed to (online or offline); null when a broker node routes it after the answer
   * (the REST Lambda in a cluster, functions/backend-cluster.ts).
   */
  matched: number | null;
}

export interface KickResult {
  /** The client had a live connection, which is now closed. */
  disconnected: boolean;
  /** The session was deleted (`discardSession`). */
  sessionDiscarded: boolean;
}
