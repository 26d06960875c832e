import type { Broker } from "./broker.js";
import { PeriodicSweep } from "./periodic-sweep.js";

/** Sessions looked at per sweep (one store call); a backlog is worked off over several ticks. */
const SWEEP_BATCH = 500;
/** Default interval between sweeps. */
const SWEEP_INTERVAL_MS = 5000;

export interface ExpirySweepOptions {
  /** Between sweeps; default 5 s. */
  intervalMs?: number;
  /** Due sessions looked at per sweep; default 500. */
  batch?: number;
}

/**
 * Deletes persistent sessions that stayed offline for longer than `limits.sessionExpirySeconds`
 * (docs/security.md, "Sessions and identities"). Every node sweeps; the store checks and deletes each session
 * atomically, so exactly one node gets each expired session back, and that node reports it. The store keeps the
 * sessions in an index ordered by due time, so a sweep costs what it finds, bounded by `batch`.
 */
export class ExpirySweeper {
  private readonly sweeper: PeriodicSweep;

  constructor(
    private readonly broker: Broker,
    opts: ExpirySweepOptions = {},
  ) {
    const batch = opts.batch ?? SWEEP_BATCH;
    const work = async (): Promise<number> => {
      const expired = await broker.store.expireSessions(broker.now(), batch);
      for (const e of expired) broker.sessionExpired(e);
      return expired.length;
    };
    this.sweeper = new PeriodicSweep("expireSessions", opts.intervalMs ?? SWEEP_INTERVAL_MS, work, (op, err) => broker.emit("store.error", op, err, 1));
  }

  start(): void {
    if (this.broker.config.limits.sessionExpirySeconds === 0) return;
    this.sweeper.start(false);
  }

  /** One sweep at the broker's clock; resolves with the sessions this node deleted. Overlapping calls share one. */
  sweep(): Promise<number> {
    return this.sweeper.sweep();
  }

  stop(): Promise<void> {
    return this.sweeper.stop();
  }
}
