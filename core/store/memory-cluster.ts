import { compareUtf8 } from "./codec.js";
import { ExpiryIndex } from "./expiry-index.js";
import { MemoryIdempotency } from "./idempotency.js";
import { MemoryIdentities } from "./memory-identity.js";
import { MemoryRetained } from "./memory-retained.js";
import type { MemSession, MemVersion } from "./memory-state.js";
import { MemoryRoutes } from "./routes-memory.js";
import type { RouteChanges, RouteDigest } from "./routes-types.js";
import { checkRouteUpdate } from "./routes-validate.js";
import { SortedKeys } from "./sorted.js";
import { StoreParts } from "./store-parts.js";
import type { ApiKeyRecord, NodeRecord, NodeStats, Page, RetainedRecord, RetainedStats, StoredMessage } from "./types.js";
import * as check from "./validate.js";
import { MemoryWills } from "./wills.js";

/**
 * The embedded store's cluster-wide half: the route table calls handed to `MemoryRoutes`, retained messages, node
 * records, API keys, counters, `ping` and `close`. Sessions (claim, release, expiry, listing, deletion, owners),
 * custody, subscriptions and the batched writes are `MemoryStore`'s (core/store/memory.ts).
 *
 * The base of `MemoryStore`, not a part it holds: one object as before. Every field of the store is declared here,
 * the session maps included, so they are defined in the same order as before the split; the subclass declares none.
 */
export abstract class MemoryClusterParts extends StoreParts {
  readonly kind = "memory" as const;
  protected readonly sessions = new Map<string, MemSession>();
  protected readonly sessionIds = new SortedKeys();
  protected readonly versions = new Map<string, MemVersion>();
  /** Client id -> time its version entry may be forgotten; in insertion (= expiry) order. */
  protected readonly tombstones = new Map<string, number>();
  protected readonly retained = new MemoryRetained();
  private readonly nodes = new Map<string, { node: NodeRecord; ttlMs: number }>();
  private readonly apiKeys = new Map<string, ApiKeyRecord>();
  private readonly apiKeyIdByHash = new Map<string, string>();
  private readonly counters = new Map<string, number>();
  /** Client id -> when its session is next checked for expiry (see expireSessions). */
  protected readonly expiry = new ExpiryIndex();
  protected readonly identities = new MemoryIdentities();
  private readonly routes = new MemoryRoutes();
  protected readonly wills = new MemoryWills();
  protected readonly idempotency = new MemoryIdempotency();

  // --- routes (routes-types.ts) ---

  async updateRoutes(node: string, add: readonly string[], remove: readonly string[]): Promise<number> {
    checkRouteUpdate(node, add, remove);
    return this.routes.update(node, add, remove);
  }

  async clearRoutes(node: string): Promise<number> {
    checkRouteUpdate(node, [], []);
    return this.routes.clear(node);
  }

  async routeChanges(after: number, limit: number): Promise<RouteChanges> {
    check.checkInt(after, "after");
    return this.routes.changes(after, limit);
  }

  async routesOf(node: string, opts: { cursor?: string | null; limit: number }): Promise<Page<string>> {
    return this.routes.routesOf(node, opts);
  }

  async routeDigests(): Promise<{ version: number; digests: Record<string, RouteDigest> }> {
    return this.routes.digestsNow();
  }

  // --- retained (memory-retained.ts), nodes, API keys and counters ---

  async getRetained(topic: string): Promise<RetainedRecord | null> {
    return this.retained.get(topic);
  }

  matchRetained(filter: string): Promise<StoredMessage[]> {
    return this.retained.matchAll(filter);
  }

  async listRetained(opts: { cursor?: string | null; limit: number }): Promise<Page<RetainedRecord>> {
    check.checkLimit(opts.limit);
    return this.retained.list(opts.cursor, opts.limit);
  }

  scanRetained(filter: string, opts: { cursor?: string | null; limit: number }): Promise<Page<RetainedRecord>> {
    return this.retained.scan(filter, opts);
  }

  async retainedStats(): Promise<RetainedStats> {
    return this.retained.stats();
  }

  async sweepRetained(now: number, limit: number): Promise<number> {
    check.checkInt(now, "now");
    check.checkLimit(limit);
    return this.retained.sweep(now, limit);
  }

  async registerNode(node: NodeRecord, ttlMs: number): Promise<void> {
    check.checkNode(node, ttlMs);
    this.nodes.set(node.nodeId, { node: structuredClone(node), ttlMs });
  }

  async heartbeat(nodeId: string, now: number, ttlMs: number, stats?: NodeStats): Promise<boolean> {
    check.checkInt(now, "now");
    check.checkInt(ttlMs, "ttlMs", 1);
    if (stats !== undefined) check.checkNodeStats(stats);
    const n = this.nodes.get(nodeId);
    if (n === undefined || n.node.heartbeatAt + n.ttlMs <= now) return false;
    n.node.heartbeatAt = now;
    n.ttlMs = ttlMs;
    if (stats !== undefined) n.node.stats = structuredClone(stats);
    return true;
  }

  async listNodes(now: number): Promise<NodeRecord[]> {
    const live = [...this.nodes.values()].filter((n) => n.node.heartbeatAt + n.ttlMs > now).map((n) => structuredClone(n.node));
    return live.sort((a, b) => compareUtf8(a.nodeId, b.nodeId));
  }

  async expiredNodes(now: number): Promise<NodeRecord[]> {
    const dead = [...this.nodes.values()].filter((n) => n.node.heartbeatAt + n.ttlMs <= now).map((n) => structuredClone(n.node));
    return dead.sort((a, b) => compareUtf8(a.nodeId, b.nodeId));
  }

  async removeNode(nodeId: string): Promise<void> {
    this.nodes.delete(nodeId);
  }

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    check.checkApiKey(key);
    const old = this.apiKeys.get(key.id);
    if (old !== undefined && this.apiKeyIdByHash.get(old.hash) === key.id) this.apiKeyIdByHash.delete(old.hash);
    const holder = this.apiKeyIdByHash.get(key.hash);
    if (holder !== undefined && holder !== key.id) this.apiKeys.delete(holder);
    this.apiKeys.set(key.id, structuredClone(key));
    this.apiKeyIdByHash.set(key.hash, key.id);
  }

  async getApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const id = this.apiKeyIdByHash.get(hash);
    const key = id === undefined ? undefined : this.apiKeys.get(id);
    return key === undefined ? null : structuredClone(key);
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    return [...this.apiKeys.values()].map((k) => structuredClone(k)).sort((a, b) => compareUtf8(a.id, b.id));
  }

  async deleteApiKey(id: string): Promise<boolean> {
    const key = this.apiKeys.get(id);
    if (key === undefined) return false;
    if (this.apiKeyIdByHash.get(key.hash) === id) this.apiKeyIdByHash.delete(key.hash);
    this.apiKeys.delete(id);
    return true;
  }

  async incrCounters(deltas: Record<string, number>): Promise<void> {
    check.checkCounters(deltas);
    for (const [name, delta] of Object.entries(deltas)) this.counters.set(name, (this.counters.get(name) ?? 0) + delta);
  }

  async getCounters(): Promise<Record<string, number>> {
    return Object.fromEntries(this.counters);
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
