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
  description: "Clears the retained message of the topic without publishing anything to subscribers (unlike an empty retained publish).",
  tag: "retained",
  scope: "admin",
  params: TopicParams,
  responses: { 204: { description: "Deleted." } },
  problems: [400, 403, 404, 503],
  async handle({ params }, { backend, key, limits }) {
    checkTopicName(params.topic, limits.topic, { parameter: "topic" });
    requireTopic(key, params.topic, { parameter: "topic", detail: "is outside the API key's topic patterns" });
    if ((await backend.store.getRetained(params.topic)) === null) throw new NotFoundError(`no retained message on '${params.topic}'`);
    await backend.deleteRetained(params.topic);
    return { status: 204 };
  },
});
