/**
 * Built-in defaults of the mqgate configuration (`DEFAULTS`, re-exported by core/config/schema.ts).
 */
import type { MqgateConfig } from "./types.js";

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Built-in defaults (deeply frozen: copy, never mutate).
 * `nodeId` is "" here: the loader replaces it with `defaultNodeId()` (`<hostname>-<pid>`)
 * when neither the file, MQGATE_NODE_ID nor overrides set it.
 */
export const DEFAULTS: MqgateConfig = deepFreeze({
  nodeId: "",
  mqtt: { host: "0.0.0.0", port: 1883 },
  tls: { host: "0.0.0.0", port: null, clientCerts: "off" },
  ws: { host: "0.0.0.0", port: 8083, path: "/mqtt" },
  http: { host: "0.0.0.0", port: 8080 },
  metrics: { host: "0.0.0.0", port: null },
  limits: {
    maxPacketSize: 1_048_576,
    maxConnections: 100_000,
    maxInflight: 32,
    maxQueued: 1000,
    queueDropPolicy: "oldest",
    maxSubscriptionsPerSession: 1000,
    maxTopicLength: 1024,
    maxTopicLevels: 32,
    maxClientIdLength: 256,
    connectTimeoutMs: 10_000,
    maxKeepaliveSeconds: 0,
    maxRetained: 100_000,
    socketHighWaterMark: 1_048_576,
    maxFiltersPerPacket: 100,
    maxConnectPacketSize: 65_536,
    maxPreAuthBytes: 65_536,
    sessionExpirySeconds: 7200,
    maxSessions: 1_000_000,
    maxRetainedBytes: 1_073_741_824,
    maxConnectionsPerAddress: 1000,
    connectionRatePerAddress: 200,
    connectionBurstPerAddress: 1000,
    maxTrackedAddresses: 100_000,
  },
  auth: { mode: "allow-all", hashConcurrency: 2, maxPendingAuth: 10_000, maxAuthWaitMs: 5000, cacheSeconds: 300, cacheMaxEntries: 100_000 },
  sysIntervalSeconds: 10,
  log: { level: "info" },
  shutdown: { drainMs: 10_000 },
  cluster: {
    communicator: "auto",
    queuePrefix: "mqgate",
    heartbeatMs: 5000,
    nodeTtlMs: 15_000,
    leaseMarginMs: 0,
    resyncMs: 60_000,
    deadQueueGraceMs: 90_000,
    links: true,
    linkHost: "0.0.0.0",
    linkPort: 0,
    linkAckTimeoutMs: 1000,
  },
  events: { maxBufferedEvents: 10_000, maxBufferedBytes: 33_554_432 },
  emf: { intervalSeconds: 0, namespace: "mqgate", cluster: "mqgate" },
});
