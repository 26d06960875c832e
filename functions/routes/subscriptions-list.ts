import { NotFoundError } from "../errors.js";
import { subscriptionList } from "../present.js";
import { defineRoute } from "../route.js";
import { ClientParams, SubscriptionList } from "../schemas.js";

export const subscriptionsListRoute = defineRoute({
  method: "GET",
  path: "/v1/clients/{clientId}/subscriptions",
  operationId: "listSubscriptions",
  summary: "A session's subscriptions",
  tag: "clients",
  scope: "read",
  params: ClientParams,
  responses: { 200: { description: "Subscriptions ordered by filter.", schema: SubscriptionList } },
  problems: [404],
  async handle({ params }, { backend }) {
    const session = await backend.store.getSession(params.clientId);
    if (session === null) throw new NotFoundError(`no client '${params.clientId}'`);
    return { status: 200, body: { clientId: params.clientId, subscriptions: subscriptionList(session.subscriptions) } };
  },
});
