import * as z from "zod";

/**
 * The events contract (DESIGN §3.4): what the events queue carries, as JSON, one event per SQS message.
 *
 * Every object is strict: a field the schema does not name is an error, on emit and on parse. That is how
 * "never a password" is enforced (there is no field to put one in), and it makes the schema the complete list
 * of what may leave the cluster. The cost: any new field is a new version (`v: 3`); consumers dispatch on `v`.
 */

/**
 * The version producers emit. v2 = v1 plus `session.expired` and the source `policy` of `session.subscribed` /
 * `session.unsubscribed` (a resume under changed rules). v3 = v2 plus the MQTT 5 properties of `message.published`
 * (decision 024). Every v1 and v2 event is a valid v3 event with its own `v`, so this code reads all three
 * (`READABLE_VERSIONS`); the v3 fields are refused in an event that says it is v1 or v2.
 */
export const EVENT_VERSION = 3;
export const READABLE_VERSIONS = [1, 2, 3] as const;

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

/**
 * v3: the MQTT 5 properties a message was published with, each present only when it has it (the readable form of
 * core/readable-properties.ts, as the REST API shows them). A 3.1.1 publish has none of them.
 */
const messageProperties = {
  /** Payload Format Indicator: 0 unspecified bytes, 1 UTF-8 data. */
  payloadFormatIndicator: z.literal([0, 1]).optional(),
  /** Message Expiry Interval in seconds, as published. */
  messageExpiry: z.int().min(0).max(0xffff_ffff).optional(),
  contentType: z.string().max(65_535).optional(),
  responseTopic: z.string().min(1).max(65_535).optional(),
  /** Correlation Data, base64. */
  correlationData: z.base64().optional(),
  /** User Properties: [name, value] pairs in publish order, duplicates kept. */
  userProperties: z.array(z.tuple([z.string().max(65_535), z.string().max(65_535)])).optional(),
};
const PROPERTY_KEYS = Object.keys(messageProperties) as (keyof typeof messageProperties)[];

export const messagePublishedSchema = z
  .strictObject({
    ...base,
    type: z.literal("message.published"),
    topic: z.string().min(1),
    qos,
    retain: z.boolean(),
    /** The payload, base64. */
    payload: z.base64(),
    /** Present when the payload did not fit in an SQS message and was left out (payload is then ""). */
    payloadOmitted: z.literal(true).optional(),
    ...messageProperties,
  })
  .superRefine((e, ctx) => {
    if (e.v >= 3) return;
    for (const key of PROPERTY_KEYS) {
      if (e[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `field not allowed in a v${e.v} event (MQTT 5 properties came with v3)` });
    }
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
