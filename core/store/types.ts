import type { SubscriptionWord } from "../subscription-word.js";
import type { ApplyKey, StoreOp, StoreOpResult } from "./apply-types.js";
import type { ApiKeyRecord, NodeRecord, NodeStats } from "./cluster-types.js";
import type { IdempotencyStore } from "./idempotency-types.js";
import type { IdentityStore } from "./identity-types.js";
import type { RetainedRecord, RetainedStats, StoredMessage } from "./message-types.js";
import type { RouteStore } from "./routes-types.js";
import type { ClaimOptions, ClaimResult, ExpiredSession, SessionRecord, SessionSnapshot } from "./session-types.js";
import type { WillOps } from "./will-types.js";

export type * from "./identity-types.js";
export type * from "./routes-types.js";
export type * from "./will-types.js";
export type * from "./idempotency-types.js";
export type * from "./message-types.js";
export * from "./session-types.js";
export type * from "./apply-types.js";
export * from "./cluster-types.js";

/**
 * The Store: everything the cluster remembers. Implemented in memory (embedded default), on Redis over TCP
 * (ioredis, brokers) and on Upstash REST (@upstash/redis, Lambdas). All three pass test/contract/store.suite.ts.
 *
 * Fencing: a session has an `epoch` that increases on every claim. Writes by a session's owner carry the epoch
 * they were made under; a write with a stale epoch is refused ("fenced"), so a slow old owner can never
 * overwrite the new owner's state.
 *
 * The records it reads and writes live beside it, re-exported here: the stored messages in message-types.ts, sessions
 * and claims in session-types.ts, the ops of `apply` in apply-types.ts, nodes and API keys in cluster-types.ts.
 */

export interface Page<T> {
  items: T[];
  /** Opaque cursor for the next page, or null at the end. */
  cursor: string | null;
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
