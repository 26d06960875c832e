import type { QoS } from "mqtt-packet";
import type { MessageProperties } from "../message-properties.js";
import type { SubscriptionWord } from "../subscription-word.js";
import type { IdempotencyStore } from "./idempotency-types.js";
import type { IdentityStore } from "./identity-types.js";
import type { RouteStore } from "./routes-types.js";
import type { WillOps } from "./will-types.js";

export type * from "./identity-types.js";
export type * from "./routes-types.js";
export type * from "./will-types.js";
export type * from "./idempotency-types.js";

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

export interface SessionRecord {
  clientId: string;
  clean: boolean;
  /** Node that owns the live connection, or null when offline. */
  node: string | null;
  epoch: number;
  username: string | null;
  /**
   * The identity that created the session (`user:<name>`, `anonymous`; later `cert:<subject>`), or null for a
   * session created without one (before identities were recorded). Only this identity may claim it again.
   */
  identity: string | null;
  /** Epoch milliseconds. */
  connectedAt: number | null;
  disconnectedAt: number | null;
}

export interface SessionSnapshot extends SessionRecord {
  /** Filter -> subscription (QoS, and MQTT 5 options and identifier: core/subscription-word.ts). */
  subscriptions: Record<string, SubscriptionWord>;
  /** Outgoing messages ordered by seq: in flight first in practice, then queued. */
  outgoing: StoredOutgoing[];
  /** Inbound QoS 2 packet ids received and not yet released. */
  inboundQos2: number[];
  /**
   * Of those, the ones whose routing is not known to have finished, with the root (dedup id) they are routed under
   * (`inbound2.add` with `root`): a PUBLISH re-sent with such an id is routed again under that root, so the
   * subscribers' stores keep one copy (decision 025). Absent when there are none.
   */
  inboundRoots?: Record<number, string>;
}

export interface ClaimOptions {
  node: string;
  /** The session ends with its connection: `releaseSession` deletes it, and it records no expiry. */
  clean: boolean;
  /**
   * Start from an empty session (MQTT 5 Clean Start), whatever `clean` says; absent: the same as `clean` (3.1.1's
   * Clean Session is both). MQTT 5 separates them: Clean Start 1 with an expiry discards the old session and keeps
   * the new one; Clean Start 0 with expiry 0 resumes it and ends it at disconnect.
   */
  discard?: boolean | undefined;
  username: string | null;
  now: number;
  /**
   * The claiming client's identity (see SessionRecord.identity). When given, a claim of a session recorded under
   * another identity is refused with `ClaimRefused` ("identity") and changes nothing, clean or not; a session
   * without a recorded identity adopts it; a new session records it. Absent: no check, nothing recorded.
   */
  identity?: string | undefined;
  /**
   * Offline lifetime of the session in ms (0 or absent: it never expires). Recorded with the session; once it has
   * been offline this long, `expireSessions` deletes it. A clean claim records none (a clean session ends with its
   * connection).
   */
  expiryMs?: number | undefined;
  /**
   * Cap on stored sessions (0 or absent: none). A persistent claim that would create a new session while this many
   * sessions are stored is refused with `ClaimRefused` ("session-limit"). See docs/store.md for how exact it is.
   */
  maxSessions?: number | undefined;
  /**
   * Names this claim so that a repeat is recognised (a reply lost on the way back, decision 034): a claim whose
   * id is the last claim the session saw, with no claim since, changes nothing and is answered as the first time
   * (`present`, `previousNode`, `previousCustodian`, the epoch), with the session as it is now. The claiming node
   * repeats a claim it got no answer to with the same id, so it still learns which node to take the client from.
   */
  claimId?: string | undefined;
}

/** A session `expireSessions` deleted. */
export interface ExpiredSession {
  clientId: string;
  /** Its last epoch (other nodes drop routing state older than or equal to it). */
  epoch: number;
  username: string | null;
  identity: string | null;
}

export interface ClaimResult {
  /** The new epoch; every later owner write carries it. */
  epoch: number;
  /** True when an existing session was resumed (clean = false and state existed) [MQTT-3.2.2-2]. */
  present: boolean;
  /** Node that owned the session before this claim, if it was connected (for take-over). */
  previousNode: string | null;
  /** The node that had the session in its custody before this claim (decision 017), when one had it. */
  previousCustodian?: string;
  /**
   * The nodes the claim before this one took the session from (its `previousNode` and `previousCustodian`), when
   * that claim carried an id and is the one this claim supersedes; then also the nodes the claim before that one
   * took it from, when it carried an id and the claim after it superseded it (two claims back: a cascade of two
   * claimers that died in a row). A node that died between its claim and its take-over kicks never told them:
   * they may still serve the client. The claiming node kicks them when the previous holder does not answer its own
   * kick (broker/move-settle.ts, decision 040). Absent: none known.
   */
  earlierHolders?: string[];
  snapshot: SessionSnapshot;
}

/** The nodes a claim took its session from: its connection's node and its custodian, each once, in that order. */
export function claimHolders(previousNode: string | null, custodian: string | null): string[] {
  return distinctNodes([previousNode, custodian]);
}

/** The nodes named in `nodes`, each once, in order of first mention (null: none). */
export function distinctNodes(nodes: readonly (string | null)[]): string[] {
  const out: string[] = [];
  for (const n of nodes) if (n !== null && !out.includes(n)) out.push(n);
  return out;
}

/** One write in a batch. Owner writes carry the epoch; `enqueue` may come from anyone. */
export type StoreOp =
  /**
   * Appends an outgoing message (seq assigned by the store, above the sent boundary). `packetId` non-zero stores it
   * directly as in flight (the owner sends it at once); 0 queues it. The bound `maxQueued` counts queued entries
   * only (packet id 0 and above the boundary): when full, "oldest" drops the oldest queued entry (its seq is
   * returned as `dropped`), "newest" refuses this one.
   * `epoch` makes it an owner write (fenced like the others). `unowned` (a node that does not own the session
   * queues for it) refuses with "owned" and the owner's node id while a node owns the session: the message must
   * go to that node instead, which otherwise would never see it (it read the session when it claimed it).
   * `exceptOwner` (with `unowned`): not refused while that node owns the session (the caller is that node, which
   * holds the session without a connection, or a dead node being drained): stored then, and refused as "owned" if
   * another node claimed the session meanwhile (decision 041).
   */
  | {
      op: "enqueue";
      clientId: string;
      entry: Omit<StoredOutgoing, "seq" | "state">;
      maxQueued: number;
      dropPolicy: "oldest" | "newest";
      epoch?: number;
      unowned?: boolean;
      exceptOwner?: string;
      /**
       * Idempotency key (the id of the node message that caused it): refused as "duplicate" when this session
       * enqueued a message under it within the last DEDUP_WINDOW_MS (keys.ts), so a redelivered node message is
       * not delivered twice. An owner write (`epoch`) refused so is told the `seq` of the entry stored under the key
       * by a write that may land after a claim read the queue (neither an owner's nor refused while any node owns the
       * session: a forward stored regardless of its owner after `maxHops`, or while `exceptOwner` owns it) while
       * that entry is still queued: the owner's snapshot may not have it, so it takes it (broker/session-outbox.ts).
       */
      dedupId?: string;
      /** The time the dedup window counts from (epoch ms; default: the store's clock). */
      now?: number;
    }
  /**
   * Sets an entry's packet id and state (QoS 2: PUBREC received, state 1). An entry at or below the sent boundary
   * stays in flight: packet id 0 gives it back `sentPacketId(seq)`, it never becomes queued again.
   */
  | { op: "outgoing.update"; clientId: string; epoch: number; seq: number; packetId: number; state: 0 | 1 }
  /**
   * The sent boundary: every entry up to and including `seq` was sent (the owner sends in seq order). Those without
   * a packet id of their own are in flight from now on, with `sentPacketId(seq)` and state 0. The boundary only
   * moves forward and never beyond the last seq assigned; a session started over (discarded, deleted) has none.
   * One number per session: a batch of sends costs one write, not one per message (decision 021).
   */
  | { op: "outgoing.sent"; clientId: string; epoch: number; seq: number }
  | { op: "outgoing.delete"; clientId: string; epoch: number; seq: number }
  /**
   * With `root`: the id was received and is being routed under `root` (kept unless the id is already there);
   * without: its routing finished (the root, if any, is dropped). Decision 025.
   */
  | { op: "inbound2.add"; clientId: string; epoch: number; packetId: number; root?: string }
  | { op: "inbound2.delete"; clientId: string; epoch: number; packetId: number }
  /**
   * Stores a retained message. Refused with "full" when it would take the retained set beyond `maxRetained`
   * messages or (when given) `maxBytes` bytes (topic + payload; a replace that does not grow is always accepted),
   * counting no message expired at `now` (see sweepRetained). `now` is its update time (epoch ms; default: the
   * store's clock).
   */
  | { op: "retained.set"; msg: StoredMessage; maxRetained: number; maxBytes?: number; now?: number }
  | { op: "retained.delete"; topic: string };

/**
 * Names one `apply` call of a writer that sends its calls one at a time and retries each one, unchanged (the same
 * ops in the same order), until it is answered: the broker's journal. `writer` is unique per writer instance (a
 * journal of one process), `batch` grows with each new call. The store remembers, per session, the last call of
 * each writer and its results, so a retry after a lost reply gets the first results instead of a second
 * application (decision 030). A writer that does not send one call at a time must not pass a key.
 */
export interface ApplyKey {
  /** 1-64 characters of [A-Za-z0-9_.:-]. */
  writer: string;
  /** A positive integer, larger than every earlier call of this writer. */
  batch: number;
}

export type StoreOpResult =
  | { ok: true; seq?: number; dropped?: number }
  | { ok: false; reason: "fenced" | "full" | "no-session" }
  /** `seq`: an entry stored under the dedup id by a write that may land after a claim, still queued (see `enqueue`). */
  | { ok: false; reason: "duplicate"; seq?: number }
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
  /** host:port of the node's link listener (docs/cluster.md, "Fast lane"); absent when links are off. */
  linkAddress?: string | null | undefined;
  startedAt: number;
  heartbeatAt: number;
  /** The node's figures as of its last heartbeat that carried them (absent until the first). */
  stats?: NodeStats | undefined;
}

/** The figures a node reports and the cluster sums (functions/cluster-stats.ts). */
export interface StatsFigures {
  /** Clients with a live connection (to this node, or summed over the nodes). */
  connections: number;
  /** Sessions held: connected, and offline persistent ones. */
  sessions: number;
  /** Counters since the node started. */
  messages: { received: number; sent: number; dropped: number };
  /** Per second over the last heartbeat interval. */
  rates: { received: number; sent: number; dropped: number };
  /** Messages queued in memory behind the in-flight windows, and sent but unacknowledged, over the sessions. */
  queued: number;
  inflight: number;
}

/**
 * A node's small stats snapshot, written with its heartbeat (GET /v1/stats and /v1/nodes sum them over the
 * cluster). Bounded: at most MAX_NODE_TOP_TOPICS topics, MAX_NODE_STATS_BYTES as JSON.
 */
export interface NodeStats extends StatsFigures {
  /** When the figures were taken (ms since the epoch, the node's clock). */
  sampledAt: number;
  /** The node's mqgate version. */
  version: string;
  /** Busiest topics published on this node over the last minute, busiest first. */
  topTopics: { topic: string; messages: number; rate: number }[];
}

export const MAX_NODE_TOP_TOPICS = 10;
export const MAX_NODE_STATS_BYTES = 32 * 1024;

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

/**
 * Users and roles (IdentityStore, identity-types.ts), the route table (RouteStore, routes-types.ts), wills (WillOps,
 * will-types.ts) and idempotency records (IdempotencyStore, decision 022) are part of the contract too.
 */
export interface Store extends IdentityStore, RouteStore, WillOps, IdempotencyStore {
  readonly kind: "memory" | "redis" | "upstash";

  // sessions
  /** Atomically takes ownership: bumps the epoch, discards state when clean, records the owner. */
  claimSession(clientId: string, opts: ClaimOptions): Promise<ClaimResult>;
  /** Marks the session offline (or deletes it when clean). Refused (false) when `epoch` is stale. */
  /**
   * `expiryMs`: an MQTT 5 DISCONNECT changed the Session Expiry Interval. 0 deletes the session now, as a clean one;
   * more records it as the session's offline lifetime from `now` (absent: the lifetime recorded at the claim).
   */
  releaseSession(clientId: string, epoch: number, now: number, expiryMs?: number): Promise<boolean>;
  getSession(clientId: string): Promise<SessionSnapshot | null>;
  listSessions(opts: { cursor?: string | null; limit: number; connected?: boolean }): Promise<Page<SessionRecord>>;
  /** Deletes a session and all its state, whoever owns it. */
  deleteSession(clientId: string): Promise<boolean>;
  /** Sessions whose owner is `node` (for failure handling of a dead node). */
  sessionsOwnedBy(node: string): Promise<string[]>;
  /**
   * Deletes sessions that have been offline for longer than their `expiryMs` at `now`, looking at no more than
   * `limit` index entries that are due (an index ordered by due time: no scan of all sessions). Each session is
   * checked and deleted atomically, so when several nodes sweep at once, exactly one of them gets it back.
   */
  expireSessions(now: number, limit: number): Promise<ExpiredSession[]>;

  // subscriptions
  /** Adds/replaces and removes subscriptions. `epoch` null = not fenced (REST on an offline session). */
  updateSubscriptions(clientId: string, epoch: number | null, add: Record<string, SubscriptionWord>, remove: string[]): Promise<boolean>;
  /** Every subscription of every session (`word`: QoS and MQTT 5 options), to build a node's in-memory trie at start. */
  allSubscriptions(): Promise<{ clientId: string; filter: string; word: SubscriptionWord }[]>;

  // message state, batched (one round trip / one script per batch)
  /**
   * Applies `ops` in order per session. With `key`, a retry is recognised: the ops of a session for which this
   * store already applied a call with the same `key` are not applied again but answered with the results they got
   * then (a reply lost on the way back, decision 030). Per session and writer only the last call is remembered.
   */
  apply(ops: StoreOp[], key?: ApplyKey): Promise<StoreOpResult[]>;

  // retained
  getRetained(topic: string): Promise<RetainedRecord | null>;
  /**
   * Every retained message whose topic matches `filter` (MQTT matching, $-rule included), in topic order: walks
   * scanRetained's pages (bounded backend calls), but answers all at once, so only for results known to be small.
   */
  matchRetained(filter: string): Promise<StoredMessage[]>;
  /**
   * Every retained message in topic order, $ topics included, at most 256 per page (one bounded backend call) even
   * when `limit` asks for more. Cursors are sealed like scanRetained's.
   */
  listRetained(opts: { cursor?: string | null; limit: number }): Promise<Page<RetainedRecord>>;
  /**
   * One page of the retained messages matching `filter`, through the retained index (docs/store.md): cost follows
   * the smallest index range that holds every match, and no single backend call reads more than a bounded number of
   * entries or 1 MiB of messages. At most `limit` items (and about 1 MiB), in topic (UTF-8 byte) order; a page may
   * hold fewer, even none, while `cursor` is not null: the walk ends at a null cursor. Cursors are sealed (they reveal nothing) and bound to `filter`.
   */
  scanRetained(filter: string, opts: { cursor?: string | null; limit: number }): Promise<Page<RetainedRecord>>;
  retainedStats(): Promise<RetainedStats>;
  /**
   * Deletes the retained messages whose MQTT 5 Message Expiry Interval has passed at `now` (publishedAt + interval
   * <= now: MQTT 5.0 3.3.2.3.3), with their index entries and their share of `retainedStats`; answers how many.
   * Looks at no more than `limit` entries of an index ordered by due time (no scan of the retained set), earliest
   * first, and deletes a topic only if the message stored there is the one that is due (a newer one on the same
   * topic stays), atomically: several nodes may sweep at once. A `retained.set` refused for a limit sweeps a few
   * due entries at its own `now` first, so expired messages never hold a limit.
   */
  sweepRetained(now: number, limit: number): Promise<number>;

  // nodes
  registerNode(node: NodeRecord, ttlMs: number): Promise<void>;
  /** Refreshes a live node (false when unknown or expired); `stats`, when given, replaces its snapshot. */
  heartbeat(nodeId: string, now: number, ttlMs: number, stats?: NodeStats): Promise<boolean>;
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
