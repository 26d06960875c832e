import { keyCoversTopic } from "../api-keys.js";
import { clusterFigures } from "../cluster-stats.js";
import { iso } from "../present.js";
import { defineRoute } from "../route.js";
import { Stats, StatsQuery } from "../schemas.js";

export const statsRoute = defineRoute({
  method: "GET",
  path: "/v1/stats",
  operationId: "getStats",
  summary: "Cluster counters",
  description:
    "The number of live nodes, the cluster-wide counters kept in the store, and the nodes' figures summed over the " +
    "cluster: connections, sessions, message counters and rates, queue depths (each node reports them with its " +
    "heartbeat; the answering broker's own are live). With `top`, the busiest topics over the nodes and, where the " +
    "gateway runs in a broker (`npm start`), the largest queues of that broker. The dashboard (docs/operations.md) polls this.",
  tag: "cluster",
  scope: "read",
  query: StatsQuery,
  responses: { 200: { description: "Counters.", schema: Stats } },
  problems: [400],
  async handle({ query }, { backend, key }) {
    const visible = (topic: string) => keyCoversTopic(key, topic);
    const [nodes, counters, live] = await Promise.all([
      backend.store.listNodes(Date.now()),
      backend.store.getCounters(),
      backend.liveStats?.({ top: query.top, topicVisible: visible }),
    ]);
    const cluster = clusterFigures(nodes, live, query.top, visible);
    if (cluster === undefined) return { status: 200, body: { nodes: nodes.length, counters } };
    // Nodes count their topics over the last minute; the answering broker's own tracker says its window.
    const local = query.top <= 0 ? {} : { topicWindowSeconds: live?.topicWindowSeconds ?? 60, ...(live?.largestQueues === undefined ? {} : { largestQueues: live.largestQueues }) };
    return { status: 200, body: { nodes: nodes.length, counters, ...cluster, ...local, sampledAt: iso(cluster.sampledAt) } };
  },
});
