import { NodeUnreachable } from "../core/communicator/errors.js";
import type { Communicator, NodeMessage } from "../core/communicator/types.js";
import type { NodeRecord, Store } from "../core/store/types.js";
import type { ClusterEvents, ClusterOptions, RouteView } from "./cluster-types.js";

const DEAD_QUEUE_GRACE_MS = 90_000;
/** `heartbeatAt` of a node that is leaving (graceful shutdown): expired, but it drains its own queue. */
export const LEAVING = 0;

/** Adoption of dead nodes' sessions, as maintenance drives it (broker/adoption.ts). */
export interface Adoptions {
  adoptShare(dead: string, live: readonly string[], leaving?: boolean): Promise<number>;
  overdue(dead: string, now: number): boolean;
  keeps(dead: string): boolean;
  dropRoutes(dead: string): Promise<void>;
  adoptedFrom(dead: string): number;
  done(dead: string): void;
}

/** What failure detection needs of its node (broker/cluster.ts wires it). */
export interface MaintenanceLinks {
  readonly nodeId: string;
  readonly opts: Pick<ClusterOptions, "heartbeatMs" | "deadQueueGraceMs">;
  readonly events: Pick<ClusterEvents, "onError" | "onNodeRemoved" | "onNodeExpired">;
  readonly store: Pick<Store, "listNodes" | "expiredNodes" | "sessionsInCustodyOf" | "removeNode">;
  readonly communicator: Pick<Communicator, "drainQueue" | "deleteNodeQueue">;
  /** This node's side of the route table (broker/routes.ts). */
  readonly routes: {
    readonly table: RouteView;
    /** Compares this node's view of each node's routes with its digest; reloads those that differ. */
    verify(): Promise<unknown>;
    /** Reads the route log now. */
    poll(): Promise<void>;
  };
  readonly adopter: Adoptions;
  /** Holders that stayed silent through a settle wait are kicked again once seen alive (broker/move-settle.ts). */
  readonly settler: { seen(live: readonly NodeRecord[]): void };
  /** Handles a message drained from the queue of `dead` (NodeInbox.handle). */
  handle(m: NodeMessage, dead: string): void;
  /** Resolves once everything written before is durable (Journal.barrier). */
  barrier(): Promise<void>;
}

/**
 * Failure detection and cleanup (docs/cluster.md): at every heartbeat this node checks its routes against the
 * store's digests, adopts its share of each dead node's sessions (broker/adoption.ts), and the leader among the
 * live nodes cleans up after the dead ones: their routes, their queues, their records.
 */
export class ClusterMaintenance {
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private maintaining: Promise<void> | null = null;
  private stopped = false;
  /**
   * Until then this node judges no other node dead (decision 032): set when it registers again after losing its
   * lease, one TTL on. It could not renew because the store was unreachable from it, so the others may well have
   * been cut off too and be registering again right now: a store outage is not the death of every node.
   */
  private judgesFrom = 0;
  /** Dead nodes whose routes this node dropped, by node id: their queues are kept for the grace period. */
  private readonly retiring = new Map<string, { droppedAt: number; drained: number }>();

  constructor(private readonly links: MaintenanceLinks) {}

  /** Starts the heartbeats of failure detection (the broker loaded its state). */
  start(): void {
    this.timer = setInterval(() => void this.tick(), this.links.opts.heartbeatMs);
    this.timer.unref();
    void this.tick();
  }

  /** No more heartbeats; resolves once the running one and its maintenance ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.ticking;
    await this.maintaining;
  }

  /** This node registered again after losing its lease (Cluster.register): it judges no node dead before `at`. */
  judgeFrom(at: number): void {
    this.judgesFrom = at;
  }

  private tick(): Promise<void> {
    if (this.ticking !== null || this.stopped) return this.ticking ?? Promise.resolve();
    this.ticking = this.beat()
      .catch((err: unknown) => this.links.events.onError("heartbeat", err as Error))
      .finally(() => (this.ticking = null));
    return this.ticking;
  }

  // The lease renewal (the heartbeat) is broker/lease.ts's, on its own timer: this is failure detection only.
  private async beat(): Promise<void> {
    const now = Date.now();
    // Route checks, adoption and cleanup run beside the lease renewals (broker/lease.ts), never in front of them.
    if (this.maintaining === null && !this.stopped) {
      this.maintaining = this.maintain(now)
        .catch((err: unknown) => this.links.events.onError("cluster maintenance", err as Error))
        .finally(() => (this.maintaining = null));
    }
  }

  /** Compares route digests, adopts a share of each dead node's sessions; the leader cleans up after them. */
  private async maintain(now: number): Promise<void> {
    const store = this.links.store;
    await this.links.routes.verify();
    const live = await store.listNodes(now);
    // Holders that stayed silent through a settle wait and renewed their lease since: their kick is held back.
    this.links.settler.seen(live);
    const expired = (await store.expiredNodes(now)).filter((n) => n.nodeId !== this.links.nodeId);
    // A node that came back (registered again) is no longer being retired.
    for (const id of this.retiring.keys()) if (!expired.some((n) => n.nodeId === id)) this.retiring.delete(id);
    if (expired.length === 0) return;
    const liveIds = live.map((n) => n.nodeId);
    if (!liveIds.includes(this.links.nodeId) || Date.now() < this.judgesFrom) return;
    // Every survivor adopts its share of each dead node's sessions; the live node with the smallest id then
    // cleans up (no lock needed; if it dies too, the next one takes over at its next heartbeat).
    const leader = live[0]?.nodeId === this.links.nodeId;
    for (const dead of expired) {
      if (this.stopped) return;
      await this.links.adopter.adoptShare(dead.nodeId, liveIds, dead.heartbeatAt === LEAVING);
      if (!leader) continue;
      await this.links.events.onNodeExpired?.(dead);
      await this.cleanUp(dead.nodeId, live, expired, dead.heartbeatAt === LEAVING, now);
    }
  }

  /**
   * A dead node's cleanup, one step per heartbeat, once every session in its custody was adopted (routes added
   * first by each adopter; sessions nobody adopted within three TTLs are adopted here): its routes are dropped and
   * what is left in its queue is routed to where its sessions are now. The queue is then kept, and drained at
   * every heartbeat, until no sender can still write to it unfenced: every live node has beaten since the routes
   * were dropped (so stopped routing there) and `deadQueueGraceMs` passed (REST senders that read the custodian
   * before, send retries, messages the dead node had received reappearing after the visibility timeout). Only
   * then is it drained a last time, deleted and the record removed: SQS accepts (and drops) sends to a deleted
   * queue for 60 s, so deleting earlier would lose what late senders wrote (decision 020).
   */
  private async cleanUp(dead: string, live: readonly NodeRecord[], expired: readonly NodeRecord[], leaving: boolean, now: number): Promise<void> {
    const store = this.links.store;
    if ((await store.sessionsInCustodyOf(dead)).length > 0) {
      if (!this.links.adopter.overdue(dead, now)) return;
      await this.links.adopter.adoptShare(dead, [this.links.nodeId], leaving);
      if ((await store.sessionsInCustodyOf(dead)).length > 0) return;
    }
    let retiring = this.retiring.get(dead);
    if (retiring === undefined) {
      if (this.claimerMayLackRoutes(dead, live, expired, now)) return;
      await this.links.adopter.dropRoutes(dead);
      // A leaving node drains its own queue (in order) once its sessions were adopted, unless it died meanwhile.
      if (leaving && !this.links.adopter.overdue(dead, now)) return;
      await this.links.routes.poll();
      retiring = { droppedAt: Date.now(), drained: 0 };
      this.retiring.set(dead, retiring);
    }
    const drained = await this.drain(dead);
    if (drained === null) return;
    retiring.drained += drained;
    const since = retiring.droppedAt + this.links.opts.heartbeatMs;
    if (Date.now() < retiring.droppedAt + (this.links.opts.deadQueueGraceMs ?? DEAD_QUEUE_GRACE_MS)) return;
    if (live.some((n) => n.heartbeatAt < since)) return;
    const again = await this.drain(dead);
    if (again === null) return;
    retiring.drained += again;
    await this.links.communicator.deleteNodeQueue(dead);
    await store.removeNode(dead);
    this.retiring.delete(dead);
    this.links.events.onNodeRemoved(dead, this.links.adopter.adoptedFrom(dead), retiring.drained);
    this.links.adopter.done(dead);
  }

  /**
   * Whether a session that left the custody of `dead` by a claim may have no route anywhere once the routes of
   * `dead` go. Adopters write their routes before they adopt; a claimer writes its routes after the store's answer,
   * so one killed in between (or cut off) keeps the session in its own custody with no route, and what is published
   * for it until its adoption matches nothing once these routes are dropped (`--faults all` seed 65, decision 023).
   * Such a claimer has stopped beating (it is live, silent for more than two heartbeats) or has expired with
   * sessions in its custody (until its adopter, routes first, or a new claimer took them): while any node is either,
   * the routes of `dead` stay (when this node still has any of them: a new leader does not hold a drain whose routes
   * its predecessor dropped), and what they catch lands in its queue and is drained to the session (a drained QoS
   * 1/2 message reaches every matching persistent session through its store queue). No store call: the records,
   * the route table and the custody reads of this heartbeat's adoptions. Not seen: a claimer killed less than two
   * heartbeats after its last beat, when this check comes before that.
   */
  private claimerMayLackRoutes(dead: string, live: readonly NodeRecord[], expired: readonly NodeRecord[], now: number): boolean {
    if (this.links.routes.table.digest(dead).count === 0) return false;
    if (live.some((n) => n.nodeId !== this.links.nodeId && now - n.heartbeatAt > 2 * this.links.opts.heartbeatMs)) return true;
    return expired.some((n) => n.nodeId !== dead && this.links.adopter.keeps(n.nodeId));
  }

  /** Drains a dead node's queue into this node's routing. Null while messages are still in flight there. */
  private async drain(dead: string): Promise<number | null> {
    try {
      const result = await this.links.communicator.drainQueue(dead, async (messages) => {
        // A node that came back (registered again after a lost lease) reads its queue itself: stop, and leave
        // this batch to it. Draining on would take its messages as a dead node's, round and round.
        if ((await this.links.store.listNodes(Date.now())).some((n) => n.nodeId === dead)) throw new CameBack(dead);
        for (const m of messages) this.links.handle(m, dead);
        await this.links.barrier();
      });
      return result.remaining === 0 ? result.drained : null;
    } catch (err) {
      if (err instanceof NodeUnreachable) return 0; // no queue left: nothing to drain
      if (err instanceof CameBack) return null;
      throw err;
    }
  }
}

/** The node whose queue was being drained registered again. */
class CameBack extends Error {
  constructor(node: string) {
    super(`node ${node} registered again`);
  }
}
