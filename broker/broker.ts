import type { QoS } from "mqtt-packet";
import type { ExpiredSession, SessionSnapshot } from "../core/store/types.js";
import type { SubscriptionWord } from "../core/subscription-word.js";
import { BrokerWiring } from "./broker-wiring.js";
import type { Connection, Transport } from "./connection.js";
import type { SessionTerms } from "./handlers/connect5.js";
import type { Session } from "./session.js";
import type { SessionHost } from "./session-ports.js";
import type { SharedGroup } from "./shared.js";
import type { CloseReason, DropReason, Message } from "./types.js";

export type { BrokerEvents, BrokerOptions, PublishAdmission, RemoteRoutes } from "./broker-types.js";

/**
 * The broker core: the sessions this node holds (their connection, claim and release), publish, and the entry
 * points other modules call. Transport-agnostic: listeners hand it Connections; handlers call into it. Its parts
 * live in their own modules (session registry and lifecycle, subscription index and changes, publishing and
 * routing, retained, custody, claims, wills, releases) and change sessions only through the sessions' methods;
 * they are wired, started and shut down in its base class, broker/broker-wiring.ts.
 */
export class Broker extends BrokerWiring implements SessionHost {
  // --- offline sessions held here (adoption and custody, in a cluster) -----------------------------------

  /** Keeps an offline persistent session here with its subscriptions (SessionRegistry.holdOffline); null if one is held. */
  holdOffline(snapshot: SessionSnapshot): Session | null {
    return this.registry.holdOffline(snapshot);
  }

  /** Forgets an offline session held here (an adoption that another node won). */
  forgetOffline(clientId: string): void {
    this.registry.forgetOffline(clientId);
  }

  /** An offline session held here was adopted in the store under `epoch` (SessionRegistry.adopted). */
  adopted(clientId: string, epoch: number, subscriptions: Record<string, SubscriptionWord>): void {
    this.registry.adopted(clientId, epoch, subscriptions);
  }

  /** When this node last dropped its copy of a session that moved to another node (SessionCustody.lastCopyDropped). */
  lastMovedCopyDropped(): number {
    return this.custody.lastCopyDropped;
  }

  /** This node lost its lease and registered again: it reloads the sessions still in its custody (SessionCustody.reload). */
  reloadCustody(): Promise<void> {
    return this.custody.reload();
  }

  // --- connections and sessions --------------------------------------------------------------------------

  addConnection(conn: Connection): void {
    this.connections.add(conn);
    this.stats.connectionsTotal++;
  }

  /**
   * Authentication passed. A session owned by another identity is refused with 0x05 before anything is touched
   * (here, and atomically in the store's claim for other nodes and races). Takes over a connection attached to the
   * same client id [MQTT-3.1.4-2], claims the session in the store (discarding it when clean [MQTT-3.1.2-6],
   * resuming it otherwise [MQTT-3.1.2-4]), re-checks restored subscriptions against the client's current rules,
   * sends CONNACK with session present [MQTT-3.2.2-1..3], then re-sends what is in flight and drains the queue.
   * A persistent session that cannot be claimed (store unreachable, `maxSessions` reached) is refused with 0x03.
   */
  connectSession(conn: Connection, clientId: string, terms: SessionTerms, identity: string): Promise<void> {
    return this.lifecycle.connect(conn, clientId, terms, identity);
  }

  /** A listener could not accept a connection: logged (broker/logging.ts); libuv dropped it, nothing else to do. */
  onAcceptFailed(transport: Transport, err: Error): void {
    this.emit("listener.acceptFailed", transport, err);
  }

  onConnectRefused(conn: Connection, returnCode: number, reason: string): void {
    this.stats.connectionsRefused++;
    this.emit("client.refused", conn, returnCode, reason);
  }

  /** Called once per connection when it closes, for whatever reason. */
  onConnectionClosed(conn: Connection, reason: CloseReason, err: Error | undefined): void {
    this.connections.delete(conn);
    this.lifecycle.closed(conn, reason, err);
  }

  // --- publishing ----------------------------------------------------------------------------------------

  /** Routes a message published on this node (Publisher.publish); returns the matched session count. */
  publish(msg: Message): number {
    return this.publisher.publish(msg);
  }

  /**
   * A message another node sent here for one member of group `key` (decision 026). False when this node has no
   * member of it any more (the caller tries another node).
   */
  deliverSharedHere(key: string, msg: Message): boolean {
    return this.router.deliverShared(key, msg);
  }

  /**
   * Delivers a message to the matching sessions of this node only (a publish, or a message another node
   * forwarded here). `only`: just these sessions (a dead node's queue, drained: its former sessions that moved
   * here), and with `orStored` also every persistent session that gets it at QoS >= 1. A drained message is late:
   * a session may have moved more than once since the dead node held it (and the nodes that saw it move may have
   * died too), so "moved here from the dead node" does not find them all. A delivery to a persistent session at
   * QoS >= 1 goes through the store under the message's dedup id, which every copy of one publish shares: a
   * session that had it already is refused as a duplicate (decision 023).
   */
  routeLocal(msg: Message, only: ReadonlySet<string> | null = null, orStored = false, shared: "deliver" | "skip" | SharedGroup[] = "deliver"): number {
    return this.router.route(msg, only, orStored, shared);
  }

  // --- the REST gateway in this process (functions/backend-local.ts) -------------------------------------

  /** A publish from outside MQTT, resolved once every store write it caused is durable (Publisher.external). */
  publishExternal(msg: Message): Promise<number> {
    return this.publisher.external(msg);
  }

  /** Deletes a retained message without publishing anything; resolves once durable with whether it existed. */
  deleteRetained(topic: string): Promise<boolean> {
    return this.retained.delete(topic);
  }

  /**
   * Closes the connection of `clientId` (also one still connecting) on this node, reason "kicked". False if it
   * had none here (in a cluster, the REST gateway then asks the node the store names: Cluster.kickRemote).
   */
  disconnectClient(clientId: string): boolean {
    const conn = this.registry.connectionOf(clientId);
    if (conn === null || conn.isClosed) return false;
    conn.close("kicked");
    return true;
  }

  /** Forgets an offline session in memory (trie included) and deletes it from the store once earlier writes landed. */
  async discardSession(clientId: string): Promise<boolean> {
    const session = this.sessions.get(clientId);
    if (session !== undefined) {
      if (session.servedHere) return false;
      this.registry.drop(session);
    }
    await this.journal.barrier();
    const snapshot = this.cluster !== null ? await this.store.getSession(clientId) : null;
    const custodian = this.cluster !== null ? await this.store.custodianOf(clientId) : null;
    const deleted = await this.store.deleteSession(clientId);
    // The node that kept it offline drops its copy and its routes.
    if (deleted && snapshot !== null && custodian !== null) this.cluster?.sessionGone(clientId, snapshot.epoch, custodian);
    return deleted;
  }

  /**
   * The store deleted an expired session (this node's sweep, broker/expiry.ts): forget it here unless a client is
   * attached or claiming it (a claim that raced the expiry made a new session), tell the other nodes, report it.
   */
  sessionExpired(expired: ExpiredSession): void {
    this.registry.forgetOffline(expired.clientId);
    this.stats.sessionsExpired++;
    // Its custodian is not recorded any more: every node is told (expiries are few, and batched per sweep).
    this.cluster?.sessionGone(expired.clientId, expired.epoch, null);
    this.emit("session.expired", expired.clientId, expired.username);
  }

  // --- the cluster (broker/cluster.ts) -----------------------------------------------------------------------

  get clustered(): boolean {
    return this.cluster !== null;
  }

  onIdleStateMade(): void {
    this.idleTrim.watch();
  }

  /** A delivery for a session owned by another node, with the RETAIN flag and Subscription Identifiers it was matched with. */
  forward(session: Session, node: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void {
    if (this.cluster === null) return;
    // The store names this node: a newer claim here holds the session (decision 020).
    if (node === this.cluster.nodeId && session.servedHere) session.deliver(msg, qos, retain, subIds);
    else this.cluster.forward(session.clientId, node, msg, qos, retain, subIds);
  }

  /**
   * A kick from another node or the REST gateway. A take-over kick only closes a connection of an older claim;
   * `sessionEnded`: the take-over was a Clean Start.
   */
  kickLocal(clientId: string, reason: "takeover" | "kicked", epoch: number | null, discardSession: boolean, claimedBy: string | null = null, sessionEnded = false): [number, string][] {
    return this.custody.kicked(clientId, reason, epoch, discardSession, claimedBy, sessionEnded);
  }

  /** Subscriptions changed through the REST gateway (Subscriptions.applyRemote). */
  applyRemoteSubscriptions(clientId: string, add: Record<string, QoS>, remove: string[], deliverRetained: boolean): void {
    // Sent to the session's custodian; one that moved on meanwhile loaded the change from the store when claimed.
    const session = this.sessions.get(clientId);
    if (session !== undefined) this.subscriptions.applyRemote(session, add, remove, deliverRetained);
  }

  /** Closes every client connection (the node lost its place in the cluster; clients reconnect and claim again). */
  closeConnections(reason: CloseReason): void {
    for (const conn of [...this.connections]) conn.close(reason);
  }

  // --- counters and events ------------------------------------------------------------------------------

  /** A message withheld by exact authorization (docs/auth.md): counted, no event (a `#` subscriber would flood them). */
  onDeliveryDenied(_session: Session, _msg: Message): void {
    this.stats.deliveriesDenied++;
  }

  onDrop(session: Session | null, msg: Message, reason: DropReason): void {
    this.stats.dropped[reason]++;
    this.emit("message.dropped", session?.clientId ?? null, msg, reason);
  }
}
