import type { TopicRate } from "./backend.js";

/**
 * Messages per topic over a sliding window, for "top topics by rate" (GET /v1/stats?top=N). The window is a
 * ring of fixed buckets (6 × 10 s by default): recording a message is one Map increment, and a bucket holds at
 * most `maxTopics` topics (messages to further topics count as `untracked`), so a fleet publishing to a million
 * distinct topics costs bounded memory.
 */

export interface TopicRatesOptions {
  /** Length of one bucket. */
  bucketMs: number;
  /** Buckets kept, the current one included: the window is up to `bucketMs × buckets`. */
  buckets: number;
  /** Distinct topics counted per bucket. */
  maxTopics: number;
}

export const DEFAULT_TOPIC_RATES: TopicRatesOptions = { bucketMs: 10_000, buckets: 6, maxTopics: 10_000 };

interface Bucket {
  start: number;
  counts: Map<string, number>;
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
    const n = counts.get(topic);
    if (n !== undefined) counts.set(topic, n + 1);
    else if (counts.size < this.opts.maxTopics) counts.set(topic, 1);
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
      for (const [topic, count] of b.counts) totals.set(topic, (totals.get(topic) ?? 0) + count);
    }
    const seconds = this.windowSeconds(now);
    return [...totals]
      .filter(([topic]) => visible(topic))
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .slice(0, n)
      .map(([topic, messages]) => ({ topic, messages, rate: Math.round((messages / seconds) * 1000) / 1000 }));
  }
}

/** Subscribes `onTopic` to every accepted publish; returns the unsubscribe function. */
export type TopicSource = (onTopic: (topic: string) => void) => () => void;

export interface TopicRateTrackerOptions extends TopicRatesOptions {
  /** Tracking stops after this long without a `top` call (and starts again with the next one). */
  idleMs: number;
  now?: () => number;
}

/**
 * Counts topics only while someone looks: the first `top` call subscribes to the source and starts the bucket
 * timer (unref'd); `idleMs` without a call unsubscribes again, so a broker nobody watches pays nothing per message.
 */
export class TopicRateTracker {
  private rates: TopicRates | null = null;
  private unsubscribe: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastAsked = 0;
  private readonly now: () => number;

  constructor(
    private readonly source: TopicSource,
    private readonly opts: TopicRateTrackerOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  get tracking(): boolean {
    return this.rates !== null;
  }

  top(n: number, visible: (topic: string) => boolean): { topics: TopicRate[]; windowSeconds: number } {
    const now = this.now();
    this.lastAsked = now;
    const rates = this.rates ?? this.start(now);
    return { topics: rates.top(n, now, visible), windowSeconds: Math.round(rates.windowSeconds(now) * 1000) / 1000 };
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.rates = null;
  }

  private start(now: number): TopicRates {
    const rates = new TopicRates(now, this.opts);
    this.rates = rates;
    this.unsubscribe = this.source((topic) => rates.record(topic));
    this.timer = setInterval(() => this.tick(), this.opts.bucketMs);
    this.timer.unref();
    return rates;
  }

  private tick(): void {
    const now = this.now();
    if (now - this.lastAsked > this.opts.idleMs) this.stop();
    else this.rates?.rotate(now);
  }
}
