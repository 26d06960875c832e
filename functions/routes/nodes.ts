import { nodeInfo } from "../present.js";
import { defineRoute } from "../route.js";
import { NodeList } from "../schemas.js";

export const nodesRoute = defineRoute({
  method: "GET",
  path: "/v1/nodes",
  operationId: "listNodes",
  summary: "Live broker nodes",
  description: "Broker nodes whose heartbeat has not expired.",
  tag: "cluster",
  scope: "read",
  responses: { 200: { description: "The live nodes.", schema: NodeList } },
  problems: [],
  async handle(_input, { backend }) {
    const nodes = await backend.store.listNodes(Date.now());
    return { status: 200, body: { items: nodes.map(nodeInfo) } };
  },
});
