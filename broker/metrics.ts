import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AuthStats } from "../core/auth/types.js";
import type { Communicator, NodeMessage } from "../core/communicator/types.js";
import type { ListenerConfig } from "../core/config/types.js";
import type { EventSink } from "../core/events/sink.js";
import type { Store } from "../core/store/types.js";
import type { EventBufferStats } from "./event-buffer.js";
import type { Broker } from "./broker.js";
import { Readiness, type ReadinessOptions } from "./health.js";
import type { CloseReason, DropReason } from "./types.js";

/**
 * Prometheus metrics of one broker process, on their own registry (never prom-client's global one), served with
 * the health endpoints on the metrics listener (`config.metrics`). See docs/operations.md for the reference.
 *
 * The hot path never touches prom-client: the broker counts with plain number increments (BrokerStats) and the
 * metrics read those counters, and sum over the sessions, at scrape time in `collect()` callbacks. What is
 * observed directly is per store call (one `apply` is one journal batch, not one message) and per refused
 * connection. No label carries a client id, a user name or a topic.
 */

/** CONNACK refusal codes as metric label values; `max-connections` is a socket closed before its CONNECT. */
const REFUSAL_REASONS = ["", "unacceptable-protocol-version", "identifier-rejected", "server-unavailable", "bad-username-or-password", "not-authorized"] as const;
const DROP_REASONS: readonly DropReason[] = ["queue-full", "slow-consumer", "not-authorized", "retained-limit", "session-busy", "expired", "too-large", "no-subscriber"];
const CLOSE_REASONS: readonly CloseReason[] = [
  "client-disconnect", "client-disconnect-with-will", "socket-closed", "socket-error", "protocol-error", "keepalive-timeout", "connect-timeout",
  "takeover", "kicked", "packet-too-large", "not-authorized", "server-shutdown", "limit-exceeded",
];
const QOS_LABELS = ["0", "1", "2"] as const;
const NO_AUTH_STATS: AuthStats = Object.freeze({
  pending: 0, running: 0, sources: 0, completed: 0, rejectedFull: 0, rejectedWait: 0, shed: 0, cancelled: 0,
  averageRunMs: 0, cacheHits: 0, cacheMisses: 0, cacheEntries: 0,
});
/** Seconds; from a local Redis (sub-millisecond) to a store call that times out (10 s). */
const STORE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** SQS sends take milliseconds to tens of milliseconds; retries push them to seconds. */
const SQS_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Store calls of a running broker (journal batches, session claims and releases, SUBSCRIBE, the readiness probe). */
const BROKER_STORE_CALLS = ["apply", "claimSession", "releaseSession", "updateSubscriptions", "ping"] as const;

type AnyFn = (...args: unknown[]) => unknown;
type Observe = (seconds: number) => void;

/** The registry, the store instrumentation and the collectors that read a broker at scrape time. */
/** What `observeLease` reads (broker/lease-setup.ts). */
export interface LeaseFigures {
  valid: boolean;
  losses: number;
  willsStored: number;
  willsReaped: number;
}

export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly storeDuration: Histogram<"operation">;
  private readonly storeErrors: Counter<"operation">;
  private readonly storeBatchOps: Counter;
  private readonly sqsDuration: Histogram<"operation">;
  private readonly sqsErrors: Counter<"operation">;
  private readonly timers = new Map<string, Observe>();
  /** Told how every store call ended (readiness); `err` is only meaningful when `ok` is false. */
  private onStoreCall: ((operation: string, ok: boolean, err: unknown) => void) | null = null;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "mqgate_" });
    const registers = [this.registry];
    this.storeDuration = new Histogram({
      name: "mqgate_store_call_duration_seconds",
      help: "Duration of the store calls of this process, by operation; operation=\"apply\" is one journal batch of writes",
      labelNames: ["operation"],
      buckets: STORE_BUCKETS,
      registers,
    });
    this.storeErrors = new Counter({
      name: "mqgate_store_call_errors_total",
      help: "Store calls that failed, by operation (a failed journal batch is retried and counts once per attempt)",
      labelNames: ["operation"],
      registers,
    });
    // The calls the broker makes by itself have their series from the start (rate() and alerts need no warm-up).
    for (const operation of BROKER_STORE_CALLS) {
      this.storeDuration.zero({ operation });
      this.storeErrors.inc({ operation }, 0);
    }
    this.storeBatchOps = new Counter({
      name: "mqgate_store_batch_ops_total",
      help: "Writes sent to the store in journal batches (apply calls, retries included)",
      registers,
    });
    this.sqsDuration = new Histogram({
      name: "mqgate_sqs_call_duration_seconds",
      help: "Duration of sends to SQS until accepted (SDK and own retries included), by operation: node-send (to another node's queue), events-send (to the events queue)",
      labelNames: ["operation"],
      buckets: SQS_BUCKETS,
      registers,
    });
    this.sqsErrors = new Counter({
      name: "mqgate_sqs_call_errors_total",
      help: "Sends to SQS that failed after their retries, by operation",
      labelNames: ["operation"],
      registers,
    });
    for (const operation of ["node-send", "events-send"]) {
      this.sqsDuration.zero({ operation });
      this.sqsErrors.inc({ operation }, 0);
    }
  }

  /** Times the sends of a communicator (node-send) in mqgate_sqs_call_duration_seconds. */
  instrumentCommunicator(communicator: Communicator): Communicator {
    const c = communicator;
    return {
      kind: c.kind,
      start: (nodeId, handler) => c.start(nodeId, handler),
      send: (nodeId: string, messages: NodeMessage[]) => this.timeSqs("node-send", c.send(nodeId, messages)),
      stop: (opts) => c.stop(opts),
      drainQueue: (nodeId, handler) => c.drainQueue(nodeId, handler),
      deleteNodeQueue: (nodeId) => c.deleteNodeQueue(nodeId),
    };
  }

  /** Times the emits of an event sink (events-send) in mqgate_sqs_call_duration_seconds. */
  instrumentEvents(sink: EventSink): EventSink {
    return { emit: (events) => this.timeSqs("events-send", sink.emit(events)), close: () => sink.close() };
  }

  private timeSqs<T>(operation: string, call: Promise<T>): Promise<T> {
    const started = performance.now();
    return call.then(
      (value) => {
        this.sqsDuration.observe({ operation }, (performance.now() - started) / 1000);
        return value;
      },
      (err: unknown) => {
        this.sqsDuration.observe({ operation }, (performance.now() - started) / 1000);
        this.sqsErrors.inc({ operation });
        throw err;
      },
    );
  }

  /** From now on every store call's end is reported to `onStoreCall` (the readiness probe), or to nothing (null). */
  reportStoreCalls(onStoreCall: ((operation: string, ok: boolean, err: unknown) => void) | null): void {
    this.onStoreCall = onStoreCall;
  }

  /**
   * The store seen through a timer: every call is observed in `mqgate_store_call_duration_seconds` (one
   * observation per call, so one per journal batch) and reported to `onStoreCall` (`reportStoreCalls`). Methods run on the original
   * object; properties read through.
   */
  instrument(store: Store): Store {
    const wrapped = new Map<PropertyKey, unknown>();
    return new Proxy(store, {
      get: (target, prop) => {
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        let fn = wrapped.get(prop);
        if (fn === undefined) {
          const bound = (value as AnyFn).bind(target) as AnyFn;
          fn = typeof prop === "string" && prop !== "close" && prop !== "constructor" ? this.timed(prop, bound) : bound;
          wrapped.set(prop, fn);
        }
        return fn;
      },
    });
  }

  private timed(operation: string, call: AnyFn): AnyFn {
    const isApply = operation === "apply";
    return (...args: unknown[]): unknown => {
      const started = performance.now();
      if (isApply && Array.isArray(args[0])) this.storeBatchOps.inc(args[0].length);
      let result: unknown;
      try {
        result = call(...args);
      } catch (err) {
        this.ended(operation, started, false, err);
        throw err;
      }
      if (!(result instanceof Promise)) return result;
      return result.then(
        (value: unknown) => {
          this.ended(operation, started, true, null);
          return value;
        },
        (err: unknown) => {
          this.ended(operation, started, false, err);
          throw err;
        },
      );
    };
  }

  private ended(operation: string, started: number, ok: boolean, err: unknown): void {
    let observe = this.timers.get(operation);
    if (observe === undefined) {
      const child = this.storeDuration.labels(operation);
      observe = (seconds) => child.observe(seconds);
      this.timers.set(operation, observe);
    }
    observe((performance.now() - started) / 1000);
    if (!ok) this.storeErrors.inc({ operation });
    // The readiness probe judges its own pings (a ping answers false instead of failing).
    if (operation !== "ping") this.onStoreCall?.(operation, ok, err);
  }

  /** The password checks (queue and cache, decision 010); zeros for a backend that hashes nothing (allow-all). */
  private observeAuth(broker: Broker): void {
    const registers = [this.registry];
    const read = (): AuthStats | undefined => broker.auth.stats?.();
    const gauge = (name: string, help: string, get: (s: AuthStats) => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(get(read() ?? NO_AUTH_STATS)); } });
    };
    gauge("mqgate_auth_pending", "Password checks waiting in the authentication queue", (s) => s.pending);
    gauge("mqgate_auth_running", "Password hashes being computed (at most auth.hashConcurrency)", (s) => s.running);
    gauge("mqgate_auth_hash_seconds", "Moving average of one password check's run time, until its callback ran (a busy event loop shows here too)", (s) => s.averageRunMs / 1000);
    gauge("mqgate_auth_cache_entries", "Successful password checks remembered (auth.cacheSeconds)", (s) => s.cacheEntries);
    new Counter({
      name: "mqgate_auth_checks_total",
      help: "Password hashes computed (decoy checks for unknown user names included)",
      registers,
      collect() { this.reset(); this.inc((read() ?? NO_AUTH_STATS).completed); },
    });
    new Counter({
      name: "mqgate_auth_refused_total",
      help: "CONNECTs answered 0x03 by the authentication queue: queue-full, shed (dropped for a less busy address), wait-too-long",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        const s = read() ?? NO_AUTH_STATS;
        this.inc({ reason: "queue-full" }, s.rejectedFull);
        this.inc({ reason: "shed" }, s.shed);
        this.inc({ reason: "wait-too-long" }, s.rejectedWait);
      },
    });
    new Counter({
      name: "mqgate_auth_cancelled_total",
      help: "Queued password checks dropped because the connection closed first",
      registers,
      collect() { this.reset(); this.inc((read() ?? NO_AUTH_STATS).cancelled); },
    });
    new Counter({
      name: "mqgate_auth_cache_hits_total",
      help: "Password checks answered from the cache of successful checks (no hash computed)",
      registers,
      collect() { this.reset(); this.inc((read() ?? NO_AUTH_STATS).cacheHits); },
    });
    new Counter({
      name: "mqgate_auth_cache_misses_total",
      help: "Password checks of known users not found in the cache (a hash is computed)",
      registers,
      collect() { this.reset(); this.inc((read() ?? NO_AUTH_STATS).cacheMisses); },
    });
  }

  /**
   * Registers the collectors that read `broker` at scrape time, and listens for refused connections. Once per
   * registry, before the broker's listeners accept anything.
   */
  observe(broker: Broker): void {
    const registers = [this.registry];
    const stats = broker.stats;
    // Refusals with a CONNACK code are counted from the (cold) refusal event; the rest of stats.connectionsRefused
    // are sockets closed at accept because maxConnections was reached.
    const refusedByCode = [0, 0, 0, 0, 0, 0];
    broker.on("client.refused", (_conn, returnCode) => {
      if (returnCode >= 1 && returnCode <= 5) refusedByCode[returnCode] = (refusedByCode[returnCode] ?? 0) + 1;
    });

    // Closed connections by reason, from the (cold) close events: connected clients and sockets that never got
    // as far as a session (connect timeouts, refusals, malformed CONNECTs).
    const closedBy: Record<string, number> = {};
    for (const reason of CLOSE_REASONS) closedBy[reason] = 0;
    const onClosed = (reason: CloseReason): void => {
      closedBy[reason] = (closedBy[reason] ?? 0) + 1;
    };
    broker.on("client.disconnected", (_clientId, reason) => onClosed(reason));
    broker.on("connection.closed", (_conn, reason) => onClosed(reason));

    const counter = (name: string, help: string, read: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    };
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };

    gauge("mqgate_connections", "Open client connections (sockets), including those that have not completed CONNECT", () => broker.connections.size);
    counter("mqgate_connections_total", "Client connections accepted since start", () => stats.connectionsTotal);
    new Counter({
      name: "mqgate_connections_refused_total",
      help: "Connections refused, by reason: a CONNACK refusal code, or closed at accept: max-connections, address-connections (per-address limit), address-rate (per-address rate)",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        let withCode = 0;
        for (let code = 1; code <= 5; code++) {
          const n = refusedByCode[code] ?? 0;
          withCode += n;
          this.inc({ reason: REFUSAL_REASONS[code] }, n);
        }
        const byAddress = broker.addressLimits.refusals();
        this.inc({ reason: "address-connections" }, byAddress["address-connections"]);
        this.inc({ reason: "address-rate" }, byAddress["address-rate"]);
        const atAccept = byAddress["address-connections"] + byAddress["address-rate"];
        this.inc({ reason: "max-connections" }, Math.max(0, stats.connectionsRefused - withCode - atAccept));
      },
    });
    new Counter({
      name: "mqgate_sessions_refused_total",
      help: "CONNECTs refused over their session: identity (another identity owns it, 0x05), client-id (auth.clientIdPattern, 0x05), session-limit (limits.maxSessions, 0x03)",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(stats.sessionsRefused)) this.inc({ reason }, n);
      },
    });
    counter("mqgate_sessions_expired_total", "Offline sessions this node deleted after limits.sessionExpirySeconds", () => stats.sessionsExpired);
    counter("mqgate_retained_expired_total", "Expired retained messages (MQTT 5 Message Expiry Interval) this node's sweep deleted", () => stats.retainedExpired);
    new Counter({
      name: "mqgate_disconnections_total",
      help: "Client connections closed, by reason (client-disconnect, keepalive-timeout, takeover, server-shutdown, ...)",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(closedBy)) this.inc({ reason }, n);
      },
    });
    new Gauge({
      name: "mqgate_sessions",
      help: "Sessions held by this broker, by state: connected, or offline (persistent sessions without a connection)",
      labelNames: ["state"],
      registers,
      collect() {
        const { connected, offline } = broker.sessionCounts();
        this.set({ state: "connected" }, connected);
        this.set({ state: "offline" }, offline);
      },
    });
    new Counter({
      name: "mqgate_messages_received_total",
      help: "Application messages accepted from clients (and the REST gateway in this process), by published QoS",
      labelNames: ["qos"],
      registers,
      collect() {
        this.reset();
        for (let q = 0; q < 3; q++) this.inc({ qos: QOS_LABELS[q] }, stats.receivedByQos[q as 0 | 1 | 2]);
      },
    });
    new Counter({
      name: "mqgate_messages_sent_total",
      help: "PUBLISH packets sent to clients (re-sends included), by delivery QoS",
      labelNames: ["qos"],
      registers,
      collect() {
        this.reset();
        for (let q = 0; q < 3; q++) this.inc({ qos: QOS_LABELS[q] }, stats.sentByQos[q as 0 | 1 | 2]);
      },
    });
    new Counter({
      name: "mqgate_messages_dropped_total",
      help: "Messages dropped, by reason",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        for (const reason of DROP_REASONS) this.inc({ reason }, stats.dropped[reason]);
      },
    });
    new Counter({
      name: "mqgate_limit_hits_total",
      help: "Connections closed because the client went over a per-client bound, by limit (docs/security.md)",
      labelNames: ["limit"],
      registers,
      collect() {
        this.reset();
        for (const [limit, n] of Object.entries(stats.limitHits)) this.inc({ limit }, n);
      },
    });
    counter("mqgate_deliveries_denied_total", "Deliveries withheld because the subscriber may not read the topic (exact authorization)", () => stats.deliveriesDenied);
    this.observeAuth(broker);
    counter("mqgate_received_bytes_total", "Bytes read from client connections (MQTT packets)", () => stats.bytesReceived);
    counter("mqgate_sent_bytes_total", "Bytes written to client connections (MQTT packets)", () => stats.bytesSent);
    new Gauge({
      name: "mqgate_inflight_messages",
      help: "Outgoing QoS 1/2 messages sent and not yet acknowledged, summed over the sessions in memory",
      registers,
      collect() {
        let n = 0;
        for (const session of broker.sessions.values()) n += session.inflightCount;
        this.set(n);
      },
    });
    new Gauge({
      name: "mqgate_queued_messages",
      help: "Messages queued in memory behind the in-flight window, summed over the sessions (offline persistent sessions queue in the store)",
      registers,
      collect() {
        let n = 0;
        for (const session of broker.sessions.values()) n += session.queuedCount;
        this.set(n);
      },
    });
    gauge("mqgate_subscriptions", "Subscriptions in this broker's subscription tree", () => broker.subscriptionCount);
    gauge("mqgate_retained_messages", "Retained messages in the store, cluster-wide (read every few seconds)", () => {
      broker.refreshRetainedStats();
      return broker.retainedStats.count;
    });
    gauge("mqgate_retained_bytes", "Topic and payload bytes of the retained set, cluster-wide (limits.maxRetainedBytes)", () => broker.retainedStats.bytes);
    gauge("mqgate_store_pending_writes", "Store writes waiting for the next journal batch", () => broker.journal.pendingOps);
  }

  /** A cluster node's lease and the wills it keeps in the store (decision 019), read at scrape time. Once per registry. */
  observeLease(read: () => LeaseFigures): void {
    const registers = [this.registry];
    new Gauge({ name: "mqgate_lease_valid", help: "1 while this node's lease holds (it serves), 0 while it registers again", registers, collect() { this.set(read().valid ? 1 : 0); } });
    new Counter({ name: "mqgate_lease_losses_total", help: "Times this node gave up its lease (closed every connection, registered again)", registers, collect() { this.reset(); this.inc(read().losses); } });
    new Gauge({ name: "mqgate_wills_stored", help: "Wills of this node's connections kept in the store", registers, collect() { this.set(read().willsStored); } });
    new Counter({
      name: "mqgate_wills_reaped_total",
      help: "Wills this node published for clients of a dead node or of its own earlier incarnation",
      registers,
      collect() { this.reset(); this.inc(read().willsReaped); },
    });
  }

  /** Registers the gauges and the drop counter of the events buffer (broker/event-buffer.ts). Once per registry. */
  observeEvents(buffer: EventBufferStats): void {
    const registers = [this.registry];
    new Gauge({
      name: "mqgate_events_buffered",
      help: "Events held for the events queue (waiting, being sent, or retried during an SQS outage)",
      registers,
      collect() {
        this.set(buffer.events);
      },
    });
    new Gauge({
      name: "mqgate_events_buffered_bytes",
      help: "Approximate bytes of the events held for the events queue",
      registers,
      collect() {
        this.set(buffer.bytes);
      },
    });
    new Counter({
      name: "mqgate_events_dropped_total",
      help: "Events never sent to the events queue, by reason: buffer-full, invalid, too-large, shutdown",
      labelNames: ["reason"],
      registers,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(buffer.dropped)) this.inc({ reason }, n);
      },
    });
  }

  /** Registers the readiness gauges. Once per registry. */
  observeReadiness(readiness: Readiness): void {
    const registers = [this.registry];
    new Gauge({
      name: "mqgate_store_up",
      help: "1 while the store answers (as readiness sees it), 0 while it is unreachable",
      registers,
      collect() {
        this.set(readiness.storeReachable ? 1 : 0);
      },
    });
    new Gauge({
      name: "mqgate_ready",
      help: "1 while /readyz answers 200, 0 while draining or while the store is unreachable",
      registers,
      collect() {
        this.set(readiness.check().ready ? 1 : 0);
      },
    });
  }
}

/** The metrics port could not be bound; names the setting to change. */
export class MetricsListenError extends Error {
  override readonly name = "MetricsListenError";
  constructor(host: string, port: number, code: string | undefined) {
    super(
      code === "EADDRINUSE"
        ? `metrics port ${port} on ${host} is already in use. Set MQGATE_METRICS_PORT to a free port, or 'off'.`
        : `cannot listen for metrics on ${host}:${port}: ${code ?? "unknown error"}`,
    );
  }
}

/** The HTTP listener of `config.metrics`: GET /metrics, /healthz (liveness) and /readyz (readiness). */
export interface MetricsListener {
  readonly host: string;
  readonly port: number;
  readonly registry: Registry;
  readonly readiness: Readiness;
  close(): Promise<void>;
}

export interface MetricsListenerOptions extends ReadinessOptions {
  /** True once shutdown has started (readiness answers 503 "draining"). */
  isDraining: () => boolean;
}

/**
 * Starts the metrics listener for `broker`, whose store must be `metrics.instrument(...)`'s result for the store
 * calls to be timed and `metrics.observe(broker)` done. Also starts the readiness probe; `close()` stops both.
 */
export async function startMetricsListener(
  listen: ListenerConfig,
  metrics: BrokerMetrics,
  broker: Broker,
  opts: MetricsListenerOptions,
): Promise<MetricsListener> {
  const readiness = new Readiness(broker.journal, broker.store, opts.isDraining, opts);
  metrics.reportStoreCalls((operation, ok, err) => readiness.recordStoreCall(operation, ok, err));
  metrics.observeReadiness(readiness);
  const registry = metrics.registry;
  const server = createServer((req, res) => serve(req, res, registry, readiness));
  const requested = listen.port ?? 0;
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => reject(new MetricsListenError(listen.host, requested, err.code)));
    server.listen(requested, listen.host, () => {
      server.removeAllListeners("error");
      resolve((server.address() as AddressInfo).port);
    });
  });
  readiness.start();
  let closed: Promise<void> | null = null;
  return {
    host: listen.host,
    port,
    registry,
    readiness,
    close() {
      closed ??= new Promise<void>((resolve) => {
        readiness.stop();
        metrics.reportStoreCalls(null);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function serve(req: IncomingMessage, res: ServerResponse, registry: Registry, readiness: Readiness): void {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    send(res, 405, "application/json", '{"error":"method not allowed"}', { allow: "GET, HEAD" });
    return;
  }
  switch (path) {
    case "/metrics":
      registry.metrics().then(
        (body) => send(res, 200, registry.contentType, body),
        () => send(res, 500, "application/json", '{"error":"metrics collection failed"}'),
      );
      return;
    case "/healthz":
      send(res, 200, "application/json", '{"status":"ok"}');
      return;
    case "/readyz": {
      const status = readiness.check();
      const body = status.ready ? { status: "ready" } : { status: "not-ready", reason: status.reason, detail: status.detail };
      send(res, status.ready ? 200 : 503, "application/json", JSON.stringify(body));
      return;
    }
    default:
      send(res, 404, "application/json", '{"error":"not found: GET /metrics, /healthz or /readyz"}');
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store", "content-length": Buffer.byteLength(body), ...headers });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
