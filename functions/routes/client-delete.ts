import { defineRoute } from "../route.js";
import { ClientParams, KickQuery, KickResult } from "../schemas.js";

export const clientDeleteRoute = defineRoute({
  method: "DELETE",
  path: "/v1/clients/{clientId}",
  operationId: "disconnectClient",
  summary: "Disconnect a client",
  description:
    "Closes the client's connection on whichever node holds it (its will message, if any, is published as for any close " +
    "without DISCONNECT). With discardSession=true the session and everything queued for it is deleted as well.",
  tag: "clients",
  scope: "admin",
  params: ClientParams,
  query: KickQuery,
  responses: { 200: { description: "What was done.", schema: KickResult } },
  problems: [400, 404, 503],
  async handle({ params, query }, { backend }) {
    const result = await backend.kick(params.clientId, query.discardSession);
    return { status: 200, body: { clientId: params.clientId, ...result } };
  },
});
