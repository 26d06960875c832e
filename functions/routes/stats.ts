import { defineRoute } from "../route.js";
import { Stats } from "../schemas.js";

export const statsRoute = defineRoute({
  method: "GET",
  path: "/v1/stats",
  operationId: "getStats",
  summary: "Cluster counters",
  description: "The number of live nodes and the cluster-wide counters kept in the store.",
  tag: "cluster",
  scope: "read",
  responses: { 200: { description: "Counters.", schema: Stats } },
  problems: [],
  async handle(_input, { backend }) {
    const [nodes, counters] = await Promise.all([backend.store.listNodes(Date.now()), backend.store.getCounters()]);
    return { status: 200, body: { nodes: nodes.length, counters } };
  },
});
