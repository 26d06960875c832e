import { Counter, Gauge, type Registry } from "prom-client";
import type { AuthStats } from "../core/auth/types.js";
import type { Broker } from "./broker.js";
import { labeledCounter, scrapedCounter } from "./metrics-counters.js";
import type { CloseReason, DropReason } from "./types.js";

// The Prometheus collectors that read the broker core (BrokerStats, its sessions, the retained set, the journal)
// and the authentication queue at scrape time (broker/metrics.ts registers them). The hot path only counts.

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

/**
 * Registers the collectors that read `broker` at scrape time, and listens for refused and closed connections. Once
 * per registry, before the broker's listeners accept anything (BrokerMetrics.observe).
 */
export function observeBroker(registry: Registry, broker: Broker): void {
  const registers = [registry];
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

  const counter = (name: string, help: string, read: () => number): void => scrapedCounter(registry, name, help, read);
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
  labeledCounter(
    registry,
    "mqgate_sessions_refused_total",
    "CONNECTs refused over their session: identity (another identity owns it, 0x05), client-id (auth.clientIdPattern, 0x05), session-limit (limits.maxSessions, 0x03)",
    "reason",
    () => stats.sessionsRefused,
  );
  counter("mqgate_sessions_expired_total", "Offline sessions this node deleted after limits.sessionExpirySeconds", () => stats.sessionsExpired);
  counter("mqgate_retained_expired_total", "Expired retained messages (MQTT 5 Message Expiry Interval) this node's sweep deleted", () => stats.retainedExpired);
  labeledCounter(registry, "mqgate_disconnections_total", "Client connections closed, by reason (client-disconnect, keepalive-timeout, takeover, server-shutdown, ...)", "reason", () => closedBy);
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
  labeledCounter(registry, "mqgate_limit_hits_total", "Connections closed because the client went over a per-client bound, by limit (docs/security.md)", "limit", () => stats.limitHits);
  counter("mqgate_deliveries_denied_total", "Deliveries withheld because the subscriber may not read the topic (exact authorization)", () => stats.deliveriesDenied);
  observeAuth(registry, broker);
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

/** The password checks (queue and cache, decision 010); zeros for a backend that hashes nothing (allow-all). */
function observeAuth(registry: Registry, broker: Broker): void {
  const registers = [registry];
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
