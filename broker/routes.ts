import type { Store } from "../core/store/types.js";
import { RouteTable } from "./route-table.js";
import { retryPause } from "./send-retry.js";

/** Log entries read per call while catching up. */
const PAGE = 2000;

export interface RouteSyncOptions {
  /** How often the route log is read. */
  pollMs: number;
  onError(operation: string, err: Error): void;
}

/**
 * This node's side of the route table (decision 017). Outbound: reference counts of the filters its local
 * sessions subscribe to; a filter's first subscriber adds the route, its last one removes it, written to the store
 * in batches (one write in flight at a time, retried until it lands). Inbound: the store's route log applied
 * incrementally into a RouteTable of the other nodes' routes; a reader behind the log, or disagreeing with a
 * node's digest, reloads that node's set. Store load in steady state: one small read per poll, whatever the
 * number of sessions.
 */
export class RouteSync {
  readonly table = new RouteTable();
  private readonly counts = new Map<string, number>();
  private pendingAdd = new Set<string>();
  private pendingRemove = new Set<string>();
  private writing: Promise<void> | null = null;
  private writeScheduled = false;
  /** Writes are held until `start()` reconciled this node's stored set with its local one. */
  private started = false;
  private stopped = false;
  private version = 0;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly nodeId: string,
    private readonly opts: RouteSyncOptions,
  ) {}

  // --- outbound ----------------------------------------------------------------------------------------------

  /** A local session subscribed to `filter` (a new (filter, session) pair). */
  added(filter: string): void {
    const n = (this.counts.get(filter) ?? 0) + 1;
    this.counts.set(filter, n);
    if (n !== 1) return;
    if (!this.pendingRemove.delete(filter)) this.pendingAdd.add(filter);
    this.schedule();
  }

  /** A local session's subscription to `filter` is gone. */
  removed(filter: string): void {
    const n = (this.counts.get(filter) ?? 0) - 1;
    if (n > 0) {
      this.counts.set(filter, n);
      return;
    }
    this.counts.delete(filter);
    if (!this.pendingAdd.delete(filter)) this.pendingRemove.add(filter);
    this.schedule();
  }

  /** Number of distinct filters with a local subscriber. */
  get localFilters(): number {
    return this.counts.size;
  }

  /** Resolves once every route change made so far is in the store. */
  async flushed(): Promise<void> {
    while (this.started && (this.writing !== null || this.pendingAdd.size > 0 || this.pendingRemove.size > 0)) {
      if (this.writing === null) this.write();
      await this.writing;
    }
  }

  private schedule(): void {
    if (!this.started || this.writeScheduled || this.writing !== null) return;
    this.writeScheduled = true;
    setImmediate(() => {
      this.writeScheduled = false;
      if (this.writing === null) this.write();
    });
  }

  private write(): void {
    if (!this.started) return;
    if (this.pendingAdd.size === 0 && this.pendingRemove.size === 0) return;
    const add = [...this.pendingAdd];
    const remove = [...this.pendingRemove];
    this.pendingAdd = new Set();
    this.pendingRemove = new Set();
    this.writing = this.writeWithRetry(add, remove).finally(() => {
      this.writing = null;
      if (this.pendingAdd.size > 0 || this.pendingRemove.size > 0) this.schedule();
    });
  }

  private async writeWithRetry(add: string[], remove: string[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.store.updateRoutes(this.nodeId, add, remove);
        return;
      } catch (err) {
        this.opts.onError("route update", err as Error);
        if (this.stopped) return;
        await retryPause(attempt);
      }
    }
  }

  // --- lifecycle ---------------------------------------------------------------------------------------------

  /**
   * Makes this node's stored set equal its local filters (a restarted node's set may hold filters it no longer
   * has), loads every other node's routes, then applies the log from then on.
   */
  async start(): Promise<void> {
    const stored = await this.loadSet(this.nodeId);
    const remove = [...stored].filter((f) => !this.counts.has(f));
    const add = [...this.counts.keys()].filter((f) => !stored.has(f));
    this.pendingAdd.clear();
    this.pendingRemove.clear();
    for (let i = 0; i < Math.max(add.length, remove.length); i += PAGE) {
      await this.store.updateRoutes(this.nodeId, add.slice(i, i + PAGE), remove.slice(i, i + PAGE));
    }
    this.started = true;
    this.schedule();
    await this.reloadAll();
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs);
    this.timer.unref();
  }

  /**
   * Makes this node's stored set equal its local filters again (after a lost lease: the survivors may have dropped
   * its routes while it still had them).
   */
  async reconcile(): Promise<void> {
    await this.flushed();
    const stored = await this.loadSet(this.nodeId);
    for (const f of stored) {
      if (this.counts.has(f)) continue;
      this.pendingAdd.delete(f);
      this.pendingRemove.add(f);
    }
    for (const f of this.counts.keys()) {
      if (stored.has(f)) continue;
      this.pendingRemove.delete(f);
      this.pendingAdd.add(f);
    }
    this.schedule();
    await this.flushed();
  }

  /** Stops polling and writing (pending changes are dropped: call `flushed()` first to keep them). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.started = false;
    if (this.timer !== null) clearInterval(this.timer);
    await this.polling;
    await this.writing;
  }

  // --- inbound -----------------------------------------------------------------------------------------------

  /** Reads the route log up to the store's current version (one poll; polls never overlap). */
  poll(): Promise<void> {
    if (this.polling !== null) return this.polling;
    this.polling = this.catchUp()
      .catch((err: unknown) => this.opts.onError("route log", err as Error))
      .finally(() => (this.polling = null));
    return this.polling;
  }

  private async catchUp(): Promise<void> {
    for (;;) {
      const page = await this.store.routeChanges(this.version, PAGE);
      if (!page.complete) {
        await this.reloadAll();
        continue;
      }
      for (const c of page.changes) {
        if (c.node === this.nodeId) {
          // Another node cleared this node's routes, taking it for dead (a cleanup that read the node's record
          // just before it registered again, decision 036): write them again, or no node routes here any more.
          if (c.op === "clear" && this.started) void this.reconcile().catch((err: unknown) => this.opts.onError("route reconcile", err as Error));
          continue;
        }
        if (c.op === "add") this.table.add(c.node, c.filter);
        else if (c.op === "remove") this.table.remove(c.node, c.filter);
        else this.table.clear(c.node);
      }
      if (page.changes.length > 0) this.version = (page.changes[page.changes.length - 1] as { version: number }).version;
      if (page.changes.length < PAGE || this.version >= page.version) return;
    }
  }

  /**
   * Compares this node's view of every other node with the digests in the store (at heartbeats); a node whose
   * digest differs is reloaded. Skipped while this node is behind the log (the views differ by design then).
   */
  async verify(): Promise<string[]> {
    await this.poll();
    const { version, digests } = await this.store.routeDigests();
    if (version !== this.version) return [];
    const reloaded: string[] = [];
    const nodes = new Set([...Object.keys(digests), ...this.table.nodes()]);
    nodes.delete(this.nodeId);
    for (const node of nodes) {
      const want = digests[node] ?? { count: 0, sum: 0 };
      const have = this.table.digest(node);
      if (want.count === have.count && want.sum === have.sum) continue;
      await this.reload(node);
      reloaded.push(node);
      // Rare by design (the views are compared only when this node has applied the whole log): worth a log line,
      // and one that repeats at every heartbeat means the reload does not cure it (decision 043, collisions).
      this.opts.onError("route digest", new Error(`routes of ${node} differed from its digest (${have.count} against ${want.count}): reloaded`));
    }
    return reloaded;
  }

  /** Reloads every node's set from the store; the log is then applied from the version read first. */
  private async reloadAll(): Promise<void> {
    const { version, digests } = await this.store.routeDigests();
    const nodes = new Set([...Object.keys(digests), ...this.table.nodes()]);
    nodes.delete(this.nodeId);
    for (const node of nodes) await this.reload(node);
    this.version = version;
  }

  /** Replaces this node's view of `node` with its stored set (changes logged meanwhile are applied again later). */
  private async reload(node: string): Promise<void> {
    const set = await this.loadSet(node);
    this.table.clear(node);
    for (const filter of set) this.table.add(node, filter);
  }

  private async loadSet(node: string): Promise<Set<string>> {
    const set = new Set<string>();
    let cursor: string | null = null;
    do {
      const page = await this.store.routesOf(node, { cursor, limit: PAGE });
      for (const f of page.items) set.add(f);
      cursor = page.cursor;
    } while (cursor !== null);
    return set;
  }
}
