/**
 * Pure accounting for the load generator: loss, duplication and reordering per publisher → subscriber pair,
 * and the order statistics (percentiles, medians) the report uses. No I/O here, so it is unit-tested directly
 * (test/unit/bench-accounting.test.ts).
 */

/** The verdict on one received message of a pair. */
export type Arrival = "ok" | "duplicate" | "reordered" | "unexpected";

/**
 * What one subscriber received from one publisher. Sequence numbers are 0, 1, 2 … up to `capacity - 1`.
 *
 * - duplicate: a seq already received on this pair (counted, not recorded twice);
 * - reordered: a first arrival of a seq lower than the highest seq already received on this pair;
 * - unexpected: a seq outside 0 … capacity - 1 (a corrupt or foreign message);
 * - lost (at the end): seqs the publisher sent that never arrived.
 */
export class PairTracker {
  private readonly seen: Uint8Array;
  /** Distinct seqs received. */
  distinct = 0;
  /** Every arrival, duplicates included. */
  arrivals = 0;
  duplicates = 0;
  reordered = 0;
  unexpected = 0;
  /** Highest seq received so far, -1 before the first. */
  highest = -1;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError(`capacity must be a non-negative integer, got ${capacity}`);
    this.seen = new Uint8Array(capacity);
  }

  record(seq: number): Arrival {
    this.arrivals++;
    if (!Number.isInteger(seq) || seq < 0 || seq >= this.capacity) {
      this.unexpected++;
      return "unexpected";
    }
    if (this.seen[seq] === 1) {
      this.duplicates++;
      return "duplicate";
    }
    this.seen[seq] = 1;
    this.distinct++;
    if (seq < this.highest) {
      this.reordered++;
      return "reordered";
    }
    this.highest = seq;
    return "ok";
  }

  /** Seqs among 0 … sent - 1 that never arrived. */
  lost(sent: number): number {
    const upto = Math.min(sent, this.capacity);
    let missing = 0;
    for (let i = 0; i < upto; i++) if (this.seen[i] !== 1) missing++;
    return missing;
  }

  /** The first `limit` missing seqs below `sent` (for the report of a bad run). */
  missing(sent: number, limit = 10): number[] {
    const out: number[] = [];
    const upto = Math.min(sent, this.capacity);
    for (let i = 0; i < upto && out.length < limit; i++) if (this.seen[i] !== 1) out.push(i);
    return out;
  }
}

export interface PairSummary {
  publisher: number;
  subscriber: number;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  reordered: number;
  unexpected: number;
  /** First missing seqs, when any were lost. */
  firstMissing: number[];
}

export interface DeliverySummary {
  /** Messages the subscribers should have received: the sum over pairs of what the publisher sent. */
  expected: number;
  /** Distinct messages received. */
  received: number;
  lost: number;
  duplicates: number;
  reordered: number;
  unexpected: number;
  /** Pairs with any anomaly (all pairs are in the totals). */
  badPairs: PairSummary[];
}

/** All pairs of a run: every subscriber is expected to receive every message of every publisher. */
export class DeliveryAccounting {
  private readonly pairs: PairTracker[];
  /** Arrivals with a publisher id outside 0 … publishers - 1. */
  strays = 0;

  constructor(
    readonly publishers: number,
    readonly subscribers: number,
    capacityPerPublisher: number,
  ) {
    this.pairs = [];
    for (let i = 0; i < publishers * subscribers; i++) this.pairs.push(new PairTracker(capacityPerPublisher));
  }

  pair(publisher: number, subscriber: number): PairTracker | undefined {
    if (publisher < 0 || publisher >= this.publishers || subscriber < 0 || subscriber >= this.subscribers) return undefined;
    return this.pairs[publisher * this.subscribers + subscriber];
  }

  record(publisher: number, subscriber: number, seq: number): Arrival {
    const pair = this.pair(publisher, subscriber);
    if (pair === undefined) {
      this.strays++;
      return "unexpected";
    }
    return pair.record(seq);
  }

  /** Arrivals (duplicates included) at `subscriber` from `publisher`. */
  arrivals(publisher: number, subscriber: number): number {
    return this.pair(publisher, subscriber)?.arrivals ?? 0;
  }

  /** `sent[p]` is how many messages publisher p sent (seqs 0 … sent[p] - 1). */
  summarize(sent: readonly number[]): DeliverySummary {
    const total: DeliverySummary = { expected: 0, received: 0, lost: 0, duplicates: 0, reordered: 0, unexpected: this.strays, badPairs: [] };
    for (let p = 0; p < this.publishers; p++) {
      const count = sent[p] ?? 0;
      for (let s = 0; s < this.subscribers; s++) {
        const pair = this.pair(p, s) as PairTracker;
        const lost = pair.lost(count);
        const summary: PairSummary = {
          publisher: p,
          subscriber: s,
          sent: count,
          received: pair.distinct,
          lost,
          duplicates: pair.duplicates,
          reordered: pair.reordered,
          unexpected: pair.unexpected,
          firstMissing: lost > 0 ? pair.missing(count) : [],
        };
        total.expected += count;
        total.received += pair.distinct;
        total.lost += lost;
        total.duplicates += pair.duplicates;
        total.reordered += pair.reordered;
        total.unexpected += pair.unexpected;
        if (lost + pair.duplicates + pair.reordered + pair.unexpected > 0) total.badPairs.push(summary);
      }
    }
    return total;
  }
}

/** True when a run lost, duplicated, reordered or received something it should not have. */
export function hasAnomalies(s: Pick<DeliverySummary, "lost" | "duplicates" | "reordered" | "unexpected">): boolean {
  return s.lost + s.duplicates + s.reordered + s.unexpected > 0;
}

/**
 * Nearest-rank percentile of an ascending array: the smallest value with at least p % of the values at or
 * below it. p = 0 gives the minimum, p = 100 the maximum. NaN for an empty array.
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  // p·n/100 in floating point can land a hair above an integer (99.9 % of 1000 = 999.0000000000001).
  const exact = (p * n) / 100;
  const rank = Math.max(1, Math.ceil(exact - 1e-9 * Math.max(1, exact)));
  return sorted[Math.min(n, rank) - 1] as number;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Percentiles of unsorted samples (the input is copied, not reordered). */
export function summarizeLatencies(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  const n = sorted.length;
  return {
    count: n,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    p999: percentileSorted(sorted, 99.9),
    max: n === 0 ? Number.NaN : (sorted[n - 1] as number),
    mean: n === 0 ? Number.NaN : sum / n,
  };
}

/** Median (mean of the two middle values for an even count); NaN values are ignored; NaN when none are left. */
export function median(values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  const n = v.length;
  if (n === 0) return Number.NaN;
  const mid = n >> 1;
  return n % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}

/** a / b, or NaN when either is not a finite number or b is 0. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return Number.NaN;
  return a / b;
}
