import type { Broker } from "./broker.js";

/** Default interval between sweeps. */
const SWEEP_INTERVAL_MS = 10_000;
/** Due retained messages one store call looks at. */
const SWEEP_BATCH = 1000;
/** Store calls one sweep makes at most: a larger backlog is worked off over several ticks. */
const MAX_CALLS = 10;

export interface RetainedSweepOptions {
  /** Between sweeps; default 10 s. */
  intervalMs?: number;
  /** Due messages looked at per store call; default 1000. */
  batch?: number;
}

/**
 * Deletes retained messages whose MQTT 5 Message Expiry Interval passed (MQTT 5.0 3.3.2.3.3: an expired retained
 * message is discarded), so they stop counting against `limits.maxRetained` and `maxRetainedBytes`. The store keeps
 * them in an index ordered by due time (`Store.sweepRetained`): a sweep costs what expired, and with nothing due
 * one index lookup. Every node of a cluster sweeps (the store deletes each message atomically, once), each at its
 * own random phase of the interval, so the nodes take turns rather than all calling at once. Between sweeps an
 * expired message is already withheld from subscribers and REST reads, and a retained.set refused for a limit sweeps
 * first (docs/store.md, "Retained expiry"): the interval only bounds how long it keeps its memory.
 */
export class RetainedSweeper {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private readonly intervalMs: number;
  private readonly batch: number;

  constructor(
    private readonly broker: Broker,
    opts: RetainedSweepOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? SWEEP_INTERVAL_MS;
    this.batch = opts.batch ?? SWEEP_BATCH;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = setInterval(() => void this.sweep(), this.intervalMs);
      this.timer.unref();
      void this.sweep();
    }, Math.floor(Math.random() * this.intervalMs));
    this.timer.unref();
  }

  /** One sweep at the broker's clock; resolves with the messages this node deleted. Overlapping calls share one. */
  sweep(): Promise<number> {
    this.running ??= this.run()
      .catch((err: unknown) => {
        this.broker.emit("store.error", "sweepRetained", err as Error, 1);
        return 0;
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private async run(): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_CALLS; i++) {
      const removed = await this.broker.store.sweepRetained(this.broker.now(), this.batch);
      total += removed;
      this.broker.stats.retainedExpired += removed;
      if (removed < this.batch) break;
    }
    return total;
  }
}
