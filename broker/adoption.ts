import { createHash } from "node:crypto";
import type { Broker } from "./broker.js";
import type { NodeRecord } from "../core/store/types.js";
import type { RouteSync } from "./routes.js";

/** Sessions adopted per batch (reads and adoptions in parallel). */
const BATCH = 64;
/** How long a moved session is remembered as having come from a node (for drains of that node's queue). */
const CAME_FROM_MS = 10 * 60_000;

export interface AdopterEvents {
  onError(operation: string, err: Error): void;
  /** A session connected to the dead node was adopted: its client is gone ("node-failure"). */
  onSessionLost(clientId: string, username: string | null): void;
  /** Sends a take-over kick for the adoption under `epoch` to `node` (Cluster.takeover; decision 040). */
  kick(node: string, clientId: string, epoch: number): void;
}

/**
 * Adoption of a dead node's sessions (decision 017). Each survivor takes the sessions whose client id maps to it
 * by rendezvous hashing over the live nodes: it loads them (their filters into its trie, so its routes), writes
 * its routes, and only then adopts them in the store (`adoptSession`: epoch bumped, custodian set, only if the
 * dead node still has it). So when the dead node's custody is empty, every adopter's routes are in the store; a
 * claimer's may not be (it writes them after its claim), which the cleaner checks before the dead node's routes go
 * (ClusterMaintenance.claimerMayLackRoutes, with `keeps`). Also remembers, per node, the sessions that moved away from it
 * (adopted or claimed), so messages drained from its queue reach exactly those.
 *
 * The dead node may have died between a claim and its take-over kicks: the nodes that claim took the session
 * from (and the ones before, as a claim would learn them: Adoption.earlierHolders) may still serve the client
 * under an older claim. The adopter kicks them (its own such connection it closes itself), unless the dead node
 * was leaving: a leaving node lived on after its last claims (decision 040).
 */
export class Adopter {
  private readonly moved = new Map<string, { ids: Set<string>; timer: NodeJS.Timeout }>();
  private readonly firstSeen = new Map<string, number>();
  private readonly adopted = new Map<string, number>();
  private readonly routesDropped = new Set<string>();
  /** Per dead node, how many sessions its custody still held after this node's last adoptShare (Adopter.keeps). */
  private readonly left = new Map<string, number>();

  constructor(
    private readonly broker: Broker,
    private readonly routes: RouteSync,
    private readonly nodeId: string,
    private readonly ttlMs: number,
    private readonly events: AdopterEvents,
  ) {}

  /** Adopts the sessions of `dead` that rendezvous hashing over `live` gives to this node; `leaving`: it left gracefully. */
  async adoptShare(dead: string, live: readonly string[], leaving = false): Promise<number> {
    if (!this.firstSeen.has(dead)) this.firstSeen.set(dead, Date.now());
    const store = this.broker.store;
    const custody = await store.sessionsInCustodyOf(dead);
    const mine = custody.filter((id) => owner(id, live) === this.nodeId);
    let count = 0;
    for (let i = 0; i < mine.length; i += BATCH) {
      const ids = mine.slice(i, i + BATCH);
      const snapshots = await Promise.all(ids.map((id) => store.getSession(id)));
      // Routes first: the filters go in this node's trie and its routes are written before the store moves them.
      const held = new Set<string>();
      for (const snapshot of snapshots) {
        if (snapshot !== null && !snapshot.clean && this.broker.holdOffline(snapshot) !== null) held.add(snapshot.clientId);
      }
      await this.routes.flushed();
      const now = this.broker.now();
      // The reads above take store round trips (seconds in an outage): a paused node that came back may have
      // registered again and claimed some of these sessions meanwhile. Adopting those would take a connected
      // session from a live node without a kick (two nodes would serve the client; decision 036's cause 5).
      // That check and the adoption are a round trip apart: the script also refuses a session the node claimed once
      // the lease it had then was over (a claim under its new registration). Not for a node that left gracefully.
      const record = await this.expiredRecord(dead, now);
      if (record === null) {
        for (const id of held) this.broker.forgetOffline(id);
        break;
      }
      const leaseEnd = leaving ? undefined : record.heartbeatAt + this.ttlMs;
      const results = await Promise.all(
        ids.map((id) =>
          store.adoptSession(id, dead, this.nodeId, now, leaseEnd).catch((err: unknown) => {
            this.events.onError(`adopt ${id}`, err as Error);
            return null;
          }),
        ),
      );
      results.forEach((r, j) => {
        const id = ids[j] as string;
        if (r === null) {
          if (held.has(id)) this.broker.forgetOffline(id);
          return;
        }
        count++;
        this.remember(dead, id);
        const owed = leaving ? [] : (r.earlierHolders ?? []).filter((n) => n !== dead);
        if (owed.includes(this.nodeId)) this.closeStale(id, r.epoch);
        if (r.snapshot !== null) {
          // Not held here (a clean copy here went with its stale connection, or the session changed since it was read).
          if (!this.broker.sessions.has(id)) this.broker.holdOffline(r.snapshot);
          this.broker.adopted(id, r.epoch, r.snapshot.subscriptions);
        }
        for (const node of owed) if (node !== this.nodeId) this.events.kick(node, id, r.epoch);
        if (r.connected) this.events.onSessionLost(id, r.username);
      });
    }
    this.adopted.set(dead, (this.adopted.get(dead) ?? 0) + count);
    this.left.set(dead, custody.length - count);
    return count;
  }

  /**
   * Whether `dead` may still keep sessions in its custody: it did when this node last read it (less what this node
   * adopted then), or it was not read yet. Without a read of its own: the reads of adoptShare are reused.
   */
  keeps(dead: string): boolean {
    return (this.left.get(dead) ?? 1) > 0;
  }

  /** The record of `dead` while it is still expired in the store (not registered again since it was judged dead), else null. */
  private async expiredRecord(dead: string, now: number): Promise<NodeRecord | null> {
    return (await this.broker.store.expiredNodes(now)).find((n) => n.nodeId === dead) ?? null;
  }

  /** A connection here of a claim older than the adoption under `epoch` was taken over by the dead node's claim. */
  private closeStale(clientId: string, epoch: number): void {
    const session = this.broker.sessions.get(clientId);
    if (session !== undefined && session.link !== null && session.epoch < epoch) session.link.close("takeover");
  }

  /** Whether sessions of `dead` have waited for their adopter for longer than three TTLs. */
  overdue(dead: string, now: number): boolean {
    return now - (this.firstSeen.get(dead) ?? now) > 3 * this.ttlMs;
  }

  /** Drops the dead node's routes (once). */
  async dropRoutes(dead: string): Promise<void> {
    if (this.routesDropped.has(dead)) return;
    await this.broker.store.clearRoutes(dead);
    this.routesDropped.add(dead);
  }

  adoptedFrom(dead: string): number {
    return this.adopted.get(dead) ?? 0;
  }

  /** The dead node is cleaned up. */
  done(dead: string): void {
    this.firstSeen.delete(dead);
    this.adopted.delete(dead);
    this.routesDropped.delete(dead);
    this.left.delete(dead);
  }

  /** Remembers that `clientId` moved here from `node` (forgotten after CAME_FROM_MS). */
  remember(node: string, clientId: string): void {
    let entry = this.moved.get(node);
    if (entry === undefined) {
      const timer = setTimeout(() => this.moved.delete(node), CAME_FROM_MS);
      timer.unref();
      entry = { ids: new Set(), timer };
      this.moved.set(node, entry);
    }
    entry.ids.add(clientId);
  }

  /** The sessions that moved here from `node` lately. */
  cameFrom(node: string): ReadonlySet<string> {
    return this.moved.get(node)?.ids ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** Rendezvous (highest random weight) hashing: the live node that takes `clientId`. */
export function owner(clientId: string, live: readonly string[]): string | null {
  let best: string | null = null;
  let bestScore = -1;
  for (const node of live) {
    const score = createHash("sha1").update(node).update("\0").update(clientId).digest().readUInt32BE(0);
    if (score > bestScore || (score === bestScore && best !== null && node < best)) {
      best = node;
      bestScore = score;
    }
  }
  return best;
}
