import { hasExpired } from "../../core/readable-properties.js";
import { requireTopic } from "../api-keys.js";
import { NotFoundError } from "../errors.js";
import { defineRoute } from "../route.js";
import { TopicParams } from "../schemas.js";
import { checkTopicName } from "../validate.js";

export const retainedDeleteRoute = defineRoute({
  method: "DELETE",
  path: "/v1/retained/{topic+}",
  operationId: "deleteRetained",
  summary: "Delete a retained message",
  description:
    "Clears the retained message of the topic without publishing anything to subscribers (unlike an empty retained publish). " +
    "A retained message whose MQTT 5 Message Expiry Interval has passed is already gone: 404, as for GET.",
  tag: "retained",
  scope: "admin",
  params: TopicParams,
  responses: { 204: { description: "Deleted." } },
  problems: [400, 403, 404, 503],
  async handle({ params }, { backend, key, limits }) {
    checkTopicName(params.topic, limits.topic, { parameter: "topic" });
    requireTopic(key, params.topic, { parameter: "topic", detail: "is outside the API key's topic patterns" });
    const msg = await backend.store.getRetained(params.topic);
    if (msg === null) throw new NotFoundError(`no retained message on '${params.topic}'`);
    // As GET: a retained message whose MQTT 5 Message Expiry Interval passed is gone (the store's sweep removes it).
    if (hasExpired(msg.props, msg.publishedAt, Date.now())) throw new NotFoundError(`no retained message on '${params.topic}' (the last one expired)`);
    await backend.deleteRetained(params.topic);
    return { status: 204 };
  },
});
