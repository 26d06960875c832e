import { definePublicRoute } from "../route.js";
import { Health } from "../schemas.js";

export const healthRoute = definePublicRoute({
  method: "GET",
  path: "/v1/health",
  operationId: "health",
  summary: "Health",
  description: "200 when the gateway is configured and its store answers, 503 otherwise.",
  tag: "meta",
  responses: { 200: { description: "Healthy.", schema: Health }, 503: { description: "Unhealthy: the store does not answer or the gateway is misconfigured.", schema: Health } },
  problems: [],
  async handle({ backend }) {
    let store;
    try {
      store = (await backend()).store;
    } catch (err) {
      return { status: 503, body: { status: "unavailable", store: { kind: null, reachable: false }, detail: (err as Error).message } };
    }
    const reachable = await store.ping().catch(() => false);
    return { status: reachable ? 200 : 503, body: { status: reachable ? "ok" : "unavailable", store: { kind: store.kind, reachable } } };
  },
});
