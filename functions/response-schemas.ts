import * as z from "zod";
import { readablePropertyFields } from "./property-schemas.js";
import { Qos, responseSchemas } from "./schema-registries.js";

/**
 * The response side of the REST API's schemas (functions/schemas.ts re-exports it): the JSON bodies of the
 * answers, and the problem details of an error. The parameters and request bodies are in request-schemas.ts.
 */

// ---- responses ----------------------------------------------------------------------------------------

const timestamp = (description: string) => z.string().meta({ format: "date-time", description });
const nullableTimestamp = (description: string) => z.string().nullable().meta({ format: "date-time", description });

export const PublishResult = z
  .object({
    id: z.string().meta({ description: "Id of this publish." }),
    matched: z
      .number()
      .int()
      .min(0)
      .nullable()
      .meta({
        description:
          "Sessions the message was routed to (online or offline) on the node that answered; in a cluster the other nodes match their own sessions (docs/cluster.md). null from the REST Lambda of a cluster: it hands the message to a broker node, which routes it after the answer.",
      }),
  })
  .meta({ description: "Answered once the message is durable for every matching persistent session (QoS 1/2) and as retained message." });
responseSchemas.add(PublishResult, { id: "PublishResult" });

export const PublishBatchResult = z.object({ results: z.array(PublishResult).meta({ description: "One result per message, in order." }) });
responseSchemas.add(PublishBatchResult, { id: "PublishBatchResult" });

export const Subscription = z.object({ filter: z.string(), qos: Qos });
responseSchemas.add(Subscription, { id: "Subscription" });

export const ClientSummary = z.object({
  clientId: z.string(),
  connected: z.boolean(),
  node: z.string().nullable().meta({ description: "Broker node holding the connection; null when offline." }),
  clean: z.boolean().meta({ description: "Clean session (ends with the connection)." }),
  username: z.string().nullable(),
  connectedAt: nullableTimestamp("Last connect."),
  disconnectedAt: nullableTimestamp("Last disconnect."),
});
responseSchemas.add(ClientSummary, { id: "ClientSummary" });

export const ClientPage = z.object({
  items: z.array(ClientSummary),
  cursor: z.string().nullable().meta({ description: "Pass as `cursor` for the next page; null on the last page." }),
});
responseSchemas.add(ClientPage, { id: "ClientPage" });

export const ClientDetail = ClientSummary.extend({
  since: nullableTimestamp("When the client connected (connected) or disconnected (offline)."),
  subscriptions: z.array(Subscription),
  inflight: z.number().int().min(0).meta({ description: "Outgoing QoS 1/2 messages sent and not yet acknowledged (stored state)." }),
  queued: z.number().int().min(0).meta({ description: "Outgoing QoS 1/2 messages waiting to be sent (stored state)." }),
});
responseSchemas.add(ClientDetail, { id: "ClientDetail" });

export const KickResult = z.object({
  clientId: z.string(),
  disconnected: z.boolean().meta({ description: "The client was connected and has been disconnected." }),
  sessionDiscarded: z.boolean().meta({ description: "The session was deleted (discardSession=true)." }),
});
responseSchemas.add(KickResult, { id: "KickResult" });

export const SubscriptionList = z.object({ clientId: z.string(), subscriptions: z.array(Subscription) });
responseSchemas.add(SubscriptionList, { id: "SubscriptionList" });

export const RetainedMessage = z.object({
  topic: z.string(),
  qos: Qos,
  payload: z.string(),
  encoding: z.enum(["base64", "utf8"]).meta({ description: "How `payload` is written." }),
  bytes: z.number().int().min(0).meta({ description: "Payload size in bytes." }),
  updatedAt: timestamp("When the message was last retained (like AWS IoT's `lastModifiedTime`)."),
  ...readablePropertyFields,
  messageExpiry: readablePropertyFields.messageExpiry.meta({
    description: "Message Expiry Interval: the seconds that remain of it now, as a new subscriber would get it. An expired retained message is gone (404, and not listed).",
  }),
});
responseSchemas.add(RetainedMessage, { id: "RetainedMessage" });

export const RetainedPage = z.object({
  items: z.array(RetainedMessage),
  cursor: z
    .string()
    .nullable()
    .meta({ description: "Opaque, sealed cursor for the next page (it reveals no topic), or null at the end. A page may hold fewer items than `limit`, even none, while the cursor is not null." }),
});
responseSchemas.add(RetainedPage, { id: "RetainedPage" });

const perSecond = (description: string) => z.number().min(0).meta({ description });

export const MessageRates = z
  .object({
    received: perSecond("Application messages accepted per second."),
    sent: perSecond("PUBLISH packets sent per second."),
    dropped: perSecond("Messages dropped per second."),
  })
  .meta({ description: "Per second over each node's last heartbeat interval (a few seconds), summed over the nodes." });
responseSchemas.add(MessageRates, { id: "MessageRates" });

export const NodeList = z.object({
  items: z.array(
    z.object({
      nodeId: z.string(),
      address: z.string(),
      startedAt: timestamp("Start of the node process."),
      heartbeatAt: timestamp("Last heartbeat."),
      stats: z
        .object({
          sampledAt: timestamp("When the node took these figures (its clock)."),
          version: z.string().meta({ description: "The node's mqgate version." }),
          connections: z.number().int().min(0),
          sessions: z.number().int().min(0),
          messages: z.object({ received: z.number().int().min(0), sent: z.number().int().min(0), dropped: z.number().int().min(0) }),
          rates: MessageRates,
          queued: z.number().int().min(0),
          inflight: z.number().int().min(0),
        })
        .optional()
        .meta({ description: "The node's figures from its last heartbeat; absent until its first." }),
    }),
  ),
});
responseSchemas.add(NodeList, { id: "NodeList" });

const count = (description: string) => z.number().int().min(0).meta({ description });

export const TopicRate = z.object({
  topic: z.string(),
  messages: count("Messages published to the topic within the window."),
  rate: z.number().min(0).meta({ description: "Messages per second over the window." }),
});
responseSchemas.add(TopicRate, { id: "TopicRate" });

export const SessionQueue = z.object({
  clientId: z.string(),
  connected: z.boolean(),
  queued: count("Messages waiting to be sent: in the node's memory for a connected client, in the store for an offline persistent session."),
  inflight: count("Messages sent and not yet acknowledged."),
});
responseSchemas.add(SessionQueue, { id: "SessionQueue" });

export const MessageCounters = z
  .object({
    received: count("Application messages accepted for routing (MQTT and REST publishes)."),
    sent: count("PUBLISH packets sent to clients."),
    dropped: count("Messages dropped (full queues, slow consumers, refused publishes …)."),
  })
  .meta({
    description:
      "Counters since the brokers started. A rate is the difference between two samples divided by the time between their `sampledAt`; a counter that went down means a broker restarted.",
  });
responseSchemas.add(MessageCounters, { id: "MessageCounters" });

export const Stats = z.object({
  nodes: z.number().int().min(0).meta({ description: "Live broker nodes." }),
  counters: z.record(z.string(), z.number()).meta({ description: "Cluster-wide counters kept in the store." }),
  sampledAt: timestamp("When the live figures below were taken. Absent (with them) when the gateway cannot see the brokers.").optional(),
  connections: count("Clients with a live connection.").optional(),
  sessions: count("Sessions held by the brokers: connected ones and offline persistent ones.").optional(),
  messages: MessageCounters.optional(),
  rates: MessageRates.optional(),
  queued: count("Messages queued in the brokers' memory behind the in-flight windows, over the nodes.").optional(),
  inflight: count("Messages sent and not yet acknowledged, over the nodes.").optional(),
  nodesReporting: count("Nodes whose figures are included (a node reports with its first heartbeat).").optional(),
  topTopics: z
    .array(TopicRate)
    .optional()
    .meta({ description: "With `top`: the busiest topics over the last `topicWindowSeconds`, busiest first, only those inside the API key's topic patterns. Counting starts with the first request that asks (and stops 5 minutes after the last), so the first answer is empty." }),
  topicWindowSeconds: z.number().min(0).optional().meta({ description: "With `top`: the window of `topTopics` (up to 60 s)." }),
  largestQueues: z.array(SessionQueue).optional().meta({ description: "With `top`: sessions with messages waiting, most queued first." }),
});
responseSchemas.add(Stats, { id: "Stats" });

export const Health = z.object({
  status: z.enum(["ok", "unavailable"]),
  store: z.object({ kind: z.string().nullable(), reachable: z.boolean() }),
  detail: z.string().optional(),
});
responseSchemas.add(Health, { id: "Health" });

export const Problem = z
  .object({
    type: z.string().meta({ description: "urn:mqgate:problem:<name>, see the error table." }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().meta({ description: "What is wrong, naming the field." }),
    instance: z.string().meta({ description: "The request path." }),
    requestId: z.string(),
    errors: z
      .array(
        z.object({
          pointer: z.string().optional().meta({ description: "JSON pointer (URI fragment) of the body field, e.g. #/messages/2/topic." }),
          parameter: z.string().optional().meta({ description: "Name of the query or path parameter." }),
          header: z.string().optional(),
          detail: z.string(),
        }),
      )
      .optional()
      .meta({ description: "Every invalid field." }),
  })
  .meta({ description: "RFC 9457 problem details (application/problem+json)." });
responseSchemas.add(Problem, { id: "Problem" });
