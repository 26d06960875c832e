import { keyCoversTopic } from "../api-keys.js";
import { iso } from "../present.js";
import { defineRoute } from "../route.js";
import { Stats, StatsQuery } from "../schemas.js";

export const statsRoute = defineRoute({
  method: "GET",
  path: "/v1/stats",
  operationId: "getStats",
  summary: "Cluster counters",
  description:
    "The number of live nodes and the cluster-wide counters kept in the store; where the gateway can see the brokers " +
    "(`npm start`), also their connections, sessions and message counters, and with `top` the busiest topics and " +
    "the largest queues. The dashboard (docs/operations.md) polls this.",
  tag: "cluster",
  scope: "read",
  query: StatsQuery,
  responses: { 200: { description: "Counters.", schema: Stats } },
  problems: [400],
  async handle({ query }, { backend, key }) {
    const [nodes, counters, live] = await Promise.all([
      backend.store.listNodes(Date.now()),
      backend.store.getCounters(),
      backend.liveStats?.({ top: query.top, topicVisible: (topic) => keyCoversTopic(key, topic) }),
    ]);
    if (live === undefined) return { status: 200, body: { nodes: nodes.length, counters } };
    return { status: 200, body: { nodes: nodes.length, counters, ...live, sampledAt: iso(live.sampledAt) } };
  },
});
