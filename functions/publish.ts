import type { QoS } from "mqtt-packet";
import type { z } from "zod";
import type { ApiKeyRecord } from "../core/store/types.js";
import { keyCoversTopic } from "./api-keys.js";
import type { PublishMessage, PublishResult } from "./backend.js";
import { type FieldError, type FieldLocation, ForbiddenError, TooLargeError, ValidationError } from "./errors.js";
import type { GatewayLimits, RouteContext } from "./route.js";
import type { PublishRequest } from "./schemas.js";
import { recordPublish } from "./telemetry.js";
import { checkTopicName } from "./validate.js";

/**
 * The checks every publish route shares, in the order the answers are documented: topic validity (400, the
 * broker's own validator), the broker's reserved `$SYS` tree and the key's topic patterns (403), then the size
 * of the MQTT packet the message becomes (413).
 */

export interface PublishDraft {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  /** Where the message came from in the request, for error messages. */
  topicField: FieldLocation;
  payloadField: FieldLocation;
}

/** Payload bytes of a validated JSON publish request. */
export function payloadOf(req: z.output<typeof PublishRequest>): Buffer {
  if (req.encoding === "json") return Buffer.from(JSON.stringify(req.payload), "utf8");
  return Buffer.from(req.payload as string, req.encoding === "base64" ? "base64" : "utf8");
}

/** Validates a set of drafts (one request) and returns the messages to publish. */
export function checkPublishes(drafts: readonly PublishDraft[], key: ApiKeyRecord, limits: GatewayLimits): PublishMessage[] {
  const invalid: FieldError[] = [];
  for (const d of drafts) {
    try {
      checkTopicName(d.topic, limits.topic, d.topicField);
    } catch (err) {
      invalid.push(...(err as ValidationError).errors);
    }
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
    const size = packetSize(d.topic, d.payload.length);
    if (size > limits.maxPacketSize) {
      const room = d.payload.length - (size - limits.maxPacketSize);
      throw new TooLargeError(`the message to '${d.topic}' would be an MQTT packet of ${size} bytes; the broker's limit is ${limits.maxPacketSize}`, [
        { ...d.payloadField, detail: `is ${d.payload.length} bytes; at most ${Math.max(0, room)} fit with this topic` },
      ]);
    }
  }
  return drafts.map((d) => ({ topic: d.topic, payload: d.payload, qos: d.qos, retain: d.retain }));
}

/** Publishes through the backend and records the request's Published and MatchedSessions metrics. */
export async function publishMessages(ctx: RouteContext, messages: readonly PublishMessage[]): Promise<PublishResult[]> {
  const results = await ctx.backend.publish(messages, `rest:${ctx.key.id}`, ctx.requestId);
  recordPublish(ctx.metrics, results);
  return results;
}

/** Size of the PUBLISH packet (with a packet id, as a QoS 1/2 delivery has) carrying this message. */
export function packetSize(topic: string, payloadBytes: number): number {
  const remaining = 2 + Buffer.byteLength(topic, "utf8") + 2 + payloadBytes;
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}
