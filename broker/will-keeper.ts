import type { Connection } from "./connection.js";
import type { DelayedWills } from "./delayed-wills.js";
import type { Session } from "./session.js";
import type { Message } from "./types.js";
import { LOCAL_WILLS, type WillStore } from "./wills.js";

/** Publishes a will as its client's publish (authorized like one, counted as refused when it is not). */
export type PublishWill = (conn: Connection, session: Session, will: Message) => void;

/**
 * The will of each connection, from CONNECT to its publication or discard: kept in the will store before CONNACK
 * (broker/wills.ts; in a cluster the store, decision 019), published on any close but DISCONNECT [MQTT-3.1.2-8]
 * (after its MQTT 5 Will Delay Interval, broker/delayed-wills.ts), forgotten otherwise.
 */
export class WillKeeper {
  /** Where wills are kept until published or discarded (a cluster stores them, decision 019). */
  private store: WillStore = LOCAL_WILLS;

  constructor(
    private readonly delayed: DelayedWills,
    private readonly now: () => number,
    private readonly publish: PublishWill,
  ) {}

  /** Wired at the composition root (broker/server.ts), before any connection. */
  use(store: WillStore): void {
    this.store = store;
  }

  /**
   * `will`, of a CONNECT whose session was claimed under `epoch` at `claimedAt`, is kept before CONNACK (decision
   * 019; CONNACK waits for the promise): a node that dies right after CONNACK leaves it to a survivor, with its
   * delay (the Session Expiry Interval of this CONNECT caps it, 3.1.3.2.2) and the claim's time, so a survivor
   * can tell whether the client came back (decision 028).
   */
  connected(conn: Connection, will: Message, clientId: string, epoch: number, claimedAt: number): Promise<unknown> {
    const delay = conn.v5 === null ? 0 : Math.min(conn.willDelay, conn.v5.connectExpiry);
    return this.store.connected(conn, will, { clientId, epoch, claimedAt, delay, username: conn.client?.username ?? null, policy: conn.policy });
  }

  /** The connection will not publish its will (it never got CONNACK, or ended with DISCONNECT). */
  discarded(conn: Connection): void {
    this.store.discarded(conn);
  }

  /**
   * The connection of `session` closed without DISCONNECT and had `will`: published now, or after its delay unless
   * the session ends now (`ends`), whichever is first (3.1.3.2.2). Through the will store: in a cluster it is
   * published only if this node takes it first (decision 019), and the store learns when it is due, for a
   * survivor should this node die meanwhile (decision 028).
   */
  lost(conn: Connection, session: Session, will: Message, ends: boolean): void {
    const publish = (): void => this.store.lost(conn, will, (w) => this.publish(conn, session, w));
    const delay = ends ? 0 : Math.min(conn.willDelay, conn.v5?.sessionExpiry ?? 0);
    if (delay > 0) {
      this.store.waiting(conn, this.now() + delay * 1000);
      this.delayed.schedule(session.clientId, delay * 1000, publish, () => this.store.discarded(conn));
    } else publish();
  }
}
