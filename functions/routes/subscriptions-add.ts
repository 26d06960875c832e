import type { QoS } from "mqtt-packet";
import { keyCoversFilter } from "../api-keys.js";
import { ForbiddenError, ValidationError, type FieldError } from "../errors.js";
import { subscriptionList } from "../present.js";
import { defineRoute } from "../route.js";
import { ClientParams, SubscribeRequest, SubscriptionList } from "../schemas.js";
import { validateTopicFilter } from "../../core/topic/index.js";

export const subscriptionsAddRoute = defineRoute({
  method: "POST",
  path: "/v1/clients/{clientId}/subscriptions",
  operationId: "addSubscriptions",
  summary: "Subscribe a session",
  description:
    "Adds (or replaces) subscriptions of an existing session, as if the client had sent SUBSCRIBE: durable before the answer, " +
    "and the matching retained messages are delivered at once when the client is online. Filters must lie inside the key's topic patterns " +
    "and be allowed by the client's own rules (403 when they refuse one, nothing subscribed; 409 when they cannot be determined).",
  tag: "clients",
  scope: "admin",
  params: ClientParams,
  body: SubscribeRequest,
  responses: { 200: { description: "The granted subscriptions.", schema: SubscriptionList } },
  problems: [400, 403, 404, 409, 503],
  async handle({ params, body }, { backend, key, limits }) {
    const invalid: FieldError[] = [];
    const add: Record<string, QoS> = {};
    body.subscriptions.forEach(({ filter, qos }, i) => {
      const reason = validateTopicFilter(filter, limits.topic);
      if (reason !== null) invalid.push({ pointer: `#/subscriptions/${i}/filter`, detail: reason });
      add[filter] = qos;
    });
    if (invalid.length > 0) throw new ValidationError(invalid);
    body.subscriptions.forEach(({ filter }, i) => {
      if (!keyCoversFilter(key, filter)) {
        throw new ForbiddenError(`API key '${key.name}' may not subscribe to '${filter}' (its topics: ${key.topics.join(", ")})`, [
          { pointer: `#/subscriptions/${i}/filter`, detail: "is not inside the API key's topic patterns" },
        ]);
      }
    });
    const granted = await backend.subscribe(params.clientId, add);
    return { status: 200, body: { clientId: params.clientId, subscriptions: subscriptionList(granted) } };
  },
});
