import { digestStep, routeHash, type RouteDigest } from "../core/store/routes-types.js";
import { SubscriptionTrie } from "../core/topic/index.js";
import { parseShared } from "./shared.js";

/**
 * The cluster's routes as this node knows them (decision 017): topic filter -> the other nodes with at least one
 * local subscriber for it. Compact: no session, no QoS; a filter without wildcards (most per-device filters) is
 * one Map entry whose value is the node id itself (shared string) while one node has it; wildcard filters go in
 * a small trie. Keeps per node the digest of its set, compared with the store's (RouteSync).
 */
export class RouteTable {
  /** Exact filters: node id, or the node ids when several nodes have it. */
  private readonly exact = new Map<string, string | string[]>();
  private readonly wild = new SubscriptionTrie<string>();
  /**
   * Shared subscription routes (`$share/{ShareName}/{filter}`, a node with at least one member of the group), on
   * the group's topic filter: `match` never visits them, `matchShared` does (the publishing node picks one node per
   * group and message, decision 026).
   */
  private readonly shared = new SubscriptionTrie<SharedRoute>();
  /** Wildcard filters per node (for `clear`; exact ones are found by a scan, which only a dead node costs). */
  private readonly wildByNode = new Map<string, Set<string>>();
  private readonly digests = new Map<string, RouteDigest>();
  private readonly nodeIds = new Map<string, string>();
  private routes = 0;

  /** Number of (filter, node) routes. */
  get size(): number {
    return this.routes;
  }

  add(node: string, filter: string): boolean {
    node = this.intern(node);
    const group = parseShared(filter)?.filter ?? null;
    if (group !== null) {
      if (!this.shared.add(group, `${node}\u0000${filter}`, { node, key: filter })) return false;
      let set = this.wildByNode.get(node);
      if (set === undefined) this.wildByNode.set(node, (set = new Set()));
      set.add(filter);
    } else if (isWild(filter)) {
      if (!this.wild.add(filter, node, node)) return false;
      let set = this.wildByNode.get(node);
      if (set === undefined) this.wildByNode.set(node, (set = new Set()));
      set.add(filter);
    } else {
      const cur = this.exact.get(filter);
      if (cur === undefined) this.exact.set(filter, node);
      else if (typeof cur === "string") {
        if (cur === node) return false;
        this.exact.set(filter, [cur, node]);
      } else {
        if (cur.includes(node)) return false;
        cur.push(node);
      }
    }
    this.step(node, filter, 1);
    return true;
  }

  remove(node: string, filter: string): boolean {
    const group = parseShared(filter)?.filter ?? null;
    if (group !== null) {
      if (!this.shared.remove(group, `${node}\u0000${filter}`)) return false;
      this.wildByNode.get(node)?.delete(filter);
    } else if (isWild(filter)) {
      if (!this.wild.remove(filter, node)) return false;
      this.wildByNode.get(node)?.delete(filter);
    } else {
      const cur = this.exact.get(filter);
      if (cur === undefined) return false;
      if (typeof cur === "string") {
        if (cur !== node) return false;
        this.exact.delete(filter);
      } else {
        const i = cur.indexOf(node);
        if (i < 0) return false;
        cur.splice(i, 1);
        if (cur.length === 1) this.exact.set(filter, cur[0] as string);
      }
    }
    this.step(node, filter, -1);
    return true;
  }

  /** Forgets every route of `node`. */
  clear(node: string): void {
    for (const filter of [...(this.wildByNode.get(node) ?? [])]) this.remove(node, filter);
    this.wildByNode.delete(node);
    if ((this.digests.get(node)?.count ?? 0) > 0) {
      for (const [filter, cur] of this.exact) {
        if (cur === node || (typeof cur !== "string" && cur.includes(node))) this.remove(node, filter);
      }
    }
    this.digests.delete(node);
  }

  /** Calls `visit` for each node with a route matching `topic` (a node may be visited more than once). */
  match(topic: string, visit: (node: string) => void): void {
    const cur = this.exact.get(topic);
    if (cur !== undefined) {
      if (typeof cur === "string") visit(cur);
      else for (const n of cur) visit(n);
    }
    this.wild.match(topic, visit);
  }

  /** Calls `visit` for each shared subscription route (group and node) whose topic filter matches `topic`. */
  matchShared(topic: string, visit: (route: SharedRoute) => void): void {
    this.shared.match(topic, visit);
  }

  digest(node: string): RouteDigest {
    const d = this.digests.get(node);
    return d === undefined ? { count: 0, sum: 0 } : { ...d };
  }

  /** Nodes with at least one route. */
  nodes(): string[] {
    return [...this.digests.keys()];
  }

  private step(node: string, filter: string, sign: 1 | -1): void {
    this.routes += sign;
    let d = this.digests.get(node);
    if (d === undefined) this.digests.set(node, (d = { count: 0, sum: 0 }));
    digestStep(d, routeHash(filter), sign);
    if (d.count === 0) this.digests.delete(node);
  }

  /** One string object per node id, so an exact route costs one Map entry and no string of its own. */
  private intern(node: string): string {
    const known = this.nodeIds.get(node);
    if (known !== undefined) return known;
    this.nodeIds.set(node, node);
    return node;
  }
}

/** A node's shared subscription route: the group (`$share/{ShareName}/{filter}`) it has members of. */
export interface SharedRoute {
  readonly node: string;
  readonly key: string;
}

function isWild(filter: string): boolean {
  return filter.includes("+") || filter.includes("#");
}
