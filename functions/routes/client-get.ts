import { NotFoundError } from "../errors.js";
import { clientDetail } from "../present.js";
import { defineRoute } from "../route.js";
import { ClientDetail, ClientParams } from "../schemas.js";

export const clientGetRoute = defineRoute({
  method: "GET",
  path: "/v1/clients/{clientId}",
  operationId: "getClient",
  summary: "One session",
  description: "Connection state, owning node, subscriptions, and the counts of stored in-flight and queued QoS 1/2 messages.",
  tag: "clients",
  scope: "read",
  params: ClientParams,
  responses: { 200: { description: "The session.", schema: ClientDetail } },
  problems: [404],
  async handle({ params }, { backend }) {
    const session = await backend.store.getSession(params.clientId);
    if (session === null) throw new NotFoundError(`no client '${params.clientId}'`);
    return { status: 200, body: clientDetail(session) };
  },
});
