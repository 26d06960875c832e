import type { Broker } from "./broker.js";
import { PeriodicSweep } from "./periodic-sweep.js";

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
  private readonly sweeper: PeriodicSweep;

  constructor(broker: Broker, opts: RetainedSweepOptions = {}) {
    const batch = opts.batch ?? SWEEP_BATCH;
    const work = async (): Promise<number> => {
      let total = 0;
      for (let i = 0; i < MAX_CALLS; i++) {
        const removed = await broker.store.sweepRetained(broker.now(), batch);
        total += removed;
        broker.stats.retainedExpired += removed;
        if (removed < batch) break;
      }
      return total;
    };
    this.sweeper = new PeriodicSweep("sweepRetained", opts.intervalMs ?? SWEEP_INTERVAL_MS, work, (op, err) => broker.emit("store.error", op, err, 1));
  }

  start(): void {
    this.sweeper.start(true);
  }

  /** One sweep at the broker's clock; resolves with the messages this node deleted. Overlapping calls share one. */
  sweep(): Promise<number> {
    return this.sweeper.sweep();
  }

  stop(): Promise<void> {
    return this.sweeper.stop();
  }
}
