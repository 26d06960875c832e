import { hasExpired } from "../../core/readable-properties.js";
import { requireTopic } from "../api-keys.js";
import { NotFoundError } from "../errors.js";
import { retainedMessage } from "../present.js";
import { defineRoute } from "../route.js";
import { EncodingQuery, RetainedMessage, TopicParams } from "../schemas.js";
import { checkTopicName } from "../validate.js";

export const retainedGetRoute = defineRoute({
  method: "GET",
  path: "/v1/retained/{topic+}",
  operationId: "getRetained",
  summary: "One retained message",
  description:
    "With the MQTT 5 properties it was published with; `messageExpiry` is what remains of its Message Expiry Interval. A retained " +
    "message whose interval has passed is gone: 404, as for a topic without one.",
  tag: "retained",
  scope: "read",
  params: TopicParams,
  query: EncodingQuery,
  responses: { 200: { description: "The retained message.", schema: RetainedMessage } },
  problems: [400, 403, 404],
  async handle({ params, query }, { backend, key, limits }) {
    checkTopicName(params.topic, limits.topic, { parameter: "topic" });
    requireTopic(key, params.topic, { parameter: "topic", detail: "is outside the API key's topic patterns" });
    const msg = await backend.store.getRetained(params.topic);
    if (msg === null) throw new NotFoundError(`no retained message on '${params.topic}'`);
    // MQTT 5: a retained message whose Message Expiry Interval passed is gone, for subscribers and here alike.
    const now = Date.now();
    if (hasExpired(msg.props, msg.publishedAt, now)) throw new NotFoundError(`no retained message on '${params.topic}' (the last one expired)`);
    return { status: 200, body: retainedMessage(msg, query.encoding, now) };
  },
});
