import type { QoS } from "mqtt-packet";
import type { z } from "zod";
import { fromReadableProperties, type ReadableProperties } from "../core/readable-properties.js";
import type { ApiKeyRecord } from "../core/store/types.js";
import { keyCoversTopic } from "./api-keys.js";
import type { PublishMessage, PublishResult } from "./backend.js";
import { type FieldError, type FieldLocation, ForbiddenError, TooLargeError, ValidationError } from "./errors.js";
import { bodyLocations, checkProperties, givenProperties, propertiesWireBytes, type PropertyLocations } from "./properties.js";
import type { GatewayLimits, RouteContext } from "./route.js";
import type { PublishRequest } from "./schemas.js";
import { recordPublish } from "./telemetry.js";
import { checkTopicName } from "./validate.js";

/**
 * The checks every publish route shares, in the order the answers are documented: topic and MQTT 5 property
 * validity (400, the broker's own topic validator; properties.ts), the broker's reserved `$SYS` tree and the key's
 * topic patterns (403), then the size of the MQTT packet the message becomes, properties included (413).
 */

export interface PublishDraft {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Where the message came from in the request, for error messages. */
  topicField: FieldLocation;
  payloadField: FieldLocation;
  /** MQTT 5 properties as the request gave them (schema-checked); absent when it gave none. */
  props?: ReadableProperties | undefined;
  /** Where each property is given in the request (body fields, or the raw route's query and headers). */
  propsAt: PropertyLocations;
}

/** The draft of one validated JSON message; `at` is its JSON pointer ("#" for the body, "#/messages/2" in a batch). */
export function jsonDraft(req: z.output<typeof PublishRequest>, at: string): PublishDraft {
  return {
    topic: req.topic,
    payload: payloadOf(req),
    qos: req.qos,
    retain: req.retain,
    topicField: { pointer: `${at}/topic` },
    payloadField: { pointer: `${at}/payload` },
    props: givenProperties(req),
    propsAt: bodyLocations(at),
  };
}

/** Payload bytes of a validated JSON publish request. */
export function payloadOf(req: z.output<typeof PublishRequest>): Buffer {
  if (req.encoding === "json") return Buffer.from(JSON.stringify(req.payload), "utf8");
  return Buffer.from(req.payload as string, req.encoding === "base64" ? "base64" : "utf8");
}

/**
 * Validates a set of drafts (one request) and returns the messages to publish. A message with a Message Expiry
 * Interval is published at `now`: its expiry counts down from there, wherever it is queued.
 */
export function checkPublishes(drafts: readonly PublishDraft[], key: ApiKeyRecord, limits: GatewayLimits, now = Date.now()): PublishMessage[] {
  const invalid: FieldError[] = [];
  for (const d of drafts) {
    try {
      checkTopicName(d.topic, limits.topic, d.topicField);
    } catch (err) {
      invalid.push(...(err as ValidationError).errors);
    }
    if (d.props !== undefined) invalid.push(...checkProperties(d.props, d.payload, limits.topic, d.propsAt, d.payloadField));
  }
  if (invalid.length > 0) throw new ValidationError(invalid);
  for (const d of drafts) {
    if (d.topic.startsWith("$SYS")) {
      throw new ForbiddenError(`topic '${d.topic}' is reserved for the broker's $SYS statistics`, [{ ...d.topicField, detail: "is reserved ($SYS)" }]);
    }
    if (!keyCoversTopic(key, d.topic)) {
      throw new ForbiddenError(`API key '${key.name}' may not publish to '${d.topic}' (its topics: ${key.topics.join(", ")})`, [
        { ...d.topicField, detail: "is outside the API key's topic patterns" },
      ]);
    }
  }
  for (const d of drafts) {
    const propsBytes = d.props === undefined ? undefined : propertiesWireBytes(d.props);
    const size = packetSize(d.topic, d.payload.length, propsBytes);
    if (size > limits.maxPacketSize) {
      const room = d.payload.length - (size - limits.maxPacketSize);
      const fit = propsBytes === undefined ? "with this topic" : "with this topic and these properties";
      throw new TooLargeError(`the message to '${d.topic}' would be an MQTT packet of ${size} bytes; the broker's limit is ${limits.maxPacketSize}`, [
        { ...d.payloadField, detail: `is ${d.payload.length} bytes; at most ${Math.max(0, room)} fit ${fit}` },
      ]);
    }
  }
  return drafts.map((d) => toMessage(d, now));
}

/** The message of a checked draft: `props` only with properties, `publishedAt` only with a Message Expiry Interval. */
function toMessage(d: PublishDraft, now: number): PublishMessage {
  const props = fromReadableProperties(d.props);
  if (props === undefined) return { topic: d.topic, payload: d.payload, qos: d.qos, retain: d.retain };
  if (props.messageExpiryInterval === undefined) return { topic: d.topic, payload: d.payload, qos: d.qos, retain: d.retain, props };
  return { topic: d.topic, payload: d.payload, qos: d.qos, retain: d.retain, props, publishedAt: now };
}

/** Publishes through the backend and records the request's Published and MatchedSessions metrics. */
export async function publishMessages(ctx: RouteContext, messages: readonly PublishMessage[]): Promise<PublishResult[]> {
  const results = await ctx.backend.publish(messages, `rest:${ctx.key.id}`, ctx.requestId);
  recordPublish(ctx.metrics, results);
  return results;
}

/**
 * Size of the PUBLISH packet (with a packet id, as a QoS 1/2 delivery has) carrying this message; with `propsBytes`
 * (propertiesWireBytes) the MQTT 5 PUBLISH, Property Length and properties included.
 */
export function packetSize(topic: string, payloadBytes: number, propsBytes?: number): number {
  let remaining = 2 + Buffer.byteLength(topic, "utf8") + 2 + payloadBytes;
  if (propsBytes !== undefined) remaining += varIntSize(propsBytes) + propsBytes;
  return 1 + varIntSize(remaining) + remaining;
}

function varIntSize(n: number): number {
  return n < 128 ? 1 : n < 16_384 ? 2 : n < 2_097_152 ? 3 : 4;
}
