import { clientSummary } from "../present.js";
import { defineRoute } from "../route.js";
import { ClientPage, ClientsQuery } from "../schemas.js";
import { storeCall } from "../store-errors.js";

export const clientsListRoute = defineRoute({
  method: "GET",
  path: "/v1/clients",
  operationId: "listClients",
  summary: "List sessions",
  description: "Sessions known to the cluster (connected clients and offline persistent sessions), ordered by client id, one page at a time.",
  tag: "clients",
  scope: "read",
  query: ClientsQuery,
  responses: { 200: { description: "One page of sessions.", schema: ClientPage } },
  problems: [400],
  async handle({ query }, { backend }) {
    const page = await storeCall(() => backend.store.listSessions({ cursor: query.cursor ?? null, limit: query.limit, connected: query.connected }), "cursor");
    return { status: 200, body: { items: page.items.map(clientSummary), cursor: page.cursor } };
  },
});
