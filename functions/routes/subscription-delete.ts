import { keyCoversFilter } from "../api-keys.js";
import { ForbiddenError, NotFoundError } from "../errors.js";
import { defineRoute } from "../route.js";
import { ClientFilterParams } from "../schemas.js";
import { checkTopicFilter } from "../validate.js";

export const subscriptionDeleteRoute = defineRoute({
  method: "DELETE",
  path: "/v1/clients/{clientId}/subscriptions/{filter+}",
  operationId: "removeSubscription",
  summary: "Unsubscribe a session",
  description: "Removes one subscription, as if the client had sent UNSUBSCRIBE; durable before the answer.",
  tag: "clients",
  scope: "admin",
  params: ClientFilterParams,
  responses: { 204: { description: "Removed." } },
  problems: [400, 403, 404, 503],
  async handle({ params }, { backend, key, limits }) {
    checkTopicFilter(params.filter, limits.topic, { parameter: "filter" });
    if (!keyCoversFilter(key, params.filter)) {
      throw new ForbiddenError(`API key '${key.name}' may not change subscriptions to '${params.filter}'`, [
        { parameter: "filter", detail: "is not inside the API key's topic patterns" },
      ]);
    }
    const removed = await backend.unsubscribe(params.clientId, [params.filter]);
    if (removed.length === 0) throw new NotFoundError(`client '${params.clientId}' has no subscription '${params.filter}'`);
    return { status: 204 };
  },
});
