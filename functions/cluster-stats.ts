/**
 * GET /v1/stats over the whole cluster: the nodes' heartbeat snapshots (NodeStats, written by every broker, a
 * single `npm start` node included) summed, with the answering process's own node taken from its live figures
 * when it has them (fresher than its last heartbeat).
 */
import type { NodeRecord, NodeStats, StatsFigures } from "../core/store/types.js";
import type { LiveStats, TopicRate } from "./backend.js";

/** The nodes' figures summed; `rates` are per second summed over the nodes (each over its last heartbeat interval). */
export interface ClusterFigures extends StatsFigures {
  /** When the figures were taken: the oldest snapshot's time (or the live one's). */
  sampledAt: number;
  /** Nodes whose figures are included (live nodes that reported a snapshot, or the answering node). */
  nodesReporting: number;
  /** With `top` > 0: the busiest visible topics over the nodes (each node reports its own top ones). */
  topTopics?: TopicRate[];
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** Sums the nodes' snapshots; `live` (with its `nodeId`) replaces that node's snapshot. Undefined when nothing reports. */
export function clusterFigures(nodes: readonly NodeRecord[], live: LiveStats | undefined, top: number, visible: (topic: string) => boolean): ClusterFigures | undefined {
  const snapshots: NodeStats[] = [];
  let liveNodeSnapshot: NodeStats | undefined;
  for (const n of nodes) {
    if (n.stats === undefined) continue;
    if (live?.nodeId !== undefined && n.nodeId === live.nodeId) liveNodeSnapshot = n.stats;
    else snapshots.push(n.stats);
  }
  if (snapshots.length === 0 && live === undefined) return undefined;
  const f: ClusterFigures = {
    sampledAt: Infinity,
    nodesReporting: snapshots.length,
    connections: 0,
    sessions: 0,
    messages: { received: 0, sent: 0, dropped: 0 },
    rates: { received: 0, sent: 0, dropped: 0 },
    queued: 0,
    inflight: 0,
  };
  const topics = new Map<string, { messages: number; rate: number }>();
  const addTopics = (list: readonly TopicRate[]) => {
    for (const t of list) {
      if (!visible(t.topic)) continue;
      const cur = topics.get(t.topic) ?? { messages: 0, rate: 0 };
      topics.set(t.topic, { messages: cur.messages + t.messages, rate: cur.rate + t.rate });
    }
  };
  for (const s of snapshots) {
    f.sampledAt = Math.min(f.sampledAt, s.sampledAt);
    f.connections += s.connections;
    f.sessions += s.sessions;
    f.queued += s.queued;
    f.inflight += s.inflight;
    for (const k of ["received", "sent", "dropped"] as const) {
      f.messages[k] += s.messages[k];
      f.rates[k] += s.rates[k];
    }
    addTopics(s.topTopics);
  }
  if (live !== undefined) {
    f.nodesReporting++;
    f.sampledAt = Math.min(f.sampledAt, live.sampledAt);
    f.connections += live.connections;
    f.sessions += live.sessions;
    for (const k of ["received", "sent", "dropped"] as const) {
      f.messages[k] += live.messages[k];
      f.rates[k] += liveNodeSnapshot?.rates[k] ?? 0;
    }
    f.queued += live.queued ?? liveNodeSnapshot?.queued ?? 0;
    f.inflight += live.inflight ?? liveNodeSnapshot?.inflight ?? 0;
    addTopics(live.topTopics ?? liveNodeSnapshot?.topTopics ?? []);
  }
  for (const k of ["received", "sent", "dropped"] as const) f.rates[k] = round(f.rates[k]);
  if (top > 0) {
    f.topTopics = [...topics]
      .sort((a, b) => b[1].messages - a[1].messages || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, top)
      .map(([topic, t]) => ({ topic, messages: t.messages, rate: round(t.rate) }));
  }
  return f;
}
