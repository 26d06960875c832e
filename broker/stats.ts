import type { LimitName } from "./errors.js";
import type { DropReason } from "./types.js";

/** Broker counters: plain numbers, incremented on the hot path, read by $SYS and metrics. */
export class BrokerStats {
  readonly startedAt = Date.now();
  connectionsTotal = 0;
  connectionsRefused = 0;
  messagesReceived = 0;
  messagesSent = 0;
  /** `messagesReceived` split by the QoS the message was published with (index = QoS). */
  readonly receivedByQos: [number, number, number] = [0, 0, 0];
  /** `messagesSent` split by delivery QoS (index = QoS). */
  readonly sentByQos: [number, number, number] = [0, 0, 0];
  publishDenied = 0;
  /** Deliveries withheld because the subscriber may not read the topic (a deny pattern its subscription overlaps). */
  deliveriesDenied = 0;
  /** CONNECTs refused over their session: another identity's (0x05), or `maxSessions` reached (0x03). */
  readonly sessionsRefused: Record<"identity" | "session-limit" | "client-id", number> = { identity: 0, "session-limit": 0, "client-id": 0 };
  /** Offline sessions this node's sweep deleted after `limits.sessionExpirySeconds`. */
  sessionsExpired = 0;
  /** Expired retained messages (MQTT 5 Message Expiry Interval) this node's sweep deleted from the store. */
  retainedExpired = 0;
  bytesReceived = 0;
  bytesSent = 0;
  readonly dropped: Record<DropReason, number> = {
    "queue-full": 0,
    "slow-consumer": 0,
    "not-authorized": 0,
    "retained-limit": 0,
    "session-busy": 0,
    expired: 0,
    "too-large": 0,
    "no-subscriber": 0,
  };

  /** Connections closed because a client went over a per-client bound (see LimitExceeded). */
  readonly limitHits: Record<LimitName, number> = {
    "filters-per-packet": 0,
    "pre-auth-bytes": 0,
    "connect-packet-size": 0,
    "events-backlog": 0,
    "reauth-rate": 0,
  };

  get droppedTotal(): number {
    let total = 0;
    for (const n of Object.values(this.dropped)) total += n;
    return total;
  }
}
