import * as z from "zod";
import { isBase64, propertyFields, propertyQueryFields } from "./property-schemas.js";
import { DEFAULT_PAGE, MAX_BATCH, MAX_PAGE, MAX_SUBSCRIBE, MAX_TOP, Qos, requestSchemas } from "./schema-registries.js";

/**
 * The request side of the REST API's schemas (functions/schemas.ts re-exports it): the path and query parameters
 * of the routes and the JSON request bodies. The answers are in response-schemas.ts.
 */

// ---- parameters ---------------------------------------------------------------------------------------

const boolParam = (description: string) =>
  z
    .enum(["true", "false"], { error: "must be 'true' or 'false'" })
    .default("false")
    .transform((v) => v === "true")
    .meta({ description });

const qosParam = z
  .enum(["0", "1", "2"], { error: "must be 0, 1 or 2" })
  .default("0")
  .transform((v) => Number(v) as 0 | 1 | 2)
  .meta({ description: "QoS of the publish: 0, 1 or 2." });

const limitParam = z
  .string()
  .regex(/^\d+$/, "must be an integer")
  .default(String(DEFAULT_PAGE))
  .transform(Number)
  .pipe(z.number().int().min(1, "must be at least 1").max(MAX_PAGE, `must be at most ${MAX_PAGE}`))
  .meta({ description: `Page size, 1..${MAX_PAGE}.`, type: "integer", minimum: 1, maximum: MAX_PAGE });

const cursorParam = z.string().min(1, "must not be empty").optional().meta({ description: "Cursor returned by the previous page; omit for the first page." });

const encodingParam = z
  .enum(["base64", "utf8"], { error: "must be 'base64' or 'utf8'" })
  .default("base64")
  .meta({ description: "How payloads are returned: base64, or utf8 text when the payload is valid UTF-8 (else base64 for that message)." });

export const ClientParams = z.strictObject({
  clientId: z.string().min(1).meta({ description: "MQTT client id, percent-encoded ('/' as %2F)." }),
});
export const ClientFilterParams = z.strictObject({
  clientId: ClientParams.shape.clientId,
  filter: z.string().min(1).meta({ description: "Topic filter; its levels may be written as path segments ('#' as %23)." }),
});
export const TopicParams = z.strictObject({
  topic: z.string().min(1).meta({ description: "Topic name; its levels are path segments (a/b/c), other reserved characters percent-encoded." }),
});

export const ClientsQuery = z.strictObject({
  connected: z
    .enum(["true", "false"], { error: "must be 'true' or 'false'" })
    .optional()
    .transform((v) => (v === undefined ? undefined : v === "true"))
    .meta({ description: "Only connected (true) or only disconnected (false) clients; both when absent." }),
  cursor: cursorParam,
  limit: limitParam,
});
export const KickQuery = z.strictObject({
  discardSession: boolParam("Also delete the session and everything queued for it."),
});
export const RawPublishQuery = z.strictObject({
  qos: qosParam,
  retain: boolParam("Retain the message; an empty body with retain=true clears the retained message."),
  ...propertyQueryFields,
});
export const RetainedListQuery = z.strictObject({
  filter: z
    .string()
    .min(1, "must not be empty")
    .optional()
    .meta({ description: "Topic filter ('+' and '#' wildcards, '#' as %23), looked up through the retained index; every retained message when absent." }),
  cursor: cursorParam,
  limit: limitParam,
  encoding: encodingParam,
});
export const EncodingQuery = z.strictObject({ encoding: encodingParam });
export const StatsQuery = z.strictObject({
  top: z
    .string()
    .regex(/^\d+$/, "must be an integer")
    .default("0")
    .transform(Number)
    .pipe(z.number().int().max(MAX_TOP, `must be at most ${MAX_TOP}`))
    .meta({
      description: `Also list this many busiest topics (topTopics) and sessions with the most queued messages (largestQueues); 0 lists neither.`,
      type: "integer",
      minimum: 0,
      maximum: MAX_TOP,
    }),
});

// ---- request bodies -----------------------------------------------------------------------------------

export const PublishRequest = z
  .strictObject({
    topic: z.string().meta({ description: "Topic name (no wildcards).", examples: ["devices/42/commands"] }),
    payload: z.unknown().meta({
      description: "The payload: a string for utf8 and base64, any JSON value for json (sent as its JSON text).",
      examples: ["reboot"],
    }),
    encoding: z.enum(["utf8", "base64", "json"]).default("utf8").meta({ description: "How `payload` is given." }),
    qos: Qos.default(0),
    retain: z.boolean().default(false).meta({ description: "Retain the message; an empty payload with retain clears the retained message." }),
    ...propertyFields,
  })
  .superRefine((v, ctx) => {
    if (v.payload === undefined) ctx.addIssue({ code: "custom", path: ["payload"], message: "is required" });
    else if (v.encoding !== "json" && typeof v.payload !== "string") {
      ctx.addIssue({ code: "custom", path: ["payload"], message: `must be a string with encoding '${v.encoding}' (use encoding 'json' for other JSON values)` });
    } else if (v.encoding === "base64" && !isBase64(v.payload as string)) {
      ctx.addIssue({ code: "custom", path: ["payload"], message: "is not valid base64" });
    }
  })
  .meta({
    description:
      "One message to publish, optionally with MQTT 5 properties: MQTT 5 subscribers receive them, MQTT 3.1.1 subscribers the message without them (docs/rest-api.md, \"MQTT 5 properties\").",
  });
requestSchemas.add(PublishRequest, { id: "PublishRequest" });

export const PublishBatchRequest = z
  .strictObject({
    messages: z.array(PublishRequest).min(1, "must contain at least one message").max(MAX_BATCH, `must contain at most ${MAX_BATCH} messages`),
  })
  .meta({ description: `Up to ${MAX_BATCH} messages, published in order.` });
requestSchemas.add(PublishBatchRequest, { id: "PublishBatchRequest" });

export const SubscribeRequest = z
  .strictObject({
    subscriptions: z
      .array(z.strictObject({ filter: z.string().meta({ description: "Topic filter.", examples: ["devices/42/#"] }), qos: Qos }))
      .min(1, "must contain at least one subscription")
      .max(MAX_SUBSCRIBE, `must contain at most ${MAX_SUBSCRIBE} subscriptions`),
  })
  .meta({ description: "Subscriptions to add or replace." });
requestSchemas.add(SubscribeRequest, { id: "SubscribeRequest" });
