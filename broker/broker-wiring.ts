import { EventEmitter } from "node:events";
import type { QoS } from "mqtt-packet";
import type { Auth } from "../core/auth/types.js";
import type { MqgateConfig } from "../core/config/types.js";
import { compileClientIdPattern } from "../core/auth/identity.js";
import type { RetainedStats, Store } from "../core/store/types.js";
import type { TopicLimits } from "../core/topic/index.js";
import { AddressLimits } from "./address-limits.js";
import type { BrokerEvents, BrokerOptions, RemoteRoutes } from "./broker-types.js";
import type { Cluster } from "./cluster.js";
import type { Connection } from "./connection.js";
import { SessionCustody } from "./custody.js";
import { DelayedWills } from "./delayed-wills.js";
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
import { closeAll, SessionReleases } from "./shutdown.js";
import { BrokerStats } from "./stats.js";
import { SubscriptionIndex } from "./subscription-index.js";
import { Subscriptions } from "./subscriptions.js";
import type { CloseReason, DropReason, Message } from "./types.js";
import { WillKeeper } from "./will-keeper.js";
import type { WillStore } from "./wills.js";

/**
 * What the broker core is made of: its parts, each in its own module, wired here once per process, and what the
 * composition root (broker/server.ts), start, the stats readers ($SYS, metrics) and shutdown ask of them. The base
 * class of `Broker` (broker/broker.ts), which holds the entry points the connections, the handlers, the cluster and
 * the REST gateway call, and the session host and counters the parts report to (abstract here). A base class, not a
 * part the broker holds: one object as before, so the per-message entry points reach the parts as directly.
 */
export abstract class BrokerWiring extends EventEmitter<BrokerEvents> implements SessionHost {
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
  protected readonly router = new LocalRouter(this.index, this);
  /** Wills from CONNECT to publication or discard. */
  private readonly wills = new WillKeeper(this.delayedWills, () => this.now(), (conn, session, will) => this.publisher.will(conn, session, will));
  /** RETAIN publishes written to the store, and retained matches streamed to new subscriptions. */
  protected readonly retained: RetainedMessages;
  /** The offline sessions held here, loaded and reloaded from the store, and copies of those that moved. */
  protected readonly custody: SessionCustody;
  /** CONNECT's claims in the store, and the take-over kicks around them. */
  private readonly claims: SessionClaims;
  /** Sessions handed back to the store as their connections end (shutdown waits for them). */
  private readonly releases: SessionReleases;
  /** The sessions held here: created, restored, held offline and dropped. */
  protected readonly registry: SessionRegistry;
  /** A connection attached to its session at CONNECT, and detached when it closes. */
  protected readonly lifecycle: SessionLifecycle;

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

  // --- the session host and the counters the parts report to, in Broker (broker/broker.ts) ---------------

  abstract get clustered(): boolean;
  abstract onIdleStateMade(): void;
  abstract forward(session: Session, node: string, msg: Message, qos: QoS, retain: boolean, subIds: readonly number[] | undefined): void;
  abstract onDeliveryDenied(session: Session, msg: Message): void;
  abstract onDrop(session: Session | null, msg: Message, reason: DropReason): void;

  // --- start, and what the composition root wires in (broker/server.ts) ----------------------------------

  /**
   * Loads what the store remembers (broker/custody.ts): persistent sessions, offline. Retained messages stay in
   * the store: subscriptions read them through its index.
   */
  async start(): Promise<void> {
    await this.custody.load(this.cluster !== null);
    await this.retained.loadStats();
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

  /** Whether a new socket may be accepted under `maxConnections`. */
  canAccept(): boolean {
    return this.connections.size < this.config.limits.maxConnections && this.acceptGate();
  }

  /** Wired at the composition root (broker/server.ts): where wills are kept, and when to accept connections. */
  useWills(wills: WillStore, acceptGate: () => boolean): void {
    this.wills.use(wills);
    this.acceptGate = acceptGate;
  }

  // --- read by $SYS and the metrics (broker/sys.ts, broker/metrics-broker.ts) ----------------------------

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

  // --- shutdown ------------------------------------------------------------------------------------------

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
