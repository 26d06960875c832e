/**
 * Shape of the `limits` section of the mqgate configuration. Shared by the full and the file schema
 * (core/config/schema.ts).
 */
import { DROP_POLICIES, int, INT32_MAX, MQTT_MAX_PACKET_SIZE, oneOf, TIMER_MAX_MS } from "./schema-leaves.js";

export const limitsShape = {
  maxPacketSize: int(64, MQTT_MAX_PACKET_SIZE),
  maxConnections: int(1, INT32_MAX),
  maxInflight: int(1, 65535),
  maxQueued: int(0, INT32_MAX),
  queueDropPolicy: oneOf(DROP_POLICIES),
  maxSubscriptionsPerSession: int(1, INT32_MAX),
  maxTopicLength: int(1, 65535),
  maxTopicLevels: int(1, 1024),
  maxClientIdLength: int(23, 65535),
  connectTimeoutMs: int(100, TIMER_MAX_MS),
  maxKeepaliveSeconds: int(0, 65535),
  maxRetained: int(0, INT32_MAX),
  // At least 16 KiB: a smaller bound would take an ordinary burst to a reading client for congestion. Recovery does
  // not depend on the stream's own high-water mark (see Outbox.send, broker/outbox.ts).
  socketHighWaterMark: int(16_384, INT32_MAX),
  maxFiltersPerPacket: int(1, 65535),
  maxConnectPacketSize: int(64, MQTT_MAX_PACKET_SIZE),
  maxPreAuthBytes: int(0, INT32_MAX),
  // Seconds an offline persistent session is kept; 0 = forever (see docs/decisions/007-session-ownership-and-expiry.md).
  sessionExpirySeconds: int(0, 10 * 365 * 24 * 3600),
  maxSessions: int(1, INT32_MAX),
  maxRetainedBytes: int(0, Number.MAX_SAFE_INTEGER),
  // Per source address (IPv6: per /64), checked at accept; 0 = no limit (decision 010).
  maxConnectionsPerAddress: int(0, INT32_MAX),
  connectionRatePerAddress: int(0, INT32_MAX),
  connectionBurstPerAddress: int(1, INT32_MAX),
  maxTrackedAddresses: int(1, 10_000_000),
};
