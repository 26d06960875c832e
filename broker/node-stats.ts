/**
 * A node's stats snapshot for its heartbeat (NodeStats in core/store/types.ts): what GET /v1/stats and /v1/nodes
 * sum over the cluster. Sampled once per heartbeat (every few seconds): one pass over the sessions, the broker's
 * counters, and the busiest topics of the last minute from a bounded counter (one Map increment per publish,
 * at most TOPICS_PER_BUCKET topics per 10 s bucket).
 */
import { MAX_NODE_TOP_TOPICS, type NodeStats } from "../core/store/types.js";
import { TopicRates } from "../core/metrics/topic-rates.js";
import type { Broker } from "./broker.js";
import type { Message } from "./types.js";

const BUCKET_MS = 10_000;
const BUCKETS = 6;
const TOPICS_PER_BUCKET = 1000;
/** Topic names longer than this are not reported (a snapshot must stay small). */
const MAX_REPORTED_TOPIC_BYTES = 1024;

export class NodeStatsSampler {
  private readonly topics: TopicRates;
  private lastRotate: number;
  private previous: { at: number; received: number; sent: number; dropped: number } | null = null;
  private readonly onPublished = (msg: Message): void => this.topics.record(msg.topic);

  constructor(
    private readonly broker: Broker,
    private readonly version: string,
    now = Date.now(),
  ) {
    this.topics = new TopicRates(now, { bucketMs: BUCKET_MS, buckets: BUCKETS, maxTopics: TOPICS_PER_BUCKET });
    this.lastRotate = now;
    broker.on("message.published", this.onPublished);
  }

  stop(): void {
    this.broker.off("message.published", this.onPublished);
  }

  sample(now = Date.now()): NodeStats {
    if (now - this.lastRotate >= BUCKET_MS) {
      this.topics.rotate(now);
      this.lastRotate = now;
    }
    let connections = 0;
    let sessions = 0;
    let queued = 0;
    let inflight = 0;
    for (const s of this.broker.sessions.values()) {
      if (s.owner !== null) continue; // another node's session (a cluster stub): that node reports it
      sessions++;
      if (s.link !== null) connections++;
      queued += s.queuedCount;
      inflight += s.inflightCount;
    }
    const st = this.broker.stats;
    const messages = { received: st.messagesReceived, sent: st.messagesSent, dropped: st.droppedTotal };
    const prev = this.previous;
    const seconds = prev === null ? 0 : (now - prev.at) / 1000;
    const rate = (cur: number, before: number | undefined) =>
      seconds <= 0 || before === undefined || cur < before ? 0 : Math.round(((cur - before) / seconds) * 1000) / 1000;
    const rates = { received: rate(messages.received, prev?.received), sent: rate(messages.sent, prev?.sent), dropped: rate(messages.dropped, prev?.dropped) };
    this.previous = { at: now, ...messages };
    const topTopics = this.topics
      .top(MAX_NODE_TOP_TOPICS * 2, now, (t) => Buffer.byteLength(t) <= MAX_REPORTED_TOPIC_BYTES)
      .slice(0, MAX_NODE_TOP_TOPICS);
    return { sampledAt: now, version: this.version, connections, sessions, messages, rates, queued, inflight, topTopics };
  }
}
