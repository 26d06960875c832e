import { decodeCursor, encodeCursor } from "./codec.js";
import {
  decodeRouteEntry,
  digestStep,
  encodeRouteEntry,
  ROUTE_LOG_MAX,
  routeHash,
  type RouteChanges,
  type RouteDigest,
} from "./routes-types.js";
import type { Page } from "./types.js";
import { checkRouteLimit } from "./routes-validate.js";

/** The route table of the memory store (routes-types.ts): the same sets, log and digests as the Redis keys. */
export class MemoryRoutes {
  private readonly sets = new Map<string, Set<string>>();
  private readonly digests = new Map<string, RouteDigest>();
  /** The last ROUTE_LOG_MAX entries; `log[i]` has version `version - log.length + 1 + i`. */
  private log: string[] = [];
  private version = 0;

  constructor(private readonly logMax = ROUTE_LOG_MAX) {}

  update(node: string, add: readonly string[], remove: readonly string[]): number {
    let set = this.sets.get(node);
    if (set === undefined) this.sets.set(node, (set = new Set()));
    const d = this.digests.get(node) ?? { count: 0, sum: 0 };
    for (const f of remove) {
      if (!set.delete(f)) continue;
      digestStep(d, routeHash(f), -1);
      this.append(encodeRouteEntry("remove", node, f));
    }
    for (const f of add) {
      if (set.has(f)) continue;
      set.add(f);
      digestStep(d, routeHash(f), 1);
      this.append(encodeRouteEntry("add", node, f));
    }
    if (set.size === 0) this.sets.delete(node);
    if (d.count === 0) this.digests.delete(node);
    else this.digests.set(node, d);
    return this.version;
  }

  clear(node: string): number {
    this.sets.delete(node);
    this.digests.delete(node);
    this.append(encodeRouteEntry("clear", node, ""));
    return this.version;
  }

  changes(after: number, limit: number): RouteChanges {
    checkRouteLimit(limit);
    const version = this.version;
    if (after === version) return { version, complete: true, changes: [] };
    const first = version - this.log.length + 1;
    if (after > version || after + 1 < first) return { version, complete: false, changes: [] };
    const start = after + 1 - first;
    const changes = this.log.slice(start, start + limit).map((e, i) => decodeRouteEntry(e, after + 1 + i));
    return { version, complete: true, changes };
  }

  routesOf(node: string, opts: { cursor?: string | null; limit: number }): Page<string> {
    checkRouteLimit(opts.limit);
    const all = [...(this.sets.get(node) ?? [])].sort();
    const after = decodeCursor(opts.cursor);
    const start = after === null ? 0 : Number(after);
    const items = all.slice(start, start + opts.limit);
    const next = start + items.length;
    return { items, cursor: next < all.length ? encodeCursor(String(next)) : null };
  }

  digestsNow(): { version: number; digests: Record<string, RouteDigest> } {
    const digests: Record<string, RouteDigest> = {};
    for (const [node, d] of this.digests) digests[node] = { ...d };
    return { version: this.version, digests };
  }

  private append(entry: string): void {
    this.version++;
    this.log.push(entry);
    if (this.log.length > this.logMax) this.log = this.log.slice(this.log.length - Math.floor(this.logMax / 2));
  }
}
