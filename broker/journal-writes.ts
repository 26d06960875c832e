import type { StoreOp, StoreOpResult } from "../core/store/types.js";

/** Something that waits for a batch of store writes to become durable. */
export interface DurabilityWaiter {
  /**
   * Called once the batch `batchId` (and every earlier one) is durable. Each op's own result goes to its
   * `ResultTarget`, not here.
   */
  onDurable(batchId: number): void;
}

/** Receives the result of one op; `ctx` is what the writer passed along (no closure per message). */
export interface ResultTarget<C = unknown> {
  onStoreResult(ctx: C, result: StoreOpResult): void;
}

/**
 * The write side of the journal (broker/journal.ts): the batch being filled (its ops with their result targets, its
 * late ops, its side effects and its waiters), where a side effect goes while a batch's results are handed out or
 * while `landedAfter` collects what its function caused, and the dedup id of the enqueues a node queue message
 * causes. Each write schedules the batch's flush (`schedule`); `Journal` sends the batch, hands out its results and
 * tells the waiters when it is durable: it takes these fields over at each flush and sets the hand-out and collecting
 * ones around what it calls. Nothing else writes them.
 *
 * The base of `Journal`, not a part it holds, like `ConnectionStates` for `Connection`: a write stays one call on
 * the journal, with no hop more.
 */
export abstract class JournalWrites {
  /** Id of the batch currently being filled. Batch ids start at 1. */
  protected filling = 1;
  protected ops: StoreOp[] = [];
  protected targets: (ResultTarget | null)[] = [];
  protected ctxs: unknown[] = [];
  /** See `dedupId`; set only by `withDedupId`. */
  private currentDedupId: string | null = null;

  /**
   * While a node queue message is being handled: its id. Enqueues it causes carry it as their dedup id, so the
   * same message handled again (redelivered after its first handler died) is not enqueued twice. Read-only: it
   * changes only for the duration of `withDedupId`.
   */
  get dedupId(): string | null {
    return this.currentDedupId;
  }

  /** Runs `fn` with `dedupId` as the dedup id of the enqueues it causes, then restores the previous one. */
  withDedupId<T>(dedupId: string | null, fn: () => T): T {
    const outer = this.currentDedupId;
    this.currentDedupId = dedupId;
    try {
      return fn();
    } finally {
      this.currentDedupId = outer;
    }
  }
  /** Count of ops ever written (`writes`). */
  protected written = 0;
  /** Count of ops ever written: callers compare it before and after routing to learn if routing wrote. */
  get writes(): number {
    return this.written;
  }
  protected waiters = new Set<DurabilityWaiter>();
  /** Side effects (sends to other nodes, events) of the batch being filled. */
  protected tracks: Promise<unknown>[] = [];
  /** While a batch's results are handed out: its tracks, so follow-up side effects join that batch. */
  protected resolvingTracks: Promise<unknown>[] | null = null;
  /** While `landedAfter` runs its function: the side effects it tracks or joins. */
  protected collecting: Promise<unknown>[] | null = null;
  /** Ops of the batch being filled that go to the store only once its other ops and side effects landed. */
  protected late: StoreOp[] = [];

  /** Something was added to the batch being filled: its flush is due (Journal.schedule). */
  protected abstract schedule(): void;

  /** Ops waiting for the next flush (bounded by callers: they stop reading when their own waits pile up). */
  get pendingOps(): number {
    return this.ops.length;
  }

  /** Adds a write to the current batch; returns that batch's id. `target` gets the op's own result with `ctx`. */
  write<C>(op: StoreOp, target: ResultTarget<C> | null = null, ctx: C | null = null): number {
    this.ops.push(op);
    this.targets.push(target as ResultTarget | null);
    this.ctxs.push(ctx);
    this.written++;
    this.schedule();
    return this.filling;
  }

  /**
   * Adds an asynchronous side effect to the batch being filled (or, from inside a result callback, to the batch
   * whose results are being handed out): that batch is durable only once `task` settled too, and so are the
   * acknowledgements waiting for it. Used for sends to other nodes and for events. `task` should not reject: its
   * owner retries or falls back; a rejection is reported and counts as settled. Counts as a write.
   */
  track(task: Promise<unknown>): number {
    (this.resolvingTracks ?? this.tracks).push(task);
    this.collecting?.push(task);
    this.written++;
    this.schedule();
    return this.filling;
  }

  /**
   * Adds a write that goes to the store only after the rest of the current batch landed (its ops applied, its side
   * effects such as sends to other nodes settled), and before the batch counts as durable. The inbound QoS 2 marker
   * is written this way: it never exists without the forwards it stands for (decision 020).
   */
  writeLate(op: StoreOp): number {
    this.late.push(op);
    this.written++;
    this.schedule();
    return this.filling;
  }

  /**
   * Takes `task` out of the batch being filled: a task that settles once writes made into this very batch landed
   * (held deliveries released now) would make the batch wait for itself, forever.
   */
  untrack(task: Promise<unknown>): void {
    if (this.tracks.includes(task)) this.tracks = this.tracks.filter((t) => t !== task);
  }

  /** Like `track`, but a task already tracked by the same batch last is not added again. */
  trackOnce(task: Promise<unknown>): void {
    const list = this.resolvingTracks ?? this.tracks;
    if (list[list.length - 1] !== task) this.track(task);
    else {
      this.written++; // the caller's acknowledgement still waits for this batch
      this.collecting?.push(task);
    }
  }

  /** Registers a waiter for the current batch and returns its id. A batch with no ops completes at once. */
  wait(waiter: DurabilityWaiter): number {
    this.waiters.add(waiter);
    this.schedule();
    return this.filling;
  }
}
