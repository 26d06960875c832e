import type { TopicRate } from "./backend.js";
import { TopicRates, type TopicRatesOptions } from "../core/metrics/topic-rates.js";

export { DEFAULT_TOPIC_RATES, TopicRates, type TopicRatesOptions } from "../core/metrics/topic-rates.js";

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
