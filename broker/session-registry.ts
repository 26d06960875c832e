import type { SessionRecord, SessionSnapshot } from "../core/store/types.js";
import type { SubscriptionWord } from "../core/subscription-word.js";
import { Session } from "./session.js";
import type { SessionClaimant, SessionHost, SessionLimits, SessionLink } from "./session-ports.js";
import type { SubscriptionIndex } from "./subscription-index.js";

/**
 * The sessions this node serves, by client id (in a cluster: connected ones and offline ones in its custody,
 * decision 017): their creation, the offline ones held here, and their removal with their subscriptions. The map is
 * this object's; everyone else reads it (`sessions`). A session's own state changes through its methods.
 */
export class SessionRegistry {
  private readonly byId = new Map<string, Session>();
  /** The sessions held here, by client id (read-only outside: Broker.sessions). */
  readonly sessions: ReadonlyMap<string, Session> = this.byId;

  constructor(
    private readonly limits: SessionLimits,
    /** What every session held here talks to (the broker). */
    private readonly host: SessionHost,
    private readonly index: Pick<SubscriptionIndex, "add" | "sync" | "removeAll">,
  ) {}

  /** A new session for a CONNECT, held here from now on. */
  create(clientId: string, clean: boolean): Session {
    const session = new Session(clientId, clean, this.limits, this.host);
    this.byId.set(clientId, session);
    return session;
  }

  /** A persistent session read from the store, kept here offline; its subscriptions are the caller's to add. */
  restoreOffline(record: SessionRecord, clean = record.clean): Session {
    const session = new Session(record.clientId, clean, this.limits, this.host);
    session.restore(record);
    this.byId.set(record.clientId, session);
    return session;
  }

  /**
   * Keeps an offline persistent session here (loaded from custody, or adopted from a dead node): its
   * subscriptions go in the trie (and so in this node's routes); its queue stays in the store.
   */
  holdOffline(snapshot: SessionSnapshot): Session | null {
    if (this.byId.has(snapshot.clientId)) return null;
    const session = this.restoreOffline(snapshot, false);
    for (const [filter, word] of Object.entries(snapshot.subscriptions)) this.index.add(session, filter, word);
    return session;
  }

  /** Forgets the session of `clientId` unless a client is attached to it or claiming it here. */
  forgetOffline(clientId: string): void {
    const session = this.byId.get(clientId);
    if (session !== undefined && !session.servedHere) this.drop(session);
  }

  /**
   * An offline session held here was adopted in the store under `epoch`. A forwarding copy (the session had moved
   * from here to the node that died, decision 017) is the session held here again: it stops forwarding, its
   * timer no longer drops it. Any copy found here takes the stored subscriptions: one left without them (seen
   * with partitions and the CI faults, seed 388: no filters, so no routes) made this node custodian of a session
   * nothing was routed to (decision 036).
   */
  adopted(clientId: string, epoch: number, subscriptions: Record<string, SubscriptionWord>): void {
    const session = this.byId.get(clientId);
    if (session === undefined || session.servedHere) return;
    session.adopted(epoch);
    this.index.sync(session, subscriptions);
  }

  /** Forgets a session here, with its subscriptions; a CONNECT still claiming this session object loses it. */
  drop(session: Session): void {
    this.index.removeAll(session);
    session.discardHeld();
    if (this.byId.get(session.clientId) === session) this.byId.delete(session.clientId);
    // A CONNECT still claiming this session object loses it: the newer CONNECT has replaced it.
    const claimant = session.claimant;
    session.endClaim();
    if (claimant !== null && !claimant.isClosed) claimant.close("takeover");
  }

  /** A session object a refused CONNECT created, which the store never saw, is forgotten again. */
  forgetUnclaimed(session: Session): void {
    if (session.epoch === 0 && session.subscriptions.size === 0 && !session.servedHere) {
      this.byId.delete(session.clientId);
    }
  }

  /** The connection of `clientId` here, attached or still connecting; null if it has none. */
  connectionOf(clientId: string): SessionLink | SessionClaimant | null {
    const session = this.byId.get(clientId);
    return session?.link ?? session?.claimant ?? null;
  }

  /** Sessions with a connection here, and offline ones; sessions another cluster node holds are its to count. */
  counts(): { connected: number; offline: number } {
    let connected = 0;
    let offline = 0;
    for (const session of this.byId.values()) {
      if (session.link !== null) connected++;
      else if (session.owner === null) offline++;
    }
    return { connected, offline };
  }
}
