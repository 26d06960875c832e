/**
 * Messages per topic over a sliding window, for "top topics by rate" (GET /v1/stats?top=N): the REST gateway's
 * on-demand tracker (functions/topic-rates.ts) and a node's stats snapshot (broker/node-stats.ts). The window is a
 * ring of fixed buckets (6 × 10 s by default): recording a message is one Map lookup and an increment of the
 * topic's counter (a counter object, so a repeat costs no second lookup to store it back), and a bucket holds at
 * most `maxTopics` topics (messages to further topics count as `untracked`), so a fleet publishing to a million
 * distinct topics costs bounded memory.
 */

export interface TopicRate {
  topic: string;
  /** Messages published to the topic within the window. */
  messages: number;
  /** Messages per second over the window. */
  rate: number;
}

export interface TopicRatesOptions {
  /** Length of one bucket. */
  bucketMs: number;
  /** Buckets kept, the current one included: the window is up to `bucketMs × buckets`. */
  buckets: number;
  /** Distinct topics counted per bucket. */
  maxTopics: number;
}

export const DEFAULT_TOPIC_RATES: TopicRatesOptions = { bucketMs: 10_000, buckets: 6, maxTopics: 10_000 };

/** A topic's messages in one bucket: an object, so that `record` increments it in place. */
interface Count {
  n: number;
}

interface Bucket {
  start: number;
  counts: Map<string, Count>;
}

export class TopicRates {
  private current: Bucket;
  private readonly older: Bucket[] = [];
  /** Messages not counted by topic because their bucket already held `maxTopics` topics. */
  untracked = 0;

  constructor(
    now: number,
    private readonly opts: TopicRatesOptions = DEFAULT_TOPIC_RATES,
  ) {
    this.current = { start: now, counts: new Map() };
  }

  record(topic: string): void {
    const counts = this.current.counts;
    const count = counts.get(topic);
    if (count !== undefined) count.n++;
    else if (counts.size < this.opts.maxTopics) counts.set(topic, { n: 1 });
    else this.untracked++;
  }

  /** Starts a new bucket; the oldest one leaves the window. */
  rotate(now: number): void {
    this.older.push(this.current);
    if (this.older.length > this.opts.buckets - 1) this.older.shift();
    this.current = { start: now, counts: new Map() };
  }

  /** Seconds the window covers at `now`: from the start of its oldest bucket (at least one second). */
  windowSeconds(now: number): number {
    const start = (this.older[0] ?? this.current).start;
    return Math.max(1, (now - start) / 1000);
  }

  /** The `n` busiest visible topics in the window, busiest first (ties by topic). */
  top(n: number, now: number, visible: (topic: string) => boolean = () => true): TopicRate[] {
    if (n <= 0) return [];
    const totals = new Map<string, number>();
    for (const b of [...this.older, this.current]) {
      for (const [topic, count] of b.counts) totals.set(topic, (totals.get(topic) ?? 0) + count.n);
    }
    const seconds = this.windowSeconds(now);
    return [...totals]
      .filter(([topic]) => visible(topic))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, n)
      .map(([topic, messages]) => ({ topic, messages, rate: Math.round((messages / seconds) * 1000) / 1000 }));
  }
}
