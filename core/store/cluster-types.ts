/**
 * The cluster's own records in the store: a node's record with the figures and stats it reports (and their bounds),
 * and REST API keys. Part of the Store contract (core/store/types.ts), which re-exports them.
 */

export interface NodeRecord {
  nodeId: string;
  address: string;
  queueUrl: string | null;
  /** host:port of the node's link listener (docs/cluster.md, "Fast lane"); absent when links are off. */
  linkAddress?: string | null | undefined;
  startedAt: number;
  heartbeatAt: number;
  /** The node's figures as of its last heartbeat that carried them (absent until the first). */
  stats?: NodeStats | undefined;
}

/** The figures a node reports and the cluster sums (functions/cluster-stats.ts). */
export interface StatsFigures {
  /** Clients with a live connection (to this node, or summed over the nodes). */
  connections: number;
  /** Sessions held: connected, and offline persistent ones. */
  sessions: number;
  /** Counters since the node started. */
  messages: { received: number; sent: number; dropped: number };
  /** Per second over the last heartbeat interval. */
  rates: { received: number; sent: number; dropped: number };
  /** Messages queued in memory behind the in-flight windows, and sent but unacknowledged, over the sessions. */
  queued: number;
  inflight: number;
}

/**
 * A node's small stats snapshot, written with its heartbeat (GET /v1/stats and /v1/nodes sum them over the
 * cluster). Bounded: at most MAX_NODE_TOP_TOPICS topics, MAX_NODE_STATS_BYTES as JSON.
 */
export interface NodeStats extends StatsFigures {
  /** When the figures were taken (ms since the epoch, the node's clock). */
  sampledAt: number;
  /** The node's mqgate version. */
  version: string;
  /** Busiest topics published on this node over the last minute, busiest first. */
  topTopics: { topic: string; messages: number; rate: number }[];
}

export const MAX_NODE_TOP_TOPICS = 10;
export const MAX_NODE_STATS_BYTES = 32 * 1024;

export interface ApiKeyRecord {
  id: string;
  /** sha256 of the key, hex. The key itself is never stored. */
  hash: string;
  name: string;
  scopes: ("publish" | "read" | "admin")[];
  /** Topic filters the key may publish to / read; ["#"] for all. */
  topics: string[];
  createdAt: number;
}
