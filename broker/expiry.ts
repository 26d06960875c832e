import type { Broker } from "./broker.js";

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
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private readonly intervalMs: number;
  private readonly batch: number;

  constructor(
    private readonly broker: Broker,
    opts: ExpirySweepOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? SWEEP_INTERVAL_MS;
    this.batch = opts.batch ?? SWEEP_BATCH;
  }

  start(): void {
    if (this.timer !== null || this.broker.config.limits.sessionExpirySeconds === 0) return;
    this.timer = setInterval(() => void this.sweep(), this.intervalMs);
    this.timer.unref();
  }

  /** One sweep at the broker's clock; resolves with the sessions this node deleted. Overlapping calls share one. */
  sweep(): Promise<number> {
    this.running ??= this.broker.store
      .expireSessions(this.broker.now(), this.batch)
      .then((expired) => {
        for (const e of expired) this.broker.sessionExpired(e);
        return expired.length;
      })
      .catch((err: unknown) => {
        this.broker.emit("store.error", "expireSessions", err as Error, 1);
        return 0;
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
