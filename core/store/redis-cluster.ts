import { compareUtf8, decodeApiKey, decodeNode, encodeApiKey, encodeNode, encodeNodeStats } from "./codec.js";
import { RedisIdempotency } from "./idempotency.js";
import { API_KEY_KEYS, API_KEYS_KEY, COUNTERS_KEY, NODES_KEY, sessionKeys } from "./keys.js";
import { RedisIdentities } from "./redis-identity.js";
import { asArray, asInt, asNullableString, asString, flatMap } from "./redis-replies.js";
import { RedisRetained } from "./redis-retained.js";
import { RedisRoutes } from "./routes-redis.js";
import type { Adoption, RouteChanges, RouteDigest } from "./routes-types.js";
import * as S from "./scripts.js";
import { API_KEY_DELETE, API_KEY_GET, API_KEY_PUT } from "./scripts-keys-wills.js";
import { StoreParts } from "./store-parts.js";
import { type Call, RedisClient, type RedisTransport, unwrap } from "./transport.js";
import type { ApiKeyRecord, NodeRecord, NodeStats, Page, RetainedRecord, RetainedStats, StoredMessage } from "./types.js";
import * as check from "./validate.js";
import { RedisWills } from "./wills.js";

/** `ping` answers false when Redis has not answered within this time. */
const PING_TIMEOUT_MS = 2000;

/**
 * The Redis store's connection and its cluster-wide half: the client over the transport and the parts built on it
 * (retained, users and roles, routes, wills, idempotency records), the route table, custody and retained calls
 * handed to their parts, node records, API keys, counters, `ping` and `close`. Sessions, subscriptions and the
 * batched writes are `RedisStore`'s (core/store/redis.ts).
 *
 * The base of `RedisStore`, not a part it holds: one object as before.
 */
export abstract class RedisClusterParts extends StoreParts {
  readonly kind: "redis" | "upstash";
  protected readonly client: RedisClient;
  private readonly retained: RedisRetained;
  protected readonly identities: RedisIdentities;
  private readonly routes: RedisRoutes;
  protected readonly wills: RedisWills;
  protected readonly idempotency: RedisIdempotency;

  constructor(transport: RedisTransport) {
    super();
    this.kind = transport.kind;
    this.client = new RedisClient(transport);
    this.retained = new RedisRetained(this.client);
    this.identities = new RedisIdentities(this.client);
    this.routes = new RedisRoutes(this.client);
    this.wills = new RedisWills(this.client);
    this.idempotency = new RedisIdempotency(this.client);
  }

  // --- routes and custody (routes-redis.ts) ---

  updateRoutes(node: string, add: readonly string[], remove: readonly string[]): Promise<number> {
    return this.routes.update(node, add, remove);
  }

  clearRoutes(node: string): Promise<number> {
    return this.routes.clear(node);
  }

  routeChanges(after: number, limit: number): Promise<RouteChanges> {
    return this.routes.changes(after, limit);
  }

  routesOf(node: string, opts: { cursor?: string | null; limit: number }): Promise<Page<string>> {
    return this.routes.routesOf(node, opts);
  }

  routeDigests(): Promise<{ version: number; digests: Record<string, RouteDigest> }> {
    return this.routes.digests();
  }

  async custodianOf(clientId: string): Promise<string | null> {
    return asNullableString(await this.client.command(["HGET", sessionKeys(clientId).meta, "custodian"]), "custodian");
  }

  sessionsInCustodyOf(node: string): Promise<string[]> {
    return this.routes.sessionsInCustodyOf(node);
  }

  adoptSession(clientId: string, from: string, to: string, now: number, leaseEnd?: number): Promise<Adoption | null> {
    return this.routes.adopt(clientId, from, to, now, leaseEnd);
  }

  // --- retained (redis-retained.ts) ---

  getRetained(topic: string): Promise<RetainedRecord | null> {
    return this.retained.get(topic);
  }

  matchRetained(filter: string): Promise<StoredMessage[]> {
    return this.retained.match(filter);
  }

  listRetained(opts: { cursor?: string | null; limit: number }): Promise<Page<RetainedRecord>> {
    return this.retained.list(opts);
  }

  scanRetained(filter: string, opts: { cursor?: string | null; limit: number }): Promise<Page<RetainedRecord>> {
    return this.retained.scan(filter, opts);
  }

  retainedStats(): Promise<RetainedStats> {
    return this.retained.stats();
  }

  sweepRetained(now: number, limit: number): Promise<number> {
    return this.retained.sweep(now, limit);
  }

  async registerNode(node: NodeRecord, ttlMs: number): Promise<void> {
    check.checkNode(node, ttlMs);
    await this.client.command(["HSET", NODES_KEY, node.nodeId, encodeNode(node, ttlMs)]);
  }

  async heartbeat(nodeId: string, now: number, ttlMs: number, stats?: NodeStats): Promise<boolean> {
    check.checkInt(now, "now");
    check.checkInt(ttlMs, "ttlMs", 1);
    const args = [nodeId, String(now), String(ttlMs)];
    if (stats !== undefined) {
      check.checkNodeStats(stats);
      args.push(encodeNodeStats(stats));
    }
    return asInt(await this.client.eval(S.HEARTBEAT, [NODES_KEY], args), "heartbeat") === 1;
  }

  async listNodes(now: number): Promise<NodeRecord[]> {
    const values = asArray(await this.client.command(["HVALS", NODES_KEY]), "HVALS");
    const nodes = values.map((v) => decodeNode(asString(v, "node"))).filter((n) => n.node.heartbeatAt + n.ttlMs > now);
    return nodes.map((n) => n.node).sort((a, b) => compareUtf8(a.nodeId, b.nodeId));
  }

  async expiredNodes(now: number): Promise<NodeRecord[]> {
    const values = asArray(await this.client.command(["HVALS", NODES_KEY]), "HVALS");
    const nodes = values.map((v) => decodeNode(asString(v, "node"))).filter((n) => n.node.heartbeatAt + n.ttlMs <= now);
    return nodes.map((n) => n.node).sort((a, b) => compareUtf8(a.nodeId, b.nodeId));
  }

  async removeNode(nodeId: string): Promise<void> {
    await this.client.command(["HDEL", NODES_KEY, nodeId]);
  }

  async putApiKey(key: ApiKeyRecord): Promise<void> {
    check.checkApiKey(key);
    await this.client.eval(API_KEY_PUT, API_KEY_KEYS, [key.id, key.hash, encodeApiKey(key)]);
  }

  async getApiKeyByHash(hash: string): Promise<ApiKeyRecord | null> {
    const v = await this.client.eval(API_KEY_GET, API_KEY_KEYS, [hash]);
    return v === null ? null : decodeApiKey(asString(v, "API key"));
  }

  async listApiKeys(): Promise<ApiKeyRecord[]> {
    const values = asArray(await this.client.command(["HVALS", API_KEYS_KEY]), "HVALS");
    return values.map((v) => decodeApiKey(asString(v, "API key"))).sort((a, b) => compareUtf8(a.id, b.id));
  }

  async deleteApiKey(id: string): Promise<boolean> {
    return asInt(await this.client.eval(API_KEY_DELETE, API_KEY_KEYS, [id]), "delete") === 1;
  }

  async incrCounters(deltas: Record<string, number>): Promise<void> {
    check.checkCounters(deltas);
    const calls: Call[] = Object.entries(deltas).map(([name, d]) => ["HINCRBY", COUNTERS_KEY, name, String(d)]);
    (await this.client.batch(calls)).forEach(unwrap);
  }

  async getCounters(): Promise<Record<string, number>> {
    const m = flatMap(await this.client.command(["HGETALL", COUNTERS_KEY]), "counters");
    return Object.fromEntries([...m].map(([k, v]) => [k, Number(v)]));
  }

  async ping(): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(resolve, PING_TIMEOUT_MS, false)));
    const pong = this.client.command(["PING"]).then((r) => r === "PONG", () => false);
    try {
      return await Promise.race([pong, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
