import type { MqgateConfig } from "../core/config/types.js";
import type { SessionRecord, SessionSnapshot, Store } from "../core/store/types.js";
import type { SubscriptionWord } from "../core/subscription-word.js";
import type { DelayedWills } from "./delayed-wills.js";
import type { Session } from "./session.js";

/** The broker's side of custody: its sessions, and the changes to them that are the broker's to make. */
export interface CustodyHost {
  readonly sessions: ReadonlyMap<string, Session>;
  readonly delayedWills: DelayedWills;
  /** Keeps a persistent session read from the store offline here, with no subscriptions yet (single node, start). */
  restoreOffline(record: SessionRecord): Session;
  /** Keeps an offline persistent session here with its subscriptions (Broker.holdOffline). */
  holdOffline(snapshot: SessionSnapshot): Session | null;
  /** Adds a stored subscription of a session held here to the subscription index. */
  restoreSubscription(session: Session, filter: string, word: SubscriptionWord): void;
  dropSession(session: Session): void;
  /** Whether this node accepts connections (a cluster node: while its lease holds). */
  leaseHeld(): boolean;
  /** What the client of a connection that closed by itself lately may send again (broker/recent-resends.ts), once. */
  takeResends(clientId: string, epoch: number): [number, string][];
}

/**
 * The offline sessions this node holds, and the copies it keeps of sessions that moved. A single node loads every
 * persistent session at start; a cluster node only those in its custody (decision 017), again after it lost its
 * lease, and keeps a copy that moved elsewhere a while to forward what still reaches it here.
 */
export class SessionCustody {
  private copyDroppedAt = -Infinity;

  constructor(
    private readonly store: Store,
    private readonly config: MqgateConfig,
    private readonly now: () => number,
    private readonly host: CustodyHost,
  ) {}

  /**
   * Loads what the store remembers: persistent sessions (offline, with their subscriptions, so messages for them
   * are queued in the store). Sessions of a clean client left by a crashed process are deleted: a clean session
   * never outlives its connection.
   */
  async load(clustered: boolean): Promise<void> {
    if (clustered) return this.loadCustody();
    const store = this.store;
    const cleanLeftovers: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await store.listSessions({ cursor, limit: 500 });
      for (const record of page.items) {
        // A single node deletes clean sessions a crashed process left behind.
        if (record.clean) {
          cleanLeftovers.push(record.clientId);
          continue;
        }
        this.host.restoreOffline(record);
      }
      cursor = page.cursor;
    } while (cursor !== null);
    for (const clientId of cleanLeftovers) await store.deleteSession(clientId);
    for (const { clientId, filter, word } of await store.allSubscriptions()) {
      const session = this.host.sessions.get(clientId);
      if (session === undefined) continue;
      this.host.restoreSubscription(session, filter, word);
    }
  }

  /**
   * In a cluster a node loads only the sessions in its custody (decision 017): those it served last. Ones the
   * store still records as connected here (this process crashed) are released; clean ones are deleted.
   */
  private async loadCustody(listed?: readonly string[], replace?: (clientId: string, moved: boolean) => void): Promise<void> {
    const ids = listed ?? (await this.store.sessionsInCustodyOf(this.config.nodeId));
    for (let i = 0; i < ids.length; i += 64) {
      const batch = ids.slice(i, i + 64);
      const snapshots = await Promise.all(batch.map((id) => this.store.getSession(id)));
      for (const [k, snapshot] of snapshots.entries()) {
        const mine = snapshot !== null && (snapshot.node === null || snapshot.node === this.config.nodeId);
        // Released before the copy here is replaced: a store call that fails leaves the copy (and its routes) as
        // it was, never a session in this node's custody that it no longer holds (decision 036).
        if (snapshot !== null && mine && snapshot.node === this.config.nodeId) await this.store.releaseSession(snapshot.clientId, snapshot.epoch, this.now());
        replace?.(batch[k] as string, snapshot !== null && !mine);
        if (snapshot === null || !mine || snapshot.clean) continue; // gone, claimed elsewhere meanwhile, or ended
        this.host.holdOffline(snapshot);
      }
    }
  }

  /**
   * This node lost its lease and registered again: it reloads the sessions still in its custody. Those that moved
   * meanwhile (adopted, claimed) keep their copies here for `cluster.deadQueueGraceMs`: the survivors stopped
   * draining this node's queue when it registered again, and what is left there for them (what the earlier
   * incarnation had received comes back after the visibility timeout) is routed through the store, which names
   * their current node (decision 020). Then the copies are dropped.
   */
  async reload(): Promise<void> {
    const listed = await this.store.sessionsInCustodyOf(this.config.nodeId);
    const custody = new Set(listed);
    const idle = (session: Session | undefined): session is Session => session !== undefined && !session.servedHere;
    for (const session of [...this.host.sessions.values()]) {
      if (!idle(session)) continue;
      if (session.clean) this.host.dropSession(session);
      else if (!custody.has(session.clientId)) this.keepForGrace(session);
    }
    // A session listed in custody is replaced by its snapshot; one claimed elsewhere by the time its snapshot is
    // read moved like the others (it was dropped here, and a forward meant for it found nothing: storeStalls 17).
    await this.loadCustody(listed, (clientId, moved) => {
      const session = this.host.sessions.get(clientId);
      if (!idle(session)) return;
      if (moved) this.keepForGrace(session);
      else this.host.dropSession(session);
    });
  }

  /** An offline session that moved to another node stays here `cluster.deadQueueGraceMs` (see reload). */
  private keepForGrace(session: Session): void {
    setTimeout(() => {
      if (this.host.sessions.get(session.clientId) === session && !session.servedHere) this.dropCopy(session);
    }, this.config.cluster.deadQueueGraceMs).unref();
  }

  /**
   * When this node last dropped its copy of a session that moved elsewhere (Date.now(), the clock node queues
   * report waits in; -Infinity: never). A match forward sent here before then may have been meant for it, and
   * finds it no more (broker/cluster-inbox.ts, passOnLate).
   */
  get lastCopyDropped(): number {
    return this.copyDroppedAt;
  }

  private dropCopy(session: Session): void {
    this.copyDroppedAt = Date.now();
    this.host.dropSession(session);
  }

  /**
   * Broker.kickLocal: a kick from another node or the REST gateway (see there). Returns the QoS 1 publishes of the
   * connection a take-over closed that it may send again (Connection.resendablePublishes, decision 045).
   */
  kicked(clientId: string, reason: "takeover" | "kicked", epoch: number | null, discardSession: boolean, claimedBy: string | null, sessionEnded: boolean): [number, string][] {
    const session = this.host.sessions.get(clientId);
    if (session === undefined) return [];
    const older = epoch === null || session.epoch < epoch;
    // Claimed on another node: a will waiting out its delay here is not published (the client is back in time),
    // unless that claim was a Clean Start: the old session ended, and the will goes at once [MQTT-3.1.2-8].
    if (older && reason === "takeover") this.host.delayedWills.reconnected(clientId, sessionEnded);
    const conn = session.link;
    // Read before the close: the client sends these again to the claiming node, which gives them their keys back.
    // A connection that closed by itself before the kick left them behind for a few seconds.
    let unacked: [number, string][] = [];
    if (older && reason === "takeover" && !sessionEnded) {
      unacked = conn !== null ? conn.resendablePublishes() : this.host.takeResends(clientId, session.epoch);
    }
    if (conn !== null && older) conn.close(reason);
    if (session.claimant !== null || !(epoch === null || session.epoch <= epoch)) return unacked;
    if (discardSession) {
      this.host.dropSession(session);
      return unacked;
    }
    // Claimed by another node (take-over): it holds the session now (decision 017). Nodes whose route tables do
    // not show the move yet still send here: forward to the new holder for a while, then forget the copy.
    if (reason === "takeover" && older && !session.clean) {
      if (claimedBy === null || claimedBy === this.config.nodeId) {
        if (session.link === null) this.host.dropSession(session);
      } else this.keepForwarding(session, claimedBy);
    }
    return unacked;
  }

  /**
   * `session` was claimed by `node`: what still reaches it here is forwarded there (the publisher's route table was
   * stale; the new holder's store dedups a copy it also got directly) until every live node has had a lease period
   * to read the new routes, then the copy and its routes are dropped (decision 017, "Moves").
   */
  private keepForwarding(session: Session, node: string): void {
    session.movedTo(node);
    const timer = setTimeout(() => {
      if (this.host.sessions.get(session.clientId) === session && session.owner === node && !session.servedHere) {
        // A node without a lease (cut off, registering again) has not been reading its queue: forwards sent here
        // before the move still wait there. The copy stays another period (decision 036, partitions seed 74).
        if (!this.host.leaseHeld()) {
          timer.refresh();
          return;
        }
        // Deliveries it still holds behind earlier ones (decision 031: the store has not answered those yet) go on.
        session.releaseDeliveries();
        this.dropCopy(session);
      }
    }, 2 * this.config.cluster.nodeTtlMs);
    timer.unref();
  }
}
