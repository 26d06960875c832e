import * as z from "zod";

/**
 * The MQTT 5 message properties of the publish routes (decision 024, point 7): the JSON fields of a publish request,
 * the query parameters and headers of the raw route (the way the AWS IoT data-plane Publish call takes them), and
 * the readable fields of an answer (retained messages). What needs the broker's limits (the response topic's
 * length and levels) or a look at the whole message (UTF-8 payloads, sizes in bytes) is checked in properties.ts.
 */

/** Content Type, in UTF-8 bytes (MQTT allows 65,535; a media type is far shorter). */
export const MAX_CONTENT_TYPE_BYTES = 1024;
/** Correlation Data, in bytes (decoded). */
export const MAX_CORRELATION_DATA_BYTES = 4096;
/** User Properties per message. */
export const MAX_USER_PROPERTIES = 64;
/** User Properties per message: the UTF-8 bytes of every name and value together. */
export const MAX_USER_PROPERTIES_BYTES = 8192;
/** Message Expiry Interval: MQTT's Four Byte Integer. */
export const MAX_MESSAGE_EXPIRY = 0xffff_ffff;
/**
 * The raw route's `x-amz-mqtt5-user-properties` header, in characters: room for the most the byte bound allows as
 * base64 JSON, a little escaping included. (API Gateway and Node's HTTP server bound headers more tightly still.)
 */
export const MAX_USER_PROPERTIES_HEADER = 4 * Math.ceil((2 * MAX_USER_PROPERTIES_BYTES + 8 * MAX_USER_PROPERTIES) / 3);

/** The raw route's headers, as AWS IoT names them (lower case, as API Gateway passes them). */
export const PFI_HEADER = "x-amz-mqtt5-payload-format-indicator";
export const CORRELATION_DATA_HEADER = "x-amz-mqtt5-correlation-data";
export const USER_PROPERTIES_HEADER = "x-amz-mqtt5-user-properties";
export const MQTT5_HEADERS = [PFI_HEADER, CORRELATION_DATA_HEADER, USER_PROPERTIES_HEADER] as const;

const base64Chars = (bytes: number) => 4 * Math.ceil(bytes / 3);

export function isBase64(s: string): boolean {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return false;
  const unpadded = s.replace(/=+$/, "");
  return Buffer.from(unpadded, "base64").toString("base64").replace(/=+$/, "") === unpadded;
}

const PFI_DESCRIPTION = "Payload Format Indicator: 0 or UNSPECIFIED_BYTES (the default), 1 or UTF8_DATA (the payload must then be valid UTF-8, else 400).";
const EXPIRY_DESCRIPTION =
  "Message Expiry Interval in seconds (1..4294967295): a message not delivered within it is dropped, also from offline sessions' queues and as retained message. Absent: it never expires.";
const CONTENT_TYPE_DESCRIPTION = `Content Type: a UTF-8 string, e.g. a media type (at most ${MAX_CONTENT_TYPE_BYTES} bytes).`;
const RESPONSE_TOPIC_DESCRIPTION = "Response Topic: a topic name (no wildcards, the broker's length and level limits) for the receiver's answer.";
const CORRELATION_DESCRIPTION = `Correlation Data, base64 (at most ${MAX_CORRELATION_DATA_BYTES} bytes decoded).`;
const USER_PROPERTIES_DESCRIPTION = `User Properties: [name, value] pairs of UTF-8 strings, delivered in this order, duplicates kept (at most ${MAX_USER_PROPERTIES} pairs, ${MAX_USER_PROPERTIES_BYTES} bytes of names and values).`;

const pfi = z
  .union([z.literal([0, 1]), z.enum(["UNSPECIFIED_BYTES", "UTF8_DATA"])], { error: 'must be 0, 1, "UNSPECIFIED_BYTES" or "UTF8_DATA"' })
  .transform((v): 0 | 1 => (v === 1 || v === "UTF8_DATA" ? 1 : 0));

const expiry = z
  .int({ error: "must be an integer number of seconds" })
  .min(1, "must be at least 1 second (a message that expires at once reaches nobody)")
  .max(MAX_MESSAGE_EXPIRY, `must be at most ${MAX_MESSAGE_EXPIRY} seconds`);

const contentType = z.string().max(MAX_CONTENT_TYPE_BYTES, `must be at most ${MAX_CONTENT_TYPE_BYTES} bytes`);

const correlationData = z
  .string()
  .max(base64Chars(MAX_CORRELATION_DATA_BYTES), `must be at most ${MAX_CORRELATION_DATA_BYTES} bytes`)
  .refine(isBase64, "is not valid base64");

const pair = z.tuple([z.string(), z.string()], { error: "must be a [name, value] pair of strings" });

/** The property fields of a JSON publish request (`PublishRequest`), all optional. */
export const propertyFields = {
  payloadFormatIndicator: pfi.optional().meta({ description: PFI_DESCRIPTION }),
  messageExpiry: expiry.optional().meta({ description: EXPIRY_DESCRIPTION }),
  contentType: contentType.optional().meta({ description: CONTENT_TYPE_DESCRIPTION, examples: ["application/json"] }),
  responseTopic: z.string().optional().meta({ description: RESPONSE_TOPIC_DESCRIPTION, examples: ["devices/42/replies"] }),
  correlationData: correlationData.optional().meta({ description: CORRELATION_DESCRIPTION }),
  userProperties: z
    .array(pair)
    .max(MAX_USER_PROPERTIES, `must hold at most ${MAX_USER_PROPERTIES} pairs`)
    .optional()
    .meta({ description: USER_PROPERTIES_DESCRIPTION, examples: [[["source", "billing"], ["trace", "a1"]]] }),
};

/** The raw route's property query parameters (the AWS IoT data-plane Publish call's names). */
export const propertyQueryFields = {
  contentType: contentType.optional().meta({ description: CONTENT_TYPE_DESCRIPTION }),
  messageExpiry: z
    .string()
    .regex(/^\d{1,10}$/, "must be an integer number of seconds")
    .transform(Number)
    .pipe(expiry)
    .optional()
    .meta({ description: EXPIRY_DESCRIPTION, type: "integer", minimum: 1, maximum: MAX_MESSAGE_EXPIRY }),
  responseTopic: z.string().optional().meta({ description: RESPONSE_TOPIC_DESCRIPTION }),
};

/** The raw route's property headers, as the AWS IoT data-plane Publish call takes them. */
export const RawPublishHeaders = z.object({
  [PFI_HEADER]: z
    .enum(["UNSPECIFIED_BYTES", "UTF8_DATA", "0", "1"], { error: 'must be "UNSPECIFIED_BYTES", "UTF8_DATA", 0 or 1' })
    .transform((v): 0 | 1 => (v === "UTF8_DATA" || v === "1" ? 1 : 0))
    .optional()
    .meta({ description: "Payload Format Indicator: UNSPECIFIED_BYTES (or 0), UTF8_DATA (or 1: the payload must then be valid UTF-8, else 400)." }),
  [CORRELATION_DATA_HEADER]: correlationData.optional().meta({ description: CORRELATION_DESCRIPTION }),
  [USER_PROPERTIES_HEADER]: z
    .string()
    .max(MAX_USER_PROPERTIES_HEADER, `must be at most ${MAX_USER_PROPERTIES_HEADER} characters`)
    .transform(awsUserProperties)
    .optional()
    .meta({
      description:
        `User Properties as AWS IoT takes them: base64 of a JSON list of one-property objects, in order, e.g. [{"deviceName": "alpha"}, {"deviceCnt": "45"}] ` +
        `(an object {"key": name, "value": value} is read as one pair too). At most ${MAX_USER_PROPERTIES} pairs, ${MAX_USER_PROPERTIES_BYTES} bytes of names and values.`,
    }),
});

/** `x-amz-mqtt5-user-properties`: base64 JSON `[{"name": "value"}, ...]` (or `{"key", "value"}` objects) to pairs. */
function awsUserProperties(header: string, ctx: z.RefinementCtx): [string, string][] {
  const fail = (message: string): [string, string][] => {
    ctx.addIssue({ code: "custom", message, input: header });
    return z.NEVER;
  };
  if (!isBase64(header)) return fail("is not valid base64");
  let list: unknown;
  try {
    list = JSON.parse(Buffer.from(header, "base64").toString("utf8"));
  } catch {
    return fail("is not base64-encoded JSON");
  }
  if (!Array.isArray(list)) return fail('must encode a JSON list of objects, e.g. [{"name": "value"}]');
  if (list.length > MAX_USER_PROPERTIES) return fail(`must hold at most ${MAX_USER_PROPERTIES} pairs, has ${list.length}`);
  const pairs: [string, string][] = [];
  for (const [i, item] of list.entries()) {
    const entries = item !== null && typeof item === "object" && !Array.isArray(item) ? Object.entries(item as Record<string, unknown>) : [];
    const [name, value] = entries.length === 1 ? (entries[0] as [string, unknown]) : [undefined, undefined];
    const kv = item as { key?: unknown; value?: unknown };
    if (name !== undefined && typeof value === "string") pairs.push([name, value]);
    else if (entries.length === 2 && typeof kv.key === "string" && typeof kv.value === "string") pairs.push([kv.key, kv.value]);
    else return fail(`item ${i} must be an object with one property whose value is a string, e.g. {"name": "value"}`);
  }
  return pairs;
}

/** The readable properties of a message in an answer (retained messages), each present only when the message has it. */
export const readablePropertyFields = {
  payloadFormatIndicator: z.literal([0, 1]).optional().meta({ description: "Payload Format Indicator: 0 unspecified bytes, 1 UTF-8 data." }),
  messageExpiry: z.int().min(0).optional(),
  contentType: z.string().optional().meta({ description: "Content Type." }),
  responseTopic: z.string().optional().meta({ description: "Response Topic." }),
  correlationData: z.string().optional().meta({ description: "Correlation Data, base64." }),
  userProperties: z
    .array(z.tuple([z.string(), z.string()]))
    .optional()
    .meta({ description: "User Properties: [name, value] pairs in publish order, duplicates kept." }),
};
