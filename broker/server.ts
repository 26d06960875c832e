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
import { CredentialExpiry } from "./auth-expiry.js";
import { IdentitySync } from "./identity-sync.js";
import type { EventBufferStats } from "./event-buffer.js";
import { attachEvents, type EventBridge } from "./events.js";
import { type Listener, startListeners } from "./listeners.js";
import { BrokerMetrics, type MetricsListener, startMetricsListener } from "./metrics.js";
import { SysPublisher } from "./sys.js";

const NO_EVENTS: EventBufferStats = { events: 0, bytes: 0, dropped: { "buffer-full": 0, invalid: 0, "too-large": 0, shutdown: 0 } };

/** What connects a broker to the rest of a cluster; both optional (a single node needs neither). */
export interface BrokerParts {
  /** Node queues (SQS, or in-process for tests): makes this broker a cluster node. Stopped by close(). */
  communicator?: Communicator | null;
  /** The events queue. Closed (flushed) by close(). */
  events?: EventSink | null;
}

export interface RunningBroker {
  readonly broker: Broker;
  /** Cluster membership, or null for a single node. */
  readonly cluster: Cluster | null;
  /** The bridge to the events queue (parts.events), or null. */
  readonly events: EventBridge | null;
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
  // Metrics time the store calls through a wrapper; without a metrics listener the broker gets the store as is.
  const metrics = config.metrics.port !== null ? new BrokerMetrics() : null;
  const broker = new Broker(config, auth, metrics?.instrument(store) ?? store);
  metrics?.observe(broker);
  let cluster: Cluster | null = null;
  let events: EventBridge | null = null;
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
  if (parts.communicator !== undefined && parts.communicator !== null) {
    const bridge = events;
    cluster = new Cluster(
      broker,
      metrics?.instrumentCommunicator(parts.communicator) ?? parts.communicator,
      {
        nodeId: config.nodeId,
        address: config.cluster.address ?? `${hostname()}:${config.mqtt.port ?? 0}`,
        heartbeatMs: config.cluster.heartbeatMs,
        nodeTtlMs: config.cluster.nodeTtlMs,
        resyncMs: config.cluster.resyncMs,
      },
      {
        onError: (operation, err) => broker.emit("cluster.error", operation, err),
        onSessionLost: (clientId, username) => bridge?.sessionLost(clientId, username),
        onNodeRemoved: (nodeId, sessions, drained) => broker.emit("cluster.node-removed", nodeId, sessions, drained),
      },
    );
    broker.cluster = cluster;
    // Registered before the state is loaded: whatever a node writes after this, it also tells this node.
    await cluster.start();
  }
  await broker.start();
  cluster?.loadedState();
  // Users and roles in the store take effect on live connections (issue 15).
  const chain = auth instanceof AuthChain && auth.storeBackend !== undefined ? auth : null;
  const identitySync = chain === null ? null : new IdentitySync(broker, chain, store, config.auth.syncIntervalMs ?? AUTH_CACHE_DEFAULTS.syncIntervalMs);
  await identitySync?.start();
  // Connections whose credentials carry an expiry (a JWT's exp) are closed when it passes.
  const expiry = auth instanceof AuthChain ? new CredentialExpiry(broker, auth) : null;
  const listeners = await startListeners(broker, config);
  const mqttListener = listeners.find((l) => l.transport === "tcp");
  if (cluster !== null && config.cluster.address === undefined && mqttListener !== undefined) {
    await cluster.setAddress(`${hostname()}:${mqttListener.port}`);
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
  let closed: Promise<void> | null = null;
  return {
    broker,
    cluster,
    events,
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
          await identitySync?.close();
          expiry?.close();
          await http?.close();
          const stopping = Promise.all(listeners.map((l) => l.close()));
          await broker.closeAll("server-shutdown", config.shutdown.drainMs);
          await stopping;
          // Deregistered and the node queue deleted only after the sessions were handed back.
          await cluster?.stop();
          await broker.closeJournal(config.shutdown.drainMs);
          await events?.close();
        } finally {
          // Last, so the load balancer sees "not ready" for the whole drain.
          await ops?.close();
        }
      })();
      return closed;
    },
  };
}
