import type { QoS } from "mqtt-packet";
import type { IdentityStore } from "./identity-types.js";

export type * from "./identity-types.js";

/**
 * The Store: everything the cluster remembers. Implemented in memory (embedded default), on Redis over TCP
 * (ioredis, brokers) and on Upstash REST (@upstash/redis, Lambdas). All three pass test/contract/store.suite.ts.
 *
 * Fencing: a session has an `epoch` that increases on every claim. Writes by a session's owner carry the epoch
 * they were made under; a write with a stale epoch is refused ("fenced"), so a slow old owner can never
 * overwrite the new owner's state.
 */

export interface StoredMessage {
  topic: string;
  payload: Buffer;
  /** QoS the message was published with. */
  qos: QoS;
  /** RETAIN flag as published. */
  retain: boolean;
}

/**
 * An outgoing QoS 1/2 message of one session, queued (packetId 0) or in flight. Ordered by `seq`, which the
 * store assigns on enqueue and which increases per session, so order survives restarts and owner changes.
 */
export interface StoredOutgoing {
  seq: number;
  msg: StoredMessage;
  /** Delivery QoS: min(message QoS, granted QoS). Always 1 or 2 in the store (QoS 0 is never stored). */
  qos: QoS;
  /** RETAIN flag on the wire (1 only for deliveries caused by a new subscription). */
  retain: boolean;
  /** Packet id once sent (in flight); 0 while queued. */
  packetId: number;
  /** 0 = PUBLISH sent, awaiting PUBACK/PUBREC; 1 = PUBREL sent, awaiting PUBCOMP. */
  state: 0 | 1;
}

export interface SessionRecord {
  clientId: string;
  clean: boolean;
  /** Node that owns the live connection, or null when offline. */
  node: string | null;
  epoch: number;
  username: string | null;
  /** Epoch milliseconds. */
  connectedAt: number | null;
  disconnectedAt: number | null;
}

export interface SessionSnapshot extends SessionRecord {
  subscriptions: Record<string, QoS>;
  /** Outgoing messages ordered by seq: in flight first in practice, then queued. */
  outgoing: StoredOutgoing[];
  /** Inbound QoS 2 packet ids received and not yet released. */
  inboundQos2: number[];
}

export interface ClaimOptions {
  node: string;
  clean: boolean;
  username: string | null;
  now: number;
}

export interface ClaimResult {
  /** The new epoch; every later owner write carries it. */
  epoch: number;
  /** True when an existing session was resumed (clean = false and state existed) [MQTT-3.2.2-2]. */
  present: boolean;
  /** Node that owned the session before this claim, if it was connected (for take-over). */
  previousNode: string | null;
  snapshot: SessionSnapshot;
}

/** One write in a batch. Owner writes carry the epoch; `enqueue` may come from anyone. */
export type StoreOp =
  /**
   * Appends an outgoing message (seq assigned by the store). `packetId` non-zero stores it directly as in flight
   * (the owner sends it at once); 0 queues it. The bound `maxQueued` counts queued entries (packetId 0) only:
   * when full, "oldest" drops the oldest queued entry (its seq is returned as `dropped`), "newest" refuses this one.
   * `epoch` makes it an owner write (fenced like the others). `unowned` (a node that does not own the session
   * queues for it) refuses with "owned" and the owner's node id while a node owns the session: the message must
   * go to that node instead, which otherwise would never see it (it read the session when it claimed it).
   */
  | {
      op: "enqueue";
      clientId: string;
      entry: Omit<StoredOutgoing, "seq" | "state">;
      maxQueued: number;
      dropPolicy: "oldest" | "newest";
      epoch?: number;
      unowned?: boolean;
      /**
       * Idempotency key (the id of the node message that caused it): refused as "duplicate" when this session
       * already enqueued a message under it (the most recent 1,000 are remembered), so a redelivered node
       * message is not delivered twice.
       */
      dedupId?: string;
    }
  | { op: "outgoing.update"; clientId: string; epoch: number; seq: number; packetId: number; state: 0 | 1 }
  | { op: "outgoing.delete"; clientId: string; epoch: number; seq: number }
  | { op: "inbound2.add"; clientId: string; epoch: number; packetId: number }
  | { op: "inbound2.delete"; clientId: string; epoch: number; packetId: number }
  | { op: "retained.set"; msg: StoredMessage; maxRetained: number }
  | { op: "retained.delete"; topic: string };

export type StoreOpResult =
  | { ok: true; seq?: number; dropped?: number }
  | { ok: false; reason: "fenced" | "full" | "no-session" | "duplicate" }
  | { ok: false; reason: "owned"; node: string };

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, or null at the end. */
  cursor: string | null;
}

export interface NodeRecord {
  nodeId: string;
  address: string;
  queueUrl: string | null;
  startedAt: number;
  heartbeatAt: number;
}

export interface ApiKeyRecord {
  id: string;
  /** sha256 of the key, hex. The key itself is never stored. */
  hash: string;
  name: string;
  scopes: ("publish" | "read" | "admin")[];
  /** Topic filters the key may publish to / read; ["#"] for all. */
  topics: string[];
  createdAt: number;
}

/** Users and roles (IdentityStore, identity-types.ts) are part of the contract too. */
export interface Store extends IdentityStore {
  readonly kind: "memory" | "redis" | "upstash";

  // sessions
  /** Atomically takes ownership: bumps the epoch, discards state when clean, records the owner. */
  claimSession(clientId: string, opts: ClaimOptions): Promise<ClaimResult>;
  /** Marks the session offline (or deletes it when clean). Refused (false) when `epoch` is stale. */
  releaseSession(clientId: string, epoch: number, now: number): Promise<boolean>;
  getSession(clientId: string): Promise<SessionSnapshot | null>;
  listSessions(opts: { cursor?: string | null; limit: number; connected?: boolean }): Promise<Page<SessionRecord>>;
  /** Deletes a session and all its state, whoever owns it. */
  deleteSession(clientId: string): Promise<boolean>;
  /** Sessions whose owner is `node` (for failure handling of a dead node). */
  sessionsOwnedBy(node: string): Promise<string[]>;

  // subscriptions
  /** Adds/replaces and removes subscriptions. `epoch` null = not fenced (REST on an offline session). */
  updateSubscriptions(clientId: string, epoch: number | null, add: Record<string, QoS>, remove: string[]): Promise<boolean>;
  /** Every subscription of every session, to build a node's in-memory trie at start. */
  allSubscriptions(): Promise<{ clientId: string; filter: string; qos: QoS }[]>;

  // message state, batched (one round trip / one script per batch)
  apply(ops: StoreOp[]): Promise<StoreOpResult[]>;

  // retained
  getRetained(topic: string): Promise<StoredMessage | null>;
  /** Retained messages whose topic matches `filter` (MQTT matching, $-rule included). */
  matchRetained(filter: string): Promise<StoredMessage[]>;
  listRetained(opts: { cursor?: string | null; limit: number }): Promise<Page<StoredMessage>>;

  // nodes
  registerNode(node: NodeRecord, ttlMs: number): Promise<void>;
  heartbeat(nodeId: string, now: number, ttlMs: number): Promise<boolean>;
  listNodes(now: number): Promise<NodeRecord[]>;
  /** Registered nodes whose heartbeat expired (dead, or cut off from the store), for failure handling. */
  expiredNodes(now: number): Promise<NodeRecord[]>;
  removeNode(nodeId: string): Promise<void>;

  // API keys
  putApiKey(key: ApiKeyRecord): Promise<void>;
  getApiKeyByHash(hash: string): Promise<ApiKeyRecord | null>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  deleteApiKey(id: string): Promise<boolean>;

  // counters (cluster-wide, for /v1/stats)
  incrCounters(deltas: Record<string, number>): Promise<void>;
  getCounters(): Promise<Record<string, number>>;

  /** True if the backend answers (health/readiness). */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
