import type { MessageProperties } from "../../core/message-properties.js";
import { type TopicLimits, validateTopicName } from "../../core/topic/index.js";
import { Disconnect5 } from "../link5.js";
import type { Properties } from "../properties.js";

/**
 * The properties of an inbound MQTT 5 PUBLISH that belong to the message and travel with it (decision 024): all
 * but the Topic Alias, which belongs to the connection. A client may not send Subscription Identifiers
 * [MQTT-3.3.4-6]; a Response Topic must be a topic name, without wildcards [MQTT-3.3.2-14].
 */
export function messageProperties(props: Properties, limits: TopicLimits): MessageProperties | undefined {
  if (props.subscriptionIdentifiers !== undefined) {
    throw new Disconnect5(0x82, "a PUBLISH from a client carries a Subscription Identifier", "MQTT-3.3.4-6");
  }
  const { topicAlias: _alias, ...rest } = props;
  const message: MessageProperties = rest;
  if (message.responseTopic !== undefined) {
    const invalid = validateTopicName(message.responseTopic, limits);
    if (invalid !== null) throw new Disconnect5(0x82, `invalid response topic: ${invalid}`, "MQTT-3.3.2-14");
  }
  for (const _key in message) return message;
  return undefined;
}
