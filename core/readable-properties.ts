import type { MessageProperties } from "./message-properties.js";

/**
 * The readable JSON form of a message's MQTT 5 properties (decision 024, point 7): what a REST publish request
 * takes, what a retained message read over REST shows, and what a `message.published` event carries. The names are
 * the AWS IoT data-plane Publish call's; Correlation Data is base64, User Properties are `[[name, value], ...]`
 * in publish order with duplicates kept. Absent properties are left out, so a 3.1.1 message has none of the keys.
 * (Stores and node messages use the compact `WireProperties` of core/message-properties.ts instead.)
 */
export interface ReadableProperties {
  /** 0: unspecified bytes, 1: the payload is UTF-8 data. */
  payloadFormatIndicator?: 0 | 1;
  /** Message Expiry Interval in seconds (as published, or what remains of it: each use says which). */
  messageExpiry?: number;
  contentType?: string;
  responseTopic?: string;
  /** Correlation Data, base64. */
  correlationData?: string;
  /** User Properties, in order, duplicates kept. */
  userProperties?: [string, string][];
}

/** The names of the readable properties, in the order of the MQTT 5 property table. */
export const READABLE_PROPERTY_NAMES = ["payloadFormatIndicator", "messageExpiry", "contentType", "responseTopic", "correlationData", "userProperties"] as const;

/**
 * The readable form of `props`, or undefined when there are none. `messageExpiry` is the interval to show: by
 * default the one published (pass `remainingExpiry(...)` to show what is left of it).
 */
export function toReadableProperties(props: MessageProperties | undefined, messageExpiry = props?.messageExpiryInterval): ReadableProperties | undefined {
  if (props === undefined) return undefined;
  const r: ReadableProperties = {};
  if (props.payloadFormatIndicator !== undefined) r.payloadFormatIndicator = props.payloadFormatIndicator === 1 ? 1 : 0;
  if (props.messageExpiryInterval !== undefined && messageExpiry !== undefined) r.messageExpiry = messageExpiry;
  if (props.contentType !== undefined) r.contentType = props.contentType;
  if (props.responseTopic !== undefined) r.responseTopic = props.responseTopic;
  if (props.correlationData !== undefined) r.correlationData = props.correlationData.toString("base64");
  if (props.userProperties !== undefined) r.userProperties = props.userProperties.map(([k, v]) => [k, v]);
  return r;
}

/** The message properties of a readable form that was validated (REST input); undefined when it names none. */
export function fromReadableProperties(r: ReadableProperties | undefined): MessageProperties | undefined {
  if (r === undefined) return undefined;
  const props: MessageProperties = {};
  if (r.payloadFormatIndicator !== undefined) props.payloadFormatIndicator = r.payloadFormatIndicator;
  if (r.messageExpiry !== undefined) props.messageExpiryInterval = r.messageExpiry;
  if (r.contentType !== undefined) props.contentType = r.contentType;
  if (r.responseTopic !== undefined) props.responseTopic = r.responseTopic;
  if (r.correlationData !== undefined) props.correlationData = Buffer.from(r.correlationData, "base64");
  if (r.userProperties !== undefined) props.userProperties = r.userProperties.map(([k, v]) => [k, v]);
  return Object.keys(props).length > 0 ? props : undefined;
}

/**
 * Seconds left of a message's Message Expiry Interval at `now` (0 once it expired), counted from `publishedAt`;
 * undefined when it has none. The same rule as the delivering session's [MQTT-3.3.2-6] (broker/publish5.ts).
 */
export function remainingExpiry(props: MessageProperties | undefined, publishedAt: number | undefined, now: number): number | undefined {
  const interval = props?.messageExpiryInterval;
  if (interval === undefined) return undefined;
  if (publishedAt === undefined) return interval;
  return Math.max(0, interval - Math.floor((now - publishedAt) / 1000));
}

/** Whether a stored message's Message Expiry Interval has passed at `now`: it is then delivered to nobody [MQTT-3.3.2-5]. */
export function hasExpired(props: MessageProperties | undefined, publishedAt: number | undefined, now: number): boolean {
  return publishedAt !== undefined && remainingExpiry(props, publishedAt, now) === 0;
}
