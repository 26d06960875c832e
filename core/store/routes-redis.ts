import { decodeCursor, encodeCursor } from "./codec.js";
import { custodyKey, routeKeys, sessionKeys } from "./keys.js";
import { asArray, asInt, asNullableString, asString, flatMap, nodesAt, sessionSnapshot } from "./redis-replies.js";
import { unindex } from "./redis-index.js";
import { decodeRouteEntry, ROUTE_LOG_MAX, routeHash, type Adoption, type RouteChanges, type RouteDigest } from "./routes-types.js";
import { checkRouteLimit, checkRouteUpdate } from "./routes-validate.js";
import * as S from "./scripts.js";
import { ROUTES_CHANGES, ROUTES_CLEAR, ROUTES_DIGESTS, ROUTES_UPDATE } from "./scripts-routes.js";
import { type RedisClient, unwrap } from "./transport.js";
import type { Page } from "./types.js";
import { checkInt } from "./validate.js";

/**
 * The route table and session custody on Redis (routes-types.ts; keys.ts routeKeys/custodyKey; scripts-routes.ts,
 * ADOPT in scripts.ts).
 */
export class RedisRoutes {
  constructor(
    private readonly client: RedisClient,
    private readonly logMax = ROUTE_LOG_MAX,
  ) {}

  async update(node: string, add: readonly string[], remove: readonly string[]): Promise<number> {
    checkRouteUpdate(node, add, remove);
    const k = routeKeys(node);
    const args = [node, String(this.logMax), String(remove.length)];
    for (const f of remove) args.push(f, String(routeHash(f)));
    for (const f of add) args.push(f, String(routeHash(f)));
    return asInt(await this.client.eval(ROUTES_UPDATE, [k.set, k.log, k.version, k.digests], args), "route version");
  }

  async clear(node: string): Promise<number> {
    checkRouteUpdate(node, [], []);
    const k = routeKeys(node);
    return asInt(await this.client.eval(ROUTES_CLEAR, [k.set, k.log, k.version, k.digests], [node, String(this.logMax)]), "route version");
  }

  async changes(after: number, limit: number): Promise<RouteChanges> {
    checkInt(after, "after");
    checkRouteLimit(limit);
    const k = routeKeys("");
    const a = asArray(await this.client.eval(ROUTES_CHANGES, [k.log, k.version], [String(after), String(limit)]), "route changes");
    const version = asInt(a[0], "route version");
    if (a[1] !== 1) return { version, complete: false, changes: [] };
    const entries = asArray(a[2] ?? [], "route log");
    return { version, complete: true, changes: entries.map((e, i) => decodeRouteEntry(asString(e, "route entry"), after + 1 + i)) };
  }

  async routesOf(node: string, opts: { cursor?: string | null; limit: number }): Promise<Page<string>> {
    checkRouteLimit(opts.limit);
    const from = decodeCursor(opts.cursor) ?? "0";
    const a = asArray(await this.client.command(["SSCAN", routeKeys(node).set, from, "COUNT", String(opts.limit)]), "SSCAN");
    const next = asString(String(a[0]), "SSCAN cursor");
    const items = asArray(a[1], "SSCAN members").map((m) => asString(m, "filter"));
    return { items, cursor: next === "0" ? null : encodeCursor(next) };
  }

  async digests(): Promise<{ version: number; digests: Record<string, RouteDigest> }> {
    const k = routeKeys("");
    const a = asArray(await this.client.eval(ROUTES_DIGESTS, [k.version, k.digests], []), "route digests");
    const digests: Record<string, RouteDigest> = {};
    for (const [node, d] of flatMap(a[1], "route digests")) {
      const [count, sum] = d.split(":");
      digests[node] = { count: Number(count), sum: Number(sum) };
    }
    return { version: asInt(a[0], "route version"), digests };
  }

  /** Custody entries are a superset: each is checked against the session's meta, stale ones are removed. */
  async sessionsInCustodyOf(node: string): Promise<string[]> {
    const key = custodyKey(node);
    const ids = asArray(await this.client.command(["SMEMBERS", key]), "SMEMBERS").map((v) => asString(v, "client id"));
    if (ids.length === 0) return [];
    const metas = await this.client.batch(ids.map((id) => ["HMGET", sessionKeys(id).meta, "custodian", "node", "clean"]));
    const mine: string[] = [];
    const stale: string[] = [];
    ids.forEach((id, i) => {
      const [custodian, owner, clean] = asArray(unwrap(metas[i]), "HMGET");
      if (custodian === node || ((custodian === null || custodian === undefined) && owner === node && clean !== null)) mine.push(id);
      else stale.push(id);
    });
    if (stale.length > 0) {
      // Removed, then re-checked: an entry of a session that came back into this node's custody meanwhile stays.
      const res = await this.client.batch([["SREM", key, ...stale], ...stale.map((id) => ["HGET", sessionKeys(id).meta, "custodian"])]);
      const restore = stale.filter((_, i) => unwrap(res[i + 1]) === node);
      if (restore.length > 0) unwrap(await this.client.command(["SADD", key, ...restore]));
    }
    return mine.sort();
  }

  async adopt(clientId: string, from: string, to: string, now: number, leaseEnd?: number): Promise<Adoption | null> {
    checkInt(now, "now");
    if (leaseEnd !== undefined) checkInt(leaseEnd, "leaseEnd");
    // The custody entry first (a superset), then the script.
    unwrap(await this.client.command(["SADD", custodyKey(to), clientId]));
    const a = asArray(await this.client.eval(S.ADOPT, sessionKeys(clientId).list, [from, to, String(now), leaseEnd === undefined ? "" : String(leaseEnd)]), "adopt");
    if (a[0] === 0) return null;
    await unindex(this.client, [{ clientId, node: from, session: a[0] === 2 }]);
    // The earlier holders end each reply (absent from a script loaded by an older version: none known).
    let adoption: Adoption;
    let owedAt: number;
    if (a[0] === 2) {
      adoption = { epoch: asInt(a[1], "epoch"), connected: a[2] === 1, username: asNullableString(a[3] ?? null, "username"), snapshot: null };
      owedAt = 4;
    } else {
      const snapshot = sessionSnapshot(clientId, a.slice(2));
      adoption = { epoch: snapshot.epoch, connected: a[1] === 1, username: snapshot.username, snapshot };
      owedAt = 7;
    }
    const earlier = nodesAt(a, owedAt, 4, "earlier holder");
    if (earlier.length > 0) adoption.earlierHolders = earlier;
    return adoption;
  }
}
