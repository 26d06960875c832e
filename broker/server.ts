import { hostname } from "node:os";
import { AuthChain, AUTH_CACHE_DEFAULTS } from "../core/auth/chain.js";
import type { Auth } from "../core/auth/types.js";
import type { Communicator } from "../core/communicator/types.js";
import type { EventSink } from "../core/events/sink.js";
import type { MqgateConfig } from "../core/config/types.js";
import { MemoryStore } from "../core/store/memory.js";
import type { Store } from "../core/store/types.js";
import { type LocalApi, startLocalApi } from "../functions/local.js";
import { Broker } from "./broker.js";
import { Cluster } from "./cluster.js";
import type { NodeLinks } from "./link/links.js";
import { registerLinkMetrics } from "./link/metrics.js";
import type { NodeTransport } from "./link/transport.js";
import { LinkCounters } from "./link/types.js";
import { IdentitySync } from "./identity-sync.js";
import { Lease } from "./lease.js";
import { ClusterLease } from "./lease-setup.js";
import type { EventBufferStats } from "./event-buffer.js";
import { EmfExporter } from "./emf.js";
import { attachEvents, type EventBridge } from "./events.js";
import { ExpirySweeper, type ExpirySweepOptions } from "./expiry.js";
import { type Listener, startListeners } from "./listeners.js";
import { BrokerMetrics } from "./metrics.js";
import type { LeaseFigures } from "./metrics-collectors.js";
import { type MetricsListener, startMetricsListener } from "./metrics-listener.js";
import { NodeStatsSampler } from "./node-stats.js";
import { NodePresence } from "./presence.js";
import { RetainedSweeper, type RetainedSweepOptions } from "./retained-sweep.js";
import { VERSION } from "./version.js";
import { SysPublisher } from "./sys.js";

const NO_LEASE: LeaseFigures = { valid: true, losses: 0, willsStored: 0, willsReaped: 0 };
const NO_EVENTS: EventBufferStats = { events: 0, bytes: 0, dropped: { "buffer-full": 0, invalid: 0, "too-large": 0, shutdown: 0 } };

/** What connects a broker to the rest of a cluster; both optional (a single node needs neither). */
export interface BrokerParts {
  /** Node queues (SQS, or in-process for tests): makes this broker a cluster node. Stopped by close(). */
  communicator?: Communicator | null;
  /** The node's fast lane to other nodes (with a communicator only). Closed with the cluster. */
  links?: NodeLinks | null;
  /** The events queue. Closed (flushed) by close(). */
  events?: EventSink | null;
  /** The clock (epoch ms) for session times and expiry; default Date.now. Tests inject one. */
  now?: () => number;
  /** The keepalive sweep's monotonic clock in ms (broker/keepalive-sweep.ts); default performance.now. Tests drive it. */
  keepaliveClock?: () => number;
  /** How often and how much the session expiry sweep works (broker/expiry.ts). */
  expirySweep?: ExpirySweepOptions;
  /** How often and how much the sweep of expired retained messages works (broker/retained-sweep.ts). */
  retainedSweep?: RetainedSweepOptions;
  /** The store lease renewals go to (a connection of their own, decision 019); default: the broker's store. */
  leaseStore?: Store;
  /** Where EMF metric lines go when `config.emf.intervalSeconds` is set (one line per call); default stdout. */
  emfOut?: (line: string) => void;
  /**
   * Plain TCP connections over `net.Socket`, as on a Node without what decision 053's handles need; default false.
   * For the tests of that fallback.
   */
  tcpSockets?: boolean;
}

export interface RunningBroker {
  readonly broker: Broker;
  /** Cluster membership, or null for a single node. */
  readonly cluster: Cluster | null;
  /** The bridge to the events queue (parts.events), or null. */
  readonly events: EventBridge | null;
  /** The session expiry sweep (runs on a timer; `sweep()` runs one now). */
  readonly expiry: ExpirySweeper;
  /** The sweep of expired retained messages (runs on a timer; `sweep()` runs one now). */
  readonly retainedSweep: RetainedSweeper;
  readonly listeners: readonly Listener[];
  /** The REST API served by this process (config.http), or null when its port is off. */
  readonly http: LocalApi | null;
  /** The metrics and health listener (config.metrics: /metrics, /healthz, /readyz), or null when its port is off. */
  readonly metrics: MetricsListener | null;
  /** True from the moment close() is called: readiness answers 503 "draining" from then on. */
  readonly draining: boolean;
  /** Port of the first listener of a transport, for tests and printing. */
  port(transport: Listener["transport"]): number;
  /** Stops accepting, closes every client connection (wills are published) and the listeners. */
  close(): Promise<void>;
}

/**
 * Builds a broker from configuration, loads what the store remembers, and starts its listeners and $SYS
 * publisher. The store defaults to a fresh in-memory one.
 */
export async function startBroker(
  config: MqgateConfig,
  auth: Auth,
  store: Store = new MemoryStore(),
  parts: BrokerParts = {},
): Promise<RunningBroker> {
  // Metrics time the store calls through a wrapper; without a metrics listener or EMF export the broker gets the
  // store as is.
  const metrics = config.metrics.port !== null || config.emf.intervalSeconds > 0 ? new BrokerMetrics() : null;
  const broker = new Broker(config, auth, metrics?.instrument(store) ?? store, {
    ...(parts.now !== undefined ? { now: parts.now } : {}),
    ...(parts.keepaliveClock !== undefined ? { keepaliveClock: parts.keepaliveClock } : {}),
  });
  metrics?.observe(broker);
  let cluster: Cluster | null = null;
  let lease: ClusterLease | null = null;
  let events: EventBridge | null = null;
  // The node's stats snapshot, written with its heartbeat: GET /v1/stats and /v1/nodes show every node.
  const sampler = new NodeStatsSampler(broker, VERSION);
  if (parts.events !== undefined && parts.events !== null) {
    events = attachEvents(broker, metrics?.instrumentEvents(parts.events) ?? parts.events, {
      nodeId: config.nodeId,
      topics: { include: config.events.include, exclude: config.events.exclude },
      maxEvents: config.events.maxBufferedEvents,
      maxBytes: config.events.maxBufferedBytes,
      onError: (err) => broker.emit("cluster.error", "events", err),
      onOverflow: (full, dropped) => broker.emit("events.overflow", full, dropped),
    });
  }
  // The series exist without an events queue too (at 0), like the SQS ones.
  metrics?.observeEvents(events?.buffered ?? NO_EVENTS);
  if (metrics !== null) registerLinkMetrics(metrics.registry, parts.links?.counters ?? new LinkCounters());
  if (parts.communicator !== undefined && parts.communicator !== null) {
    const bridge = events;
    let communicator = metrics?.instrumentCommunicator(parts.communicator) ?? parts.communicator;
    const links = parts.links ?? null;
    const fastLane: { linkAddress?: string; transport?: NodeTransport } = {};
    if (links !== null) {
      // Forwards to other nodes go over links; the same handler takes what arrives by link or by node queue.
      fastLane.linkAddress = await links.listen();
      ({ communicator, transport: fastLane.transport } = links.wrap(communicator, (now) => broker.store.listNodes(now)));
    }
    cluster = new Cluster(
      broker,
      communicator,
      {
        ...fastLane,
        nodeId: config.nodeId,
        address: config.cluster.address ?? `${hostname()}:${config.mqtt.port ?? 0}`,
        heartbeatMs: config.cluster.heartbeatMs,
        nodeTtlMs: config.cluster.nodeTtlMs,
        deadQueueGraceMs: config.cluster.deadQueueGraceMs,
      },
      {
        onError: (operation, err) => broker.emit("cluster.error", operation, err),
        onSessionLost: (clientId, username) => bridge?.sessionLost(clientId, username),
        onNodeRemoved: (nodeId, sessions, drained) => broker.emit("cluster.node-removed", nodeId, sessions, drained),
        onNodeExpired: (node) => lease?.nodeExpired(node) ?? Promise.resolve(),
      },
    );
    broker.joinCluster(cluster);
    lease = new ClusterLease(broker, cluster, config, parts.leaseStore ?? broker.store, sampler);
  }
  // A single node has no lease: it always serves (the series exist at their idle values, like the SQS ones).
  const leased = lease;
  metrics?.observeLease(() => leased?.figures() ?? NO_LEASE);
  // The lease runs from the start of the registration (monotonic clock).
  const registeredAt = Lease.now();
  // Registered before the state is loaded: whatever a node writes after this, it also tells this node.
  await cluster?.start();
  await broker.start();
  await cluster?.loadedState();
  lease?.start(registeredAt);
  // Users and roles in the store take effect on live connections (issue 15).
  const chain = auth instanceof AuthChain && auth.storeBackend !== undefined ? auth : null;
  const identitySync = chain === null ? null : new IdentitySync(broker, chain, store, config.auth.syncIntervalMs ?? AUTH_CACHE_DEFAULTS.syncIntervalMs);
  await identitySync?.start();
  const listeners = await startListeners(broker, config, parts.tcpSockets !== true);
  const mqttListener = listeners.find((l) => l.transport === "tcp");
  if (cluster !== null && config.cluster.address === undefined && mqttListener !== undefined) {
    await cluster.setAddress(`${hostname()}:${mqttListener.port}`);
  }
  // A single node lists itself too (the cluster registers its nodes itself).
  const presence =
    cluster === null
      ? new NodePresence(broker.store, sampler, {
          nodeId: config.nodeId,
          address: config.cluster.address ?? `${hostname()}:${mqttListener?.port ?? config.mqtt.port ?? 0}`,
          heartbeatMs: config.cluster.heartbeatMs,
          nodeTtlMs: config.cluster.nodeTtlMs,
          onError: (err) => broker.emit("cluster.error", "presence", err),
        })
      : null;
  try {
    await presence?.start();
  } catch (err) {
    // A store that is down at start must not stop a single node: the next heartbeat registers it.
    broker.emit("cluster.error", "presence", err as Error);
  }
  let http: LocalApi | null = null;
  let ops: MetricsListener | null = null;
  let draining = false;
  try {
    if (config.http.port !== null) http = await startLocalApi(broker, config);
    if (metrics !== null) ops = await startMetricsListener(config.metrics, metrics, broker, { isDraining: () => draining });
  } catch (err) {
    await http?.close();
    await Promise.all(listeners.map((l) => l.close()));
    throw err;
  }
  const sys = new SysPublisher(broker, config.sysIntervalSeconds);
  sys.start();
  const expiry = new ExpirySweeper(broker, parts.expirySweep);
  expiry.start();
  const retainedSweep = new RetainedSweeper(broker, parts.retainedSweep);
  retainedSweep.start();
  const emfOut = parts.emfOut ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const emf =
    metrics !== null && config.emf.intervalSeconds > 0
      ? new EmfExporter(metrics.registry, {
          namespace: config.emf.namespace,
          cluster: config.emf.cluster,
          node: config.nodeId,
          intervalSeconds: config.emf.intervalSeconds,
          write: emfOut,
          onError: (err) => broker.emit("cluster.error", "emf", err instanceof Error ? err : new Error(String(err))),
        })
      : null;
  emf?.start();
  let closed: Promise<void> | null = null;
  return {
    broker,
    cluster,
    events,
    expiry,
    retainedSweep,
    listeners,
    http,
    metrics: ops,
    get draining() {
      return draining;
    },
    port(transport) {
      const listener = listeners.find((l) => l.transport === transport);
      if (listener === undefined) throw new Error(`no ${transport} listener`);
      return listener.port;
    },
    close() {
      closed ??= (async () => {
        draining = true;
        try {
          sys.stop();
          await expiry.stop();
          await retainedSweep.stop();
          await identitySync?.close();
          await http?.close();
          const stopping = Promise.all(listeners.map((l) => l.close()));
          await broker.closeAll("server-shutdown", config.shutdown.drainMs);
          broker.keepalives.stop();
          await stopping;
          // Deregistered and the node queue deleted only after the sessions were handed back.
          await lease?.stop();
          await cluster?.stop();
          await presence?.stop();
          sampler.stop();
          await broker.closeJournal(config.shutdown.drainMs);
          await events?.close();
          await emf?.stop(); // the last increases of a stopping node
        } finally {
          // Last, so the load balancer sees "not ready" for the whole drain.
          await ops?.close();
        }
      })();
      return closed;
    },
  };
}
