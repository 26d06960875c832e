import { EventEmitter } from "node:events";
import type { QoS } from "mqtt-packet";
import type { Auth } from "../core/auth/types.js";
import type { MqgateConfig } from "../core/config/types.js";
import { compileClientIdPattern } from "../core/auth/identity.js";
import type { ExpiredSession, RetainedStats, SessionSnapshot, Store } from "../core/store/types.js";
import type { SubscriptionWord } from "../core/subscription-word.js";
import type { TopicLimits } from "../core/topic/index.js";
import { AddressLimits } from "./address-limits.js";
import type { BrokerEvents, BrokerOptions, RemoteRoutes } from "./broker-types.js";
import type { Cluster } from "./cluster.js";
import type { Connection, Transport } from "./connection.js";
import { SessionCustody } from "./custody.js";
import { DelayedWills } from "./delayed-wills.js";
import type { SessionTerms } from "./handlers/connect5.js";
import { Journal } from "./journal.js";
import { IdleTrim } from "./idle-trim.js";
import { KeepaliveSweep } from "./keepalive-sweep.js";
import { LocalRouter } from "./local-routing.js";
import { Publisher } from "./publishing.js";
import { RetainedMessages } from "./retained-messages.js";
import type { Session } from "./session.js";
import { SessionClaims } from "./session-claim.js";
import { SessionLifecycle } from "./session-lifecycle.js";
import type { SessionHost } from "./session-ports.js";
import { SessionRegistry } from "./session-registry.js";
import type { SharedGroup } from "./shared.js";
import { closeAll, SessionReleases } from "./shutdown.js";
import { BrokerStats } from "./stats.js";
import { SubscriptionIndex } from "./subscription-index.js";
import { Subscriptions } from "./subscriptions.js";
import type { CloseReason, DropReason, Message } from "./types.js";
import { WillKeeper } from "./will-keeper.js";
import type { WillStore } from "./wills.js";

export type { BrokerEvents, BrokerOptions, PublishAdmission, RemoteRoutes } from "./broker-types.js";

/**
 * The broker core: the sessions this node holds (their connection, claim and release), publish, and the entry
 * points other modules call. Transport-agnostic: listeners hand it Connections; handlers call into it. Its parts
 * live in their own modules (session registry and lifecycle, subscription index and changes, publishing and
 * routing, retained, custody, claims, wills, releases) and change sessions only through the sessions' methods.
 */
export class Broker extends EventEmitter<BrokerEvents> implements SessionHost {
  readonly stats = new BrokerStats();
  /** The sessions this node holds, by client id (SessionRegistry's map: read here, changed there). */
  readonly sessions: ReadonlyMap<string, Session>;
  readonly connections = new Set<Connection>();
  /** Keepalive of every connection, one periodic sweep over `connections` (decision 033). */
  readonly keepalives: KeepaliveSweep;
  /** Outboxes idle for a pass given back, one sweep over `sessions` in slices (decision 052). */
  readonly idleTrim: IdleTrim;
  /** Per source address limits, checked by the listeners at accept. */
  readonly addressLimits: AddressLimits;
  readonly topicLimits: TopicLimits;
  readonly journal: Journal;
  readonly now: () => number;
  /** `auth.clientIdPattern`: whether a user may use a client id (always true without a pattern). */
  readonly clientIdAllowed: (clientId: string, username: string | undefined) => boolean;
  /** Membership of a cluster (`joinCluster`), or null for a single node. */
  private membership: Cluster | null = null;
  /** Whether new connections may be accepted besides `maxConnections` (a cluster node: while its lease holds). */
  private acceptGate: () => boolean = () => true;
  /** MQTT 5 wills waiting out their Will Delay Interval. */
  readonly delayedWills = new DelayedWills();

  /** Publishes from clients, wills, the REST gateway and other nodes: authorized, counted, retained, routed. */
  readonly publisher: Publisher;
  /** Subscription changes: SUBSCRIBE, UNSUBSCRIBE, the REST gateway, a new policy. */
  readonly subscriptions: Subscriptions;

  // The parts of the core, each in its own module; they change sessions only through the sessions' methods.
  /** The subscriptions of the sessions held here. */
  private readonly index = new SubscriptionIndex(this);
  /** Routing a message to the sessions held here. */
  private readonly router = new LocalRouter(this.index, this);
  /** Wills from CONNECT to publication or discard. */
  private readonly wills = new WillKeeper(this.delayedWills, () => this.now(), (conn, session, will) => this.publisher.will(conn, session, will));
  /** RETAIN publishes written to the store, and retained matches streamed to new subscriptions. */
  private readonly retained: RetainedMessages;
  /** The offline sessions held here, loaded and reloaded from the store, and copies of those that moved. */
  private readonly custody: SessionCustody;
  /** CONNECT's claims in the store, and the take-over kicks around them. */
  private readonly claims: SessionClaims;
  /** Sessions handed back to the store as their connections end (shutdown waits for them). */
  private readonly releases: SessionReleases;
  /** The sessions held here: created, restored, held offline and dropped. */
  private readonly registry: SessionRegistry;
  /** A connection attached to its session at CONNECT, and detached when it closes. */
  private readonly lifecycle: SessionLifecycle;

  constructor(
    readonly config: MqgateConfig,
    readonly auth: Auth,
    readonly store: Store,
    options: BrokerOptions = {},
  ) {
    super();
    this.now = options.now ?? Date.now;
    this.registry = new SessionRegistry(config.limits, this, this.index);
    this.sessions = this.registry.sessions;
    this.keepalives = new KeepaliveSweep(() => this.connections, options.keepaliveClock === undefined ? {} : { clock: options.keepaliveClock });
    this.idleTrim = new IdleTrim(() => this.sessions.values());
    const pattern = config.auth.clientIdPattern;
    this.clientIdAllowed = pattern === undefined ? () => true : compileClientIdPattern(pattern);
    this.addressLimits = new AddressLimits(config.limits);
    this.topicLimits = { maxTopicLength: config.limits.maxTopicLength, maxTopicLevels: config.limits.maxTopicLevels };
    this.journal = new Journal(store, {
      onStoreError: (err, attempt) => this.emit("store.error", "apply", err, attempt),
      onStoreRecovered: () => this.emit("store.recovered"),
      onStall: (batchId, waitedMs, pending) => this.emit("journal.stalled", batchId, waitedMs, pending),
    });
    this.retained = new RetainedMessages(store, this.journal, config, () => this.now(), {
      onDeliveryDenied: (session, msg) => this.onDeliveryDenied(session, msg),
      onDrop: (session, msg, reason) => this.onDrop(session, msg, reason),
      onStoreError: (operation, err) => this.emit("store.error", operation, err, 1),
    });
    this.publisher = new Publisher({ router: this.router, retained: this.retained, journal: this.journal, stats: this.stats, events: this, host: this, now: this.now });
    this.subscriptions = new Subscriptions({ index: this.index, store, retained: this.retained, events: this, host: this });
    this.releases = new SessionReleases(this.journal, store, () => this.now(), (err) => this.emit("store.error", "releaseSession", err, 1));
    this.claims = new SessionClaims({
      store,
      journal: this.journal,
      config,
      wills: this.wills,
      now: () => this.now(),
      cluster: () => this.cluster,
      onStoreError: (operation, err, attempt) => this.emit("store.error", operation, err, attempt),
    });
    this.custody = new SessionCustody(store, config, () => this.now(), {
      sessions: this.sessions,
      delayedWills: this.delayedWills,
      restoreOffline: (record) => this.registry.restoreOffline(record),
      holdOffline: (snapshot) => this.registry.holdOffline(snapshot),
      restoreSubscription: (session, filter, word) => this.index.add(session, filter, word),
      dropSession: (session) => this.registry.drop(session),
      leaseHeld: () => this.acceptGate(),
      takeResends: (clientId, epoch) => this.lifecycle.takeResends(clientId, epoch),
    });
    this.lifecycle = new SessionLifecycle({
      registry: this.registry,
      index: this.index,
      claims: this.claims,
      wills: this.wills,
      releases: this.releases,
      delayedWills: this.delayedWills,
      stats: this.stats,
      events: this,
      recheck: this.subscriptions,
      handBack: (entries, session) => this.publisher.handBack(entries, session),
    });
  }

  /**
   * Loads what the store remembers (broker/custody.ts): persistent sessions, offline. Retained messages stay in
   * the store: subscriptions read them through its index.
   */
  async start(): Promise<void> {
    await this.custody.load(this.cluster !== null);
    await this.retained.loadStats();
  }

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

  /** Membership of a cluster (SQS communicator and a shared store), or null for a single node. */
  get cluster(): Cluster | null {
    return this.membership;
  }

  /** This node is a member of `cluster` (wired at the composition root, broker/server.ts); once, before `start()`. */
  joinCluster(cluster: Cluster): void {
    this.membership = cluster;
  }

  /** Installs the cluster's route table (broker/routes.ts); once, before `start()`. */
  useRemoteRoutes(routes: RemoteRoutes): void {
    this.publisher.useRemoteRoutes(routes);
    this.index.useRoutes(routes);
  }

  /** The cluster's retained set as last read from the store (`refreshRetainedStats`); the store holds the messages. */
  get retainedStats(): RetainedStats {
    return this.retained.stats;
  }

  /** Reads the retained set's size from the store again when the last read is older than a few seconds. */
  refreshRetainedStats(): void {
    this.retained.refreshStats();
  }

  /** Sessions with a connection here, and offline ones; sessions another cluster node holds are its to count. */
  sessionCounts(): { connected: number; offline: number } {
    return this.registry.counts();
  }

  get subscriptionCount(): number {
    return this.index.size;
  }

  // --- connections and sessions --------------------------------------------------------------------------

  /** Whether a new socket may be accepted under `maxConnections`. */
  canAccept(): boolean {
    return this.connections.size < this.config.limits.maxConnections && this.acceptGate();
  }

  /** Wired at the composition root (broker/server.ts): where wills are kept, and when to accept connections. */
  useWills(wills: WillStore, acceptGate: () => boolean): void {
    this.wills.use(wills);
    this.acceptGate = acceptGate;
  }

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

  // --- shutdown -----------------------------------------------------------------------------------------

  /**
   * Closes every connection (shutdown), then waits for the store writes and session releases to land (the journal
   * stays open: `closeJournal()` after the cluster stopped). Many connections are closed in batches (closeBatches).
   */
  closeAll(reason: CloseReason, drainMs = 5000): Promise<void> {
    return closeAll({ connections: this.connections, delayedWills: this.delayedWills, journal: this.journal, releases: this.releases }, reason, drainMs);
  }

  /** Last step of a shutdown: waits (bounded) for pending writes, then refuses further ones. */
  async closeJournal(drainMs: number): Promise<void> {
    this.idleTrim.stop();
    await this.journal.drain(drainMs);
    this.journal.close();
  }
}
