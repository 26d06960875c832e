import { digestStep, routeHash, type RouteDigest } from "../core/store/routes-types.js";
import { SubscriptionTrie } from "../core/topic/index.js";
import { ExactRoutes } from "./exact-routes.js";
import { RouteHasher } from "./route-hash.js";
import { parseShared } from "./shared.js";

/**
 * The cluster's routes as this node knows them (decision 017): topic filter -> the other nodes with at least one
 * local subscriber for it. Compact: no session, no QoS; a filter without wildcards (most per-device filters) is
 * kept as its keyed 64-bit tag and a node slot in typed arrays, not as a string (decision 043); wildcard filters
 * go in a small trie. Keeps per node the digest of its set, compared with the store's (RouteSync).
 */
export class RouteTable {
  /** Exact filters: (tag of the filter, node slot) pairs. */
  private readonly exact = new ExactRoutes();
  private readonly hasher: RouteHasher;
  /** Node slot -> node id, for the nodes with exact routes (slot 0 is never used). */
  private readonly slotNodes: (string | undefined)[] = [undefined];
  private readonly slots = new Map<string, number>();
  /** Exact routes per node slot; a slot is reused once its node has none. */
  private readonly exactPerSlot: number[] = [0];
  private readonly freeSlots: number[] = [];
  private visiting: ((node: string) => void) | null = null;
  private readonly visitSlot = (slot: number): void => this.visiting?.(this.slotNodes[slot] as string);
  private readonly wild = new SubscriptionTrie<string>();
  /**
   * Shared subscription routes (`$share/{ShareName}/{filter}`, a node with at least one member of the group), on
   * the group's topic filter: `match` never visits them, `matchShared` does (the publishing node picks one node per
   * group and message, decision 026).
   */
  private readonly shared = new SubscriptionTrie<SharedRoute>();
  /** Wildcard and shared filters per node (for `clear`; exact ones go with their node slot). */
  private readonly wildByNode = new Map<string, Set<string>>();
  private readonly digests = new Map<string, RouteDigest>();
  private readonly nodeIds = new Map<string, string>();
  private routes = 0;

  constructor(hasher: RouteHasher = new RouteHasher()) {
    this.hasher = hasher;
  }

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
      const slot = this.slotOf(node);
      this.hasher.hash(filter);
      if (!this.exact.add(this.hasher.hi, this.hasher.lo, slot)) {
        this.releaseIfEmpty(slot);
        return false;
      }
      this.exactPerSlot[slot]!++;
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
      const slot = this.slots.get(node);
      if (slot === undefined) return false;
      this.hasher.hash(filter);
      if (!this.exact.remove(this.hasher.hi, this.hasher.lo, slot)) return false;
      this.exactPerSlot[slot]!--;
      this.releaseIfEmpty(slot);
    }
    this.step(node, filter, -1);
    return true;
  }

  /** Forgets every route of `node`. */
  clear(node: string): void {
    for (const filter of [...(this.wildByNode.get(node) ?? [])]) this.remove(node, filter);
    this.wildByNode.delete(node);
    const slot = this.slots.get(node);
    if (slot !== undefined) {
      this.routes -= this.exact.removeNode(slot);
      this.exactPerSlot[slot] = 0;
      this.releaseIfEmpty(slot);
    }
    this.digests.delete(node);
  }

  /** Calls `visit` for each node with a route matching `topic` (a node may be visited more than once). */
  match(topic: string, visit: (node: string) => void): void {
    if (this.exact.size > 0) {
      this.hasher.hash(topic);
      const outer = this.visiting;
      this.visiting = visit;
      try {
        this.exact.match(this.hasher.hi, this.hasher.lo, this.visitSlot);
      } finally {
        this.visiting = outer;
      }
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

  /** Bytes held by the exact routes' arrays (outside the JavaScript heap). */
  get exactBytes(): number {
    return this.exact.bytes;
  }

  private slotOf(node: string): number {
    const known = this.slots.get(node);
    if (known !== undefined) return known;
    const slot = this.freeSlots.pop() ?? this.slotNodes.length;
    if (slot > 0xffff) throw new Error("route table: more than 65,535 nodes with exact routes");
    this.slotNodes[slot] = node;
    this.exactPerSlot[slot] = 0;
    this.slots.set(node, slot);
    return slot;
  }

  private releaseIfEmpty(slot: number): void {
    if (this.exactPerSlot[slot] !== 0) return;
    this.slots.delete(this.slotNodes[slot] as string);
    this.slotNodes[slot] = undefined;
    this.freeSlots.push(slot);
  }

  /** One string object per node id, shared by the node's wildcard and shared routes. */
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
