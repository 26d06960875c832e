/**
 * The MQTT 5 properties an application message carries from its publisher to every receiver, in every store and
 * across the cluster (docs/decisions/024-mqtt5-properties.md). A 3.1.1 or 3.1 message has none. Per-receiver
 * properties (Topic Alias, Subscription Identifiers) are not part of a message: the delivering session adds them.
 */
export interface MessageProperties {
  /** 0 unspecified bytes, 1 UTF-8 (3.3.2.3.2); sent on unaltered [MQTT-3.3.2-4]. */
  payloadFormatIndicator?: number;
  /** Seconds, as published; the delivering session sends what remains of it [MQTT-3.3.2-6]. */
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** In publish order, duplicates kept: forwarded unchanged and in order [MQTT-3.3.2-17] [MQTT-3.3.2-18]. */
  userProperties?: [string, string][];
}

/**
 * The JSON form of `MessageProperties`, one for every place a message is text (store bodies, node messages, REST,
 * events): Correlation Data base64, User Properties as `[[name, value], ...]` in order. Short keys keep stored
 * bodies small. Absent fields are left out.
 */
export interface WireProperties {
  /** Payload Format Indicator. */
  pfi?: number;
  /** Message Expiry Interval, seconds as published. */
  exp?: number;
  /** Content Type. */
  ct?: string;
  /** Response Topic. */
  rt?: string;
  /** Correlation Data, base64. */
  cd?: string;
  /** User Properties, in order. */
  up?: [string, string][];
}

/** The JSON form of `props`, or undefined when there are none. */
export function toWireProperties(props: MessageProperties | undefined): WireProperties | undefined {
  if (props === undefined) return undefined;
  const w: WireProperties = {};
  if (props.payloadFormatIndicator !== undefined) w.pfi = props.payloadFormatIndicator;
  if (props.messageExpiryInterval !== undefined) w.exp = props.messageExpiryInterval;
  if (props.contentType !== undefined) w.ct = props.contentType;
  if (props.responseTopic !== undefined) w.rt = props.responseTopic;
  if (props.correlationData !== undefined) w.cd = props.correlationData.toString("base64");
  if (props.userProperties !== undefined) w.up = props.userProperties.map(([k, v]) => [k, v]);
  return w;
}

/**
 * Reads the JSON form back, checking every field (it may come from a store or a queue another version wrote):
 * throws on a field of the wrong type. Unknown keys are ignored, so a later version may add some.
 */
export function fromWireProperties(w: unknown): MessageProperties | undefined {
  if (w === undefined || w === null) return undefined;
  if (typeof w !== "object" || Array.isArray(w)) throw new Error("message properties: not an object");
  const o = w as Record<string, unknown>;
  const props: MessageProperties = {};
  if (o.pfi !== undefined) props.payloadFormatIndicator = uint(o.pfi, 1, "pfi");
  if (o.exp !== undefined) props.messageExpiryInterval = uint(o.exp, 0xffffffff, "exp");
  if (o.ct !== undefined) props.contentType = str(o.ct, "ct");
  if (o.rt !== undefined) props.responseTopic = str(o.rt, "rt");
  if (o.cd !== undefined) props.correlationData = Buffer.from(str(o.cd, "cd"), "base64");
  if (o.up !== undefined) {
    if (!Array.isArray(o.up)) throw new Error("message properties: up is not a list");
    props.userProperties = o.up.map((pair: unknown) => {
      if (!Array.isArray(pair) || pair.length !== 2) throw new Error("message properties: a user property is not a pair");
      return [str(pair[0], "up"), str(pair[1], "up")];
    });
  }
  return props;
}

function uint(v: unknown, max: number, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw new Error(`message properties: ${what} out of range`);
  return v;
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new Error(`message properties: ${what} is not a string`);
  return v;
}
