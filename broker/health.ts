import type { Store } from "../core/store/types.js";
import { ClaimRefused, InvalidStoreInput, StoreDataError } from "../core/store/errors.js";

/** Why a broker is not ready: it is shutting down, or it cannot reach its store. */
export type NotReadyReason = "draining" | "store-unreachable";

export type ReadinessStatus = { ready: true } | { ready: false; reason: NotReadyReason; detail: string };

export interface ReadinessOptions {
  /** The store is pinged when no store call has completed for this long (default 5 s). */
  idleProbeMs?: number;
  /** A ping without an answer after this long counts as a failure (default 5 s; the Redis store answers false after 2 s). */
  probeTimeoutMs?: number;
}

/**
 * Readiness of a broker for the load balancer: not ready while draining (shutdown started) or while the store is
 * unreachable. The store counts as unreachable while the journal's writes fail (it retries them), or when the
 * latest store call to complete failed (a session claim, a ping, …). When the broker is idle the store is pinged
 * every `idleProbeMs`, so an outage is noticed without traffic (every second while it seems down, so the recovery
 * is noticed soon); under traffic the calls the broker makes anyway are the probe.
 */
export class Readiness {
  private storeOk = true;
  private failedOperation: string | null = null;
  private lastOutcomeAt = Date.now();
  private probing = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly idleProbeMs: number;
  private readonly probeTimeoutMs: number;

  constructor(
    private readonly journal: { readonly failing: boolean },
    private readonly store: Pick<Store, "ping">,
    private readonly isDraining: () => boolean,
    opts: ReadinessOptions = {},
  ) {
    this.idleProbeMs = opts.idleProbeMs ?? 5000;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 5000;
  }

  /** Records how a store call ended. Failures that say nothing about reachability (bad input, unreadable data) are ignored. */
  recordStoreCall(operation: string, ok: boolean, err: unknown): void {
    if (!ok && (err instanceof InvalidStoreInput || err instanceof StoreDataError || err instanceof ClaimRefused)) return;
    this.record(ok, operation);
  }

  /** Whether the store answers, as far as this broker knows. */
  get storeReachable(): boolean {
    return this.storeOk && !this.journal.failing;
  }

  check(): ReadinessStatus {
    if (this.isDraining()) return { ready: false, reason: "draining", detail: "shutting down: not accepting connections, disconnecting clients" };
    if (this.journal.failing) return { ready: false, reason: "store-unreachable", detail: "store writes are failing and being retried" };
    if (!this.storeOk) return { ready: false, reason: "store-unreachable", detail: `the last store call (${this.failedOperation ?? "?"}) failed` };
    return { ready: true };
  }

  /** Starts the idle probe (a timer that does not keep the process alive). */
  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), Math.max(100, Math.min(500, this.idleProbeMs / 2)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private tick(): void {
    // While the store seems down, probe every second: the recovery is noticed soon after it happens.
    const due = this.storeReachable ? this.idleProbeMs : Math.min(1000, this.idleProbeMs);
    if (this.probing || Date.now() - this.lastOutcomeAt < due) return;
    this.probing = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(resolve, this.probeTimeoutMs, false);
      timer.unref();
    });
    const pong = this.store.ping().catch(() => false);
    void Promise.race([pong, timeout]).then((ok) => {
      clearTimeout(timer);
      this.probing = false;
      this.record(ok, "ping");
    });
  }

  private record(ok: boolean, operation: string): void {
    this.lastOutcomeAt = Date.now();
    this.storeOk = ok;
    this.failedOperation = ok ? null : operation;
  }
}
