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
