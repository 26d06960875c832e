import type { EventEmitter } from "node:events";
import { MAX_UNACKED } from "../core/communicator/types.js";
import { ClaimRefused } from "../core/store/errors.js";
import type { BrokerEvents } from "./broker-types.js";
import type { Connection } from "./connection.js";
import type { DelayedWills } from "./delayed-wills.js";
import type { SessionTerms } from "./handlers/connect5.js";
import { RecentResends } from "./recent-resends.js";
import { recheckResumedSession, type RecheckHost } from "./recheck.js";
import type { Session } from "./session.js";
import type { SessionClaims } from "./session-claim.js";
import type { SessionRegistry } from "./session-registry.js";
import type { SessionReleases } from "./shutdown.js";
import type { BrokerStats } from "./stats.js";
import type { SubscriptionIndex } from "./subscription-index.js";
import type { CloseReason, Message } from "./types.js";
import type { WillKeeper } from "./will-keeper.js";

/** What attaching a connection to its session, and detaching it, needs from the broker core. */
export interface LifecycleParts {
  readonly registry: SessionRegistry;
  readonly index: Pick<SubscriptionIndex, "sync">;
  readonly claims: SessionClaims;
  readonly wills: WillKeeper;
  readonly releases: SessionReleases;
  readonly delayedWills: DelayedWills;
  readonly stats: BrokerStats;
  readonly events: Pick<EventEmitter<BrokerEvents>, "emit">;
  /** Subscription changes and drops of a resumed session's re-check (broker/recheck.ts): the broker. */
  readonly recheck: RecheckHost;
  /** A shared subscription member's session ended: what it was not sent goes to the other members (LocalRouter.handBack). */
  handBack(entries: Iterable<{ msg: Message; group: string }>, session: Session): void;
}

/**
 * A connection attached to its session (CONNECT's claim applied to the session, CONNACK) and detached from it
 * (the close, its will, the release to the store). The decisions are made here, in order; the session's state
 * changes only through its own methods.
 */
export class SessionLifecycle {
  /** What the clients of connections that closed by themselves may send again (decision 045), for a few seconds. */
  private readonly resends = new RecentResends();

  constructor(private readonly parts: LifecycleParts) {}

  /** The re-send list a connection of `clientId`'s session under `epoch` left when it closed by itself, once. */
  takeResends(clientId: string, epoch: number): [number, string][] {
    return this.resends.take(clientId, epoch, Date.now());
  }

  /** Broker.connectSession (see there). */
  async connect(conn: Connection, clientId: string, terms: SessionTerms, identity: string): Promise<void> {
    const { registry, claims, wills } = this.parts;
    const { clean, discard } = terms;
    const existing = registry.sessions.get(clientId);
    if (existing !== undefined && !existing.mayBeClaimedBy(identity)) {
      this.refuseClaim(conn, new ClaimRefused("identity", clientId));
      return;
    }
    // What the client may re-send here, with its first copies' keys: its open connection's list, taken over now, or
    // the one its closed connection left (decision 045).
    const before = existing?.epoch ?? 0;
    const resendable = existing?.link ? existing.link.resendablePublishes() : null;
    if (existing?.link) existing.link.close("takeover");
    let session = registry.sessions.get(clientId);
    // A clean CONNECT starts from nothing, but a session whose owner this node does not know yet stays until the
    // store agrees (its claim refuses another identity without touching the session).
    const ownerUnknown = session !== undefined && session.identity === null;
    if (session !== undefined && discard && !ownerUnknown) {
      registry.drop(session);
      session = undefined;
    }
    if (session === undefined) session = registry.create(clientId, clean);
    session.beginClaim(conn, identity);
    session.holdDeliveries();
    const { claim, refused } = await claims.claim(conn, session, clientId, terms, identity);
    // The claim moved the session here whatever becomes of this connection: the node that held the client closes
    // its connection now (take-over across nodes, [MQTT-3.1.4-2]), or it would serve on beside the next holder
    // (S10: a later claim kicks this node only, not that one).
    if (claim !== null) claims.kickPreviousHolders(clientId, claim, discard);
    if (session.claimant !== conn) {
      // A newer CONNECT for this client id started meanwhile; it wins. This one never got CONNACK: no will.
      wills.discarded(conn);
      if (!conn.isClosed) conn.close("takeover");
      return;
    }
    session.endClaim();
    if (claim !== null) session.movedTo(null);
    if (refused !== null) {
      session.releaseDeliveries();
      registry.forgetUnclaimed(session);
      this.refuseClaim(conn, refused);
      return;
    }
    if (conn.isClosed) {
      // The client left while its session was being claimed: give the claim back (and its will: no CONNACK went out).
      wills.discarded(conn);
      if (claim !== null && !clean) {
        // The session is this node's now (its custody), offline as after a disconnect: its epoch, and its filters
        // in the trie (so in this node's routes), or what other nodes forward for it here finds nothing.
        session.keptUnder(claim.epoch);
        session.ownedBy(claim.snapshot.identity ?? identity);
        this.parts.index.sync(session, claim.snapshot.subscriptions);
      }
      if (claim !== null) {
        this.parts.releases.release(clientId, claim.epoch);
        // No settle wait follows to tell whether the previous holder was alive to kick the ones before it: kicked
        // now (decision 040; a kick they already had only closes connections of older claims).
        claims.kickEarlierHolders(clientId, claim, discard);
      }
      session.releaseDeliveries();
      if (session.clean && session.link === null) registry.drop(session);
      return;
    }
    // Without the store, a persistent session cannot be claimed, and nor can a clean one over a session whose
    // owner is unknown here (it may be another identity's: only the store's claim can tell).
    if (claim === null && (!clean || ownerUnknown)) {
      session.releaseDeliveries();
      registry.forgetUnclaimed(session);
      conn.refuse(3, new Error("session store unavailable"));
      return;
    }
    session.connectedWith(clean, conn.client?.username ?? null);
    // Before the snapshot and the subscriptions: stored messages and guards are checked against this client's rules.
    session.usePolicy(conn.policy);
    session.ownedBy(claim?.snapshot.identity ?? identity);
    if (claim !== null) {
      session.loadSnapshot(claim.snapshot);
      this.parts.index.sync(session, claim.snapshot.subscriptions);
    } else {
      session.servedWithoutStore();
    }
    if (claim !== null && !discard && before > 0 && claims.servedHere(claim)) {
      session.expectResends(resendable ?? this.resends.take(clientId, before, Date.now()), MAX_UNACKED);
    }
    if (claim?.present === true && conn.policy !== null) recheckResumedSession(this.parts.recheck, session, conn.policy);
    const sessionPresent = claim !== null ? claim.present : false;
    // A will waiting out its delay: the client is back in time [MQTT-3.1.3-9], or its old session ended (Clean Start).
    this.parts.delayedWills.reconnected(clientId, discard);
    conn.serve(session);
    conn.writeConnack(sessionPresent);
    session.attach(conn);
    // Take-over across nodes [MQTT-3.1.4-2]: the node that held the client closes its connection, the node that
    // kept the session offline drops its copy (decision 017); the claim succeeded, so this client's identity owns
    // the session. What those nodes pass on goes first: the held deliveries wait for their replies (decision 031).
    // The client's packets wait with them (decision 044): held from here on, so that a release at any point (here,
    // or when the replies came) lets them go.
    conn.holdUntilSettled();
    if (!claims.settles(session, claim, discard)) session.releaseDeliveries();
    conn.completeConnect();
    this.parts.events.emit("client.connected", session, conn, sessionPresent);
  }

  private refuseClaim(conn: Connection, refused: ClaimRefused): void {
    this.parts.stats.sessionsRefused[refused.reason]++;
    conn.refuse(refused.returnCode, refused);
  }

  /** Broker.onConnectionClosed, once the connection is no longer counted (see there). */
  closed(conn: Connection, reason: CloseReason, err: Error | undefined): void {
    const { events, wills } = this.parts;
    const session = conn.session;
    if (session === null || session.link !== conn) {
      events.emit("connection.closed", conn, reason, err);
      return;
    }
    // An MQTT 5 DISCONNECT may have changed the Session Expiry Interval (3.14.2.2.2); 0 ends the session now.
    const v5 = conn.v5;
    const expiryChange = v5 !== null && v5.sessionExpiry !== v5.connectExpiry ? v5.sessionExpiry : undefined;
    const ends = session.clean || expiryChange === 0;
    // A shared subscription member whose session ends hands what it was not sent, or did not acknowledge at QoS 1,
    // to the other members (4.8.2); a QoS 2 message it was sent stays with it [MQTT-4.8.2-5].
    const handBack = ends ? session.takeShared() : null;
    // The client may send its unacknowledged QoS 1 publishes again to another node, whose kick comes here after
    // this close: kept for it (a take-over's kick read them before closing).
    if (!ends && reason !== "takeover" && session.epoch > 0) {
      this.resends.remember(session.clientId, session.epoch, conn.resendablePublishes(), Date.now());
    }
    session.detach();
    // The will is published on any close but DISCONNECT [MQTT-3.1.2-8], then forgotten [MQTT-3.1.2-10].
    const will = conn.takeWill();
    if (will !== null && reason !== "client-disconnect") wills.lost(conn, session, will, ends);
    else wills.discarded(conn);
    // A clean session ends with its connection [MQTT-3.1.2-6].
    if (ends) this.parts.registry.drop(session);
    if (handBack !== null) this.parts.handBack(handBack, session);
    if (session.epoch > 0) this.parts.releases.release(session.clientId, session.epoch, expiryChange === undefined ? undefined : expiryChange * 1000);
    events.emit("client.disconnected", session.clientId, reason, err, conn);
  }
}
