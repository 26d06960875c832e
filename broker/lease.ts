import type { NodeStats, Store } from "../core/store/types.js";

/**
 * A cluster node's lease (decision 019, docs/cluster.md "Failure detection"). The heartbeat renews it with TTL
 * `ttlMs`; the node serves only while it is valid, measured on the monotonic clock from the *start* of its last
 * successful renewal. Other nodes consider it dead once `ttlMs` passed since that renewal (by the heartbeat time
 * in its record); this node gives up `marginMs` earlier: a watchdog timer closes all its connections (leaving their
 * wills to the survivors), it stops accepting, registers again as a new incarnation, and serves again.
 *
 * Renewals have their own timer and (in a deployment) their own store connection: they never wait behind cleanup,
 * routing reconciliation or a slow journal batch. A renewal whose answer arrives late extends the lease only from
 * when it was sent, so a pause (SIGSTOP, a long GC) between sending and reading it cannot stretch the lease.
 */

export interface LeaseOptions {
  nodeId: string;
  heartbeatMs: number;
  ttlMs: number;
  /** How much earlier than the others this node gives up its lease (clock skew between nodes + closing time). */
  marginMs: number;
}

export interface LeaseHost {
  /** The store renewals go to (its own connection, so they never queue behind other store calls). */
  readonly store: Store;
  /** The node's stats snapshot, written with each renewal; a failing sampler costs the snapshot, not the renewal. */
  sampleStats?(now: number): NodeStats | undefined;
  /** The lease ran out: close every connection, leaving their wills in the store. Synchronous. */
  lost(reason: string): void;
  /**
   * Registers the node again as a new incarnation (its node queue re-created); resolves with the monotonic time
   * (`Lease.now()`) read just before the registration was sent: the new lease runs from then.
   */
  rejoin(): Promise<number>;
  /** Registered again and serving: publish what the earlier incarnation left behind. */
  rejoined(): Promise<void>;
  onError(operation: string, err: Error): void;
}

/** Renewals in flight at most (a store that does not answer must not collect an unbounded backlog of them). */
const MAX_RENEWALS_IN_FLIGHT = 2;
const REJOIN_RETRY_MAX_MS = 2000;

export class Lease {
  /** Monotonic time (performance.now()) until which this node may serve. */
  private validUntil = 0;
  private state: "idle" | "serving" | "lost" | "stopped" = "idle";
  private renewals = 0;
  private renewTimer: NodeJS.Timeout | null = null;
  private watchdog: NodeJS.Timeout | null = null;
  /** Incremented at each registration: a renewal sent before it says nothing about the lease after it. */
  private generation = 0;
  /** Times this node lost its lease since it started (metrics, logs). */
  losses = 0;

  constructor(
    private readonly opts: LeaseOptions,
    private readonly host: LeaseHost,
  ) {
    if (opts.marginMs >= opts.ttlMs) throw new Error(`lease margin ${opts.marginMs} ms must be below the node TTL ${opts.ttlMs} ms`);
  }

  /** The monotonic clock, read where a registration or renewal starts. */
  static now(): number {
    return performance.now();
  }

  /** Whether the node may serve now (accept connections): the lease holds, by the monotonic clock. */
  get valid(): boolean {
    return this.state === "serving" && performance.now() < this.validUntil;
  }

  /** The node registered, starting at monotonic time `registeredAt`: serve, renew and watch. */
  start(registeredAt: number): void {
    this.state = "serving";
    this.extend(registeredAt);
    this.renewTimer = setInterval(() => this.renew(), this.opts.heartbeatMs);
    this.renewTimer.unref();
    // The first renewal at once: loading the state after the registration may have taken a while.
    this.renew(false);
    // Often enough to notice well within the margin; after a pause it fires first thing (an overdue timer).
    this.watchdog = setInterval(() => this.check(), Math.max(10, Math.min(250, Math.floor(this.opts.marginMs / 2))));
    this.watchdog.unref();
  }

  /** Graceful shutdown: no more renewals (the node deregisters itself); a registration under way is not waited for. */
  stop(): void {
    this.state = "stopped";
    if (this.renewTimer !== null) clearInterval(this.renewTimer);
    if (this.watchdog !== null) clearInterval(this.watchdog);
  }

  private extend(startedAt: number): void {
    this.validUntil = Math.max(this.validUntil, startedAt + this.opts.ttlMs - this.opts.marginMs);
  }

  /** Sends a renewal; nothing is awaited before it. */
  private renew(watch = true): void {
    if (this.state !== "serving" || this.renewals >= MAX_RENEWALS_IN_FLIGHT) return;
    if (watch) this.check();
    if (this.state !== "serving") return;
    const startedAt = performance.now();
    const now = Date.now();
    const generation = this.generation;
    this.renewals++;
    this.host.store
      .heartbeat(this.opts.nodeId, now, this.opts.ttlMs, this.stats(now))
      .then((renewed) => {
        if (this.state !== "serving" || generation !== this.generation) return;
        // Our record expired (the store was unreachable for longer than the TTL, or it lost its data): other
        // nodes may have taken over. Give the lease up as if it had run out.
        if (!renewed) this.lose(`node ${this.opts.nodeId} was considered dead by the cluster`);
        else this.extend(startedAt);
      })
      .catch((err: unknown) => this.host.onError("heartbeat", err as Error))
      .finally(() => this.renewals--);
  }

  private stats(now: number): NodeStats | undefined {
    try {
      return this.host.sampleStats?.(now);
    } catch (err) {
      this.host.onError("stats", err as Error);
      return undefined;
    }
  }

  /** The watchdog: gives the lease up once it ran out. */
  private check(): void {
    if (this.state === "serving" && performance.now() >= this.validUntil) {
      this.lose(`lease of node ${this.opts.nodeId} ran out (no renewal for ${this.opts.ttlMs - this.opts.marginMs} ms)`);
    }
  }

  private lose(reason: string): void {
    this.state = "lost";
    this.losses++;
    this.host.onError("lease", new Error(`${reason}; closing its connections and registering again`));
    this.host.lost(reason);
    void this.rejoin();
  }

  private async rejoin(): Promise<void> {
    for (let attempt = 1; this.state === "lost"; attempt++) {
      let startedAt: number;
      try {
        startedAt = await this.host.rejoin();
      } catch (err) {
        this.host.onError("rejoin", err as Error);
        await new Promise((resolve) => setTimeout(resolve, Math.min(REJOIN_RETRY_MAX_MS, 50 * 2 ** Math.min(attempt, 10))).unref());
        continue;
      }
      if (this.state !== "lost") return;
      this.generation++;
      this.validUntil = 0;
      this.extend(startedAt);
      this.state = "serving";
      try {
        await this.host.rejoined();
      } catch (err) {
        this.host.onError("rejoined", err as Error);
      }
      return;
    }
  }
}
