import type { Store, StoreOp } from "../core/store/types.js";

/**
 * Signals of the journal's batches besides durability (broker/journal.ts): *applied* (the store took a batch's
 * ops) and *landed* (applied, and the batch's own side effects settled). Unlike durability, neither waits for
 * earlier batches, so a batch may wait for a later one's landing without waiting for itself (decision 020).
 */
export class BatchSignals {
  /** Highest batch id whose ops were applied (side effects may still be pending). */
  applied = 0;
  /** Batch id -> callbacks told once that batch landed. */
  private readonly landing = new Map<number, (() => void)[]>();
  /** Told true once their batch was applied, false when an attempt fails first. */
  private applyWaiters: { batchId: number; resolve: (ok: boolean) => void }[] = [];
  /** Batch id -> callbacks told once that batch was applied and its results' follow-ups landed. */
  private readonly followed = new Map<number, (() => void)[]>();

  /** Resolves true once batch `batchId` was applied, false as soon as an attempt fails. */
  whenApplied(batchId: number): Promise<boolean> {
    if (this.applied >= batchId) return Promise.resolve(true);
    return new Promise((resolve) => this.applyWaiters.push({ batchId, resolve }));
  }

  /**
   * Resolves once batch `batchId` (not yet sent) was applied, after however many attempts, and what its results
   * caused in turn (`Journal.followUp`) landed; not its other side effects.
   */
  whenFollowedUp(batchId: number): Promise<void> {
    return new Promise((resolve) => {
      const list = this.followed.get(batchId);
      if (list === undefined) this.followed.set(batchId, [resolve]);
      else list.push(resolve);
    });
  }

  /** Batch `batchId`'s results were handed out; `followUps` is what they caused in turn. */
  onFollowedUp(batchId: number, followUps: readonly Promise<unknown>[]): void {
    const waiting = this.followed.get(batchId);
    if (waiting === undefined) return;
    this.followed.delete(batchId);
    void Promise.allSettled(followUps).then(() => {
      for (const resolve of waiting) resolve();
    });
  }

  /** Resolves once batch `batchId` (not yet sent) was applied and its own side effects settled. */
  whenLanded(batchId: number): Promise<void> {
    return new Promise((resolve) => {
      const list = this.landing.get(batchId);
      if (list === undefined) this.landing.set(batchId, [resolve]);
      else list.push(resolve);
    });
  }

  /** The store applied batch `batchId`. */
  onApplied(batchId: number): void {
    this.applied = batchId;
    if (this.applyWaiters.length === 0) return;
    const ready = this.applyWaiters.filter((w) => w.batchId <= batchId);
    this.applyWaiters = this.applyWaiters.filter((w) => w.batchId > batchId);
    for (const w of ready) w.resolve(true);
  }

  /** Batch `batchId`'s results were handed out; its side effects are `tracks`: it has landed once they settled. */
  onResolved(batchId: number, tracks: readonly Promise<unknown>[]): void {
    const landing = this.landing.get(batchId);
    if (landing === undefined) return;
    this.landing.delete(batchId);
    void Promise.allSettled(tracks).then(() => {
      for (const resolve of landing) resolve();
    });
  }

  /** An attempt failed: whoever waits for "applied" is told at once. */
  onFailure(): void {
    const waiters = this.applyWaiters;
    this.applyWaiters = [];
    for (const w of waiters) w.resolve(false);
  }
}

/** Applies `ops` outside a batch, retried with backoff until the store takes them or `closed()` says to give up. */
export async function applyUntilDone(
  store: Store,
  ops: StoreOp[],
  onError: (err: Error, attempt: number) => void,
  closed: () => boolean,
  maxBackoffMs: number,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.apply(ops);
      return;
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)), attempt);
      if (closed()) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(maxBackoffMs, 25 * 2 ** Math.min(attempt, 10))).unref());
    }
  }
}
