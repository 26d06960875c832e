import * as z from "zod";

/**
 * The events contract (DESIGN §3.4): what the events queue carries, as JSON, one event per SQS message.
 *
 * Every object is strict: a field the schema does not name is an error, on emit and on parse. That is how
 * "never a password" is enforced (there is no field to put one in), and it makes the schema the complete list
 * of what may leave the cluster. The cost: any new field is a new version (`v: 2`); consumers dispatch on `v`.
 */

/**
 * The version producers emit. v2 = v1 plus `session.expired` and the source `policy` of `session.subscribed` /
 * `session.unsubscribed` (a resume under changed rules). Every v1 event is a valid v2 event with `v: 1`, so this
 * code reads both (`READABLE_VERSIONS`).
 */
export const EVENT_VERSION = 2;
export const READABLE_VERSIONS = [1, 2] as const;

const qos = z.literal([0, 1, 2]);

/** Fields every event has. */
const base = {
  v: z.literal(READABLE_VERSIONS),
  /** Unique across nodes and restarts (a monotonic ULID); the FIFO deduplication id. */
  id: z.string().min(1).max(128),
  /** When it happened, epoch milliseconds. */
  ts: z.int().nonnegative(),
  /** The broker node (or "rest" for the REST gateway) that emitted it. */
  node: z.string().min(1).max(256),
  /** The MQTT client the event is about; the FIFO message group. */
  clientId: z.string().min(1).max(65_535),
  /** The client's username, when it gave one. Never its password. */
  username: z.string().max(65_535).optional(),
};

/** Why a connection ended: the broker's close reasons, and `node-failure` (its node died; emitted by the node that noticed). */
export const DISCONNECT_REASONS = [
  "client-disconnect",
  "client-disconnect-with-will",
  "socket-closed",
  "socket-error",
  "protocol-error",
  "keepalive-timeout",
  "connect-timeout",
  "takeover",
  "kicked",
  "packet-too-large",
  "not-authorized",
  "server-shutdown",
  "node-failure",
  "limit-exceeded",
] as const;

/** Why a message was dropped (see docs/decisions/002-slow-consumers.md for the outbound ones). */
export const DROP_REASONS = ["not-authorized", "queue-full", "slow-consumer", "retained-limit", "session-busy", "expired", "too-large", "no-subscriber"] as const;

export const clientConnectedSchema = z.strictObject({
  ...base,
  type: z.literal("client.connected"),
  /** MQTT protocol level: 3 = 3.1, 4 = 3.1.1, 5 = 5.0. */
  protocolVersion: z.literal([3, 4, 5]),
  clean: z.boolean(),
  sessionPresent: z.boolean(),
  /** Seconds, as granted. */
  keepalive: z.int().min(0).max(65_535),
  transport: z.enum(["tcp", "tls", "ws", "wss"]).optional(),
  /** `ip:port` of the client as the broker saw it. */
  remoteAddress: z.string().max(256).optional(),
});

export const clientDisconnectedSchema = z.strictObject({
  ...base,
  type: z.literal("client.disconnected"),
  reason: z.enum(DISCONNECT_REASONS),
});

export const sessionSubscribedSchema = z.strictObject({
  ...base,
  type: z.literal("session.subscribed"),
  /**
   * Over MQTT (SUBSCRIBE), through the REST API on the client's behalf, or `policy` (v2): a restored subscription
   * granted at a lower QoS by the client's current rules when it resumed its session.
   */
  source: z.enum(["mqtt", "rest", "policy"]),
  subscriptions: z
    .array(
      z.strictObject({
        filter: z.string().min(1),
        requestedQos: qos,
        /** 128 (0x80): refused. */
        grantedQos: z.literal([0, 1, 2, 128]),
      }),
    )
    .min(1),
});

export const sessionUnsubscribedSchema = z.strictObject({
  ...base,
  type: z.literal("session.unsubscribed"),
  /** `policy` (v2): removed because the client's current rules no longer allow it: found when it resumed, or a changed role (issue 15). */
  source: z.enum(["mqtt", "rest", "policy"]),
  filters: z.array(z.string().min(1)).min(1),
});

/** v2: an offline persistent session (with its queued messages) was deleted after `limits.sessionExpirySeconds`. */
export const sessionExpiredSchema = z.strictObject({
  ...base,
  type: z.literal("session.expired"),
});

export const messagePublishedSchema = z.strictObject({
  ...base,
  type: z.literal("message.published"),
  topic: z.string().min(1),
  qos,
  retain: z.boolean(),
  /** The payload, base64. */
  payload: z.base64(),
  /** Present when the payload did not fit in an SQS message and was left out (payload is then ""). */
  payloadOmitted: z.literal(true).optional(),
});

export const messageDroppedSchema = z.strictObject({
  ...base,
  type: z.literal("message.dropped"),
  why: z.enum(DROP_REASONS),
  /** inbound: clientId published it (e.g. not authorized); outbound: it was on its way to clientId. */
  direction: z.enum(["inbound", "outbound"]),
  topic: z.string().min(1),
  qos,
});

export const eventSchema = z.discriminatedUnion("type", [
  clientConnectedSchema,
  clientDisconnectedSchema,
  sessionSubscribedSchema,
  sessionUnsubscribedSchema,
  sessionExpiredSchema,
  messagePublishedSchema,
  messageDroppedSchema,
]);

export type MqgateEvent = z.infer<typeof eventSchema>;
export type EventType = MqgateEvent["type"];
export type EventOf<T extends EventType> = Extract<MqgateEvent, { type: T }>;
export type DisconnectReason = (typeof DISCONNECT_REASONS)[number];
export type DropReason = (typeof DROP_REASONS)[number];

export const EVENT_TYPES: readonly EventType[] = eventSchema.options.map((o) => o.shape.type.value);
