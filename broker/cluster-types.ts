import type { RouteDigest } from "../core/store/routes-types.js";
import type { NodeRecord } from "../core/store/types.js";
import type { NodeTransport } from "./link/transport.js";

// The options and events of a cluster node (broker/cluster.ts), and the route table as its parts read it: apart, so
// those parts (broker/cluster-*.ts) name them without importing broker/cluster.ts or the broker core.

export interface ClusterOptions {
  readonly nodeId: string;
  /** Where this node's clients connect (host:port), shown in GET /v1/nodes; Cluster.setAddress replaces it once bound. */
  readonly address: string;
  /** Heartbeat interval. */
  heartbeatMs: number;
  /** A node whose last heartbeat is older than this is dead. */
  nodeTtlMs: number;
  /** Times a delivery is passed on between nodes before it goes to the store regardless of owner. Default 3. */
  maxHops?: number;
  /** How often the route log is read (ms). Default 50. */
  routePollMs?: number;
  /** How long a dead node's queue is kept and drained after its routes were dropped (default 90 s). */
  deadQueueGraceMs?: number;
  /** host:port of this node's link listener, in its node record (broker/link, "Fast lane" in docs/cluster.md). */
  linkAddress?: string;
  /** Where forwards go: a node link, falling back to the node queue (broker/link/transport.ts). Default: the communicator. */
  transport?: NodeTransport;
  /** How long a session claimed from another node holds its deliveries for that node's reply (decision 031). */
  moveSettleMs?: number;
}

export interface ClusterEvents {
  /** Something failed that the cluster retries or works around; for logs. */
  onError(operation: string, err: Error): void;
  /** A session of a dead node was released (its client is gone: emit client.disconnected "node-failure"). */
  onSessionLost(clientId: string, username: string | null): void;
  /** A dead node was cleaned up. */
  onNodeRemoved(nodeId: string, sessions: number, drained: number): void;
  /** A node's lease expired (before its cleanup): publish its clients' wills (broker/lease.ts, decision 019). */
  onNodeExpired?(node: NodeRecord): Promise<void>;
}

/** The route table (filters -> nodes, broker/route-table.ts) as the cluster's parts read it. */
export interface RouteView {
  /** Calls `visit` with the node of each route matching `topic`. */
  match(topic: string, visit: (node: string) => void): void;
  /** Calls `visit` with each shared subscription route (group `key` on `node`) matching `topic`. */
  matchShared(topic: string, visit: (route: { readonly node: string; readonly key: string }) => void): void;
  /** The digest of this node's view of `node`'s routes. */
  digest(node: string): RouteDigest;
}
