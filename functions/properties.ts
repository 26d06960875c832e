import { isUtf8 } from "node:buffer";
import type { ReadableProperties } from "../core/readable-properties.js";
import { type TopicLimits, validateTopicName } from "../core/topic/index.js";
import type { FieldError, FieldLocation } from "./errors.js";
import { CORRELATION_DATA_HEADER, MAX_CONTENT_TYPE_BYTES, MAX_CORRELATION_DATA_BYTES, MAX_USER_PROPERTIES, MAX_USER_PROPERTIES_BYTES, PFI_HEADER, USER_PROPERTIES_HEADER } from "./property-schemas.js";

/**
 * The checks of a publish's MQTT 5 properties that its schema cannot make (decision 024, point 7): MQTT strings,
 * sizes in bytes, the response topic against the broker's limits, a payload declared UTF-8. Every one is a 400
 * naming the field, the query parameter or the header the value came from.
 */

export type PropertyName = keyof ReadableProperties;
/** Where each property of one message came from in the request. */
export type PropertyLocations = (name: PropertyName) => FieldLocation;

/** Properties given as JSON fields beside the topic: `#/contentType`, `#/messages/2/contentType`. */
export function bodyLocations(prefix: string): PropertyLocations {
  return (name) => ({ pointer: `${prefix}/${name}` });
}

/** The raw route's: three query parameters and three headers, as the AWS IoT data-plane Publish call has them. */
export const RAW_LOCATIONS: PropertyLocations = (name) => {
  switch (name) {
    case "payloadFormatIndicator":
      return { header: PFI_HEADER };
    case "correlationData":
      return { header: CORRELATION_DATA_HEADER };
    case "userProperties":
      return { header: USER_PROPERTIES_HEADER };
    default:
      return { parameter: name };
  }
};

/** The properties a validated request names (JSON fields, or query and headers), or undefined when it names none. */
export function givenProperties(fields: ReadableProperties): ReadableProperties | undefined {
  const r: ReadableProperties = {};
  if (fields.payloadFormatIndicator !== undefined) r.payloadFormatIndicator = fields.payloadFormatIndicator;
  if (fields.messageExpiry !== undefined) r.messageExpiry = fields.messageExpiry;
  if (fields.contentType !== undefined) r.contentType = fields.contentType;
  if (fields.responseTopic !== undefined) r.responseTopic = fields.responseTopic;
  if (fields.correlationData !== undefined) r.correlationData = fields.correlationData;
  // An empty list is no User Property at all: nothing to carry.
  if (fields.userProperties !== undefined && fields.userProperties.length > 0) r.userProperties = fields.userProperties;
  return Object.keys(r).length > 0 ? r : undefined;
}

/** Every problem of `props` (and of `payload` when it is declared UTF-8), each at its location. */
export function checkProperties(props: ReadableProperties, payload: Buffer, limits: TopicLimits, at: PropertyLocations, payloadAt: FieldLocation): FieldError[] {
  const errors: FieldError[] = [];
  const bad = (name: PropertyName, detail: string) => errors.push({ ...at(name), detail });
  if (props.contentType !== undefined) {
    const why = stringProblem(props.contentType, MAX_CONTENT_TYPE_BYTES);
    if (why !== null) bad("contentType", why);
  }
  if (props.responseTopic !== undefined) {
    // A topic name: the broker's validator, so no wildcards [MQTT-3.3.2-14] and its length and level limits.
    const why = validateTopicName(props.responseTopic, limits);
    if (why !== null) bad("responseTopic", why);
  }
  if (props.correlationData !== undefined) {
    const bytes = Buffer.byteLength(props.correlationData, "base64");
    if (bytes > MAX_CORRELATION_DATA_BYTES) bad("correlationData", `is ${bytes} bytes; at most ${MAX_CORRELATION_DATA_BYTES}`);
  }
  if (props.userProperties !== undefined) errors.push(...userPropertyProblems(props.userProperties, at("userProperties")));
  // MQTT 5 3.3.2.3.2: with 1 the payload is UTF-8 Encoded Character Data; a receiver may refuse it otherwise (0x99).
  if (props.payloadFormatIndicator === 1 && !isUtf8(payload)) {
    errors.push({ ...payloadAt, detail: "is not valid UTF-8, but the payload format indicator declares UTF-8 data (1, UTF8_DATA)" });
  }
  return errors;
}

function userPropertyProblems(pairs: readonly (readonly [string, string])[], at: FieldLocation): FieldError[] {
  if (pairs.length > MAX_USER_PROPERTIES) return [{ ...at, detail: `holds ${pairs.length} pairs; at most ${MAX_USER_PROPERTIES}` }];
  const errors: FieldError[] = [];
  let total = 0;
  for (const [i, [name, value]] of pairs.entries()) {
    for (const [j, s] of [name, value].entries()) {
      const why = stringProblem(s, MAX_USER_PROPERTIES_BYTES);
      if (why !== null) errors.push(within(at, [i, j], `${j === 0 ? "name" : "value"} of pair ${i}`, why));
    }
    total += Buffer.byteLength(name, "utf8") + Buffer.byteLength(value, "utf8");
  }
  if (errors.length === 0 && total > MAX_USER_PROPERTIES_BYTES) {
    errors.push({ ...at, detail: `names and values are ${total} bytes together; at most ${MAX_USER_PROPERTIES_BYTES}` });
  }
  return errors;
}

/** A FieldError inside a value: a deeper JSON pointer for a body field, else the location with the part named. */
function within(at: FieldLocation, path: readonly number[], what: string, detail: string): FieldError {
  if ("pointer" in at) return { pointer: `${at.pointer}/${path.join("/")}`, detail };
  return { ...at, detail: `${what}: ${detail}` };
}

/**
 * Why `s` cannot be an MQTT UTF-8 Encoded String of at most `maxBytes`, or null: no U+0000 [MQTT-1.5.4-2], no
 * unpaired surrogate (it has no UTF-8 form) [MQTT-1.5.4-1].
 */
export function stringProblem(s: string, maxBytes: number): string | null {
  if (s.includes("\0")) return "must not contain the null character U+0000";
  if (UNPAIRED_SURROGATE.test(s)) return "must not contain unpaired UTF-16 surrogates";
  const bytes = Buffer.byteLength(s, "utf8");
  if (bytes > maxBytes) return `is ${bytes} bytes; at most ${maxBytes}`;
  return null;
}

const UNPAIRED_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Bytes of the properties in an MQTT 5 PUBLISH, Property Length not included: one identifier byte each, then
 * Byte / Four Byte Integer / two-byte-length-prefixed strings and binary data (MQTT 5 2.2.2; the same sizes as
 * broker/properties.ts, which encodes them).
 */
export function propertiesWireBytes(props: ReadableProperties): number {
  let n = 0;
  if (props.payloadFormatIndicator !== undefined) n += 2;
  if (props.messageExpiry !== undefined) n += 5;
  if (props.contentType !== undefined) n += 3 + Buffer.byteLength(props.contentType, "utf8");
  if (props.responseTopic !== undefined) n += 3 + Buffer.byteLength(props.responseTopic, "utf8");
  if (props.correlationData !== undefined) n += 3 + Buffer.byteLength(props.correlationData, "base64");
  for (const [k, v] of props.userProperties ?? []) n += 5 + Buffer.byteLength(k, "utf8") + Buffer.byteLength(v, "utf8");
  return n;
}
